// The model widget in the classic Jupyter Notebook (Notebook 6, what Debian ships and what
// `npm start` opens when JupyterLab is not installed), driven in headless Chromium through the
// Notebook's own page and JavaScript API, as a reader would use it:
//
// 1. The project's Jupyter server (scripts/start.mjs) is started on a scratch folder under
//    test-artifacts/ (a `lib` link to the library beside a notebook written by the test), so nothing
//    in notebooks/ is opened, run or saved.
// 2. The notebook is opened at /notebooks/…, its cells are run by the Notebook itself
//    (`Jupyter.notebook.execute_all_cells()`, kernel tslab): the cell calls the library's
//    `showModelWidget` for a 784-500 RBM and for a DBN with label units.
// 3. In the output area: digits typed into the widget reach it, not the Notebook's shortcuts; a stroke drawn with synthesised mouse events becomes ink and clamped pixels;
//    the chain runs with the bottom half clamped and never changes it; the DBN dreams of the chosen digit.
// 4. The notebook, saved with its outputs, is rewritten without the Notebook's signature (as if
//    someone else had run it) and reopened: the Notebook does not run its scripts, and the output
//    shows the static picture.
// No uncaught exception on the page throughout.
//
// Needs Chromium and `npm run setup` (npm test runs it first).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT } from "../../scripts/jupyter-env.mjs";
import { chromiumMissingMessage, findChromium } from "../../scripts/system-deps.mjs";
import { Browser, type Page } from "../support/cdp";
import { startProjectServer } from "../support/jupyter-server";
import { type Proc, stopProcess, tail, waitUntil } from "../support/processes";

