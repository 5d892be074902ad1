/**
 * The model widget's output without a browser: one self-contained HTML output (no external URL, one
 * script, a static PNG), a few MB at most, int8 weights within half a quantisation step of the model,
 * and clear errors for what it cannot show. The browser side is test/e2e/widget.test.ts.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM } from "../../lib/core/rbm";
import { widgetBundle, widgetHtml } from "../../lib/view/widget";
import { noLeak } from "../support/assert";
import { decodePng } from "../support/png";

before(async () => {
  await initBackend({ quiet: true });
});

test("the widget is one self-contained output: one script, no external resource, a static PNG, < 1 MB for 784-500", () => {
  const rbm = initRBM(784, 500, { seed: 1 });
  const digits = new Float32Array(5 * 784).map((_, i) => (i % 7 === 0 ? 1 : 0));
  const { html, png, bytes } = noLeak("widgetHtml", () => widgetHtml({ layers: [rbm] }, { digits }));
  assert.equal((html.match(/<script\b/g) ?? []).length, 1, "one script");
  assert.equal((html.match(/<\/script/g) ?? []).length, 1, "nothing inside the script closes it early");
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, "no external resource (CDN)");
  assert.ok(bytes < 1e6, `${bytes} bytes`);
  const img = decodePng(png);
  assert.ok(img.width >= 28 * 10 && img.height >= 56, `static picture ${img.width}×${img.height}`);
  assert.match(html, /<img alt="[^"]*static picture/);
  const bundle = widgetBundle({ layers: [rbm] }, { digits });
  assert.deepEqual(Object.keys(bundle).sort(), ["image/png", "text/html", "text/plain"]);
  disposeRBM(rbm);
});

test("the embedded weights are int8 with one scale per hidden unit: within half a step of the model", () => {
  const rbm = initRBM(20, 6, { seed: 2 });
  const { html } = widgetHtml({ layers: [rbm] }, { digits: new Float32Array(20), height: 4, width: 5 });
  const data = JSON.parse(/var D=(\{.*?\});var tries/s.exec(html)?.[1] ?? "{}") as { layers: { W: { q: string; scale: string } }[] };
  const q = new Int8Array(Buffer.from(data.layers[0].W.q, "base64"));
  const sb = Buffer.from(data.layers[0].W.scale, "base64");
  const scale = new Float32Array(sb.buffer, sb.byteOffset, sb.length / 4);
  const w = rbm.W.dataSync();
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < 6; j++) {
      assert.ok(Math.abs(q[i * 6 + j] * scale[j] - w[i * 6 + j]) <= scale[j] / 2 + 1e-9, `W[${i}][${j}]`);
    }
  }
  assert.throws(() => widgetHtml({ layers: [rbm] }), /the model has 20 visible units but the pictures 784 pixels/);
  assert.throws(
    () => widgetHtml({ layers: [rbm] }, { digits: new Float32Array(7), height: 4, width: 5 }),
    /digits must be flat rows of 20 pixels/,
  );
  disposeRBM(rbm);
  assert.equal(tf.memory().numTensors, 0);
});
