// Render the course as a static site a student can read without running anything.
//
//   npm run book                              # execute every chapter at its defaults, write out/book/
//   npm run book -- --profile quick           # the tests' quick profile (seconds per chapter)
//   npm run book -- --from test-artifacts/notebooks   # no execution: render executed copies found there
//   npm run book -- --chapters 05,06 --out /tmp/book  # a subset, elsewhere
//
// Writes <out>/index.html (title, the chapters with a one-line summary and each one's run time),
// <out>/NN-name.html (one page per chapter, previous / contents / next links at top and bottom),
// <out>/NN-name.ipynb (the executed notebook the page was made from) and the shared scripts beside
// them: plotly.min.js once (our chart outputs embed the whole of plotly.js in the first chart of
// every chapter, 4.6 MB; here that output is rewritten to load the shared file) and, when the
// system has it, a copy of the MathJax files the pages use, so the folder can be moved or served
// as it is. The chapters run one after another (scripts/run_notebook.py, like `npm run chapter`),
// each with the notebook's folder as working directory, so a model one chapter saves under
// checkpoints/ is there for the next.

import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { jupyterEnv, NOTEBOOKS_DIR, ROOT, RUN_NOTEBOOK_PY } from "./jupyter-env.mjs";
import { SetupError, setup } from "./setup.mjs";

const USAGE =
  "usage: npm run book -- [--profile default|quick|full] [--from DIR] [--chapters 01,02,...] [--out DIR] [--timeout SECONDS_PER_CELL]";
const PROFILES = ["default", "quick", "full"];
/** The marker of the output that embeds plotly.js (lib/view/charts.ts, embedPlotly). */
const PLOTLY_EMBED_MARKER = "window.PlotlyConfig";
export const PLOTLY_FILE = "plotly.min.js";
/** Debian's libjs-mathjax (MathJax 2.7), which nbconvert here loads from file:// by default. */
const SYSTEM_MATHJAX = "/usr/share/javascript/mathjax";
/** The parts of MathJax 2.7 that config TeX-AMS_CHTML-full,Safe loads (54 MB in all, ≈ 3 MB of these). */
const MATHJAX_PARTS = [
  "MathJax.js",
  "config",
  "extensions",
  "jax/input/TeX",
  "jax/output/CommonHTML",
  "jax/element",
  "fonts/HTML-CSS/TeX/woff",
];
const MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe";

function fail(message) {
  console.error(`book: ${message}`);
  process.exit(1);
}

