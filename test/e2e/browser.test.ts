// Seeing the model in a real browser, and the Jupyter server `npm start` opens.
//
// 1. Every chapter (notebooks/NN-*.ipynb) is exported to HTML with nbconvert (no execution) from
//    its executed copy in test-artifacts/notebooks/, the one test/e2e/notebooks.test.ts writes,
//    so no chapter is executed twice. npm test runs that file first, in a `node --test` of its
//    own: node --test sorts the files it is given by path, so listing both on one command line
//    would run this file first. When a copy is missing or older than its source notebook, the
//    chapter is executed here with scripts/chapter.mjs (RBM_PROFILE=quick), which leaves the copy there
//    too, so this file also works on its own. Each page is opened in headless Chromium driven
//    over the DevTools protocol (test/support/cdp.ts, no dependency): every chart must be
//    drawn by plotly, every PNG must decode, and the screenshot (kept as
//    test-artifacts/browser/NN.png) must not be blank. How many charts, images and tables to
//    expect is read from the chapter's executed outputs.
// 2. The same HTML with every <script> removed must still show each chart as our static SVG
//    (test-artifacts/browser/NN-noscript.png). What JupyterLab itself shows, trusted and untrusted,
//    is test/e2e/jupyterlab.test.ts.
// 3. `node scripts/start.mjs --no-browser` is started on a free loopback port with a random token;
//    through its REST API and a kernel's websocket channel (test/support/websocket.ts) we check that
//    kernel "tslab" is offered, run one cell in a session for a chapter, and shut everything down.
//
// Needs Chromium (`chromium` on PATH or CHROMIUM=/path; `npm run setup` installs it as root on
// Debian) and `npm run setup` (npm test runs it first). Without Chromium ONE test fails, saying
// what to install, and the tests that drive the browser are skipped; the rest still run.

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { findJupyter, jupyterEnv, NOTEBOOKS_DIR, ROOT } from "../../scripts/jupyter-env.mjs";
import { chromiumMissingMessage, findChromium } from "../../scripts/system-deps.mjs";
import { type Box, Browser, type Page } from "../support/cdp";
import { CHAPTER_FILES } from "../support/chapters";
import { startProjectServer } from "../support/jupyter-server";
import { pixelStats, screenshotPixels } from "../support/pixels";
import type { Rgba } from "../support/png";
import { type Proc, pidAlive, runToEnd, stopProcess, tail, waitUntil } from "../support/processes";
import { WebSocketClient } from "../support/websocket";

const ARTIFACTS_DIR = path.join(ROOT, "test-artifacts", "browser");
/** Where test/e2e/notebooks.test.ts keeps the executed notebooks (same file names as notebooks/). */
const EXECUTED_DIR = path.join(ROOT, "test-artifacts", "notebooks");
/** The chapter whose notebook the server test opens a session for. */
const SERVER_CHAPTER = "01";
/** Chapters that must show at least so many plotly charts; every other chapter at least one picture. */
const MIN_CHARTS: Record<string, { charts: number; what: string }> = { "01": { charts: 3, what: "two heatmaps, one bar chart" } };
/** Per-cell timeout (s) when a chapter has to be executed here: the notebook test's. */
const CELL_TIMEOUT_S = 600;
const CHROMIUM = findChromium();
/** Options of a test that drives the browser: skipped without Chromium (the Chromium test has failed). */
const inBrowser = (timeout: number): { timeout: number; skip: string | false } => ({
  timeout,
  skip: CHROMIUM ? false : "needs Chromium (see the failed test: Chromium is installed)",
});

interface Chapter {
  /** "01" for notebooks/01-energy-and-free-energy.ipynb (the whole name if it has no number or shares it). */
  id: string;
  /** File name in notebooks/. */
  file: string;
  /** File name without .ipynb. */
  name: string;
}

/** Every notebook in notebooks/, in file-name order (the notebook test runs the same list). */
function listChapters(): Chapter[] {
  const files = readdirSync(NOTEBOOKS_DIR)
    .filter((f) => f.endsWith(".ipynb"))
    .sort();
  const number = (f: string) => /^(\d+)-/.exec(f)?.[1];
  return files.map((file) => {
    const name = path.basename(file, ".ipynb");
    const n = number(file);
    const unique = n !== undefined && files.filter((f) => number(f) === n).length === 1;
    return { id: unique ? n : name, file, name };
  });
}
const CHAPTERS = listChapters();

// ───────────────────────────── the executed chapter ─────────────────────────────

interface OutputJson {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  name?: string;
  text?: string | string[];
}
interface CellJson {
  cell_type: string;
  source: string | string[];
  outputs?: OutputJson[];
  execution_count?: number | null;
  metadata?: { execution?: Record<string, string> };
}

interface ChartExpect {
  types: string[];
  title: string;
  /** Index of the notebook cell whose output it is. */
  cell: number;
}

/** What the executed notebook says the page must show. */
interface Expected {
  /** Interactive charts (plotly JSON + HTML with div#rbm-plot-*) in output order. */
  charts: ChartExpect[];
  /**
   * Charts output without HTML (a live chart whose final interactive redraw never came):
   * nbconvert shows their image/svg+xml.
   */
  staticCharts: ChartExpect[];
  /** image/png outputs that nbconvert renders as <img> (no text/html in the same bundle). */
  pngImages: number;
  /** text/html outputs containing a <table>. */
  tables: number;
}

const sourceOf = (cell: CellJson) => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);

