// Shared by setup, start, chapter and the notebook tests: where the project's private Jupyter
// state lives, the environment that points Jupyter at it, and how to find a usable Jupyter.
//
// Everything Jupyter writes for this project (kernel spec, config, runtime files) stays in
// ./.jupyter, so the course never registers kernels in, or reads settings from, the user's
// ~/.jupyter or ~/.local/share/jupyter.

import { spawnSync } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const NOTEBOOKS_DIR = path.join(ROOT, "notebooks");
export const JUPYTER_DIR = path.join(ROOT, ".jupyter");
/** Data dir holding kernels/tslab/kernel.json (tslab install --prefix=.jupyter puts it here). */
const JUPYTER_DATA_DIR = path.join(JUPYTER_DIR, "share", "jupyter");
export const KERNEL_NAME = "tslab";
export const KERNEL_JSON = path.join(JUPYTER_DATA_DIR, "kernels", KERNEL_NAME, "kernel.json");
export const TSLAB_BIN = path.join(ROOT, "node_modules", ".bin", process.platform === "win32" ? "tslab.cmd" : "tslab");
export const RUN_NOTEBOOK_PY = path.join(ROOT, "scripts", "run_notebook.py");

/** Python modules a Jupyter install must provide for start, tests and chapter runs. */
const REQUIRED_MODULES = ["jupyter_core", "jupyter_client", "nbclient", "nbconvert", "nbformat", "IPython"];
/** Front-ends, best first: `jupyter lab`, then classic `jupyter notebook`. */
const FRONTENDS = [
  { module: "jupyterlab", command: "lab", label: "JupyterLab" },
  { module: "notebook", command: "notebook", label: "Jupyter Notebook" },
];

/**
 * `base` plus the variables that confine Jupyter to ./.jupyter. JUPYTER_PATH is prepended so
 * kernels and extensions from the Python installation stay visible.
 */
export function jupyterEnv(base = process.env) {
  return {
    ...base,
    JUPYTER_PATH: [JUPYTER_DATA_DIR, base.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
    JUPYTER_DATA_DIR,
    JUPYTER_CONFIG_DIR: path.join(JUPYTER_DIR, "config"),
    JUPYTER_RUNTIME_DIR: path.join(JUPYTER_DIR, "runtime"),
  };
}

/** Absolute path of `name` on PATH (with PATHEXT on Windows), or null. */
export function which(name) {
  const exts = process.platform === "win32" ? (process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here; keep looking
      }
    }
  }
  return null;
}

/**
 * The interpreter named in a script's `#!` line (`jupyter` installed by pip, conda or Debian is
 * a Python script). This is how we find the Python behind `jupyter` when `python3` on PATH is
 * a different one (pyenv shims, a venv without Jupyter).
 */
function shebangPython(script) {
  let head = "";
  try {
    const fd = openSync(script, "r");
    const buf = Buffer.alloc(256);
    head = buf.toString("utf8", 0, readSync(fd, buf, 0, buf.length, 0));
    closeSync(fd);
  } catch {
    return null;
  }
  if (!head.startsWith("#!")) return null;
  const words = head.slice(2).split("\n")[0].trim().split(/\s+/);
  const interpreter = path.basename(words[0]) === "env" ? which(words[1] ?? "") : words[0];
  return interpreter && path.basename(interpreter).startsWith("python") ? interpreter : null;
}

const PROBE = `
import importlib.util, json, os, sys
mods = ${JSON.stringify([...REQUIRED_MODULES, ...FRONTENDS.map((f) => f.module)])}
print(json.dumps({"executable": sys.executable, "real": os.path.realpath(sys.executable),
                  "modules": {m: importlib.util.find_spec(m) is not None for m in mods}}))
`;

function probe(python) {
  const r = spawnSync(python, ["-c", PROBE], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

/**
 * Find a Python whose Jupyter has everything we need.
 * Returns `{ ok: true, python, jupyter, frontend }` where `jupyter` is the argv prefix for
 * Jupyter subcommands (`[python, "-m", "jupyter"]`: always the same installation as `python`),
 * or `{ ok: false, tried }` listing each candidate Python and what it lacked.
 */
export function findJupyter() {
  const jupyterOnPath = which("jupyter");
  const candidates = [
    jupyterOnPath && shebangPython(jupyterOnPath),
    // On Windows `jupyter.exe` sits in <prefix>\Scripts next to <prefix>\python.exe's folder.
    jupyterOnPath && process.platform === "win32" && path.join(path.dirname(jupyterOnPath), "..", "python.exe"),
    "python3",
    "python",
    "/usr/bin/python3",
  ].filter(Boolean);
  const tried = [];
  const seen = new Set();
  for (const candidate of new Set(candidates)) {
    const info = probe(candidate);
    if (!info || seen.has(info.real)) continue;
    seen.add(info.real);
    const missing = REQUIRED_MODULES.filter((m) => !info.modules[m]);
    const frontend = FRONTENDS.find((f) => info.modules[f.module]);
    if (!frontend) missing.push("jupyterlab or notebook");
    if (missing.length === 0) {
      return { ok: true, python: info.executable, jupyter: [info.executable, "-m", "jupyter"], frontend };
    }
    tried.push({ python: info.executable, missing });
  }
  return { ok: false, tried };
}
