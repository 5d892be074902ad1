/**
 * Iterate averaging: the mean of the snapshots is their element-wise mean (in every parameter), it
 * holds no tensors between snapshots, and misuse fails with one clear error; the exponential moving
 * average follows its recursion exactly and holds only its own tensors.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM, type RBM } from "../../lib/core/rbm";
import { ExponentialAverage, RBMAverage } from "../../lib/train/averaging";
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

test("ExponentialAverage follows θ̄ ← αθ̄ + (1 − α)θ from θ̄ = θ₀, in every tensor, without leaking", () => {
  const alpha = 0.8;
  const steps = [
    [1, -2, 3, 0.5],
    [0, 4, -1, 2],
    [2, 2, 2, -3],
  ];
  // The recursion written out by hand, per element (first tensor: the first 3 values, second: the last).
  let want = steps[0].slice();
  for (const s of steps.slice(1)) want = want.map((w, i) => alpha * w + (1 - alpha) * s[i]);
  const before = tf.memory().numTensors;
  const avg = new ExponentialAverage(alpha);
  for (const s of steps) {
    const xs = [tf.tensor1d(s.slice(0, 3)), tf.tensor2d([[s[3]]])];
    avg.update(xs);
    tf.dispose(xs);
  }
  assert.equal(avg.count, 3);
  assert.equal(tf.memory().numTensors, before + 2, "the average holds exactly its two tensors");
  const [a, b] = avg.values();
  assert.deepEqual(b.shape, [1, 1]);
  const got = [...a.dataSync(), ...b.dataSync()];
  want.forEach((w, i) => close(got[i], w, 1e-6, `average[${i}]`));
  avg.dispose();
  assert.equal(tf.memory().numTensors, before, "dispose frees them");
});

test("ExponentialAverage: a bad decay, other shapes, or values before any update is one clear error", () => {
  assert.throws(() => new ExponentialAverage(1), /decay must be in \[0, 1\)/);
  assert.throws(() => new ExponentialAverage(Number.NaN), /decay must be in \[0, 1\)/);
  const avg = new ExponentialAverage(0.9);
  assert.throws(() => avg.values(), /no update yet/);
  const x = tf.zeros([2, 3]);
  const y = tf.zeros([3, 2]);
  avg.update([x]);
  assert.throws(() => avg.update([y]), /average one model's parameters only/);
  assert.throws(() => avg.update([x, x]), /got 2 tensors/);
  tf.dispose([x, y]);
  avg.dispose();
});
