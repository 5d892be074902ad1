/**
 * The training monitors checked against their definitions: reconstruction error against a float64
 * brute force, pseudo-likelihood against the exact conditionals of an enumerated model (and the
 * stochastic estimate against its exact expectation), the free-energy gap's sign on an overfitted
 * model, exact log-likelihood against exactLogProb; plus leaks, seeds and bad inputs.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { exactLogProb, exactVisibleMarginal } from "../../lib/core/exact";
import { Rng } from "../../lib/core/random";
import { disposeRBM, hiddenProbs, initRBM, randomRBM, visibleProbs } from "../../lib/core/rbm";
import {
  exactLogLikelihood,
  exactPseudoLikelihood,
  freeEnergyGap,
  meanFreeEnergy,
  pseudoLikelihood,
  reconstructionError,
} from "../../lib/eval/metrics";
import { binarize, firstN, loadMnist, selectRows } from "../../lib/io/data";
import { close, noLeak } from "../support/assert";
import { randomRBM as randomRBM64 } from "../support/reference";
import { plainCD1 } from "../support/training";

before(async () => {
  await initBackend({ quiet: true });
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** n random rows of nV values: binary with p(1) = 0.4, or grey levels in [0, 1]. */
function randomRows(n: number, nV: number, seed: number, grey = false): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * nV }, () => (grey ? rng.uniform() : rng.uniform() < 0.4 ? 1 : 0));
}

test("mean-field reconstruction error equals the float64 formulas (squared and cross-entropy)", () => {
  const { rbm, W, b, c } = randomRBM64(6, 4, 31, 1.5);
  const n = 7;
  const x = randomRows(n, 6, 3, true);
  let sq = 0;
  let ce = 0;
  for (let r = 0; r < n; r++) {
    const v = Array.from(x.subarray(r * 6, r * 6 + 6));
    const ph = c.map((cj, j) => sigmoid(cj + v.reduce((s, vi, i) => s + vi * W[i][j], 0)));
    for (let i = 0; i < 6; i++) {
      const a = b[i] + ph.reduce((s, hj, j) => s + W[i][j] * hj, 0);
      const p = sigmoid(a);
      sq += (v[i] - p) ** 2;
      ce -= v[i] * Math.log(p) + (1 - v[i]) * Math.log(1 - p);
    }
  }
  const got = noLeak("reconstructionError", () => reconstructionError(rbm, x, { seed: 0, sampleHidden: false, batchSize: 3 }));
  assert.equal(got.n, n);
  close(got.squared, sq / n, 1e-4, "squared");
  close(got.crossEntropy, ce / n, 1e-4, "cross-entropy");
  // Extreme logits: the cross-entropy stays finite and exact (from logits, never log 0).
  const huge = { W: tf.tensor2d([[200], [-200]]), b: tf.tensor1d([0, 0]), c: tf.tensor1d([300]) };
  const e = reconstructionError(huge, Float32Array.from([0, 1]), { seed: 0, sampleHidden: false });
  // v = (0, 1): h = σ(300 − 200) = 1, logits (200, −200) → each pixel costs 200 nats.
  close(e.crossEntropy, 400, 1e-3, "cross-entropy of confident mistakes");
  tf.dispose([huge.W, huge.b, huge.c]);
  disposeRBM(rbm);
});

test("reconstruction error on 200 MNIST images matches float64 to 1e-6 (float64 totals, not float32 sums)", () => {
  const rbm = initRBM(784, 40, { seed: 3, method: "hinton", std: 0.1 });
  const W = rbm.W.dataSync();
  const b = rbm.b.dataSync();
  const c = rbm.c.dataSync();
  const ds = loadMnist({ split: "test", limit: 200 });
  let sq = 0;
  let ce = 0;
  for (let r = 0; r < ds.n; r++) {
    const v = ds.images.subarray(r * 784, (r + 1) * 784);
    const ph = Float64Array.from(c, (cj, j) => sigmoid(v.reduce((s, vi, i) => s + vi * W[i * 40 + j], cj)));
    for (let i = 0; i < 784; i++) {
      const a = ph.reduce((s, hj, j) => s + W[i * 40 + j] * hj, b[i]);
      sq += (v[i] - sigmoid(a)) ** 2;
      ce += softplus(a) - v[i] * a;
    }
  }
  const got = reconstructionError(rbm, ds, { seed: 0, sampleHidden: false });
  close(got.squared, sq / ds.n, 1e-6 * (sq / ds.n), "squared");
  close(got.crossEntropy, ce / ds.n, 1e-6 * (ce / ds.n), "cross-entropy");
  disposeRBM(rbm);
});

