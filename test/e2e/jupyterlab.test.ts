// What a JupyterLab user sees: the chapters in JupyterLab's own notebook widget, in Chromium.
//
// JupyterLab itself cannot be installed here (no Debian package, no PyPI), but its front end is on npm.
// test/support/jupyterlab/page.ts puts JupyterLab's Notebook widget, its default renderers (no plotly
// extension), its sanitizer and @jupyterlab/services into one page, bundled with esbuild at test time
// (never committed) and served from a loopback port. The project's Jupyter server (scripts/start.mjs,
// told to accept that page's origin) runs the kernels.
//
// 1. Chapter RUN_CHAPTER is opened and every code cell is run through the tslab kernel, one after the
//    other as Shift+Enter does: no cell may fail, every progress bar must be redrawn in place (one
//    output per bar, each update_display_data shown), every chart drawn by plotly, every PNG decoded.
// 2. The notebook as it would be saved is reopened untrusted (someone else ran it): every chart must
//    show its static picture, no script may run.
// 3. The other chapters are rendered from the executed copies test/e2e/notebooks.test.ts leaves in
//    test-artifacts/notebooks/ (a chapter without a fresh copy is skipped, saying so), trusted and not.
// No console errors and no uncaught exceptions on the page throughout. The mime type JupyterLab chose
// for each kind of output is printed as a table at the end.
//
// Needs Chromium and `npm run setup` (npm test runs it first); the JupyterLab packages are dev dependencies.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { NOTEBOOKS_DIR, ROOT } from "../../scripts/jupyter-env.mjs";
import { chromiumMissingMessage, findChromium } from "../../scripts/system-deps.mjs";
import { type Box, Browser, type Page, VIEWPORT } from "../support/cdp";
import { CHAPTER_FILES } from "../support/chapters";
import { startProjectServer } from "../support/jupyter-server";
import { bundlePage } from "../support/jupyterlab/bundle";
import { chosenByKind, classify, type OutputInfo, type OutputKind, renderProblem } from "../support/jupyterlab/expect";
import type { CellRun, DisplayUpdates, NotebookProbe } from "../support/jupyterlab/protocol";
import { pixelStats, screenshotPixels } from "../support/pixels";
import { freePort, type Proc, stopProcess, tail } from "../support/processes";

/** The chapter run through the kernel: it has progress bars, live and final charts, PNG grids and a table. */
const RUN_CHAPTER = "03-contrastive-divergence.ipynb";
const EXECUTED_DIR = path.join(ROOT, "test-artifacts", "notebooks");
const ARTIFACTS_DIR = path.join(ROOT, "test-artifacts", "jupyterlab");
const CELL_TIMEOUT_MS = 600_000;
const CHROMIUM = findChromium();
const skipNoChromium = CHROMIUM ? false : "needs Chromium (see the failed test: Chromium is installed)";

/** Mime types chosen, per kind of output, per trust: the table printed at the end. */
const chosen = { trusted: new Map<OutputKind, Map<string, number>>(), untrusted: new Map<OutputKind, Map<string, number>>() };

function record(trusted: boolean, probe: NotebookProbe) {
  const into = trusted ? chosen.trusted : chosen.untrusted;
  for (const [kind, row] of chosenByKind(probe.outputs)) {
    const mine = into.get(kind) ?? new Map<string, number>();
    into.set(kind, mine);
    for (const [mime, n] of row) mine.set(mime, (mine.get(mime) ?? 0) + n);
  }
}

function mimeTable(): string {
  const kinds = [...new Set([...chosen.trusted.keys(), ...chosen.untrusted.keys()])];
  const cell = (m: Map<string, number> | undefined) => [...(m ?? new Map<string, number>())].map(([mime, n]) => `${mime} ×${n}`).join(", ");
  const rows = kinds.map((k) => `| ${k} | ${cell(chosen.trusted.get(k))} | ${cell(chosen.untrusted.get(k))} |`);
  return ["| output | JupyterLab shows (trusted) | JupyterLab shows (untrusted) |", "|---|---|---|", ...rows].join("\n");
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
};

