// The model widget (lib/view/widget.ts) in headless Chromium, driven like a reader would: a stroke
// drawn with synthesised pointer events (CDP Input.dispatchMouseEvent) must change the canvas and the
// clamped state; while the chain runs the clamped pixels must never change; hovering shows filters;
// a DBN with label units dreams of the chosen digit; the page without scripts still shows the static
// picture. The sampler's speed (Gibbs steps per second for 784-500, and for the DBN's 2000-unit top
// RBM) is measured and printed, not asserted. Needs Chromium, like test/e2e/browser.test.ts.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM, type RBM } from "../../lib/core/rbm";
import { type DBN, disposeDBN, stackRBMs } from "../../lib/dbn/model";
import { binarize, firstN, loadMnist } from "../../lib/io/data";
import { widgetHtml } from "../../lib/view/widget";
import { ROOT } from "../../scripts/jupyter-env.mjs";
import { chromiumMissingMessage, findChromium } from "../../scripts/system-deps.mjs";
import { Browser, type Page } from "../support/cdp";
import { decodePng, toRgba } from "../support/png";

const ARTIFACTS = path.join(ROOT, "test-artifacts", "widget");
const CHROMIUM = findChromium();
const opts = (timeout: number) => ({ timeout, skip: CHROMIUM ? false : `needs Chromium: ${chromiumMissingMessage()}` });

interface WidgetState {
  v: number[];
  pv: number[];
  known: number[];
  values: number[];
  steps: number;
  running: boolean;
  mode: string;
  rate: number;
  label: number;
  dreamLabel?: number;
  hoverUnits: number[];
}