function expectedFrom(nb: { cells: CellJson[] }): Expected {
  const outputs = nb.cells.flatMap((c, cell) => (c.outputs ?? []).filter((o) => o.data).map((o) => ({ o, cell })));
  const html = (o: OutputJson) => [o.data?.["text/html"] ?? ""].flat().join("");
  const charts: ChartExpect[] = [];
  const staticCharts: ChartExpect[] = [];
  for (const { o, cell } of outputs) {
    const fig = o.data?.["application/vnd.plotly.v1+json"] as
      | { data: { type: string }[]; layout: { title?: { text: string } } }
      | undefined;
    if (!fig) continue;
    const chart = { types: fig.data.map((t) => t.type), title: fig.layout.title?.text ?? "", cell };
    (o.data?.["text/html"] ? charts : staticCharts).push(chart);
  }
  return {
    charts,
    staticCharts,
    pngImages: outputs.filter(({ o }) => o.data?.["image/png"] && !o.data?.["text/html"]).length,
    tables: outputs.filter(({ o }) => /<table[\s>]/i.test(html(o))).length,
  };
}

/**
 * Why an executed notebook is not a complete run, or null. run_notebook.py writes the executed
 * copy also when a cell fails or times out, and stops there. tslab sends no execution counts and
 * reports most errors on stderr only, so "executed" is nbclient's record of the cell's reply.
 */
function incompleteRun(nb: { cells: CellJson[] }): string | null {
  const code = nb.cells.map((cell, index) => ({ cell, index })).filter(({ cell }) => cell.cell_type === "code" && sourceOf(cell).trim());
  const firstLine = (cell: CellJson) => sourceOf(cell).trim().split("\n")[0].slice(0, 80);
  for (const { cell, index } of code) {
    const error = cell.outputs?.find((o) => o.output_type === "error");
    if (error) return `cell ${index} (${firstLine(cell)}) failed: ${error.ename}: ${error.evalue}`;
  }
  const executed = (cell: CellJson) => cell.execution_count != null || cell.metadata?.execution?.["shell.execute_reply"] !== undefined;
  const skipped = code.findIndex(({ cell }) => !executed(cell));
  if (skipped < 0) return null;
  const never = code
    .slice(skipped)
    .filter(({ cell }) => !executed(cell))
    .map(({ index }) => index);
  const stopped = skipped > 0 ? code[skipped - 1] : null;
  if (!stopped) return `no cell was executed (cells ${never.join(", ")} have no reply)`;
  const stderr = (stopped.cell.outputs ?? [])
    .filter((o) => o.output_type === "stream" && o.name === "stderr")
    .map((o) => [o.text ?? ""].flat().join(""))
    .join("")
    .trim();
  return (
    `the run stopped after cell ${stopped.index} (${firstLine(stopped.cell)}); cells ${never.join(", ")} were never executed` +
    (stderr ? `; cell ${stopped.index}'s stderr: ${tail(stderr, 5)}` : "")
  );
}

const describeChart = (c: ChartExpect, i: number) => `chart ${i + 1} (cell ${c.cell}, ${c.types.join("+")}, "${c.title}")`;

/** Remove every <script> element, as JupyterLab's sanitizer does with untrusted outputs. */
function stripScripts(html: string): string {
  // The embedded plotly.js escapes "</script" inside itself, so the first closing tag is the real one.
  return html.replace(/<script\b[\s\S]*?<\/script\s*>/gi, "");
}

// In-page probes (strings: this file is compiled without DOM types).

/**
 * Waits (≤ timeout) until `want` plotly plots exist and MathJax (when present) has typeset the
 * page and hidden its "Processing math" banner, then describes every chart container.
 */
const PROBE_CHARTS = (want: number, timeoutMs: number) => `(async () => {
  const deadline = Date.now() + ${timeoutMs};
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  while (document.querySelectorAll(".js-plotly-plot").length < ${want} && Date.now() < deadline) await sleep(100);
  const hub = window.MathJax && window.MathJax.Hub;
  if (hub && typeof hub.Queue === "function") {
    await Promise.race([new Promise((r) => hub.Queue([r])), sleep(Math.max(0, deadline - Date.now()))]);
    const banner = () => document.getElementById("MathJax_Message");
    while (banner() && banner().style.display !== "none" && Date.now() < deadline) await sleep(100);
  }
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const href = (el) => el.getAttribute("href") || el.getAttribute("xlink:href") || "";
  const decodes = async (src) => {
    const img = new Image();
    img.src = src;
    try { await img.decode(); } catch { return 0; }
    return img.naturalWidth;
  };
  const charts = [];
  for (const div of document.querySelectorAll('div[id^="rbm-plot-"]')) {
    const r = div.getBoundingClientRect();
    // The static picture: the chart's SVG as an <img> data URI (read back here to look inside), or inline.
    const img = div.querySelector(':scope > img[src^="data:image/svg+xml;base64,"]');
    const svgText = img ? new TextDecoder().decode(Uint8Array.from(atob(img.getAttribute("src").split(",")[1]), (c) => c.charCodeAt(0))) : "";
    const parsed = img ? new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement : null;
    const fallback = parsed || div.querySelector(":scope > svg");
    const fr = (img || fallback) ? (img || fallback).getBoundingClientRect() : null;
    const images = [...div.querySelectorAll("image"), ...(parsed ? parsed.querySelectorAll("image") : [])]
      .map(href).filter((h) => h.startsWith("data:image/png"));
    charts.push({
      id: div.id,
      box: { x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height },
      plotly: div.classList.contains("js-plotly-plot"),
      mainSvgs: div.querySelectorAll("svg.main-svg").length,
      plotlyHeatmapImages: div.querySelectorAll("g.hm image").length,
      plotlyBarPaths: div.querySelectorAll("g.trace.bars path").length,
      fallbackSvg: fallback ? { width: fr.width, height: fr.height, bars: fallback.querySelectorAll("rect.bar").length,
        texts: [...fallback.querySelectorAll("text")].map((t) => t.textContent),
        decodedWidth: img ? await decodes(img.src) : fr.width } : null,
      pngImages: images.length,
      pngImageWidths: await Promise.all(images.map(decodes)),
    });
  }
  const svgOutputs = [...document.querySelectorAll('[data-mime-type="image/svg+xml"] svg, .output_svg svg')].map((svg) => {
    const r = svg.getBoundingClientRect();
    return { width: r.width, height: r.height, texts: [...svg.querySelectorAll("text")].map((t) => t.textContent) };
  });
  const imgs = [...document.querySelectorAll('img[src^="data:image/png"]')];
  await Promise.all(imgs.map((i) => i.decode().catch(() => {})));
  return {
    charts,
    svgOutputs,
    plotlyPlots: document.querySelectorAll(".js-plotly-plot").length,
    mainSvgs: document.querySelectorAll(".main-svg").length,
    scripts: document.querySelectorAll("script").length,
    plotlyLoaded: typeof window.Plotly === "object" && typeof window.Plotly.newPlot === "function",
    pngImgs: imgs.map((i) => ({ naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight })),
    tables: document.querySelectorAll(".jp-OutputArea-output table, .output_area table").length,
  };
})()`;

