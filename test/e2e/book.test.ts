// The rendered book (`npm run book`, scripts/book.mjs), built from the executed copies that
// test/e2e/notebooks.test.ts leaves in test-artifacts/notebooks/ (`--from`: nothing is executed
// again) into test-artifacts/book/, then read in headless Chromium: the contents page links to every
// chapter, every page loads the one shared plotly.js and draws each of its charts with it, every
// PNG decodes, the pages link to each other, and no page logs an error. On disk plotly.js exists
// once. npm test runs this file after the notebook test; run alone, it needs those copies (it says
// so when they are missing). Needs Chromium, like test/e2e/browser.test.ts.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT } from "../../scripts/jupyter-env.mjs";
import { chromiumMissingMessage, findChromium } from "../../scripts/system-deps.mjs";
import { Browser } from "../support/cdp";
import { CHAPTER_FILES } from "../support/chapters";
import { type Proc, runToEnd, stopProcess, tail } from "../support/processes";

const EXECUTED_DIR = path.join(ROOT, "test-artifacts", "notebooks");
const BOOK_DIR = path.join(ROOT, "test-artifacts", "book");
/** The first line of plotly.js's banner: it occurs in a file only if that file holds plotly.js. */
const PLOTLY_BANNER = "* plotly.js v";
const CHROMIUM = findChromium();

interface Output {
  data?: Record<string, unknown>;
}
interface Notebook {
  cells: { outputs?: Output[] }[];
}

/** Interactive charts (plotly JSON + HTML) and PNG outputs of an executed notebook. */
function expectedOf(nb: Notebook) {
  const outputs = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data);
  return {
    charts: outputs.filter((o) => o.data?.["application/vnd.plotly.v1+json"] && o.data?.["text/html"]).length,
    pngs: outputs.filter((o) => o.data?.["image/png"] && !o.data?.["text/html"]).length,
  };
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

const PROBE = (want: number) => `(async () => {
  const deadline = Date.now() + 30000;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  while (document.querySelectorAll(".js-plotly-plot").length < ${want} && Date.now() < deadline) await sleep(100);
  const hub = window.MathJax && window.MathJax.Hub;
  if (hub && typeof hub.Queue === "function") await Promise.race([new Promise((r) => hub.Queue([r])), sleep(20000)]);
  const imgs = [...document.querySelectorAll('img[src^="data:image/png"]')];
  const widths = await Promise.all(imgs.map((i) => i.decode().then(() => i.naturalWidth, () => 0)));
  return {
    plotlyLoaded: typeof window.Plotly === "object" && typeof window.Plotly.newPlot === "function",
    plotlyScripts: [...document.querySelectorAll("script[src]")].map((s) => s.getAttribute("src")).filter((s) => /plotly/.test(s)),
    chartDivs: document.querySelectorAll('div[id^="rbm-plot-"]').length,
    drawn: [...document.querySelectorAll('div[id^="rbm-plot-"]')].filter((d) => d.classList.contains("js-plotly-plot") && d.querySelector("svg.main-svg")).length,
    pngWidths: widths,
    links: [...document.querySelectorAll("nav.book-nav a")].map((a) => a.getAttribute("href")),
    mathjax: hub ? document.querySelectorAll(".MathJax_CHTML, mjx-container").length : -1,
  };
})()`;

interface Probe {
  plotlyLoaded: boolean;
  plotlyScripts: string[];
  chartDivs: number;
  drawn: number;
  pngWidths: number[];
  links: string[];
  mathjax: number;
}

