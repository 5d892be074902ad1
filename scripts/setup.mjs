// One-time (and idempotent) preparation before `npm start`, `npm test` and chapter runs:
//   1. find what the system must provide (scripts/system-deps.mjs: Jupyter, Chromium, numpy, the
//      OpenBLAS headers, Fashion-MNIST); as root on Debian install what is missing with apt, elsewhere print
//      the one command that installs it (stop only if Jupyter is missing);
//   2. register the tslab kernel inside the project (.jupyter/), never in the user's Jupyter;
//   3. make sure notebooks/lib links to ../lib (notebooks import "./lib/index", see tslab #63);
//   4. build the optional native OpenBLAS matMul addon (native/blas) when OpenBLAS is installed.
// Usage: node scripts/setup.mjs [--quiet]

import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { buildNative } from "./build-native.mjs";
import { findJupyter, JUPYTER_DIR, jupyterEnv, KERNEL_JSON, KERNEL_NAME, NOTEBOOKS_DIR, ROOT, TSLAB_BIN } from "./jupyter-env.mjs";
import { aptPackagesFor, canAptInstall, findChromium, installHint, isDebian, NUMPY_PYTHON, REQUIREMENTS } from "./system-deps.mjs";

const TSLAB_CLI = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");

export class SetupError extends Error {}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...options });
  if (r.error) throw new SetupError(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new SetupError(`${[cmd, ...args].join(" ")} exited with ${r.status}`);
}

function jupyterInstructions(found) {
  const lacking = found.tried.map((t) => `  ${t.python}: missing ${t.missing.join(", ")}`).join("\n");
  return [
    `No usable Jupyter found${lacking ? `:\n${lacking}` : " (no python3 with Jupyter on PATH)."}`,
    "Install JupyterLab, then run this command again:",
    "  pip:    python3 -m pip install jupyterlab",
    "  conda:  conda install -c conda-forge jupyterlab",
    isDebian() && `  Debian/Ubuntu:  ${installHint([REQUIREMENTS.jupyter])}`,
  ]
    .filter(Boolean)
    .join("\n");
}

/**
 * Everything in REQUIREMENTS (Jupyter, Chromium, numpy, OpenBLAS headers, Fashion-MNIST). What is missing is
 * installed as root on Debian with ONE `apt-get update` and ONE `apt-get install` of just the
 * packages dpkg lacks; elsewhere setup prints the one command that installs it. Only Jupyter is
 * indispensable: without it setup stops; without the others it goes on (`npm start` needs none
 * of them, and each test that does fails once saying what to install).
 */
function ensureSystem(log) {
  let jupyter = findJupyter();
  const check = () => Object.entries(REQUIREMENTS).filter(([key, r]) => !(key === "jupyter" ? jupyter.ok : r.present()));
  let missing = check();
  const packages = missing.length && canAptInstall() ? aptPackagesFor(missing.map(([, r]) => r)) : [];
  if (packages.length) {
    console.log(`setup: installing ${missing.map(([, r]) => r.what).join(", ")} with apt-get: ${packages.join(" ")}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    try {
      run("apt-get", ["-q", "update"], { env });
      run("apt-get", ["-q", "install", "-y", ...packages], { env });
    } catch (err) {
      if (!(err instanceof SetupError)) throw err;
      console.error(`setup: ${err.message}`);
    }
    jupyter = findJupyter();
    missing = check();
  }
  if (!jupyter.ok) throw new SetupError(jupyterInstructions(jupyter));
  log(`Jupyter: ${jupyter.jupyter.join(" ")} (front-end: ${jupyter.frontend.label})`);
  const others = missing.filter(([key]) => key !== "jupyter").map(([, r]) => r);
  if (others.length) {
    console.warn(`setup: missing ${others.map((r) => r.what).join("; ")}.\nInstall with:\n  ${installHint(others)}`);
  } else {
    log(`Chromium: ${findChromium()}; numpy for ${NUMPY_PYTHON}; OpenBLAS headers; Fashion-MNIST: all present`);
  }
  return jupyter;
}

function kernelSpecIsCurrent() {
  try {
    return JSON.parse(readFileSync(KERNEL_JSON, "utf8")).argv?.[0] === TSLAB_BIN;
  } catch {
    return false;
  }
}

function ensureKernel(python, log) {
  if (!existsSync(TSLAB_BIN)) throw new SetupError(`${TSLAB_BIN} is missing: run \`npm ci\` first.`);
  // The spec stores the absolute tslab path: re-register when the project has moved.
  if (kernelSpecIsCurrent()) {
    log(`Kernel "${KERNEL_NAME}": ${path.relative(ROOT, KERNEL_JSON)}`);
    return;
  }
  // Run tslab's CLI through node rather than the .bin shim: on Windows that shim is a .cmd,
  // which Node only spawns through a shell (and its quoting).
  const r = spawnSync(process.execPath, [TSLAB_CLI, "install", `--python=${python}`, `--binary=${TSLAB_BIN}`, `--prefix=${JUPYTER_DIR}`], {
    encoding: "utf8",
    env: jupyterEnv(),
  });
  if (r.status !== 0 || !kernelSpecIsCurrent()) {
    throw new SetupError(`tslab install failed:\n${r.stdout ?? ""}${r.stderr ?? r.error?.message ?? ""}`);
  }
  console.log(`Registered kernel "${KERNEL_NAME}" in ${path.relative(ROOT, KERNEL_JSON)}`);
}

function ensureLibLink(log) {
  const link = path.join(NOTEBOOKS_DIR, "lib");
  const target = "../lib";
  let stat = null;
  try {
    stat = lstatSync(link);
  } catch {
    // missing: created below
  }
  if (stat?.isSymbolicLink()) {
    const current = readlinkSync(link);
    // A Windows junction reads back as an absolute path to <root>/lib.
    if (current === target || path.resolve(NOTEBOOKS_DIR, current) === path.join(ROOT, "lib")) {
      log("notebooks/lib -> ../lib");
      return;
    }
    throw new SetupError(`notebooks/lib points to ${current}, expected ${target}`);
  }
  if (stat?.isFile() && readFileSync(link, "utf8").trim() === target) {
    // Git with core.symlinks=false (the Windows default) checks the link out as a text file.
    rmSync(link);
  } else if (stat) {
    throw new SetupError("notebooks/lib exists but is not a link to ../lib; move it away and run setup again");
  }
  if (process.platform === "win32") {
    // Junctions need no admin rights or developer mode, but must have an absolute target.
    symlinkSync(path.join(ROOT, "lib"), link, "junction");
  } else {
    symlinkSync(target, link);
  }
  console.log("Created notebooks/lib -> ../lib");
}

/** Prepare everything; returns the Jupyter found (see findJupyter). Throws SetupError. */
export function setup({ quiet = false } = {}) {
  const log = quiet ? () => {} : (msg) => console.log(msg);
  const jupyter = ensureSystem(log);
  ensureKernel(jupyter.python, log);
  ensureLibLink(log);
  // The optional native OpenBLAS matMul for the wasm backend (see environment.md); never fails.
  const blas = buildNative();
  if (!quiet || !blas.unchanged) console.log(blas.message);
  return jupyter;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    setup({ quiet: process.argv.includes("--quiet") });
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    console.error(`setup: ${err.message}`);
    process.exit(1);
  }
}