interface ChartProbe {
  id: string;
  box: Box;
  plotly: boolean;
  mainSvgs: number;
  plotlyHeatmapImages: number;
  plotlyBarPaths: number;
  /** The static SVG picture (`decodedWidth`: its natural width once decoded as an image, 0 if it did not decode). */
  fallbackSvg: { width: number; height: number; bars: number; texts: string[]; decodedWidth: number } | null;
  pngImages: number;
  pngImageWidths: number[];
}
interface PageProbe {
  charts: ChartProbe[];
  svgOutputs: { width: number; height: number; texts: string[] }[];
  plotlyPlots: number;
  mainSvgs: number;
  scripts: number;
  plotlyLoaded: boolean;
  pngImgs: { naturalWidth: number; naturalHeight: number }[];
  tables: number;
}

/** The probe as text for failure messages: page-wide counts, then one line per chart. */
const describeProbe = (p: PageProbe) => {
  const { charts, svgOutputs, ...page } = p;
  return [
    JSON.stringify({ ...page, svgOutputs: svgOutputs.length }),
    ...charts.map(
      (c, i) =>
        `  chart ${i + 1}: ${JSON.stringify({
          ...c,
          fallbackSvg: c.fallbackSvg && { ...c.fallbackSvg, texts: c.fallbackSvg.texts.length },
        })}`,
    ),
  ].join("\n");
};

/** Throws, naming what failed earlier, when a previous step left no state. */
function need<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`not checked: ${what} failed or was skipped earlier`);
  return value;
}

/**
 * A test body whose failures start with `label` (the chapter): the message and the stack, which
 * is what node:test prints.
 */
function labelled<A extends unknown[]>(label: string, body: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      if (err instanceof Error && !err.message.startsWith(label)) {
        const message = `${label}: ${err.message}`;
        if (typeof err.stack === "string") {
          err.stack = err.stack.includes(err.message) ? err.stack.replace(err.message, () => message) : `${message}\n${err.stack}`;
        }
        err.message = message;
      }
      throw err;
    }
  };
}

/** Colour statistics of a chart's box: from the full screenshot, or its own capture when the box lies below it. */
async function chartPixels(page: Page, img: Rgba, box: Box) {
  if (box.y + box.height <= img.height && box.x + box.width <= img.width) return pixelStats(img, box);
  return pixelStats(screenshotPixels(await page.screenshot(box)));
}

// ───────────────────────────── 1 + 2: every chapter in Chromium ─────────────────────────────