/** Run a command; resolves to its exit code. Output is inherited (echo) or collected (quiet). */
function run(cmd, args, env, quiet = false) {
  return new Promise((resolve) => {
    const ignore = () => {};
    process.on("SIGINT", ignore);
    const child = spawn(cmd, args, { stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit", env });
    let output = "";
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    child.on("error", (err) => fail(`could not run ${cmd}: ${err.message}`));
    child.on("exit", (code, signal) => {
      process.off("SIGINT", ignore);
      if (quiet && code !== 0) process.stderr.write(output);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

const sourceOf = (cell) => (Array.isArray(cell.source) ? cell.source.join("") : (cell.source ?? ""));
const escapeHtml = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Title ("Chapter 5 — Hidden units as features") and one-line summary of a notebook. */
export function describeNotebook(nb, fallbackTitle) {
  const first = nb.cells.find((c) => c.cell_type === "markdown");
  const text = first ? sourceOf(first) : "";
  const title = /^#\s+(.+)$/m.exec(text)?.[1].trim() ?? fallbackTitle;
  // The first sentence after "What you will learn." (markdown emphasis and LaTeX delimiters dropped).
  const learn = /\*\*What you will learn\.\*\*\s*([\s\S]*?(?:\.(?=\s)|$))/.exec(text)?.[1] ?? "";
  const summary = learn
    .replace(/\s+/g, " ")
    .replace(/\*\*?|`|\$/g, "")
    .trim();
  return { title, summary };
}

/**
 * Seconds the kernel spent on the notebook's cells, from the timing nbclient records
 * (metadata.execution: iopub.status.busy → iopub.status.idle; tslab stamps its reply at the
 * start, so the reply time says nothing); null without timing.
 */
export function runSeconds(nb) {
  let total = 0;
  let timed = 0;
  for (const cell of nb.cells) {
    const t = cell.metadata?.execution;
    const start = Date.parse(t?.["iopub.status.busy"] ?? "");
    const end = Date.parse(t?.["iopub.status.idle"] ?? "");
    if (Number.isFinite(start) && Number.isFinite(end)) {
      total += Math.max(0, end - start) / 1000;
      timed++;
    }
  }
  return timed > 0 ? total : null;
}

/**
 * Rewrite the outputs that embed plotly.js to load the shared copy beside the page instead.
 * @returns how many outputs were rewritten
 */
export function sharePlotly(nb, src = PLOTLY_FILE) {
  let rewritten = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      const html = out.data?.["text/html"];
      if (html === undefined) continue;
      const text = Array.isArray(html) ? html.join("") : html;
      if (!text.includes(PLOTLY_EMBED_MARKER)) continue;
      out.data["text/html"] =
        `<script>window.PlotlyConfig={MathJaxConfig:"local"};</script>\n<script type="text/javascript" src="${src}"></script>`;
      rewritten++;
    }
  }
  return rewritten;
}

const formatTime = (s) => (s === null ? "—" : s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

const NAV_STYLE =
  "<style>.book-nav{display:flex;justify-content:space-between;gap:1em;max-width:1100px;margin:0.8em auto;padding:0.5em 1em;" +
  "font:15px/1.4 system-ui,sans-serif;border:1px solid #ddd;border-radius:6px;background:#fafafa}.book-nav a{text-decoration:none}</style>";

/** The previous / contents / next bar of one page. */
function navBar(prev, next) {
  const link = (p, label) => (p ? `<a href="${p.name}.html">${label}</a>` : "<span></span>");
  return (
    `<nav class="book-nav">${link(prev, `← ${escapeHtml(prev?.title ?? "")}`)}<a href="index.html">Contents</a>` +
    `${link(next, `${escapeHtml(next?.title ?? "")} →`)}</nav>`
  );
}

/**
 * The nbconvert page with the book's changes: no require.js (nothing here uses it, and plotly.js
 * registers itself as an anonymous AMD module instead of window.Plotly when it is present),
 * MathJax from the book's copy, navigation at top and bottom.
 */
export function finishPage(html, { prev, next, mathjaxUrl }) {
  let page = html.replace(/<script src="[^"]*require(?:\.min)?\.js"><\/script>\s*/g, "");
  if (mathjaxUrl) page = page.replace(/src="[^"]*MathJax\.js\?config=[^"]*"/g, `src="${mathjaxUrl}"`);
  const nav = navBar(prev, next);
  page = page.replace(/<body([^>]*)>/, (m) => `${m}\n${NAV_STYLE}\n${nav}`);
  return page.replace(/<\/body>/, `${nav}\n</body>`);
}

/** The contents page. */
export function indexPage(chapters, { profile }) {
  const rows = chapters
    .map(
      (c) =>
        `<tr><td><a href="${c.name}.html">${escapeHtml(c.title)}</a></td><td>${escapeHtml(c.summary)}</td>` +
        `<td class="t">${formatTime(c.seconds)}</td></tr>`,
    )
    .join("\n");
  const total = chapters.reduce((s, c) => s + (c.seconds ?? 0), 0);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Restricted Boltzmann Machines and Deep Belief Networks — a hands-on course</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:0.5em;vertical-align:top;text-align:left}
td.t{white-space:nowrap;text-align:right}a{text-decoration:none}</style></head>
<body>
<h1>Restricted Boltzmann Machines and Deep Belief Networks</h1>
<p>A hands-on course in ${chapters.length} chapters: energy-based models, Gibbs sampling, contrastive divergence and
persistent chains on MNIST, hidden units as features, deep belief networks that generate and classify digits.
Each page below is a chapter executed top to bottom (${profile === "default" ? "at its default settings" : profile ? `with the ${profile} profile` : "from copies executed earlier"});
to change a setting and run it yourself, open the notebook of the same name in Jupyter.</p>
<table><thead><tr><th>Chapter</th><th>What you will learn</th><th>Run time</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p>Run time: the seconds the kernel spent executing the chapter's cells on the machine that built this book
(${formatTime(total)} in all).</p>
</body></html>
`;
}

/** Copy the parts of the system's MathJax the pages load; returns the URL to use, or null. */
function copyMathJax(outDir) {
  if (!existsSync(path.join(SYSTEM_MATHJAX, "MathJax.js"))) return null;
  const dest = path.join(outDir, "mathjax");
  rmSync(dest, { recursive: true, force: true });
  for (const part of MATHJAX_PARTS) {
    const from = path.join(SYSTEM_MATHJAX, part);
    if (existsSync(from)) cpSync(from, path.join(dest, part), { recursive: true, dereference: true });
  }
  return MATHJAX_URL;
}

async function main() {
  const { values } = (() => {
    try {
      return parseArgs({
        options: {
          profile: { type: "string" },
          from: { type: "string" },
          chapters: { type: "string" },
          out: { type: "string", default: "out/book" },
          timeout: { type: "string", default: "7200" },
        },
      });
    } catch (err) {
      fail(`${err.message}\n${USAGE}`);
    }
  })();
  if (!/^\d+$/.test(values.timeout)) fail("--timeout expects whole seconds");
  if (values.profile !== undefined && !PROFILES.includes(values.profile)) fail(`--profile expects one of ${PROFILES.join(", ")}`);
  if (values.profile !== undefined && values.from !== undefined) fail("--from renders notebooks already executed: it takes no --profile");

  let jupyter;
  try {
    jupyter = setup({ quiet: true });
  } catch (err) {
    if (err instanceof SetupError) fail(err.message);
    throw err;
  }

  const all = readdirSync(NOTEBOOKS_DIR)
    .filter((f) => /^\d+-.*\.ipynb$/.test(f))
    .sort();
  const wanted = values.chapters?.split(",").map((s) => s.trim());
  const files = wanted ? all.filter((f) => wanted.some((p) => f.startsWith(p))) : all;
  if (files.length === 0) fail(`no chapter in notebooks/ matches --chapters ${values.chapters}`);
  const outDir = path.resolve(values.out);
  if (outDir === NOTEBOOKS_DIR) fail("--out must not be notebooks/");
  const fromDir = values.from ? path.resolve(values.from) : null;
  mkdirSync(outDir, { recursive: true });
  const profile = values.profile ?? "default";
  const env = jupyterEnv({ ...process.env, ...(values.profile ? { RBM_PROFILE: values.profile } : {}) });

  const chapters = [];
  const t0 = Date.now();
  for (const file of files) {
    const name = path.basename(file, ".ipynb");
    const executed = path.join(outDir, file);
    if (fromDir) {
      const copy = path.join(fromDir, file);
      if (!existsSync(copy)) fail(`${path.relative(ROOT, copy)} does not exist: execute the chapters first (or leave out --from)`);
      if (statSync(copy).mtimeMs < statSync(path.join(NOTEBOOKS_DIR, file)).mtimeMs) {
        console.warn(`book: ${path.relative(ROOT, copy)} is older than notebooks/${file}; rendering it anyway`);
      }
      writeFileSync(executed, readFileSync(copy));
    } else {
      console.log(`\n=== ${file} (${profile === "default" ? "defaults" : `RBM_PROFILE=${profile}`}) ===`);
      const status = await run(
        jupyter.python,
        [RUN_NOTEBOOK_PY, path.join(NOTEBOOKS_DIR, file), "--output", executed, "--timeout", values.timeout],
        env,
      );
      if (status !== 0) fail(`chapter ${file} failed (exit ${status}); its partial run is ${path.relative(ROOT, executed)}`);
    }
    const nb = JSON.parse(readFileSync(executed, "utf8"));
    chapters.push({ file, name, executed, nb, seconds: runSeconds(nb), ...describeNotebook(nb, name) });
  }

  const require = createRequire(import.meta.url);
  writeFileSync(path.join(outDir, PLOTLY_FILE), readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js")));
  const mathjaxUrl = copyMathJax(outDir);
  const tmp = path.join(outDir, ".shared");
  mkdirSync(tmp, { recursive: true });
  const [jupyterCmd, ...jupyterArgs] = jupyter.jupyter;
  for (const [i, c] of chapters.entries()) {
    const shared = path.join(tmp, c.file);
    const rewritten = sharePlotly(c.nb);
    writeFileSync(shared, JSON.stringify(c.nb));
    // The book's copy of the executed notebook is the rewritten one, so plotly.js is on disk once.
    writeFileSync(c.executed, `${JSON.stringify(c.nb, null, 1)}\n`);
    const status = await run(
      jupyterCmd,
      [...jupyterArgs, "nbconvert", "--to", "html", "--output-dir", tmp, "--output", c.name, shared],
      env,
      true,
    );
    if (status !== 0) fail(`nbconvert could not export ${c.file} (exit ${status})`);
    const html = readFileSync(path.join(tmp, `${c.name}.html`), "utf8");
    writeFileSync(path.join(outDir, `${c.name}.html`), finishPage(html, { prev: chapters[i - 1], next: chapters[i + 1], mathjaxUrl }));
    console.log(`${c.name}.html  (${formatTime(c.seconds)}; plotly outputs shared: ${rewritten})`);
  }
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(path.join(outDir, "index.html"), indexPage(chapters, { profile: fromDir ? null : profile }));
  console.log(
    `\nbook: ${chapters.length} chapters in ${path.relative(process.cwd(), outDir) || "."}/index.html ` +
      `(${((Date.now() - t0) / 1000).toFixed(0)} s; MathJax ${mathjaxUrl ? "copied beside the pages" : "from nbconvert's default URL"})`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
