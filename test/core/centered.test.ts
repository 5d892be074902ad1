/**
 * The centered RBM against truth: float64 enumeration of the centered energy on tiny models, the
 * gradient against finite differences and against the exact plain gradient mapped by the chain rule.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import {
  type CenteredRBM,
  centeredEnergy,
  centeredGradient,
  centeredToPlain,
  disposeCentered,
  plainToCentered,
  shiftOffsets,
} from "../../lib/core/centered";
import { allBinaryStates, exactLogLikelihoodGradient, exactVisibleMarginal } from "../../lib/core/exact";
import { logSumExp } from "../../lib/core/numerics";
import { Rng } from "../../lib/core/random";
import { disposeRBM, hiddenProbs, type RBM } from "../../lib/core/rbm";
import { close, noLeak } from "../support/assert";
import { bits, joint64, randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

/** Plain JS copies of a centered model's parameters. */
interface Centered64 {
  W: number[][];
  b: number[];
  c: number[];
  mu: number[];
  lambda: number[];
}

function read(m: CenteredRBM): Centered64 {
  const [nV, nH] = m.W.shape;
  const w = m.W.dataSync();
  return {
    W: Array.from({ length: nV }, (_, i) => Array.from(w.subarray(i * nH, (i + 1) * nH))),
    b: Array.from(m.b.dataSync()),
    c: Array.from(m.c.dataSync()),
    mu: Array.from(m.mu.dataSync()),
    lambda: Array.from(m.lambda.dataSync()),
  };
}

/** E(v, h) = −(v − μ)ᵀW(h − λ) − bᵀ(v − μ) − cᵀ(h − λ), float64, straight from the definition. */
function centeredEnergy64(v: number[], h: number[], p: Centered64): number {
  let e = 0;
  for (let i = 0; i < v.length; i++) e -= p.b[i] * (v[i] - p.mu[i]);
  for (let j = 0; j < h.length; j++) e -= p.c[j] * (h[j] - p.lambda[j]);
  for (let i = 0; i < v.length; i++) for (let j = 0; j < h.length; j++) e -= (v[i] - p.mu[i]) * p.W[i][j] * (h[j] - p.lambda[j]);
  return e;
}

/** log p(v) of every visible state by enumerating (v, h) with the centered energy, float64. */
function logProbs64(p: Centered64): number[] {
  const nV = p.b.length;
  const nH = p.c.length;
  const marg = Array.from({ length: 2 ** nV }, (_, sv) =>
    logSumExp(Array.from({ length: 2 ** nH }, (_, sh) => -centeredEnergy64(bits(sv, nV), bits(sh, nH), p))),
  );
  const logZ = logSumExp(marg);
  return marg.map((x) => x - logZ);
}

function randomCentered(nV: number, nH: number, seed: number): { model: CenteredRBM; plain: RBM } {
  const { rbm } = randomRBM(nV, nH, seed, 1);
  const rng = new Rng(seed + 100);
  const mu = tf.tensor1d(Float32Array.from({ length: nV }, () => rng.uniform()));
  const lambda = tf.tensor1d(Float32Array.from({ length: nH }, () => rng.uniform()));
  const model = plainToCentered(rbm, mu, lambda);
  tf.dispose([mu, lambda]);
  return { model, plain: rbm };
}

test("centeredEnergy matches the definition on every state of a 4-3 centered RBM", () => {
  const { model, plain } = randomCentered(4, 3, 1);
  const p = read(model);
  noLeak("centeredEnergy", () => {
    const v = allBinaryStates(4);
    for (let sh = 0; sh < 8; sh++) {
      const h = tf.tidy(() => tf.tile(tf.tensor2d([bits(sh, 3)]), [16, 1])) as tf.Tensor2D;
      const e = centeredEnergy(v, h, model);
      const got = e.dataSync();
      for (let sv = 0; sv < 16; sv++) close(got[sv], centeredEnergy64(bits(sv, 4), bits(sh, 3), p), 1e-5, `E(v=${sv}, h=${sh})`);
      tf.dispose([e, h]);
    }
    v.dispose();
  });
  disposeCentered(model);
  disposeRBM(plain);
});

test("centered → plain leaves log p(v) unchanged (1e-6) and plain → centered → plain is the identity", () => {
  const { model, plain } = randomCentered(5, 4, 2);
  const centered = logProbs64(read(model));
  const back = noLeak("centeredToPlain", () => centeredToPlain(model), { returned: 3 });
  const W = Array.from({ length: 5 }, (_, i) => Array.from(back.W.dataSync().subarray(i * 4, (i + 1) * 4)));
  const { p } = joint64(W, Array.from(back.b.dataSync()), Array.from(back.c.dataSync()));
  for (let sv = 0; sv < 32; sv++) close(Math.log(p[sv].reduce((a, x) => a + x, 0)), centered[sv], 1e-6, `log p(v=${sv})`);
  const [b0, b1, c0, c1] = [plain.b.dataSync(), back.b.dataSync(), plain.c.dataSync(), back.c.dataSync()];
  b0.forEach((x, i) => close(b1[i], x, 1e-6, `b[${i}] after the round trip`));
  c0.forEach((x, j) => close(c1[j], x, 1e-6, `c[${j}] after the round trip`));
  disposeRBM(back);
  disposeCentered(model);
  disposeRBM(plain);
});