describe("every chapter rendered in headless Chromium", () => {
  let browser: Browser | undefined;
  const running = new Set<Proc>();

  after(async () => {
    for (const proc of running) await stopProcess(proc);
    await browser?.close();
  });

  /** The shared browser; relaunched if it died (the chapter it died in has failed already). */
  async function getBrowser(): Promise<Browser> {
    assert.ok(CHROMIUM, chromiumMissingMessage());
    if (browser && !browser.alive) {
      const dead = browser;
      browser = undefined;
      await dead.close();
    }
    browser ??= await Browser.launch(CHROMIUM);
    return browser;
  }

  test("Chromium is installed", () => {
    assert.ok(CHROMIUM, chromiumMissingMessage());
  });

  test("notebooks/ holds chapters", () => {
    assert.deepEqual(
      CHAPTERS.map((c) => c.file),
      CHAPTER_FILES,
      `the .ipynb files in ${NOTEBOOKS_DIR} are not the course's chapters (a new chapter goes into test/support/chapters.ts)`,
    );
  });

  for (const chapter of CHAPTERS) {
    const { id, file, name } = chapter;
    const label = `chapter ${id} (${file})`;
    const it = (title: string, options: { timeout: number; skip?: string | false }, body: (t: test.TestContext) => unknown) =>
      test(title, options, labelled(label, body));

    describe(label, () => {
      let html: string | undefined;
      let noScriptHtml: string | undefined;
      let expected: Expected | undefined;
      /** The page with scripts on, open from the plotly test until the screenshot has been taken. */
      let scriptedPage: Page | undefined;
      let scriptedProbe: PageProbe | undefined;

      after(async () => {
        await scriptedPage?.close();
      });

      it("exported to HTML from its executed notebook (nbconvert)", { timeout: 30 * 60_000 }, async (t) => {
        const source = path.join(NOTEBOOKS_DIR, file);
        const copy = path.join(EXECUTED_DIR, file);
        mkdirSync(ARTIFACTS_DIR, { recursive: true });
        const [ipynb, htmlFile, noScriptFile] = [".ipynb", ".html", ".noscript.html"].map((ext) => path.join(ARTIFACTS_DIR, name + ext));
        for (const f of [
          ipynb,
          htmlFile,
          noScriptFile,
          path.join(ARTIFACTS_DIR, `${id}.png`),
          path.join(ARTIFACTS_DIR, `${id}-noscript.png`),
        ]) {
          rmSync(f, { force: true }); // never look at a previous run's files
        }

        const fresh = existsSync(copy) && statSync(copy).mtimeMs >= statSync(source).mtimeMs;
        let origin: string;
        if (fresh) {
          origin = `executed copy ${path.relative(ROOT, copy)} (test/e2e/notebooks.test.ts)`;
          copyFileSync(copy, ipynb); // a snapshot: expectations and HTML come from the same file
          const jupyter = findJupyter();
          assert.ok(jupyter.ok, "no usable Jupyter found: run `npm run setup`");
          const [cmd, ...args] = jupyter.jupyter;
          const conv = await runToEnd(
            running,
            "nbconvert",
            cmd,
            [...args, "nbconvert", "--to", "html", "--output-dir", ARTIFACTS_DIR, "--output", name, ipynb],
            jupyterEnv(process.env),
          );
          assert.equal(
            conv.code,
            0,
            `jupyter nbconvert --to html ${path.relative(ROOT, ipynb)} exited with ${conv.code ?? conv.signal}:\n${tail(conv.output, 40)}`,
          );
        } else {
          // No usable copy: execute the chapter as the notebook test does (quick profile, same per-cell
          // timeout) and leave the copy where that test keeps it, for the next run.
          origin = `executed here (${existsSync(copy) ? `${path.relative(ROOT, copy)} is older than notebooks/${file}` : `no ${path.relative(ROOT, copy)}`})`;
          t.diagnostic(`${label}: ${origin}`);
          const run = await runToEnd(
            running,
            "chapter",
            process.execPath,
            [path.join(ROOT, "scripts", "chapter.mjs"), file, "--out", EXECUTED_DIR, "--timeout", String(CELL_TIMEOUT_S)],
            { ...process.env, CI: "true", RBM_PROFILE: "quick" },
          );
          assert.equal(
            run.code,
            0,
            `npm run chapter -- ${file} --out ${path.relative(ROOT, EXECUTED_DIR)} exited with ${run.code ?? run.signal}:\n${tail(run.output, 60)}`,
          );
          copyFileSync(copy, ipynb);
          renameSync(path.join(EXECUTED_DIR, `${name}.html`), htmlFile);
        }

        const nb = JSON.parse(readFileSync(ipynb, "utf8")) as { cells: CellJson[] };
        const problem = incompleteRun(nb);
        assert.equal(
          problem,
          null,
          `the executed notebook (${origin}) records a failed run: ${problem}. ` +
            `Run test/e2e/notebooks.test.ts (it rewrites the copy), or delete the copy to have this test execute the chapter.`,
        );
        const exp = expectedFrom(nb);
        const types = exp.charts.map((c) => c.types.join("+"));
        const min = MIN_CHARTS[id];
        if (min) {
          assert.ok(
            exp.charts.length >= min.charts,
            `should show at least ${min.charts} plotly charts (${min.what}); its outputs hold ${exp.charts.length}: ${types.join(", ") || "none"}`,
          );
        }
        assert.ok(
          exp.charts.length + exp.staticCharts.length + exp.pngImages > 0,
          `the executed notebook's outputs hold no chart and no image`,
        );

        const text = readFileSync(htmlFile, "utf8");
        const scriptTags = (text.match(/<script\b/gi) ?? []).length;
        assert.ok(scriptTags > 0, `${htmlFile} has no <script> at all`);
        const stripped = stripScripts(text);
        writeFileSync(noScriptFile, stripped);
        const left = (stripped.match(/<script\b/gi) ?? []).length;
        assert.equal(left, 0, `removing the ${scriptTags} <script> elements of ${htmlFile} left ${left} behind`);
        expected = exp;
        html = htmlFile;
        noScriptHtml = noScriptFile;
        t.diagnostic(
          `${label}: ${origin}; outputs: ${exp.charts.length} interactive charts (${types.join(", ") || "none"}), ` +
            `${exp.staticCharts.length} static charts, ${exp.pngImages} PNG images, ${exp.tables} tables`,
        );
      });

      it("plotly draws every chart (scripts on)", inBrowser(120_000), async (t) => {
        const file = need(html, "the HTML export");
        const exp = need(expected, "the HTML export");
        const page = await (await getBrowser()).newPage();
        scriptedPage = page;
        await page.open(file);
        const probe = await page.evaluate<PageProbe>(PROBE_CHARTS(exp.charts.length, 30_000));
        scriptedProbe = probe;
        const seen = `DOM: ${describeProbe(probe)}\npage problems:\n${page.problems()}`;
        if (exp.charts.length > 0) {
          assert.ok(probe.plotlyLoaded, `window.Plotly is not defined after the page loaded (the embedded plotly.js did not run)\n${seen}`);
        }
        assert.equal(
          probe.charts.length,
          exp.charts.length,
          `${exp.charts.length} charts in the notebook's outputs, ${probe.charts.length} chart containers (div#rbm-plot-*) in the page\n${seen}`,
        );
        assert.ok(
          probe.plotlyPlots >= exp.charts.length && probe.mainSvgs >= exp.charts.length,
          `expected ≥ ${exp.charts.length} plotly plots; found ${probe.plotlyPlots} .js-plotly-plot and ${probe.mainSvgs} .main-svg\n${seen}`,
        );
        probe.charts.forEach((chart, i) => {
          const want = exp.charts[i];
          const what = describeChart(want, i);
          assert.ok(chart.plotly && chart.mainSvgs > 0, `${what} was not drawn by plotly: ${JSON.stringify(chart)}\n${seen}`);
          assert.equal(chart.fallbackSvg, null, `${what}: plotly should have replaced the static SVG: ${JSON.stringify(chart)}`);
          assert.ok(chart.box.width > 100 && chart.box.height > 100, `${what} has no size on the page: ${JSON.stringify(chart.box)}`);
          if (want.types.includes("heatmap")) {
            assert.ok(chart.plotlyHeatmapImages > 0, `${what}: no heatmap image (g.hm image) in plotly's SVG: ${JSON.stringify(chart)}`);
          }
          if (want.types.includes("bar")) {
            assert.ok(chart.plotlyBarPaths > 0, `${what}: no bars (g.trace.bars path) in plotly's SVG: ${JSON.stringify(chart)}`);
          }
        });
        checkStaticCharts(exp, probe, seen);
        assert.deepEqual(page.exceptions, [], `uncaught exceptions on the page:\n${page.problems()}`);
        t.diagnostic(
          `${label}: ${probe.plotlyPlots} plotly plots (${exp.charts.map((c) => c.types.join("+")).join(", ") || "none"}), ` +
            `${probe.mainSvgs} .main-svg, ${probe.svgOutputs.length} SVG outputs, ${probe.pngImgs.length} PNG <img>, ${probe.tables} tables; ` +
            `page: ${page.problems().replace(/\n/g, " | ")}`,
        );
      });

      it("PNG pictures decode (image outputs, heatmap images)", inBrowser(30_000), () => {
        const probe = need(scriptedProbe, "the scripted page");
        const exp = need(expected, "the HTML export");
        checkPngs(exp, probe, `DOM: ${describeProbe(probe)}`);
        assert.ok(
          probe.tables >= exp.tables,
          `${exp.tables} HTML tables in the notebook's outputs, ${probe.tables} in the page\nDOM: ${describeProbe(probe)}`,
        );
      });

      it(`screenshot is not blank (test-artifacts/browser/${id}.png)`, inBrowser(120_000), async (t) => {
        const page = need(scriptedPage, "the scripted page");
        const probe = need(scriptedProbe, "the scripted page");
        const exp = need(expected, "the HTML export");
        try {
          const png = await page.screenshot();
          const shot = path.join(ARTIFACTS_DIR, `${id}.png`);
          writeFileSync(shot, png);
          const img = screenshotPixels(png);
          const whole = pixelStats(img);
          assert.ok(whole.distinctColours >= 64 && whole.nonWhite >= 0.02, `the screenshot ${shot} looks blank: ${whole}`);
          t.diagnostic(`${label}: ${path.relative(ROOT, shot)}: ${whole}`);
          for (const [i, chart] of probe.charts.entries()) {
            const s = await chartPixels(page, img, chart.box);
            assert.ok(
              s.colourful >= 0.005 && s.distinctColours >= 16,
              `${describeChart(exp.charts[i], i)} (${chart.id}) at ${JSON.stringify(chart.box)} in ${shot} shows no coloured data: ${s}`,
            );
          }
        } finally {
          await page.close();
          scriptedPage = undefined;
        }
      });

      it("with every <script> removed, each chart still shows its SVG fallback", inBrowser(120_000), async (t) => {
        const file = need(noScriptHtml, "the HTML export");
        const exp = need(expected, "the HTML export");
        const page = await (await getBrowser()).newPage();
        try {
          await page.open(file);
          const probe = await page.evaluate<PageProbe>(PROBE_CHARTS(0, 0));
          const seen = `DOM: ${describeProbe(probe)}\npage problems:\n${page.problems()}`;
          assert.equal(probe.scripts, 0, `${probe.scripts} <script> elements left in the page\n${seen}`);
          assert.equal(probe.plotlyPlots, 0, `plotly ran although scripts were removed\n${seen}`);
          assert.equal(
            probe.charts.length,
            exp.charts.length,
            `${exp.charts.length} charts in the notebook's outputs, ${probe.charts.length} chart containers (div#rbm-plot-*) in the page\n${seen}`,
          );
          const png = await page.screenshot();
          const shot = path.join(ARTIFACTS_DIR, `${id}-noscript.png`);
          writeFileSync(shot, png);
          const img = screenshotPixels(png);
          for (const [i, chart] of probe.charts.entries()) {
            const want = exp.charts[i];
            const what = describeChart(want, i);
            const svg = chart.fallbackSvg;
            assert.ok(svg && svg.width > 100 && svg.height > 100, `${what}: no visible SVG fallback: ${JSON.stringify(chart)}\n${seen}`);
            assert.ok(svg.decodedWidth > 0, `${what}: the SVG picture does not decode: ${JSON.stringify(chart)}`);
            if (want.title) {
              assert.ok(svg.texts.includes(want.title), `${what}: the SVG does not show its title; texts: ${JSON.stringify(svg.texts)}`);
            }
            if (want.types.includes("heatmap")) {
              assert.ok(
                chart.pngImages > 0 && chart.pngImageWidths.every((w) => w > 0),
                `${what}: the SVG's heatmap image is missing or does not decode: ${JSON.stringify(chart)}`,
              );
            }
            if (want.types.includes("bar")) assert.ok(svg.bars > 0, `${what}: the SVG has no bars: ${JSON.stringify(chart)}`);
            const s = await chartPixels(page, img, chart.box);
            assert.ok(
              s.colourful >= 0.005 && s.distinctColours >= 8,
              `${what} at ${JSON.stringify(chart.box)} in ${shot} shows no coloured data: ${s}`,
            );
          }
          checkStaticCharts(exp, probe, seen);
          checkPngs(exp, probe, seen);
          assert.deepEqual(page.exceptions, [], `uncaught exceptions on the page:\n${page.problems()}`);
          t.diagnostic(
            `${label} without scripts: ${probe.charts.filter((c) => c.fallbackSvg).length} SVG fallbacks, ` +
              `${probe.svgOutputs.length} SVG outputs, ${probe.pngImgs.length} PNG <img>; ${path.relative(ROOT, shot)}`,
          );
        } finally {
          await page.close();
        }
      });
    });
  }
});

