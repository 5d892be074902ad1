// Open the course in JupyterLab (or classic Jupyter Notebook when JupyterLab is not installed),
// rooted at notebooks/, with the project's private Jupyter environment (kernel "tslab").
//
//   npm start [-- --no-browser] [-- --port 8890] [-- --notebook-dir=DIR] [-- any other Jupyter option, e.g. --ip=0.0.0.0]
//
// --notebook-dir replaces notebooks/ as the folder Jupyter opens (a notebook there imports the
// library through a `lib` link to ../lib, as notebooks/lib is).

import { spawn } from "node:child_process";
import { jupyterEnv, NOTEBOOKS_DIR } from "./jupyter-env.mjs";
import { SetupError, setup } from "./setup.mjs";

let port = "8888";
let noBrowser = false;
let notebookDir = NOTEBOOKS_DIR;
const passThrough = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === "--no-browser") noBrowser = true;
  else if (arg === "--port") port = argv[++i] ?? port;
  else if (arg.startsWith("--port=")) port = arg.slice("--port=".length);
  else if (arg === "--notebook-dir") notebookDir = argv[++i] ?? notebookDir;
  else if (arg.startsWith("--notebook-dir=")) notebookDir = arg.slice("--notebook-dir=".length);
  else passThrough.push(arg);
}
if (!/^\d+$/.test(port)) {
  console.error(`start: --port expects a number, got "${port}"`);
  process.exit(1);
}

// No display to open a browser on (CI, SSH, containers): Jupyter would otherwise try a
// terminal browser such as lynx, or fail.
const headless = Boolean(process.env.CI) || (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY);

let jupyter;
try {
  jupyter = setup({ quiet: true });
} catch (err) {
  if (!(err instanceof SetupError)) throw err;
  console.error(`start: ${err.message}`);
  process.exit(1);
}

const { frontend } = jupyter;
const args = [...jupyter.jupyter.slice(1), frontend.command, `--notebook-dir=${notebookDir}`, `--port=${port}`];
if (noBrowser || headless) args.push("--no-browser");
// Jupyter refuses to run as root (containers, CI) unless told explicitly.
if (process.getuid?.() === 0 && !passThrough.includes("--allow-root")) args.push("--allow-root");
args.push(...passThrough);

console.log(`Opening ${frontend.label} on ${notebookDir === NOTEBOOKS_DIR ? "notebooks/" : notebookDir} (kernel: TypeScript / tslab).`);
if (frontend.command !== "lab") {
  console.log("JupyterLab is not installed, using classic Notebook (for JupyterLab: python3 -m pip install jupyterlab).");
}
console.log(
  noBrowser || headless
    ? `No browser opened: visit the http://localhost:${port}/...?token=... URL printed below ` +
        "(Jupyter moves to the next free port if this one is taken)."
    : `Your browser should open http://localhost:${port}/ (the token URL is also printed below).`,
);
console.log("Stop with Ctrl-C.\n");

const child = spawn(jupyter.jupyter[0], args, { stdio: "inherit", env: jupyterEnv() });
// Ctrl-C reaches Jupyter directly (same process group); it asks to confirm the shutdown, so
// this wrapper must stay alive until Jupyter exits.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("error", (err) => {
  console.error(`start: could not run ${jupyter.jupyter[0]}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
