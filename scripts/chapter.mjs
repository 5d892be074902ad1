// Run one chapter headless with chosen parameters and keep the executed notebook + HTML.
//
//   npm run chapter -- 03 --set EPOCHS=15 --set N_TRAIN=60000 [--profile quick|full] [--out out/] [--timeout 7200]
//
// --profile selects every parameter's quick (seconds, what the tests run) or full (full-scale)
// value at once by setting RBM_PROFILE (lib/io/params.ts); --set still wins for its variable.
// "03" selects the notebook in notebooks/ whose file name starts with it. Each --set becomes an
// environment variable of the kernel; notebooks read them in their first code cell. Writes
// <out>/<name>.ipynb (executed) and <out>/<name>.html; the source notebook is never modified.

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { jupyterEnv, NOTEBOOKS_DIR, RUN_NOTEBOOK_PY } from "./jupyter-env.mjs";
import { SetupError, setup } from "./setup.mjs";

const USAGE =
  "usage: npm run chapter -- <prefix> [--set NAME=VALUE ...] [--profile default|quick|full] [--out DIR] [--timeout SECONDS_PER_CELL]";

function fail(message) {
  console.error(`chapter: ${message}`);
  process.exit(1);
}

/** Run a command with inherited stdio; resolves to its exit code. Ctrl-C reaches the child
 * directly (same process group), so we wait for it to clean up its kernel instead of dying. */
function run(cmd, args, env) {
  return new Promise((resolve) => {
    const ignore = () => {};
    process.on("SIGINT", ignore);
    const child = spawn(cmd, args, { stdio: "inherit", env });
    child.on("error", (err) => fail(`could not run ${cmd}: ${err.message}`));
    child.on("exit", (code, signal) => {
      process.off("SIGINT", ignore);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function findNotebook(prefix) {
  const matches = readdirSync(NOTEBOOKS_DIR).filter((f) => f.endsWith(".ipynb") && f.startsWith(prefix));
  if (matches.length === 1) return path.join(NOTEBOOKS_DIR, matches[0]);
  const available = readdirSync(NOTEBOOKS_DIR)
    .filter((f) => f.endsWith(".ipynb"))
    .join(", ");
  fail(
    `${matches.length === 0 ? "no notebook" : `${matches.length} notebooks (${matches.join(", ")})`} ` +
      `in notebooks/ starting with "${prefix}". Available: ${available || "none"}`,
  );
}

function parseSets(sets) {
  const vars = {};
  for (const assignment of sets) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(assignment);
    if (!match) fail(`--set expects NAME=VALUE, got "${assignment}"`);
    vars[match[1]] = match[2];
  }
  return vars;
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        set: { type: "string", multiple: true, default: [] },
        profile: { type: "string" },
        out: { type: "string", default: "out" },
        timeout: { type: "string", default: "7200" },
      },
    });
  } catch (err) {
    fail(`${err.message}\n${USAGE}`);
  }
})();
if (positionals.length !== 1) fail(USAGE);
if (!/^\d+$/.test(values.timeout)) fail("--timeout expects whole seconds");
const PROFILES = ["default", "quick", "full"];
if (values.profile !== undefined && !PROFILES.includes(values.profile)) fail(`--profile expects one of ${PROFILES.join(", ")}`);

let jupyter;
try {
  jupyter = setup({ quiet: true });
} catch (err) {
  if (err instanceof SetupError) fail(err.message);
  throw err;
}

const source = findNotebook(positionals[0]);
const params = { ...(values.profile ? { RBM_PROFILE: values.profile } : {}), ...parseSets(values.set) };
const outDir = path.resolve(values.out);
const name = path.basename(source, ".ipynb");
const executed = path.join(outDir, `${name}.ipynb`);
if (executed === source) fail(`--out ${values.out} would overwrite the source notebook`);

const shown =
  Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ") || "notebook defaults";
console.log(`Chapter ${path.basename(source)} with ${shown}`);
const env = jupyterEnv({ ...process.env, ...params });
const t0 = Date.now();

const status = await run(jupyter.python, [RUN_NOTEBOOK_PY, source, "--output", executed, "--timeout", values.timeout, "--echo"], env);
// Convert even after a failing cell (status 1): the HTML shows how far the chapter got and the
// error. Status 2 means the kernel never started and nothing was written.
const [jupyterCmd, ...jupyterArgs] = jupyter.jupyter;
const converted =
  status > 1 ? status : await run(jupyterCmd, [...jupyterArgs, "nbconvert", "--to", "html", "--output-dir", outDir, executed], env);

const seconds = ((Date.now() - t0) / 1000).toFixed(1);
console.log(`\n${status === 0 ? "Done" : "FAILED"} in ${seconds} s:`);
console.log(`  executed notebook: ${path.relative(process.cwd(), executed)}`);
if (converted === 0) console.log(`  HTML:              ${path.relative(process.cwd(), path.join(outDir, `${name}.html`))}`);
process.exit(status || converted);