test("the sampled reconstruction (numpy reference) is larger by Σ p(1 − p) on average", () => {
  const { rbm } = randomRBM64(5, 3, 8, 1);
  const one = randomRows(1, 5, 4);
  const rows = new Float32Array(20000 * 5);
  for (let r = 0; r < 20000; r++) rows.set(one, r * 5);
  const probs = reconstructionError(rbm, rows, { seed: 1, sampleHidden: false });
  const sampled = reconstructionError(rbm, rows, { seed: 1, sampleHidden: false, reconstruction: "sample" });
  // p(v|h) for the single row, from the mean-field pass.
  const p = tf.tidy(() => visibleProbs(hiddenProbs(tf.tensor2d(one, [1, 5]), rbm), rbm).dataSync());
  const extra = Array.from(p).reduce((s, q) => s + q * (1 - q), 0);
  close(sampled.squared, probs.squared + extra, 0.03, "E(v − v')² = (v − p)² + p(1 − p)");
  close(sampled.crossEntropy, probs.crossEntropy, 1e-9, "cross-entropy always uses p(v|h)");
  // Sampling h too: same expectation of the squared error over h as computing it per h.
  const a = reconstructionError(rbm, rows, { seed: 2 });
  const b = reconstructionError(rbm, rows, { seed: 2 });
  const c = reconstructionError(rbm, rows, { seed: 3 });
  assert.deepEqual(a, b, "same seed ⇒ same numbers");
  assert.notEqual(a.squared, c.squared, "different seed ⇒ different samples");
  disposeRBM(rbm);
});

test("reconstruction error drops after a few CD-1 epochs on MNIST (vs the random init)", async (t) => {
  const train = loadMnist({ split: "train", limit: 1000 });
  const init = initRBM(784, 25, { seed: 1 });
  const trained = await plainCD1(init, train, { epochs: 2, lr: 0.1, batchSize: 50, seed: 2 });
  const { before, after, afterSampled } = noLeak("reconstructionError", () => ({
    before: reconstructionError(init, train, { seed: 5 }),
    after: reconstructionError(trained, train, { seed: 5 }),
    afterSampled: reconstructionError(trained, train, { seed: 5, reconstruction: "sample" }),
  }));
  t.diagnostic(
    `784-25 on 1,000 images: squared ${before.squared.toFixed(2)} → ${after.squared.toFixed(2)} (sampled v: ` +
      `${afterSampled.squared.toFixed(2)}), cross-entropy ${before.crossEntropy.toFixed(2)} → ${after.crossEntropy.toFixed(2)}`,
  );
  assert.ok(after.squared < 0.6 * before.squared, `squared: ${before.squared} → ${after.squared}`);
  assert.ok(after.crossEntropy < 0.6 * before.crossEntropy, `cross-entropy: ${before.crossEntropy} → ${after.crossEntropy}`);
  assert.ok(afterSampled.squared > after.squared, "the sampled reconstruction is noisier");
  disposeRBM(init);
  disposeRBM(trained);
});