test("moving the offsets with shiftOffsets leaves log p(v) unchanged, and the biases do change", () => {
  const { model, plain } = randomCentered(5, 3, 3);
  const before64 = logProbs64(read(model));
  const mu = tf.tensor1d([0.9, 0.1, 0.5, 0.3, 0.7]);
  const lambda = tf.tensor1d([0.2, 0.8, 0.6]);
  const moved = noLeak("shiftOffsets", () => shiftOffsets(model, mu, lambda), { returned: 5 });
  const after = read(moved);
  logProbs64(after).forEach((x, sv) => close(x, before64[sv], 1e-6, `log p(v=${sv}) after moving the offsets`));
  assert.deepEqual(Array.from(moved.mu.dataSync()), Array.from(mu.dataSync()));
  const shift = Math.max(...after.b.map((x, i) => Math.abs(x - read(model).b[i])));
  assert.ok(shift > 0.05, `the visible bias must compensate the move (largest change ${shift})`);
  tf.dispose([mu, lambda]);
  disposeCentered(moved);
  disposeCentered(model);
  disposeRBM(plain);
});

/** The exact centered gradient from centeredGradient: data rows with p(h|v), all states weighted by p(v). */
function exactCenteredGradient(model: CenteredRBM, data: tf.Tensor2D): { dW: Float32Array; db: Float32Array; dc: Float32Array } {
  return tf.tidy(() => {
    const plain = centeredToPlain(model);
    const states = allBinaryStates(model.W.shape[0]);
    const pv = tf.tensor1d(Float32Array.from(exactVisibleMarginal(plain).probs));
    const g = centeredGradient(
      { v: data, h: hiddenProbs(data, plain), weight: 1 / data.shape[0] },
      { v: states, h: hiddenProbs(states, plain), weight: pv },
      model.mu,
      model.lambda,
    );
    const out = { dW: g.dW.dataSync() as Float32Array, db: g.db.dataSync() as Float32Array, dc: g.dc.dataSync() as Float32Array };
    disposeRBM(plain);
    return out;
  });
}

test("the centered gradient equals finite differences of the exact log-likelihood in centered coordinates", () => {
  const { model, plain } = randomCentered(4, 3, 4);
  const rows = [bits(3, 4), bits(12, 4), bits(5, 4), bits(15, 4), bits(3, 4)];
  const data = tf.tensor2d(rows);
  const g = noLeak("centeredGradient", () => exactCenteredGradient(model, data));
  const p = read(model);
  const meanLL = (q: Centered64) => {
    const lp = logProbs64(q);
    return rows.reduce((s, v) => s + lp[v.reduce((a, x, i) => a + x * 2 ** i, 0)], 0) / rows.length;
  };
  const d = 1e-5;
  const fd = (set: (q: Centered64, x: number) => void) => {
    const up = structuredClone(p);
    const down = structuredClone(p);
    set(up, d);
    set(down, -d);
    return (meanLL(up) - meanLL(down)) / (2 * d);
  };
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 3; j++)
      close(
        g.dW[i * 3 + j],
        fd((q, x) => (q.W[i][j] += x)),
        1e-5,
        `∂/∂W[${i}][${j}]`,
      );
    close(
      g.db[i],
      fd((q, x) => (q.b[i] += x)),
      1e-5,
      `∂/∂b[${i}]`,
    );
  }
  for (let j = 0; j < 3; j++)
    close(
      g.dc[j],
      fd((q, x) => (q.c[j] += x)),
      1e-5,
      `∂/∂c[${j}]`,
    );
  data.dispose();
  disposeCentered(model);
  disposeRBM(plain);
});

test("the centered gradient is the exact plain gradient mapped by the chain rule: ∂W_c = ∂W − μ∂cᵀ − ∂b λᵀ", () => {
  const { model, plain } = randomCentered(5, 4, 5);
  const data = tf.tensor2d([bits(7, 5), bits(24, 5), bits(31, 5), bits(0, 5)]);
  const g = exactCenteredGradient(model, data);
  const same = centeredToPlain(model);
  const e = exactLogLikelihoodGradient(data, same);
  const mu = model.mu.dataSync();
  const lambda = model.lambda.dataSync();
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 4; j++) {
      close(g.dW[i * 4 + j], e.dW[i * 4 + j] - mu[i] * e.dc[j] - e.db[i] * lambda[j], 1e-5, `∂W_c[${i}][${j}]`);
    }
    close(g.db[i], e.db[i], 1e-5, `∂b_c[${i}]`);
  }
  for (let j = 0; j < 4; j++) close(g.dc[j], e.dc[j], 1e-5, `∂c_c[${j}]`);
  // With zero offsets it is the plain gradient itself.
  const [mu0, lambda0] = [tf.zeros([5]) as tf.Tensor1D, tf.zeros([4]) as tf.Tensor1D];
  const zeros = plainToCentered(same, mu0, lambda0);
  tf.dispose([mu0, lambda0]);
  const g0 = exactCenteredGradient(zeros, data);
  g0.dW.forEach((x, k) => close(x, e.dW[k], 1e-5, `plain ∂W[${k}]`));
  tf.dispose(data);
  disposeCentered(zeros);
  disposeRBM(same);
  disposeCentered(model);
  disposeRBM(plain);
});

test("offsets of the wrong size are refused with a message naming both shapes", () => {
  const { rbm } = randomRBM(4, 3, 6);
  const mu = tf.zeros([3]) as tf.Tensor1D;
  const lambda = tf.zeros([3]) as tf.Tensor1D;
  assert.throws(() => plainToCentered(rbm, mu, lambda), /mu \[4\] \(nVisible\).*got mu \[3\]/);
  tf.dispose([mu, lambda]);
  disposeRBM(rbm);
});