describe("the rendered book (npm run book)", () => {
  let browser: Browser | undefined;
  const running = new Set<Proc>();
  let built = false;

  before(async () => {
    const missing = CHAPTER_FILES.filter((f) => !existsSync(path.join(EXECUTED_DIR, f)));
    if (missing.length > 0) return; // the build test fails, naming them
    const run = await runToEnd(
      running,
      "book",
      process.execPath,
      [path.join(ROOT, "scripts", "book.mjs"), "--from", EXECUTED_DIR, "--out", BOOK_DIR],
      process.env,
    );
    assert.equal(
      run.code,
      0,
      `node scripts/book.mjs --from ${EXECUTED_DIR} exited with ${run.code ?? run.signal}:\n${tail(run.output, 40)}`,
    );
    built = true;
  });

  after(async () => {
    for (const proc of running) await stopProcess(proc);
    await browser?.close();
  });

  test("is built from the executed chapters", () => {
    const missing = CHAPTER_FILES.filter((f) => !existsSync(path.join(EXECUTED_DIR, f)));
    assert.deepEqual(missing, [], `no executed copy in ${EXECUTED_DIR} of: ${missing.join(", ")}; run test/e2e/notebooks.test.ts first`);
    assert.ok(built, "the book was not built");
    for (const f of ["index.html", "plotly.min.js", ...CHAPTER_FILES.map((f) => f.replace(/\.ipynb$/, ".html"))]) {
      assert.ok(existsSync(path.join(BOOK_DIR, f)), `${f} is missing from ${BOOK_DIR}`);
    }
  });

  test("holds plotly.js once, beside the pages", () => {
    assert.ok(built, "the book was not built");
    const holders = filesUnder(BOOK_DIR).filter((f) => readFileSync(f, "latin1").includes(PLOTLY_BANNER));
    assert.deepEqual(
      holders.map((f) => path.relative(BOOK_DIR, f)),
      ["plotly.min.js"],
      "plotly.js must be on disk once, as plotly.min.js (the pages load it instead of embedding it)",
    );
    for (const f of CHAPTER_FILES) {
      const page = path.join(BOOK_DIR, f.replace(/\.ipynb$/, ".html"));
      assert.ok(statSync(page).size < 4e6, `${page} is ${(statSync(page).size / 1e6).toFixed(1)} MB: something large is still embedded`);
    }
  });

  const skip = CHROMIUM ? false : `needs Chromium: ${chromiumMissingMessage()}`;

  test("the contents page links to every chapter, in order", { timeout: 60_000, skip }, async () => {
    assert.ok(built, "the book was not built");
    browser ??= await Browser.launch(CHROMIUM as string);
    const page = await browser.newPage();
    await page.open(path.join(BOOK_DIR, "index.html"));
    const links = await page.evaluate<string[]>(`[...document.querySelectorAll("a")].map((a) => a.getAttribute("href"))`);
    assert.deepEqual(
      links,
      CHAPTER_FILES.map((f) => f.replace(/\.ipynb$/, ".html")),
      "index.html should link to each chapter once, in order",
    );
    const text = await page.evaluate<string>("document.body.innerText");
    assert.match(text, /Run time/, "the contents page should give each chapter's run time");
    assert.deepEqual([...page.exceptions, ...page.console], [], `the contents page: ${page.problems()}`);
    await page.close();
  });

  for (const [i, file] of CHAPTER_FILES.entries()) {
    const name = file.replace(/\.ipynb$/, "");
    test(`${name}: charts drawn by the shared plotly, PNGs decode, links, no console errors`, { timeout: 120_000, skip }, async () => {
      assert.ok(built, "the book was not built");
      const expected = expectedOf(JSON.parse(readFileSync(path.join(BOOK_DIR, file), "utf8")) as Notebook);
      browser ??= await Browser.launch(CHROMIUM as string);
      const page = await browser.newPage();
      try {
        await page.open(path.join(BOOK_DIR, `${name}.html`));
        const probe = await page.evaluate<Probe>(PROBE(expected.charts), 90_000);
        const seen = `probe: ${JSON.stringify({ ...probe, pngWidths: probe.pngWidths.length })}\npage: ${page.problems()}`;
        assert.equal(probe.chartDivs, expected.charts, `${expected.charts} interactive charts in the notebook's outputs\n${seen}`);
        if (expected.charts > 0) {
          assert.ok(probe.plotlyLoaded, `window.Plotly is not defined: the shared plotly.min.js did not load\n${seen}`);
          assert.deepEqual(probe.plotlyScripts, ["plotly.min.js"], `the page should load plotly.js once, from plotly.min.js\n${seen}`);
        }
        assert.equal(probe.drawn, expected.charts, `every chart should be drawn by plotly\n${seen}`);
        assert.equal(probe.pngWidths.length, expected.pngs, `${expected.pngs} PNG outputs in the notebook\n${seen}`);
        assert.ok(
          probe.pngWidths.every((w) => w > 0),
          `PNGs that do not decode: ${probe.pngWidths.filter((w) => w === 0).length}\n${seen}`,
        );
        const want = [
          ...(i > 0 ? [`${CHAPTER_FILES[i - 1].replace(/\.ipynb$/, "")}.html`] : []),
          "index.html",
          ...(i + 1 < CHAPTER_FILES.length ? [`${CHAPTER_FILES[i + 1].replace(/\.ipynb$/, "")}.html`] : []),
        ];
        assert.deepEqual(probe.links, [...want, ...want], `previous / contents / next at the top and the bottom\n${seen}`);
        assert.ok(probe.mathjax !== 0, `MathJax loaded but typeset no formula\n${seen}`);
        assert.deepEqual([...page.exceptions, ...page.console], [], `errors on the page:\n${page.problems()}`);
      } finally {
        await page.close();
      }
    });
  }
});