test("exact pseudo-likelihood = Σ_i log p(v_i | v_−i) from the enumerated p(v) (8-5 model)", () => {
  const { rbm } = randomRBM64(8, 5, 12, 1.2);
  const { probs } = exactVisibleMarginal(rbm);
  const n = 6;
  const x = randomRows(n, 8, 9);
  let want = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let i = 0; i < 8; i++) s |= x[r * 8 + i] << i;
    for (let i = 0; i < 8; i++) want += Math.log(probs[s] / (probs[s] + probs[s ^ (1 << i)]));
  }
  const got = noLeak("exactPseudoLikelihood", () => exactPseudoLikelihood(rbm, x));
  close(got, want / n, 1e-4, "exact log-PL per image");
  // Grey levels are binarised at 0.5 first, like the numpy reference.
  const grey = Float32Array.from(x, (z, i) => (z === 1 ? 0.55 + (i % 5) * 0.1 : 0.45 - (i % 5) * 0.1));
  close(exactPseudoLikelihood(rbm, grey), got, 1e-6, "binarised at 0.5");
  // With one visible unit the PL is the likelihood itself, and the one-bit estimate is exact.
  const tiny = randomRBM(1, 3, { seed: 2 });
  const lp = exactLogLikelihood(tiny, Float32Array.from([1, 0, 1]));
  close(exactPseudoLikelihood(tiny, Float32Array.from([1, 0, 1])), lp, 1e-5, "nV = 1: PL = log p(v)");
  close(pseudoLikelihood(tiny, Float32Array.from([1, 0, 1]), { seed: 3 }), lp, 1e-5, "nV = 1: stochastic = exact");
  disposeRBM(tiny);
  disposeRBM(rbm);
});

test("the stochastic one-flip pseudo-likelihood averages to the exact one over seeds (20-15)", (t) => {
  const { rbm } = randomRBM64(20, 15, 5, 1);
  const x = randomRows(50, 20, 6);
  const exact = exactPseudoLikelihood(rbm, x);
  const estimates = noLeak("pseudoLikelihood", () =>
    Array.from({ length: 300 }, (_, s) => pseudoLikelihood(rbm, x, { seed: s, batchSize: 17 })),
  );
  const mean = estimates.reduce((a, z) => a + z, 0) / estimates.length;
  const sd = Math.sqrt(estimates.reduce((a, z) => a + (z - mean) ** 2, 0) / (estimates.length - 1));
  const se = sd / Math.sqrt(estimates.length);
  t.diagnostic(`exact ${exact.toFixed(4)}, mean of 300 estimates ${mean.toFixed(4)} ± ${se.toFixed(4)} (SE), sd of one ${sd.toFixed(3)}`);
  close(mean, exact, 4 * se, `mean of 300 estimates (SE ${se.toFixed(3)}) vs exact`);
  assert.ok(sd > 0, "the estimate is random");
  assert.equal(pseudoLikelihood(rbm, x, { seed: 7 }), pseudoLikelihood(rbm, x, { seed: 7, batchSize: 3 }), "same seed ⇒ same number");
  disposeRBM(rbm);
});

test("pseudo-likelihood on MNIST: scale of nats per image, limit, agreement with the exact sum", async (t) => {
  const train = loadMnist({ split: "train", limit: 300 });
  const init = initRBM(784, 30, { seed: 4 });
  const rbm = await plainCD1(init, train, { epochs: 1, lr: 0.1, batchSize: 50, seed: 4 });
  disposeRBM(init);
  const exact = exactPseudoLikelihood(rbm, train, { limit: 100 });
  const stochastic = pseudoLikelihood(rbm, train, { seed: 1, limit: 100 });
  t.diagnostic(`784-30 after 1 epoch on 300 images: exact PL ${exact.toFixed(3)}, one-flip estimate ${stochastic.toFixed(3)} (100 images)`);
  // Each image is 784 conditionals; a weak model costs tens to a few hundred nats per image.
  assert.ok(exact < -20 && exact > -400, `exact PL ${exact}`);
  assert.ok(Math.abs(stochastic - exact) < 0.5 * Math.abs(exact), `stochastic ${stochastic} vs exact ${exact}`);
  assert.equal(pseudoLikelihood(rbm, train, { seed: 1, limit: 100 }), pseudoLikelihood(rbm, firstN(train, 100), { seed: 1 }));
  disposeRBM(rbm);
});

