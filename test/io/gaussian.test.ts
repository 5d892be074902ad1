/** Standardisation of real-valued data and Gaussian–Bernoulli RBM files. */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { initBackend } from "../../lib/compute/backend";
import { disposeGaussianRBM, makeGaussianRBM, visibleSigma } from "../../lib/core/gaussian";
import { disposeRBM, makeRBM } from "../../lib/core/rbm";
import { saveCheckpoint } from "../../lib/io/checkpoint";
import type { Dataset } from "../../lib/io/data";
import { loadGaussianCheckpoint, saveGaussianCheckpoint } from "../../lib/io/gaussian-checkpoint";
import { applyStandardizer, fitStandardizer, logDensityInPixels, standardize, unstandardize } from "../../lib/io/standardize";
import { close, noLeak } from "../support/assert";

let root = "";
before(async () => {
  await initBackend({ quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-gauss-io-"));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

const ds = (images: number[], d: number): Dataset => ({
  images: Float32Array.from(images),
  labels: new Uint8Array(images.length / d),
  n: images.length / d,
  rows: 1,
  cols: d,
  name: "toy",
});

test("per-pixel standardisation gives zero mean and unit spread, floors constant pixels, and inverts", () => {
  // Pixel 0 varies, pixel 1 is constant (MNIST's border).
  const train = ds([0, 0.5, 1, 0.5, 0.5, 0.5, 0.2, 0.5], 2);
  const { train: z, standardizer: s } = standardize(train, { minStd: 0.05 });
  const col = (k: number) => [0, 1, 2, 3].map((r) => z.images[r * 2 + k]);
  close(col(0).reduce((a, x) => a + x, 0) / 4, 0, 1e-6, "mean of pixel 0");
  close(col(0).reduce((a, x) => a + x * x, 0) / 4, 1, 1e-5, "variance of pixel 0");
  assert.deepEqual(col(1), [0, 0, 0, 0], "a constant pixel maps to 0, not NaN");
  close(s.std[1], 0.05, 1e-7, "its spread is floored");
  const back = unstandardize(z.images, s);
  train.images.forEach((x, k) => close(back[k], x, 1e-6, `round trip ${k}`));
  const g = fitStandardizer(train, { mode: "global" });
  assert.equal(g.mean[0], g.mean[1]);
  const gz = applyStandardizer(train, g);
  close(gz.images.reduce((a, x) => a + x * x, 0) / 8, 1, 1e-5, "global: unit variance over all pixels");
  // Change of variables: a density in standardised units becomes one in pixels minus Σ log s.
  close(logDensityInPixels(-3, s), -3 - Math.log(s.std[0]) - Math.log(s.std[1]), 1e-9, "Jacobian");
  assert.throws(() => applyStandardizer(ds([1, 2, 3], 3), s), /for 2 pixels but toy has 3/);
  assert.throws(() => fitStandardizer(ds([1, NaN, 2, 3], 2)), /finite/);
  assert.throws(() => fitStandardizer(train, { minStd: 0 }), /minStd must be a positive/);
});

test("a Gaussian checkpoint round-trips the model, its history and its standardisation", () => {
  const m = makeGaussianRBM(
    [
      [0.5, -1],
      [2, 0.25],
    ],
    [0.1, -0.2],
    [0.3, 0.4],
    [0.5, 2],
  );
  const s = fitStandardizer(ds([0, 1, 2, 3, 4, 7], 2));
  const file = path.join(root, "g.safetensors");
  saveGaussianCheckpoint(file, { rbm: m, hyperparameters: { lr: 0.001 }, history: [{ epoch: 0, x: NaN }], standardizer: s });
  const ck = noLeak("load", () => loadGaussianCheckpoint(file), { returned: 4 });
  assert.deepEqual(ck.rbm.W.dataSync(), m.W.dataSync());
  assert.deepEqual(Array.from(visibleSigma(ck.rbm)), Array.from(visibleSigma(m)));
  assert.deepEqual(ck.hyperparameters, { lr: 0.001 });
  assert.ok(Number.isNaN(ck.history[0].x as number), "NaN survives");
  assert.deepEqual(ck.standardizer, s);
  disposeGaussianRBM(ck.rbm);
  // A binary checkpoint is not a Gaussian one, and the Gaussian file is not overwritten by a binary save.
  const binary = makeRBM([[1]], [0], [0]);
  const bfile = path.join(root, "b.safetensors");
  saveCheckpoint(bfile, { rbm: binary });
  assert.throws(() => loadGaussianCheckpoint(bfile), /"rbm-notebooks\/rbm" file, not a Gaussian–Bernoulli RBM checkpoint/);
  assert.throws(() => saveCheckpoint(file, { rbm: binary }), /gaussian-rbm/);
  disposeRBM(binary);
  disposeGaussianRBM(m);
});