const page = (body: string) =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>widget</title></head><body style="margin:8px">${body}</body></html>`;
const W = "document.querySelector('.rbm-widget')";
const state = (p: Page) => p.evaluate<WidgetState>(`${W}.rbmWidget.state()`);
const click = (p: Page, cls: string) => p.evaluate(`${W}.querySelector('.${cls}').click()`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the model widget in headless Chromium", () => {
  let browser: Browser | undefined;
  let rbm: RBM;
  let dbn: DBN;
  let digits: Float32Array;

  before(async () => {
    await initBackend({ quiet: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    rbm = initRBM(784, 500, { seed: 1 });
    dbn = stackRBMs([initRBM(784, 500, { seed: 2 }), initRBM(500, 500, { seed: 3 }), initRBM(510, 2000, { seed: 4 })], { nLabels: 10 });
    digits = binarize(firstN(loadMnist({ split: "test" }), 20)).images;
    if (CHROMIUM) browser = await Browser.launch(CHROMIUM);
  });
  after(async () => {
    await browser?.close();
    disposeRBM(rbm);
    disposeDBN(dbn);
    assert.equal(tf.memory().numTensors, 0, "the widget's serialisation leaked tensors");
  });

  /** Writes the widget's page (and its script-free twin) and opens it; returns the page and the output size. */
  async function open(model: Parameters<typeof widgetHtml>[0], name: string) {
    const { html, bytes } = widgetHtml(model, { digits, seed: 7 });
    const file = path.join(ARTIFACTS, `${name}.html`);
    writeFileSync(file, page(html));
    writeFileSync(path.join(ARTIFACTS, `${name}.noscript.html`), page(html.replace(/<script\b[\s\S]*?<\/script\s*>/gi, "")));
    const p = await (browser as Browser).newPage();
    await p.open(file);
    const ready = await p.evaluate<boolean>(
      `(async()=>{for(let i=0;i<100&&!(${W}&&${W}.rbmWidget);i++)await new Promise(r=>setTimeout(r,50));return !!${W}.rbmWidget;})()`,
    );
    assert.ok(ready, `the widget did not start:\n${p.problems()}`);
    return { p, bytes };
  }

  test("an RBM widget: drawing, clamping, the running chain, hover filters, speed", opts(120_000), async (t) => {
    const { p, bytes } = await open({ layers: [rbm] }, "rbm");
    t.diagnostic(`784-500 widget output: ${(bytes / 1e6).toFixed(2)} MB`);
    assert.ok(bytes < 3e6, `the output is ${bytes} bytes`);
    try {
      await click(p, "rbm-clear");
      const box = await p.evaluate<{ x: number; y: number; w: number; h: number }>(
        `(()=>{const r=${W}.querySelector('canvas').getBoundingClientRect();return {x:r.left,y:r.top,w:r.width,h:r.height};})()`,
      );
      const before = toRgba(decodePng(await p.screenshot({ x: box.x, y: box.y, width: box.w, height: box.h })));
      // A horizontal stroke across row 20, from column 4 to column 22.
      const at = (col: number, row: number) => [box.x + ((col + 0.5) * box.w) / 28, box.y + ((row + 0.5) * box.h) / 28] as const;
      await p.mouse("mousePressed", ...at(4, 20), true);
      for (let col = 5; col <= 22; col++) await p.mouse("mouseMoved", ...at(col, 20), true);
      await p.mouse("mouseReleased", ...at(22, 20));
      const drawn = await state(p);
      for (let col = 4; col <= 22; col++) {
        assert.equal(drawn.v[20 * 28 + col], 1, `pixel (20, ${col}) under the stroke is ink`);
        assert.equal(drawn.known[20 * 28 + col], 1, `pixel (20, ${col}) under the stroke is clamped`);
      }
      assert.equal(drawn.v[5 * 28 + 10], 0, "a pixel far from the stroke stays blank");
      const afterDraw = toRgba(decodePng(await p.screenshot({ x: box.x, y: box.y, width: box.w, height: box.h })));
      const dark = (img: typeof before, col: number, row: number) => {
        const x = Math.floor(((col + 0.5) * img.width) / 28);
        const y = Math.floor(((row + 0.5) * img.height) / 28);
        return img.data[(y * img.width + x) * 4] < 100;
      };
      assert.ok(!dark(before, 12, 20) && dark(afterDraw, 12, 20), "the canvas shows the stroke");

      // A test digit with its top half free: the chain may change only the top half.
      await p.evaluate(`(()=>{const i=${W}.querySelector('.rbm-digit');i.value='3';})()`);
      await click(p, "rbm-load");
      await click(p, "rbm-free-top");
      const start = await state(p);
      assert.deepEqual(start.v.slice(0, 784), Array.from(digits.subarray(3 * 784, 4 * 784)), "the loaded digit is the start");
      assert.ok(
        start.known.slice(0, 392).every((k) => k === 0) && start.known.slice(392).every((k) => k === 1),
        "top half free, bottom clamped",
      );
      await click(p, "rbm-start");
      const seen: WidgetState[] = [];
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        seen.push(await state(p));
      }
      await click(p, "rbm-stop");
      const last = seen[seen.length - 1];
      assert.ok(last.steps > start.steps + 10, `the chain ran: ${start.steps} → ${last.steps} steps`);
      for (const s of seen) {
        for (let i = 392; i < 784; i++) assert.equal(s.v[i], start.values[i], `clamped pixel ${i} changed at step ${s.steps}`);
      }
      const changed = last.v.slice(0, 392).filter((x, i) => x !== start.v[i]).length;
      assert.ok(changed > 0, "the free top half was resampled");
      t.diagnostic(`running at the default speed (2 steps per frame): ${last.rate.toFixed(0)} steps/s shown`);

      // Hover: the filters of the most active hidden units near the pointer.
      await p.mouse("mouseMoved", ...at(14, 8));
      const hovered = await state(p);
      assert.equal(hovered.hoverUnits.length, 8, "eight filters shown");
      assert.equal(await p.evaluate<number>(`${W}.querySelectorAll('canvas.rbm-filter').length`), 8);

      // Speed of the sampler alone (no drawing between steps).
      const rate = await p.evaluate<number>(`${W}.rbmWidget.bench(2000)`);
      t.diagnostic(`784-500 RBM in Chromium: ${rate.toFixed(0)} Gibbs steps per second (2000 steps, one chain)`);
      console.log(`widget: 784-500 RBM, ${rate.toFixed(0)} Gibbs steps/s in headless Chromium`);
      assert.ok(rate > 0);
      assert.equal(p.exceptions.length, 0, p.problems());
    } finally {
      await p.close();
    }
  });

  test("a DBN widget with label units dreams of the chosen digit", opts(120_000), async (t) => {
    const { p, bytes } = await open(dbn, "dbn");
    t.diagnostic(`784-500-500-2000 + 10 labels widget output: ${(bytes / 1e6).toFixed(2)} MB`);
    try {
      await p.evaluate(`(()=>{const s=${W}.querySelector('.rbm-label');s.value='3';s.dispatchEvent(new Event('change'));})()`);
      await click(p, "rbm-step");
      const s = await state(p);
      assert.equal(s.mode, "dream");
      assert.equal(s.dreamLabel, 3, "the clamped label is the chosen digit");
      assert.ok(
        s.pv.every((x) => x >= 0 && x <= 1),
        "the picture is a down pass of probabilities",
      );
      const rate = await p.evaluate<number>(`${W}.rbmWidget.bench(500)`);
      t.diagnostic(`DBN dream (top RBM 510-2000 + down pass) in Chromium: ${rate.toFixed(0)} steps per second`);
      console.log(`widget: DBN 784-500-500-2000 dream, ${rate.toFixed(0)} steps/s in headless Chromium`);
      assert.equal(p.exceptions.length, 0, p.problems());
    } finally {
      await p.close();
    }
  });

  test("without scripts the output is a static picture", opts(60_000), async () => {
    const p = await (browser as Browser).newPage();
    try {
      await p.open(path.join(ARTIFACTS, "rbm.noscript.html"));
      const img = await p.evaluate<{ n: number; width: number }>(
        `(async()=>{const i=document.querySelector('.rbm-widget img');if(!i)return {n:0,width:0};await i.decode();return {n:document.querySelectorAll('.rbm-widget img').length,width:i.naturalWidth};})()`,
      );
      assert.equal(img.n, 1, "one static picture");
      assert.ok(img.width > 200, `it decodes (${img.width} px wide)`);
      assert.equal(await p.evaluate<number>("document.querySelectorAll('canvas').length"), 0);
    } finally {
      await p.close();
    }
  });
});