test("free-energy gap: positive and growing on a model that memorised its training subset", async (t) => {
  const all = loadMnist({ split: "train", limit: 400 });
  const train = selectRows(
    all,
    Array.from({ length: 100 }, (_, i) => i),
  );
  const heldOut = selectRows(
    all,
    Array.from({ length: 300 }, (_, i) => 100 + i),
  );
  const init = initRBM(784, 100, { seed: 6, method: "hinton", data: train });
  const trained = await plainCD1(init, train, { epochs: 40, lr: 0.1, batchSize: 20, seed: 6 });
  const [g0, g1] = noLeak("freeEnergyGap", () => [freeEnergyGap(init, train, heldOut), freeEnergyGap(trained, train, heldOut)]);
  assert.equal(g1.n, 100, "same sizes: the smaller set");
  close(g1.gap, g1.heldOut - g1.train, 1e-9, "gap = heldOut − train");
  close(g1.train, meanFreeEnergy(trained, train), 1e-3, "train mean F");
  close(g1.heldOut, meanFreeEnergy(trained, heldOut, { limit: 100 }), 1e-3, "held-out mean F (first 100)");
  t.diagnostic(
    `gap at init ${g0.gap.toFixed(3)}, after 40 epochs on 100 images ${g1.gap.toFixed(3)} (F train ${g1.train.toFixed(2)}, held-out ${g1.heldOut.toFixed(2)})`,
  );
  assert.ok(g1.gap > 0, `gap after memorising 100 images: ${g1.gap}`);
  assert.ok(g1.gap > g0.gap + 1, `the gap grows with training: ${g0.gap} → ${g1.gap}`);
  assert.equal(freeEnergyGap(trained, train, heldOut, { n: 50 }).n, 50);
  disposeRBM(init);
  disposeRBM(trained);
});

test("exact log-likelihood is the mean of exactLogProb and needs binary data", () => {
  const { rbm } = randomRBM64(10, 6, 2, 1);
  const x = randomRows(30, 10, 1);
  const v = tf.tensor2d(x, [30, 10]);
  const lp = exactLogProb(v, rbm);
  v.dispose();
  close(
    noLeak("exactLogLikelihood", () => exactLogLikelihood(rbm, x)),
    lp.reduce((a, z) => a + z, 0) / 30,
    1e-4,
    "mean log p(v)",
  );
  assert.throws(() => exactLogLikelihood(rbm, randomRows(3, 10, 1, true)), /not 0 or 1.*binarize/);
  const ds = binarize(loadMnist({ split: "test", limit: 20 }));
  const wide = initRBM(784, 30);
  assert.throws(() => exactLogLikelihood(wide, ds), /at most 24 units.*AIS/);
  disposeRBM(wide);
  disposeRBM(rbm);
});

test("bad inputs give one clear error", () =>
  noLeak("failed calls", () => {
    const rbm = randomRBM(20, 4, { seed: 1 });
    const ok = randomRows(3, 20, 1);
    const mnist = loadMnist({ split: "test", limit: 5 });
    assert.throws(
      () => reconstructionError(rbm, new Float32Array(30), { seed: 0 }),
      /30 values, not a whole number of rows of nVisible = 20/,
    );
    assert.throws(() => pseudoLikelihood(rbm, mnist, { seed: 0 }), /784 values per row \(28×28\) but the RBM has nVisible = 20/);
    assert.throws(() => meanFreeEnergy(rbm, new Float32Array(0)), /0 values/);
    const bad = ok.slice();
    bad[7] = 1.5;
    assert.throws(() => reconstructionError(rbm, bad, { seed: 0 }), /value 1.5 at flat index 7 is not in \[0, 1\]/);
    bad[7] = NaN;
    assert.throws(() => exactPseudoLikelihood(rbm, bad), /value NaN at flat index 7/);
    assert.throws(() => reconstructionError(rbm, ok, { seed: 0, batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    assert.throws(() => pseudoLikelihood(rbm, ok, { seed: 0, limit: 0 }), /limit must be a positive integer, got 0/);
    assert.throws(() => freeEnergyGap(rbm, ok, ok, { n: 4 }), /n must be an integer in \[1, 3\]/);
    assert.throws(
      () => reconstructionError(rbm, ok, { seed: 0, reconstruction: "mean" as "probs" }),
      /reconstruction must be "probs" or "sample"/,
    );
    const broken = { W: tf.tensor2d([[NaN]]), b: tf.tensor1d([0]), c: tf.tensor1d([0]) };
    assert.throws(() => pseudoLikelihood(broken, Float32Array.from([1]), { seed: 0 }), /NaN or Inf/);
    tf.dispose([broken.W, broken.b, broken.c]);
    disposeRBM(rbm);
  }));
