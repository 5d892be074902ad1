/**
 * Iterate averaging: the mean of the snapshots is their element-wise mean (in every parameter), it
 * holds no tensors between snapshots, and misuse fails with one clear error.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM, type RBM } from "../../lib/core/rbm";
import { RBMAverage } from "../../lib/train/averaging";
import { close, noLeak } from "../support/assert";

before(async () => {
  await initBackend({ quiet: true });
});

test("RBMAverage.mean is the element-wise mean of W, b and c over the snapshots", () => {
  const models: RBM[] = [0, 1, 2].map((seed) => {
    const m = initRBM(5, 3, { seed });
    // Distinct biases too, so a mean that skipped b or c would fail.
    return { W: m.W, b: tf.fill([5], seed + 0.5) as tf.Tensor1D, c: tf.fill([3], -seed) as tf.Tensor1D };
  });
  const avg = new RBMAverage();
  for (const m of models) avg.add(m);
  assert.equal(avg.count, 3);
  const mean = avg.mean();
  const want = (key: "W" | "b" | "c") => {
    const xs = models.map((m) => m[key].dataSync());
    return Array.from(xs[0], (_, i) => (xs[0][i] + xs[1][i] + xs[2][i]) / 3);
  };
  for (const key of ["W", "b", "c"] as const) {
    assert.deepEqual(mean[key].shape, models[0][key].shape);
    const got = mean[key].dataSync();
    want(key).forEach((w, i) => close(got[i], w, 1e-6, `mean ${key}[${i}]`));
  }
  disposeRBM(mean);
  for (const m of models) disposeRBM(m);
});

test("RBMAverage keeps no tensors between snapshots", () => {
  const m = initRBM(6, 4, { seed: 1 });
  const avg = new RBMAverage();
  noLeak("two RBMAverage.add", () => {
    avg.add(m);
    avg.add(m);
  });
  const mean = avg.mean();
  const [got, want] = [mean.W.dataSync(), m.W.dataSync()];
  want.forEach((w, i) => close(got[i], w, 1e-7, `mean of one model twice, W[${i}]`));
  disposeRBM(mean);
  disposeRBM(m);
});

test("RBMAverage: a snapshot of another size, NaN, or a mean before any snapshot is one clear error", () => {
  const avg = new RBMAverage();
  assert.throws(() => avg.mean(), /no snapshot was added/);
  const a = initRBM(4, 3, { seed: 0 });
  const b = initRBM(4, 2, { seed: 0 });
  avg.add(a);
  assert.throws(() => avg.add(b), /4×2 but the earlier ones were 4×3/);
  const bad = { W: a.W, b: tf.tensor1d([0, Number.NaN, 0, 0]), c: a.c };
  assert.throws(() => avg.add(bad));
  assert.equal(avg.count, 1);
  bad.b.dispose();
  disposeRBM(a);
  disposeRBM(b);
});
