/**
 * Clamped block Gibbs (inpainting, tempered and evidence-driven chains) against the exact conditionals
 * of tiny RBMs, enumerated in float64 by the independent reference of test/support/reference.ts.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { tvDistance } from "../../lib/core/mixing";
import { disposeRBM } from "../../lib/core/rbm";
import { clampedGibbsChain, clampedGibbsStep } from "../../lib/core/sampling";
import { close, noLeak } from "../support/assert";
import { bits, joint64, randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

const N_V = 6;
const N_H = 4;

/** Exact p(v) of the reference joint table, indexed by the visible state. */
function visibleMarginal(W: number[][], b: number[], c: number[]): number[] {
  return joint64(W, b, c).p.map((row) => row.reduce((a, x) => a + x, 0));
}

/** Exact p(v_free | v_known) over the free units' states (bit j of the index = j-th free unit). */
function exactConditional(pv: number[], knownIdx: number[], values: number[]): number[] {
  const free = [...Array(N_V).keys()].filter((i) => !knownIdx.includes(i));
  const out = new Array(2 ** free.length).fill(0);
  for (let s = 0; s < pv.length; s++) {
    const v = bits(s, N_V);
    if (knownIdx.some((i, k) => v[i] !== values[k])) continue;
    out[free.reduce((a, i, j) => a + (v[i] << j), 0)] += pv[s];
  }
  const z = out.reduce((a, x) => a + x, 0);
  return out.map((x) => x / z);
}

/** Histogram of the free units of each row of `v` `[n, N_V]`. */
function freeHistogram(v: Float32Array, knownIdx: number[]): number[] {
  const free = [...Array(N_V).keys()].filter((i) => !knownIdx.includes(i));
  const h = new Array(2 ** free.length).fill(0);
  const n = v.length / N_V;
  for (let r = 0; r < n; r++) h[free.reduce((a, i, j) => a + (v[r * N_V + i] << j), 0)] += 1 / n;
  return h;
}

function clampTensors(n: number, knownIdx: number[], values: number[]) {
  const mask = new Float32Array(N_V);
  const vals = new Float32Array(n * N_V);
  knownIdx.forEach((i, k) => {
    mask[i] = 1;
    for (let r = 0; r < n; r++) vals[r * N_V + i] = values[k];
  });
  return { known: tf.tensor2d(mask, [1, N_V]), values: tf.tensor2d(vals, [n, N_V]) };
}

const CHAINS = 4000;

test("clamped chains sample p(v_free | v_known) exactly: histogram and Rao-Blackwellised marginals vs enumeration", () => {
  const { rbm, W, b, c } = randomRBM(N_V, N_H, 21, 1.5);
  const pv = visibleMarginal(W, b, c);
  const knownIdx = [0, 2, 5];
  const values = [1, 0, 1];
  const exact = exactConditional(pv, knownIdx, values);
  const clamp = clampTensors(CHAINS, knownIdx, values);
  const v0 = tf.zeros([CHAINS, N_V]) as tf.Tensor2D;
  noLeak(
    "clampedGibbsChain",
    () => {
      const r = clampedGibbsChain(v0, rbm, clamp, { steps: 30, burnIn: 10, seed: 3, every: 1 });
      const v = r.v.dataSync() as Float32Array;
      const tv = tvDistance(freeHistogram(v, knownIdx), exact);
      assert.ok(tv < 0.04, `TV(chain, exact conditional) = ${tv.toFixed(4)} with ${CHAINS} chains`);
      // The clamped pixels never changed, at any recorded step.
      for (const rec of r.records)
        for (let row = 0; row < CHAINS; row++)
          knownIdx.forEach((i, k) => assert.equal(rec.values[row * N_V + i], values[k], `step ${rec.step} row ${row} unit ${i}`));
      // Rao-Blackwellised marginals: the mean of p(v_i | h) over chains and steps after burn-in.
      const meanT = tf.mean(r.meanProbs, 0);
      const mean = meanT.dataSync();
      meanT.dispose();
      const free = [0, 1, 2, 3, 4, 5].filter((i) => !knownIdx.includes(i));
      free.forEach((i, j) => {
        const exactMarg = exact.reduce((a, p, s) => a + ((s >>> j) & 1) * p, 0);
        close(mean[i], exactMarg, 0.015, `p(v_${i} = 1 | v_known)`);
      });
      knownIdx.forEach((i, k) => close(mean[i], values[k], 0, `mean of the clamped v_${i}`));
      tf.dispose([r.v, r.vProbs, r.meanProbs]);
    },
    {},
  );
  tf.dispose([v0, clamp.known, clamp.values]);
  disposeRBM(rbm);
});