/** Charts output without HTML show as nbconvert's inline SVG, with their title. */
function checkStaticCharts(exp: Expected, probe: PageProbe, seen: string) {
  exp.staticCharts.forEach((want, i) => {
    const what = `static ${describeChart(want, i)}`;
    const svg = probe.svgOutputs.find((s) => (want.title ? s.texts.includes(want.title) : s.width > 100));
    assert.ok(svg, `${what}: no SVG output${want.title ? " showing its title" : ""} in the page\n${seen}`);
    assert.ok(
      svg.width > 100 && svg.height > 100,
      `${what}: its SVG has no size on the page: ${JSON.stringify({ ...svg, texts: undefined })}`,
    );
  });
}

/** Every PNG output shows as a decoded <img>; every heatmap has a decoded PNG <image> in its chart. */
function checkPngs(exp: Expected, probe: PageProbe, seen: string) {
  assert.ok(
    probe.pngImgs.length >= exp.pngImages,
    `${exp.pngImages} image/png outputs in the notebook, ${probe.pngImgs.length} <img src="data:image/png"> in the page\n${seen}`,
  );
  const broken = probe.pngImgs.filter((i) => !(i.naturalWidth > 0 && i.naturalHeight > 0));
  assert.equal(broken.length, 0, `${broken.length} of ${probe.pngImgs.length} PNG <img> did not decode\n${seen}`);
  const heatmaps = exp.charts.filter((c) => c.types.includes("heatmap")).length;
  const chartPngs = probe.charts.flatMap((c) => c.pngImageWidths);
  assert.ok(
    chartPngs.length >= heatmaps,
    `${heatmaps} heatmaps in the notebook, ${chartPngs.length} data:image/png <image> elements in the charts\n${seen}`,
  );
  assert.ok(
    chartPngs.every((w) => w > 0),
    `a chart's PNG <image> did not decode (natural widths ${chartPngs.join(", ")})\n${seen}`,
  );
}

