// What `npm start` and `npm test` need from the system besides node_modules, how to tell whether
// it is there, and which Debian package provides it. setup.mjs installs what is missing (as root
// on Debian, with apt) or prints the one command that does; the tests use the same checks, so a
// missing piece is reported with the same words everywhere.

import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import { findCblasHeader, findOpenblasLib } from "./build-native.mjs";
import { which } from "./jupyter-env.mjs";

/** Where Debian's dataset-fashion-mnist puts the files (lib/io/data.ts reads them there). */
const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
const CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
/** The Python test/io/checkpoint.test.ts runs to check that numpy reads our files. */
export const NUMPY_PYTHON = "/usr/bin/python3";

export const isDebian = () => existsSync("/etc/debian_version");
/** True where setup may install Debian packages itself: root on Debian with apt-get. */
export const canAptInstall = () => process.getuid?.() === 0 && isDebian() && which("apt-get") !== null;

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Chromium the browser tests drive: $CHROMIUM when set (a path, or a name on PATH), else the
 * first of chromium, chromium-browser, google-chrome(-stable) on PATH. null when there is none
 * (or $CHROMIUM names nothing runnable).
 */
export function findChromium(env = process.env) {
  const named = env.CHROMIUM;
  if (named) return named.includes(path.sep) || named.includes("/") ? (executable(named) ? named : null) : which(named);
  return CHROMIUM_NAMES.map(which).find(Boolean) ?? null;
}

/** The one line that says how to get Chromium on this machine. */
export function chromiumMissingMessage(env = process.env) {
  const why = env.CHROMIUM ? `CHROMIUM=${env.CHROMIUM} is not an executable` : `none of ${CHROMIUM_NAMES.join(", ")} is on PATH`;
  const hint = installHint([REQUIREMENTS.chromium]);
  return `Chromium not found (${why}). Install it: ${hint}${isDebian() ? " (or set CHROMIUM=/path/to/chromium)" : ""}`;
}

const hasNumpy = () => spawnSync(NUMPY_PYTHON, ["-c", "import numpy"], { stdio: "ignore" }).status === 0;

/**
 * Each system requirement: what it is for, how to check it, its Debian packages, and the
 * command elsewhere (`pip` ones are merged into one pip command). `present` may be given the
 * result of findJupyter so it is not probed twice.
 */
export const REQUIREMENTS = {
  jupyter: {
    what: "Jupyter (npm start, the notebook tests)",
    apt: ["jupyter-notebook", "jupyter-nbconvert", "python3-nbclient", "python3-ipykernel"],
    pip: "jupyterlab",
  },
  chromium: {
    what: "Chromium (the browser tests)",
    apt: ["chromium"],
    present: () => findChromium() !== null,
    elsewhere: "install Chromium or Google Chrome, or set CHROMIUM=/path/to/chromium",
  },
  numpy: {
    what: `numpy for ${NUMPY_PYTHON} (the checkpoint test: numpy reads our files)`,
    apt: ["python3-numpy"],
    present: hasNumpy,
    pip: "numpy",
  },
  fashionMnist: {
    what: "Fashion-MNIST (chapter 10: real-valued data)",
    apt: ["dataset-fashion-mnist"],
    present: () => existsSync(path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")),
    elsewhere: `put Fashion-MNIST's four gzipped IDX files in ${FASHION_MNIST_DIR} (github.com/zalandoresearch/fashion-mnist)`,
  },
  openblas: {
    what: "OpenBLAS headers and library (the native matMul addon)",
    apt: ["libopenblas-dev"],
    present: () => findCblasHeader() !== null && findOpenblasLib() !== null,
    elsewhere: "install OpenBLAS with its headers (macOS: brew install openblas)",
  },
};

/** True when the Debian package is installed (`dpkg -s`). */
export function dpkgInstalled(pkg) {
  const r = spawnSync("dpkg", ["-s", pkg], { encoding: "utf8" });
  return r.status === 0 && /^Status: install ok installed$/m.test(r.stdout);
}

/** The Debian packages of these requirements that dpkg does not have, in order, once each. */
export function aptPackagesFor(reqs) {
  return [...new Set(reqs.flatMap((r) => r.apt))].filter((p) => !dpkgInstalled(p));
}

/** The one command that installs these requirements here (several lines only off Debian). */
export function installHint(reqs) {
  if (isDebian()) {
    const pkgs = [...new Set(reqs.flatMap((r) => r.apt))];
    return `${process.getuid?.() === 0 ? "" : "sudo "}apt-get update && ${process.getuid?.() === 0 ? "" : "sudo "}apt-get install -y ${pkgs.join(" ")}`;
  }
  const pip = reqs.filter((r) => r.pip).map((r) => r.pip);
  return [pip.length && `python3 -m pip install ${pip.join(" ")}`, ...reqs.filter((r) => r.elsewhere).map((r) => r.elsewhere)]
    .filter(Boolean)
    .join("; ");
}