const SCRATCH = path.join(ROOT, "test-artifacts", "classic-notebook");
const NOTEBOOK = "widget.ipynb";
const CHROMIUM = findChromium();
const opts = (timeout: number) => ({ timeout, skip: CHROMIUM ? false : `needs Chromium: ${chromiumMissingMessage()}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The notebook the test writes: the library's widget for an RBM, then for a DBN with label units. */
function scratchNotebook(): object {
  const code = (source: string) => ({ cell_type: "code", metadata: {}, execution_count: null, outputs: [], source });
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", language: "typescript", display_name: "TypeScript" } },
    cells: [
      code('import * as rbmlib from "./lib/index";\nconst backend = await rbmlib.initBackend({ quiet: true });'),
      code(
        'const digits = rbmlib.binarize(rbmlib.firstN(rbmlib.loadMnist({ split: "test" }), 20)).images;\n' +
          "const rbm = rbmlib.initRBM(784, 500, { seed: 1 });\n" +
          "rbmlib.showModelWidget(rbm, { digits: digits, seed: 7 });",
      ),
      code(
        "const dbn = rbmlib.stackRBMs([rbmlib.initRBM(784, 500, { seed: 2 }), rbmlib.initRBM(500, 500, { seed: 3 }), rbmlib.initRBM(510, 2000, { seed: 4 })], { nLabels: 10 });\n" +
          "rbmlib.showModelWidget(dbn, { digits: digits, seed: 7 });",
      ),
    ],
  };
}

interface WidgetState {
  v: number[];
  known: number[];
  values: number[];
  steps: number;
  mode: string;
  dreamLabel?: number;
}

/** The `i`-th widget in the page. */
const W = (i: number) => `document.querySelectorAll('.rbm-widget')[${i}]`;
const state = (p: Page, i: number) => p.evaluate<WidgetState>(`${W(i)}.rbmWidget.state()`);
const click = (p: Page, i: number, cls: string) => p.evaluate(`${W(i)}.querySelector('.${cls}').click()`);

describe("the model widget in the classic Jupyter Notebook (Chromium)", () => {
  const token = randomBytes(24).toString("hex");
  let browser: Browser | undefined;
  let page: Page | undefined;
  let server: Proc | undefined;
  let baseUrl = "";
  const serverLog = () => `--- server output (last lines) ---\n${tail(server?.output() ?? "(not started)")}`;
  const need = (): Page => {
    assert.ok(page, "the page is not open (an earlier test failed)");
    return page;
  };

  before(async () => {
    rmSync(SCRATCH, { recursive: true, force: true });
    mkdirSync(SCRATCH, { recursive: true });
    symlinkSync(path.join("..", "..", "lib"), path.join(SCRATCH, "lib"));
    writeFileSync(path.join(SCRATCH, NOTEBOOK), `${JSON.stringify(scratchNotebook(), null, 1)}\n`);
    if (CHROMIUM) browser = await Browser.launch(CHROMIUM);
  });

  after(async () => {
    await page?.close();
    await browser?.close();
    if (server) {
      // The kernels are the server's children: stopping its process group ends them too.
      await fetch(`${baseUrl}api/sessions`, { headers: { Authorization: `token ${token}` } })
        .then((r) => r.json() as Promise<{ id: string }[]>)
        .then((sessions) =>
          Promise.all(
            sessions.map((s) =>
              fetch(`${baseUrl}api/sessions/${s.id}`, { method: "DELETE", headers: { Authorization: `token ${token}` } }),
            ),
          ),
        )
        .catch(() => {});
      await stopProcess(server);
    }
  });

  test("the project's Jupyter server serves the classic Notebook on a scratch folder", opts(90_000), async () => {
    // The last --notebook-dir wins over the one start.mjs sets (notebooks/).
    const started = await startProjectServer({
      token,
      args: [`--notebook-dir=${SCRATCH}`],
      env: { CI: "true" },
      probe: `api/contents/${NOTEBOOK}`,
    });
    server = started.proc;
    assert.ok(started.up, `the server did not serve ${NOTEBOOK} on ${started.url}\n${serverLog()}`);
    baseUrl = started.url;
  });

  test("the Notebook runs the cells; both widgets start in their output areas", opts(300_000), async (t) => {
    assert.ok(baseUrl, "no server (an earlier test failed)");
    page = await (browser as Browser).newPage();
    await page.open(`${baseUrl}notebooks/${NOTEBOOK}?token=${token}`);
    const connected = await page.evaluate<boolean>(
      "(async()=>{for(let i=0;i<600;i++){const nb=window.Jupyter&&Jupyter.notebook;if(nb&&nb.kernel&&nb.kernel.is_connected())return true;await new Promise(r=>setTimeout(r,100));}return false;})()",
      90_000,
    );
    assert.ok(connected, `the Notebook did not connect to a kernel\n${page.problems()}\n${serverLog()}`);
    assert.equal(await page.evaluate<string>("Jupyter.notebook.kernel.name"), "tslab");
    const t0 = Date.now();
    await page.evaluate("Jupyter.notebook.execute_all_cells()");
    // Done when no cell is waiting or running (the prompt shows "In [*]" while it is) and two widgets exist.
    const done = await waitUntil(
      async () =>
        (await need().evaluate<boolean>(
          "Jupyter.notebook.get_cells().every(c=>c.cell_type!=='code'||(c.input_prompt_number!=='*'&&c.input_prompt_number!==undefined&&c.input_prompt_number!==null))",
        )) || (await need().evaluate<number>("document.querySelectorAll('.output_error, .output_stderr').length")) > 0,
      240_000,
      250,
    );
    const errors = await page.evaluate<string>(
      "Array.from(document.querySelectorAll('.output_error, .output_stderr')).map(e=>e.textContent).join('\\n')",
    );
    assert.equal(errors, "", `a cell failed:\n${errors}\n${serverLog()}`);
    assert.ok(done, `the cells did not finish within 240 s\n${serverLog()}`);
    const started = await page.evaluate<boolean>(
      "(async()=>{for(let i=0;i<100;i++){const w=document.querySelectorAll('.output_area .rbm-widget');if(w.length===2&&w[0].rbmWidget&&w[1].rbmWidget)return true;await new Promise(r=>setTimeout(r,50));}return false;})()",
    );
    const outputs = await page.evaluate<string>(
      "Jupyter.notebook.get_cells().map((c,i)=>'cell '+i+' ['+c.input_prompt_number+']: '+(c.output_area?c.output_area.outputs.map(o=>o.output_type+' '+Object.keys(o.data||{}).join(',')+(o.text||'')).join(' | '):'')).join('\\n')",
    );
    assert.ok(started, `the two widgets did not start in the output areas\n${outputs}\n${page.problems()}`);
    t.diagnostic(`3 cells run by the Notebook in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(page.exceptions.length, 0, page.problems());
  });

  test("the RBM widget: a drawn stroke is ink and clamped; the chain leaves the clamped half alone", opts(120_000), async (t) => {
    const p = need();
    await p.evaluate(`${W(0)}.scrollIntoView()`);
    await click(p, 0, "rbm-clear");
    const box = await p.evaluate<{ x: number; y: number; w: number; h: number }>(
      `(()=>{const r=${W(0)}.querySelector('canvas').getBoundingClientRect();return {x:r.left,y:r.top,w:r.width,h:r.height};})()`,
    );
    const at = (col: number, row: number) => [box.x + ((col + 0.5) * box.w) / 28, box.y + ((row + 0.5) * box.h) / 28] as const;
    await p.mouse("mousePressed", ...at(4, 20), true);
    for (let col = 5; col <= 22; col++) await p.mouse("mouseMoved", ...at(col, 20), true);
    await p.mouse("mouseReleased", ...at(22, 20));
    const drawn = await state(p, 0);
    for (let col = 4; col <= 22; col++) {
      assert.equal(drawn.v[20 * 28 + col], 1, `pixel (20, ${col}) under the stroke is ink`);
      assert.equal(drawn.known[20 * 28 + col], 1, `pixel (20, ${col}) under the stroke is clamped`);
    }
    assert.equal(drawn.v[5 * 28 + 10], 0, "a pixel far from the stroke stays blank");

    // Test digit 3 as the start, typed into the widget's box: the keys must reach the box, not the
    // Notebook's command-mode shortcuts (where "3" would turn the selected cell into a heading).
    const cellTypes = () => p.evaluate<string>("Jupyter.notebook.get_cells().map(c=>c.cell_type).join(',')");
    const typesBefore = await cellTypes();
    await p.evaluate(`(()=>{const i=${W(0)}.querySelector('.rbm-digit');i.focus();i.select();})()`);
    await p.type("3");
    assert.equal(await p.evaluate<string>(`${W(0)}.querySelector('.rbm-digit').value`), "3", "the typed digit reached the box");
    assert.equal(await cellTypes(), typesBefore, "typing into the widget changed no cell");
    await click(p, 0, "rbm-load");
    await click(p, 0, "rbm-free-top");
    const start = await state(p, 0);
    await click(p, 0, "rbm-start");
    const seen: WidgetState[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(300);
      seen.push(await state(p, 0));
    }
    await click(p, 0, "rbm-stop");
    const last = seen[seen.length - 1];
    assert.ok(last.steps > start.steps + 10, `the chain ran: ${start.steps} → ${last.steps} steps`);
    for (const s of seen)
      for (let i = 392; i < 784; i++) assert.equal(s.v[i], start.values[i], `clamped pixel ${i} changed at step ${s.steps}`);
    assert.ok(
      last.v.slice(0, 392).some((x, i) => x !== start.v[i]),
      "the free top half was resampled",
    );
    const rate = await p.evaluate<number>(`${W(0)}.rbmWidget.bench(2000)`);
    t.diagnostic(`784-500 RBM in the classic Notebook: ${rate.toFixed(0)} Gibbs steps per second`);
    console.log(`classic Notebook widget: 784-500 RBM, ${rate.toFixed(0)} Gibbs steps/s in headless Chromium`);
    assert.equal(p.exceptions.length, 0, p.problems());
  });

  test("the DBN widget dreams of the chosen digit", opts(60_000), async () => {
    const p = need();
    await p.evaluate(`(()=>{const s=${W(1)}.querySelector('.rbm-label');s.value='3';s.dispatchEvent(new Event('change'));})()`);
    await click(p, 1, "rbm-step");
    const s = await state(p, 1);
    assert.equal(s.mode, "dream");
    assert.equal(s.dreamLabel, 3, "the clamped label is the chosen digit");
    assert.equal(p.exceptions.length, 0, p.problems());
  });

  test("saved and reopened untrusted: no script runs, the static picture shows", opts(120_000), async () => {
    const p = need();
    await p.evaluate("Jupyter.notebook.save_notebook()");
    const file = path.join(SCRATCH, NOTEBOOK);
    const saved = await waitUntil(() => JSON.parse(readFileSync(file, "utf8")).cells[1].outputs.length > 0, 30_000, 200);
    assert.ok(saved, "the Notebook did not save the outputs");
    // As if someone else had run it and sent it: the same outputs, in a file this server did not sign
    // (Notebook 6 keeps the signatures of notebooks it saved in its own database, by content: any change
    // to the content makes it a notebook this server has not signed.)
    const nb = JSON.parse(readFileSync(file, "utf8"));
    nb.cells.unshift({ cell_type: "markdown", metadata: {}, source: "Run elsewhere, sent to you." });
    const untrusted = "widget-untrusted.ipynb";
    writeFileSync(path.join(SCRATCH, untrusted), `${JSON.stringify(nb, null, 1)}\n`);
    await p.open(`${baseUrl}notebooks/${untrusted}?token=${token}`);
    const shown = await p.evaluate<{ trusted: boolean; widgets: number; started: number; images: number; width: number }>(
      `(async()=>{for(let i=0;i<200&&!(window.Jupyter&&Jupyter.notebook&&Jupyter.notebook._fully_loaded);i++)await new Promise(r=>setTimeout(r,100));
        await new Promise(r=>setTimeout(r,1500));
        const w=Array.from(document.querySelectorAll('.output_area .rbm-widget'));
        const imgs=w.map(x=>x.querySelector('img')).filter(Boolean);
        for(const i of imgs)await i.decode().catch(()=>{});
        return {trusted:Jupyter.notebook.trusted,widgets:w.length,started:w.filter(x=>x.rbmWidget).length,images:imgs.length,width:imgs.length?imgs[0].naturalWidth:0};})()`,
    );
    assert.equal(shown.trusted, false, "the Notebook calls the rewritten notebook untrusted");
    assert.equal(shown.widgets, 2, "both outputs are shown");
    assert.equal(shown.started, 0, "no widget script ran in the untrusted notebook");
    assert.equal(shown.images, 2, "each output shows its static picture");
    assert.ok(shown.width > 200, `the picture decodes (${shown.width} px wide)`);
    assert.equal(p.exceptions.length, 0, p.problems());
  });
});