// ───────────────────────────── 3: the Jupyter server of `npm start` ─────────────────────────────

interface JupyterMessage {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
  channel: string;
}

describe("the Jupyter server `npm start` opens", () => {
  const token = randomBytes(24).toString("hex");
  let server: Proc | undefined;
  let base = "";
  let kernelPid: number | undefined;
  let sessionId: string | undefined;
  let ws: WebSocketClient | undefined;
  /** The kernel's channels, once the cell test has connected: send a request, collect its answer. */
  let channels:
    | {
        kernelId: string;
        request: (msgType: string, content: Record<string, unknown>) => string;
        collect: (msgId: string, replyType: string, timeoutMs: number) => Promise<{ reply: JupyterMessage; messages: JupyterMessage[] }>;
        outputText: (messages: JupyterMessage[]) => string;
        /** Reads the next message into `seen`, waiting up to `timeoutMs`; false when none came. */
        pump: (timeoutMs: number) => Promise<boolean>;
        /** Every message seen, in order, with the time it arrived. */
        seen: { at: number; msg: JupyterMessage }[];
      }
    | undefined;

  const serverLog = () => `--- server output (last lines) ---\n${tail(server?.output() ?? "(not started)")}`;
  /** The running server, or an error saying why there is none. */
  const liveServer = (): Proc => {
    const srv = need(base ? server : undefined, "the server start");
    if (srv.hasExited()) throw new Error(`the server is no longer running\n${serverLog()}`);
    return srv;
  };

  async function api(method: string, route: string, body?: unknown, auth = true): Promise<{ status: number; json: unknown; text: string }> {
    const res = await fetch(base + route, {
      method,
      headers: { ...(auth ? { Authorization: `token ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON (error pages)
    }
    return { status: res.status, json, text };
  }

  after(async () => {
    ws?.close();
    if (server && !server.hasExited()) {
      // Best effort after a failure: the kernel runs in its own session, so ask the server first.
      if (sessionId) await api("DELETE", `/api/sessions/${sessionId}`).catch(() => {});
      await stopProcess(server);
    }
    if (kernelPid !== undefined && pidAlive(kernelPid)) process.kill(kernelPid, "SIGKILL");
  });

  test("starts with a token on a loopback port (scripts/start.mjs --no-browser)", { timeout: 90_000 }, async () => {
    // JUPYTER_TOKEN is honoured by classic Notebook and by jupyter_server (JupyterLab, Notebook 7).
    const started = await startProjectServer({ token });
    server = started.proc;
    const url = started.url.replace(/\/$/, "");
    if (server.hasExited()) {
      assert.fail(`the server exited with ${JSON.stringify(await server.exited)} before answering\n${serverLog()}`);
    }
    assert.ok(started.up, `no answer from ${url}/api/status within 60 s\n${serverLog()}`);
    base = url;
    const anonymous = await api("GET", "/api/kernelspecs", undefined, false);
    assert.ok(
      anonymous.status === 403 || anonymous.status === 401,
      `GET /api/kernelspecs without the token answered ${anonymous.status}, expected 401/403 (the token is not in force)\n${serverLog()}`,
    );
  });

  test('offers the kernel spec "tslab" (GET /api/kernelspecs)', { timeout: 30_000 }, async () => {
    liveServer();
    const { status, json: body, text } = await api("GET", "/api/kernelspecs");
    const json = body as { kernelspecs?: Record<string, { spec?: { language?: string } }> } | null;
    assert.equal(status, 200, `GET /api/kernelspecs: ${status} ${text.slice(0, 500)}\n${serverLog()}`);
    const names = Object.keys(json?.kernelspecs ?? {});
    assert.ok(names.includes("tslab"), `kernel specs offered: ${JSON.stringify(names)}, no "tslab"\n${serverLog()}`);
    const tslab = json?.kernelspecs?.tslab;
    assert.equal(tslab?.spec?.language, "typescript", `tslab spec: ${JSON.stringify(tslab)}`);
  });

  test("runs a cell in a chapter's session through the kernel's websocket channel", { timeout: 150_000 }, async () => {
    liveServer();
    const notebook = readdirSync(NOTEBOOKS_DIR).find((f) => f.startsWith(`${SERVER_CHAPTER}-`) && f.endsWith(".ipynb"));
    assert.ok(notebook, `no notebooks/${SERVER_CHAPTER}-*.ipynb`);
    const created = await api("POST", "/api/sessions", { path: notebook, name: notebook, type: "notebook", kernel: { name: "tslab" } });
    assert.equal(created.status, 201, `POST /api/sessions: ${created.status} ${created.text.slice(0, 500)}\n${serverLog()}`);
    const session = created.json as { id?: string; kernel?: { id?: string } };
    sessionId = session.id as string;
    const kernelId = session.kernel?.id as string;
    assert.ok(kernelId, `the session has no kernel: ${created.text}`);

    const clientSession = randomUUID();
    ws = await WebSocketClient.connect(
      `ws://127.0.0.1:${new URL(base).port}/api/kernels/${kernelId}/channels?session_id=${clientSession}`,
      { Authorization: `token ${token}` },
    );
    const socket = ws;
    const transcript: string[] = [];
    const arrivals: { at: number; msg: JupyterMessage }[] = [];
    const request = (msgType: string, content: Record<string, unknown>) => {
      const msgId = randomUUID();
      socket.send(
        JSON.stringify({
          header: {
            msg_id: msgId,
            msg_type: msgType,
            username: "browser-test",
            session: clientSession,
            date: new Date().toISOString(),
            version: "5.3",
          },
          parent_header: {},
          metadata: {},
          content,
          channel: "shell",
          buffers: [],
        }),
      );
      return msgId;
    };
    /** Messages answering `msgId` until its shell reply and iopub idle status have both arrived. */
    /** Reads the next message (waiting up to `timeoutMs`) into `arrivals`; false when none came. */
    const pump = async (timeoutMs: number): Promise<boolean> => {
      let raw: string;
      try {
        raw = await socket.next(Math.max(1, timeoutMs));
      } catch (err) {
        if (/no message within/.test((err as Error).message)) return false;
        throw err;
      }
      const msg = JSON.parse(raw) as JupyterMessage;
      arrivals.push({ at: Date.now(), msg });
      transcript.push(`${msg.channel} ${msg.header.msg_type} ${JSON.stringify(msg.content).slice(0, 300)}`);
      return true;
    };
    /** Messages answering `msgId` until its shell reply and iopub idle status have both arrived. */
    const collect = async (msgId: string, replyType: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      let reply: JupyterMessage | undefined;
      let idle = false;
      let mine: JupyterMessage[] = [];
      for (;;) {
        mine = arrivals.map((e) => e.msg).filter((m) => m.parent_header?.msg_id === msgId);
        reply = mine.find((m) => m.channel === "shell" && m.header.msg_type === replyType);
        idle = mine.some((m) => m.channel === "iopub" && m.header.msg_type === "status" && m.content.execution_state === "idle");
        if (reply && idle) break;
        let got: boolean;
        try {
          got = await pump(deadline - Date.now());
        } catch (err) {
          got = false;
          transcript.push(`(websocket: ${(err as Error).message})`);
        }
        if (!got) {
          throw new Error(
            `waiting for ${replyType}: no answer in time\n--- messages seen ---\n${transcript.join("\n") || "(none)"}\n${serverLog()}`,
          );
        }
      }
      return { reply: need(reply, `the ${replyType}`), messages: mine };
    };

    const info = await collect(request("kernel_info_request", {}), "kernel_info_reply", 60_000);
    const language = (info.reply.content.language_info as { name?: string } | undefined)?.name;
    assert.equal(language, "typescript", `kernel_info_reply: ${JSON.stringify(info.reply.content)}`);

    const code = [
      'import * as rbmlib from "./lib/index";',
      "const probeRbm = rbmlib.initRBM(3, 2);",
      "console.log(JSON.stringify({ cwd: process.cwd(), pid: process.pid }));",
      "rbmlib.rbmSize(probeRbm).nHidden",
    ].join("\n");
    const run = await collect(
      request("execute_request", {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true,
      }),
      "execute_reply",
      90_000,
    );
    const outputText = (messages: JupyterMessage[]) =>
      messages
        .filter((m) => m.channel === "iopub" && ["stream", "execute_result", "display_data", "error"].includes(m.header.msg_type))
        .map((m) => {
          if (m.header.msg_type === "stream") return String(m.content.text);
          if (m.header.msg_type === "error") return `${m.content.ename}: ${m.content.evalue}\n${[m.content.traceback].flat().join("\n")}`;
          return String((m.content.data as Record<string, unknown> | undefined)?.["text/plain"] ?? "");
        })
        .join("");
    channels = { kernelId, request, collect, outputText, pump, seen: arrivals };
    const text = outputText(run.messages);
    const seen = `execute_reply: ${JSON.stringify(run.reply.content)}\noutputs:\n${text || "(none)"}\n--- messages ---\n${transcript.join("\n")}`;
    assert.equal(run.reply.content.status, "ok", `the cell failed\n${seen}\n${serverLog()}`);
    const lines = text.split("\n").map((l) => l.trim());
    assert.ok(lines.includes("2"), `expected the cell's value 2 (nHidden) among its outputs\n${seen}`);
    const probeLine = lines.find((l) => l.startsWith("{"));
    assert.ok(probeLine, `no {cwd, pid} line in the outputs\n${seen}`);
    const { cwd, pid } = JSON.parse(probeLine) as { cwd: string; pid: number };
    kernelPid = pid;
    assert.equal(realpathSync(cwd), realpathSync(NOTEBOOKS_DIR), `the kernel's cwd is ${cwd}, expected the notebooks folder`);
  });

  test("an interrupt (■) stops a training cell within a batch; the next cell gets the partial model", { timeout: 150_000 }, async () => {
    liveServer();
    const k = need(channels, "the cell test's kernel connection");
    const execute = (code: string) =>
      k.request("execute_request", {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: false,
      });
    const isProgress = (m: JupyterMessage) =>
      m.channel === "iopub" &&
      ["display_data", "update_display_data"].includes(m.header.msg_type) &&
      String((m.content.data as Record<string, unknown> | undefined)?.["text/plain"] ?? "").startsWith("CD-1");
    // A run of about an hour: without the library's interrupt handling it would go on after ■.
    const trainId = execute(
      [
        'const interruptData = rbmlib.binarize(rbmlib.loadMnist({ split: "train", limit: 2000 }), { mode: "threshold" });',
        "const interruptModel = await rbmlib.trainRBM(rbmlib.initRBM(784, 64, { seed: 0 }), interruptData, { epochs: 2000, batchSize: 20 });",
      ].join("\n"),
    );
    /** Reads messages until `cond` holds or `timeoutMs` pass; returns whether it held. */
    const pumpUntil = async (cond: () => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!cond() && Date.now() < deadline) await k.pump(Math.min(100, deadline - Date.now()));
      return cond();
    };
    const started = await pumpUntil(() => k.seen.some((e) => e.msg.parent_header?.msg_id === trainId && isProgress(e.msg)), 60_000);
    if (!started) {
      const mine = k.seen.filter((e) => e.msg.parent_header?.msg_id === trainId);
      assert.fail(
        `no progress bar from the training cell within 60 s; its messages:\n${mine
          .map((e) => `${e.msg.channel} ${e.msg.header.msg_type} ${JSON.stringify(e.msg.content).slice(0, 300)}`)
          .join("\n")}`,
      );
    }
    const interruptAt = Date.now();
    const res = await api("POST", `/api/kernels/${k.kernelId}/interrupt`);
    assert.equal(res.status, 204, `POST /api/kernels/${k.kernelId}/interrupt: ${res.status} ${res.text.slice(0, 300)}`);
    const reply = await k.collect(trainId, "execute_reply", 30_000);
    // The progress output stops: 3 s without an update of the bar, starting soon after the interrupt.
    const lastUpdate = () => Math.max(0, ...k.seen.filter((e) => isProgress(e.msg)).map((e) => e.at));
    assert.ok(
      await pumpUntil(() => Date.now() - Math.max(lastUpdate(), interruptAt) > 3_000, 20_000),
      "the progress bar kept updating after the interrupt",
    );
    const stoppedAfter = lastUpdate() - interruptAt;
    console.log(
      `# interrupt: last progress update ${stoppedAfter} ms after the interrupt request; cell reply ${reply.reply.content.status}`,
    );
    assert.ok(stoppedAfter < 10_000, `the last progress update came ${stoppedAfter} ms after the interrupt`);
    const finalBar = need(k.seen.filter((e) => isProgress(e.msg)).at(-1), "a progress update");
    assert.match(String((finalBar.msg.content.data as Record<string, unknown> | undefined)?.["text/plain"]), /stopped=interrupted/);
    // The next cell reaches the model as it was after the last finished batch.
    const next = await k.collect(
      execute(
        [
          "const partial = rbmlib.lastInterrupted();",
          "console.log(JSON.stringify({ name: partial?.name, shape: (partial?.partial as rbmlib.RBM).W.shape, batch: (partial as rbmlib.TrainingInterruptedError).batch }));",
          "rbmlib.disposeRBM(partial?.partial as rbmlib.RBM);",
        ].join("\n"),
      ),
      "execute_reply",
      60_000,
    );
    const out = k.outputText(next.messages);
    assert.equal(next.reply.content.status, "ok", `the next cell failed:\n${out}`);
    const line = out.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line, `no JSON line in the next cell's output:\n${out}`);
    const got = JSON.parse(line) as { name: string; shape: number[]; batch: number };
    assert.equal(got.name, "TrainingInterruptedError");
    assert.deepEqual(got.shape, [784, 64]);
    assert.ok(got.batch >= 0);
  });

  test("shuts down: session deleted, kernel and server processes gone", { timeout: 60_000 }, async () => {
    const srv = liveServer();
    ws?.close();
    ws = undefined;
    if (sessionId) {
      const del = await api("DELETE", `/api/sessions/${sessionId}`);
      assert.equal(del.status, 204, `DELETE /api/sessions/${sessionId}: ${del.status} ${del.text.slice(0, 300)}\n${serverLog()}`);
      const kernels = await api("GET", "/api/kernels");
      assert.deepEqual(kernels.json, [], `kernels still running after deleting the session: ${kernels.text}`);
    }
    if (kernelPid !== undefined) {
      const pid = kernelPid;
      assert.ok(
        await waitUntil(() => !pidAlive(pid), 10_000),
        `the kernel process ${pid} is still alive 10 s after its session was deleted`,
      );
    }
    const { graceful, leftover } = await stopProcess(srv);
    assert.ok(!leftover, `processes of the server's group ${srv.pgid} survived SIGKILL\n${serverLog()}`);
    assert.ok(graceful, `the server did not stop within 10 s of SIGTERM (killed)\n${serverLog()}`);
    const refused = await fetch(`${base}/api/status`, { signal: AbortSignal.timeout(2_000) }).then(
      () => false,
      () => true,
    );
    assert.ok(refused, `${base} still answers after the server stopped`);
  });
});