/** Serves the files of `dir` on a loopback port (GET only, no listing). */
async function serveDir(dir: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const name = path.normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^([/\\])+/, "") || "index.html";
    const file = path.join(dir, name);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * JupyterLab 4 asks for the kernel websocket subprotocol `v1.kernel.websocket.jupyter.org`; classic
 * Notebook 6 (the server here) does not answer it, Chromium then refuses the handshake and JupyterLab
 * reconnects without a subprotocol, as it is written to. That one console error per connection comes
 * from the server's age, not from our outputs; jupyter_server 2 (what `pip install jupyterlab` brings) speaks v1.
 */
const SUBPROTOCOL_FALLBACK = /WebSocket connection to '[^']*\/api\/kernels\/[^']*' failed: .*Sec-WebSocket-Protocol/;

/** The page's console position now: errors are checked from there on. */
const markOf = (page: Page) => ({ exceptions: page.exceptions.length, console: page.console.length });

/** Fails with the errors (not the warnings) seen on the page since `mark`, while `doing`. */
function assertNoPageErrors(page: Page, mark: { exceptions: number; console: number }, doing: string) {
  const errors = pageErrors(page, mark);
  assert.equal(errors.length, 0, `${errors.length} errors on the page while ${doing}:\n${errors.join("\n")}`);
}

/** Uncaught exceptions and console errors since `mark` (warnings do not count; neither does the subprotocol fallback). */
function pageErrors(page: Page, mark = { exceptions: 0, console: 0 }): string[] {
  const errors = page.console
    .slice(mark.console)
    .filter((c) => /^(console\.error|console\.assert|log):/.test(c) && !SUBPROTOCOL_FALLBACK.test(c));
  return [...page.exceptions.slice(mark.exceptions).map((e) => `exception: ${e}`), ...errors];
}

/** Every output rendered as expected; the problems otherwise. */
function renderProblems(infos: OutputInfo[], probe: NotebookProbe, trusted: boolean): string[] {
  const problems: string[] = [];
  // JupyterLab joins consecutive stream outputs, so only the others are counted one for one.
  const count = (kinds: string[]) => kinds.filter((k) => k !== "stream").length;
  const [inFile, shown] = [count(infos.map((i) => i.kind)), count(probe.outputs.map((o) => o.kind))];
  if (inFile !== shown) problems.push(`${inFile} outputs (other than streams) in the notebook, ${shown} rendered`);
  for (const got of probe.outputs) {
    const problem = renderProblem(got, trusted);
    const what = `cell ${got.cell} output ${got.output} (${got.kind}${got.title ? ` "${got.title}"` : ""}, offers ${got.offered.join(" ")})`;
    if (problem) problems.push(`${what}: ${problem}`);
  }
  if (trusted && infos.some((i) => i.kind === "chart") && !probe.plotlyLoaded) problems.push("plotly.js was not loaded in the page");
  if (!trusted && probe.plotlyLoaded) problems.push("plotly.js ran although the notebook is untrusted");
  if (probe.scriptWarnings > 0) problems.push(`${probe.scriptWarnings} "contains inline scripts" warnings`);
  return problems;
}

/** One line per kind: `chart: 4 text/html`. */
const summary = (probe: NotebookProbe) =>
  [...chosenByKind(probe.outputs)].map(([kind, row]) => `${kind}: ${[...row].map(([m, n]) => `${n} ${m}`).join(", ")}`).join("; ");

describe("JupyterLab's notebook front end in Chromium", () => {
  const running = new Set<Proc>();
  let browser: Browser | undefined;
  let page: Page | undefined;
  let site: { origin: string; close: () => Promise<void> } | undefined;
  let bundleDir: string | undefined;

  before(async () => {
    if (!CHROMIUM) return;
    browser = await Browser.launch(CHROMIUM);
  });

  after(async () => {
    console.log(`mime types JupyterLab (no extensions) chose:\n${mimeTable()}`);
    // After a failure the page may still hold a session: its kernel is shut down through the server first.
    await page?.evaluate("window.rbmJupyterLab && window.rbmJupyterLab.close()").catch(() => {});
    await page?.close();
    await browser?.close();
    for (const proc of running) await stopProcess(proc);
    await site?.close();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  const api = async <T>(expression: string, timeoutMs = 60_000): Promise<T> => {
    assert.ok(page, "the page is not open (an earlier test failed)");
    return page.evaluate<T>(`window.rbmJupyterLab.${expression}`, timeoutMs);
  };

  test("Chromium is installed", () => {
    assert.ok(CHROMIUM, chromiumMissingMessage());
  });

  test("the JupyterLab page bundles (esbuild) and loads without errors", { timeout: 180_000, skip: skipNoChromium }, async (t) => {
    bundleDir = mkdtempSync(path.join(os.tmpdir(), "rbm-jupyterlab-"));
    const t0 = Date.now();
    const bundle = await bundlePage(bundleDir);
    site = await serveDir(bundleDir);
    page = await (browser as Browser).newPage();
    await page.open(`${site.origin}/index.html`);
    const ready = await page.evaluate<boolean>("typeof window.rbmJupyterLab === 'object'");
    assert.ok(ready, `window.rbmJupyterLab is not defined after loading the page\n${page.problems()}`);
    assertNoPageErrors(page, { exceptions: 0, console: 0 }, "loading it");
    t.diagnostic(
      `bundled ${(bundle.jsBytes / 1e6).toFixed(1)} MB JS + ${(bundle.cssBytes / 1e3).toFixed(0)} kB CSS and loaded in ${Date.now() - t0} ms`,
    );
  });

  describe(`${RUN_CHAPTER} run cell by cell through the tslab kernel`, () => {
    const token = randomBytes(24).toString("hex");
    let server: Proc | undefined;
    let baseUrl = "";
    let infos: OutputInfo[] = [];
    let saved: object | undefined;
    const serverLog = () => `--- server output (last lines) ---\n${tail(server?.output() ?? "(not started)")}`;

    test("the project's Jupyter server starts with the page's origin allowed", { timeout: 90_000, skip: skipNoChromium }, async () => {
      assert.ok(site, "the page is not served (an earlier test failed)");
      // allow_origin under both names: classic Notebook (NotebookApp) and jupyter_server (ServerApp).
      const started = await startProjectServer({
        token,
        args: [`--NotebookApp.allow_origin=${site.origin}`, `--ServerApp.allow_origin=${site.origin}`],
        env: { CI: "true", RBM_PROFILE: "quick" },
      });
      server = started.proc;
      running.add(server);
      assert.ok(started.up, `the server did not answer on ${started.url}\n${serverLog()}`);
      baseUrl = started.url;
    });

    test("every cell runs without an error", { timeout: 30 * 60_000, skip: skipNoChromium }, async (t) => {
      assert.ok(baseUrl, "no server (an earlier test failed)");
      const nb = JSON.parse(readFileSync(path.join(NOTEBOOKS_DIR, RUN_CHAPTER), "utf8"));
      const mark = markOf(need(page));
      await api(`open(${JSON.stringify(nb)}, true)`);
      const server = { baseUrl, token, path: RUN_CHAPTER, kernel: "tslab" };
      const language = await api<string>(`connect(${JSON.stringify(server)})`, 120_000);
      assert.equal(language, "typescript", "the kernel is not tslab");
      const runs: CellRun[] = [];
      const t0 = Date.now();
      for (const cell of await api<number[]>("codeCells()")) {
        const run = await api<CellRun>(`run(${cell})`, CELL_TIMEOUT_MS);
        runs.push(run);
        assert.ok(["ok", "empty"].includes(run.status), `cell ${cell} ended with "${run.status}":\n${run.error}\n${serverLog()}`);
      }
      saved = await api<object>("toJSON()");
      infos = classify(saved as Parameters<typeof classify>[0]);
      const slowest = [...runs].sort((a, b) => b.ms - a.ms).slice(0, 3);
      t.diagnostic(
        `${runs.length} code cells in ${((Date.now() - t0) / 1000).toFixed(0)} s; slowest: ${slowest.map((r) => `cell ${r.cell} ${r.ms} ms`).join(", ")}`,
      );
      assertNoPageErrors(need(page), mark, "running the cells");
    });

    test("each progress bar is one output, redrawn in place", { timeout: 60_000, skip: skipNoChromium }, async (t) => {
      assert.ok(saved, "the run did not finish (an earlier test failed)");
      const updates = await api<DisplayUpdates[]>("updates()");
      const bars = infos.filter((i) => i.kind === "progress bar");
      assert.ok(bars.length > 0, "the chapter made no progress bar");
      const updated = updates.filter((u) => u.updates > 1);
      assert.ok(updated.length > 0, `no cell received more than one update_display_data: ${JSON.stringify(updates)}`);
      for (const u of updated) {
        const what = `cell ${u.cell} (${u.updates} update_display_data)`;
        assert.ok(
          bars.some((b) => b.cell === u.cell),
          `${what} shows no progress bar`,
        );
        assert.ok(
          u.maxOutputs <= u.outputs,
          `${what} had ${u.maxOutputs} outputs during the run, ${u.outputs} at the end: updates were appended`,
        );
        assert.ok(u.distinctShown >= 2, `${what}: the bar on the page showed ${u.distinctShown} distinct counts; it was not redrawn`);
        assert.ok(u.lastShown, `${what}: the page does not show the last update's count`);
      }
      t.diagnostic(
        updated
          .map((u) => `cell ${u.cell}: ${u.updates} updates, ${u.distinctShown} counts seen on the page, ${u.outputs} outputs`)
          .join("; "),
      );
    });

    test("trusted (just run): charts drawn by plotly, PNGs decode, tables shown", { timeout: 120_000, skip: skipNoChromium }, async (t) => {
      assert.ok(saved, "the run did not finish (an earlier test failed)");
      const probe = await api<NotebookProbe>("probe()");
      record(true, probe);
      const problems = [...renderProblems(infos, probe, true), ...(await colourlessCharts(need(page)))];
      assert.deepEqual(problems, [], `${problems.length} outputs not shown as expected:\n${problems.join("\n")}`);
      await screenshot(need(page), `${path.basename(RUN_CHAPTER, ".ipynb")}-run.png`);
      t.diagnostic(summary(probe));
    });

    test("reopened untrusted: every chart shows its static picture, no script runs", {
      timeout: 120_000,
      skip: skipNoChromium,
    }, async (t) => {
      assert.ok(saved, "the run did not finish (an earlier test failed)");
      await api("close()", 60_000);
      // A fresh page: plotly.js from the trusted run must not linger in window.
      const mark = markOf(need(page));
      await need(page).open(`${need(site).origin}/index.html`);
      await api(`open(${JSON.stringify(saved)}, false)`);
      const probe = await api<NotebookProbe>("probe()");
      record(false, probe);
      const problems = [...renderProblems(infos, probe, false), ...(await colourlessCharts(need(page)))];
      assert.deepEqual(problems, [], `${problems.length} outputs not shown as expected:\n${problems.join("\n")}`);
      assertNoPageErrors(need(page), mark, "showing the untrusted notebook");
      await screenshot(need(page), `${path.basename(RUN_CHAPTER, ".ipynb")}-untrusted.png`);
      t.diagnostic(summary(probe));
    });

    test("the session and the server shut down", { timeout: 60_000, skip: skipNoChromium }, async () => {
      assert.ok(server && baseUrl, "no server (an earlier test failed)");
      // The untrusted test closed the notebook, which shut its kernel down through JupyterLab's session.
      await api("close()", 60_000);
      const kernels = await fetch(`${baseUrl}api/kernels`, { headers: { Authorization: `token ${token}` } }).then((r) => r.json());
      assert.deepEqual(kernels, [], `kernels still running after JupyterLab shut its session down: ${JSON.stringify(kernels)}`);
      const { graceful, leftover } = await stopProcess(server);
      running.delete(server);
      assert.ok(!leftover, `processes of the server's group survived\n${serverLog()}`);
      assert.ok(graceful, `the server did not stop within 10 s of SIGTERM\n${serverLog()}`);
    });
  });

  describe("the other chapters, rendered from their executed copies", () => {
    for (const file of CHAPTER_FILES.filter((f) => f !== RUN_CHAPTER)) {
      const copy = path.join(EXECUTED_DIR, file);
      const fresh = existsSync(copy) && statSync(copy).mtimeMs >= statSync(path.join(NOTEBOOKS_DIR, file)).mtimeMs;
      const skip =
        skipNoChromium ||
        (fresh ? false : `no fresh executed copy in ${path.relative(ROOT, EXECUTED_DIR)} (run test/e2e/notebooks.test.ts first)`);
      for (const trusted of [true, false]) {
        test(`${file} ${trusted ? "trusted" : "untrusted"}`, { timeout: 120_000, skip }, async (t) => {
          const nb = JSON.parse(readFileSync(copy, "utf8"));
          const infos = classify(nb);
          const mark = markOf(need(page));
          await need(page).open(`${need(site).origin}/index.html`);
          await api(`open(${JSON.stringify(nb)}, ${trusted})`);
          const probe = await api<NotebookProbe>("probe()");
          record(trusted, probe);
          const problems = [...renderProblems(infos, probe, trusted), ...(await colourlessCharts(need(page)))];
          assert.deepEqual(problems, [], `${problems.length} outputs not shown as expected:\n${problems.join("\n")}`);
          assertNoPageErrors(need(page), mark, `showing ${file} ${trusted ? "trusted" : "untrusted"}`);
          t.diagnostic(summary(probe));
        });
      }
    }
  });
});

/** Charts whose box on the screen shows no coloured data (scrolled into view one by one, captured as shown). */
async function colourlessCharts(page: Page): Promise<string[]> {
  const selector = `[id^="rbm-plot-"], [data-jupyter-id^="rbm-plot-"]`;
  const n = await page.evaluate<number>(`document.querySelectorAll('${selector}').length`);
  const problems: string[] = [];
  for (let i = 0; i < n; i++) {
    const box = await page.evaluate<Box>(
      `(async () => { const el = document.querySelectorAll('${selector}')[${i}]; el.scrollIntoView({ block: "center" });
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const r = el.getBoundingClientRect(); return { x: r.left, y: r.top, width: r.width, height: r.height }; })()`,
    );
    const stats = pixelStats(screenshotPixels(await page.screenshot(box, true)));
    if (!(stats.colourful >= 0.005 && stats.distinctColours >= 8))
      problems.push(`chart ${i + 1} shows no coloured data on the screen: ${stats}`);
  }
  return problems;
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("not available: an earlier step failed");
  return value;
}

/** A screenshot of the page scrolled to its first chart, kept in test-artifacts/jupyterlab/ for a person to look at. */
async function screenshot(page: Page, name: string) {
  await page.evaluate<void>(
    `(async () => { const el = document.querySelector('[id^="rbm-plot-"], [data-jupyter-id^="rbm-plot-"]'); if (el) el.scrollIntoView(); await new Promise((r) => setTimeout(r, 300)); })()`,
  );
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  writeFileSync(path.join(ARTIFACTS_DIR, name), await page.screenshot({ x: 0, y: 0, ...VIEWPORT }, true));
}