test("each row can have its own mask; a row with nothing known samples the model's p(v)", () => {
  const { rbm, W, b, c } = randomRBM(N_V, N_H, 22, 1.2);
  const pv = visibleMarginal(W, b, c);
  const n = CHAINS;
  // Rows 0 … n/2 − 1 know v_1 = 1 and v_3 = 0; the other rows know nothing.
  const mask = new Float32Array(n * N_V);
  const vals = new Float32Array(n * N_V);
  for (let r = 0; r < n / 2; r++) {
    mask[r * N_V + 1] = 1;
    mask[r * N_V + 3] = 1;
    vals[r * N_V + 1] = 1;
  }
  const clamp = { known: tf.tensor2d(mask, [n, N_V]), values: tf.tensor2d(vals, [n, N_V]) };
  const v0 = tf.ones([n, N_V]) as tf.Tensor2D;
  const r = clampedGibbsChain(v0, rbm, clamp, { steps: 30, seed: 4 });
  const v = r.v.dataSync() as Float32Array;
  const half = n / 2;
  const tvKnown = tvDistance(freeHistogram(v.subarray(0, half * N_V), [1, 3]), exactConditional(pv, [1, 3], [1, 0]));
  const tvFree = tvDistance(freeHistogram(v.subarray(half * N_V), []), pv);
  assert.ok(tvKnown < 0.06, `rows with a mask: TV = ${tvKnown.toFixed(4)}`);
  assert.ok(tvFree < 0.08, `rows without: TV to p(v) = ${tvFree.toFixed(4)}`);
  tf.dispose([r.v, r.vProbs, r.meanProbs, v0, clamp.known, clamp.values]);
  disposeRBM(rbm);
});

test("inverse temperature β: the chain samples p(v)^β, i.e. the RBM with βW, βb, βc", () => {
  const { rbm, W, b, c } = randomRBM(N_V, N_H, 23, 2);
  const beta = 0.4;
  const scaled = visibleMarginal(
    W.map((row) => row.map((w) => beta * w)),
    b.map((x) => beta * x),
    c.map((x) => beta * x),
  );
  const plain = visibleMarginal(W, b, c);
  const v0 = tf.zeros([CHAINS, N_V]) as tf.Tensor2D;
  const r = clampedGibbsChain(v0, rbm, undefined, { steps: 30, seed: 5, beta });
  const hist = freeHistogram(r.v.dataSync() as Float32Array, []);
  const tv = tvDistance(hist, scaled);
  assert.ok(tv < 0.08, `TV(β = ${beta} chain, p^β) = ${tv.toFixed(4)}`);
  assert.ok(tvDistance(scaled, plain) > 2 * tv, `the test must tell p^β from p: TV(p^β, p) = ${tvDistance(scaled, plain).toFixed(3)}`);
  tf.dispose([r.v, r.vProbs, r.meanProbs, v0]);
  disposeRBM(rbm);
});

test("evidence: Gibbs with log-odds e added to the visible input samples p(v) Π_i σ(±e_i)", () => {
  const { rbm, W, b, c } = randomRBM(N_V, N_H, 24, 1);
  const e = [2, -1, 0.5, 0, -3, 1];
  const pv = visibleMarginal(W, b, c);
  const post = pv.map((p, s) => p * Math.exp(bits(s, N_V).reduce((a, x, i) => a + x * e[i], 0)));
  const z = post.reduce((a, x) => a + x, 0);
  const evidence = tf.tile(tf.tensor2d([e], [1, N_V]), [CHAINS, 1]) as tf.Tensor2D;
  const v0 = tf.zeros([CHAINS, N_V]) as tf.Tensor2D;
  const r = clampedGibbsChain(v0, rbm, undefined, { steps: 30, seed: 6, evidence });
  const tv = tvDistance(
    freeHistogram(r.v.dataSync() as Float32Array, []),
    post.map((x) => x / z),
  );
  assert.ok(tv < 0.08, `TV(chain with evidence, exact posterior) = ${tv.toFixed(4)}`);
  tf.dispose([r.v, r.vProbs, r.meanProbs, v0, evidence]);
  disposeRBM(rbm);
});

test("clamped chains are seeded, free their tensors, and refuse bad clamps with the shape wanted", () => {
  const { rbm } = randomRBM(N_V, N_H, 25);
  const clamp = clampTensors(8, [0], [1]);
  const v0 = tf.zeros([8, N_V]) as tf.Tensor2D;
  const run = (seed: number) =>
    noLeak("clamped chain", () => {
      const r = clampedGibbsChain(v0, rbm, clamp, { steps: 5, seed });
      const out = r.v.dataSync().slice();
      tf.dispose([r.v, r.vProbs, r.meanProbs]);
      return out;
    });
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(run(1), run(2));
  const wrong = tf.zeros([3, N_V]) as tf.Tensor2D;
  assert.throws(
    () => clampedGibbsChain(v0, rbm, { values: wrong, known: clamp.known }, { steps: 1, seed: 0 }),
    /clamp\.values must be a live tensor \[8, 6\]/,
  );
  assert.throws(
    () => clampedGibbsChain(v0, rbm, { values: clamp.values, known: wrong }, { steps: 1, seed: 0 }),
    /clamp\.known must be a 0\/1 mask \[8, 6\] or \[1, 6\]/,
  );
  assert.throws(() => clampedGibbsChain(v0, rbm, clamp, { steps: 4, burnIn: 4, seed: 0 }), /burnIn must be an integer in \[0, steps − 1\]/);
  assert.throws(() => clampedGibbsChain(v0, rbm, clamp, { steps: 4, beta: Number.NaN, seed: 0 }), /beta \(inverse temperature\)/);
  // One step keeps the clamp too, in both the samples and the probabilities.
  const s = clampedGibbsStep(v0, rbm, clamp, 7);
  assert.ok(Array.from(s.v.dataSync()).every((x, i) => i % N_V !== 0 || x === 1));
  assert.ok(Array.from(s.vProbs.dataSync()).every((x, i) => i % N_V !== 0 || x === 1));
  tf.dispose([s.v, s.vProbs, s.h, s.hProbs, wrong, v0, clamp.known, clamp.values]);
  disposeRBM(rbm);
});
