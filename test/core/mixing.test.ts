/**
 * Exact analysis of block-Gibbs chains (lib/core/mixing.ts) checked against truth: a float64
 * brute-force kernel, the exact p(v) as its stationary distribution, chains whose spectrum and
 * autocorrelation are known in closed form, many sampled chains against the exact t-step
 * distribution, bad input, and tensor leaks (every test runs inside noLeak).
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { allBinaryStates, exactVisibleMarginal } from "../../lib/core/exact";
import {
  empiricalDistribution,
  evolveDistribution,
  exactAutocorrelation,
  gibbsKernel,
  sampledAutocorrelation,
  sampleStates,
  secondEigenvalue,
  stateIndices,
  stateVectors,
  stepDistribution,
  tvDistance,
} from "../../lib/core/mixing";
import { Rng } from "../../lib/core/random";
import { disposeRBM, makeRBM } from "../../lib/core/rbm";
import { gibbsChain } from "../../lib/core/sampling";
import { noLeak } from "../support/assert";
import { bits, randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

/** A test whose body must leave exactly as many tensors as it found. */
function leakFreeTest(name: string, body: () => void): void {
  test(name, () => noLeak(name, body));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** T[s][s'] = Σ_h p(h | v=s) p(v=s' | h) in float64 straight from the conditionals. */
function bruteForceKernel(W: number[][], b: number[], c: number[]): number[][] {
  const nV = b.length;
  const nH = c.length;
  const bern = (a: number, x: number) => sigmoid(x ? a : -a); // p(x | input a), 1 − σ(a) as σ(−a): no cancellation
  const pHgivenV = (v: number[], h: number[]) =>
    h.reduce((acc, hj, j) => acc * bern(c[j] + v.reduce((a, vi, i) => a + vi * W[i][j], 0), hj), 1);
  const pVgivenH = (v: number[], h: number[]) =>
    v.reduce((acc, vi, i) => acc * bern(b[i] + h.reduce((a, hj, j) => a + W[i][j] * hj, 0), vi), 1);
  return Array.from({ length: 2 ** nV }, (_, s) =>
    Array.from({ length: 2 ** nV }, (_, s2) => {
      let t = 0;
      for (let sh = 0; sh < 2 ** nH; sh++) t += pHgivenV(bits(s, nV), bits(sh, nH)) * pVgivenH(bits(s2, nV), bits(sh, nH));
      return t;
    }),
  );
}

/** T = λ I + (1 − λ) 1 pᵀ: stationary p, eigenvalues 1 and λ (S − 1 times). */
function lazyIndependenceKernel(p: number[], lambda: number): number[][] {
  return p.map((_, s) => p.map((ps2, s2) => (s === s2 ? lambda : 0) + (1 - lambda) * ps2));
}

/** Two states that swap with probability a: ρ(τ) = (1 − 2a)^τ for f = the state, λ₂ = |1 − 2a|. */
const flipKernel = (a: number) => [
  [1 - a, a],
  [a, 1 - a],
];

leakFreeTest("gibbsKernel equals the float64 brute-force kernel; rows sum to 1; exact p(v) is stationary and in detailed balance", () => {
  const { rbm, W, b, c } = randomRBM(4, 3, 11, 1.5);
  const T = gibbsKernel(rbm);
  const ref = bruteForceKernel(W, b, c);
  assert.equal(T.length, 16);
  for (let s = 0; s < 16; s++) {
    assert.equal(T[s].length, 16);
    assert.ok(maxAbsDiff(T[s], ref[s]) < 1e-6, `row ${s}: ${maxAbsDiff(T[s], ref[s])}`);
    assert.ok(Math.abs(T[s].reduce((a, x) => a + x, 0) - 1) < 1e-5, `row ${s} sums to ${T[s].reduce((a, x) => a + x, 0)}`);
  }
  const p = exactVisibleMarginal(rbm).probs;
  assert.ok(maxAbsDiff(stepDistribution(p, T), p) < 1e-6, "p T = p");
  for (let s = 0; s < 16; s++) for (let s2 = 0; s2 < 16; s2++) assert.ok(Math.abs(p[s] * T[s][s2] - p[s2] * T[s2][s]) < 1e-7);
  disposeRBM(rbm);
});

leakFreeTest("gibbsKernel keeps tiny transition probabilities (log space) instead of rounding them to 0", () => {
  // Large weights: some transitions have probability below 1e-15, where 1 − σ(a) in float32 is 0.
  const { rbm, W, b, c } = randomRBM(3, 2, 5, 40);
  const T = gibbsKernel(rbm);
  const ref = bruteForceKernel(W, b, c);
  assert.ok(Math.min(...ref.flat()) < 1e-15, `smallest transition probability ${Math.min(...ref.flat())}`);
  for (let s = 0; s < 8; s++) {
    for (let s2 = 0; s2 < 8; s2++) {
      if (ref[s][s2] > 1e-30) assert.ok(T[s][s2] > 0, `T[${s}][${s2}] = 0 but is ${ref[s][s2]}`);
      if (ref[s][s2] > 1e-30 && ref[s][s2] < 1e-3) {
        assert.ok(Math.abs(Math.log(T[s][s2] / ref[s][s2])) < 1e-2, `T[${s}][${s2}] = ${T[s][s2]} vs ${ref[s][s2]}`);
      }
    }
  }
  disposeRBM(rbm);
});

leakFreeTest("stepDistribution is the row vector times the matrix; evolveDistribution repeats it and converges to p(v)", () => {
  const T = [
    [0.5, 0.5, 0],
    [0.25, 0.5, 0.25],
    [0, 0.5, 0.5],
  ];
  assert.deepEqual(Array.from(stepDistribution([1, 0, 0], T)), [0.5, 0.5, 0]);
  assert.ok(maxAbsDiff(stepDistribution([0.2, 0.3, 0.5], T), [0.175, 0.5, 0.325]) < 1e-15);

  const { rbm } = randomRBM(4, 3, 12);
  const kernel = gibbsKernel(rbm);
  const p = exactVisibleMarginal(rbm).probs;
  const delta0 = Float64Array.from({ length: 16 }, (_, s) => (s === 0 ? 1 : 0));
  const pts = evolveDistribution(delta0, kernel, 200);
  assert.equal(pts.length, 200);
  assert.deepEqual(Array.from(delta0), [1, ...new Array(15).fill(0)], "p0 is not modified");
  assert.ok(maxAbsDiff(pts[0], kernel[0]) < 1e-15, "p_1 = row 0 of T");
  assert.ok(maxAbsDiff(pts[2], stepDistribution(stepDistribution(kernel[0], kernel), kernel)) < 1e-15, "p_3 = δ₀ T³");
  for (const pt of pts) assert.ok(Math.abs(pt.reduce((a, x) => a + x, 0) - 1) < 1e-5);
  const tv = pts.map((pt) => tvDistance(pt, p));
  for (let t = 1; t < tv.length; t++) assert.ok(tv[t] <= tv[t - 1] + 1e-7, `TV grew at t = ${t + 1}: ${tv[t - 1]} → ${tv[t]}`);
  assert.ok(tv[0] > 0.1, `TV after one step ${tv[0]}`);
  // Down to float32 level: the kernel's rows sum to 1 ± 1e-7, so p_t drifts by that much per step.
  assert.ok(tv[199] < 1e-5, `TV after 200 steps ${tv[199]}`);
  disposeRBM(rbm);
});

leakFreeTest("tvDistance: 0 for identical, 1 for disjoint, ½ Σ|p − q| by hand, and max over events A of |p(A) − q(A)|", () => {
  assert.equal(tvDistance([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0);
  assert.equal(tvDistance([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]), 1);
  assert.ok(Math.abs(tvDistance([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]) - 0.3) < 1e-15);
  // The max-over-events form, by enumerating all 2^6 events of two random distributions.
  const rng = new Rng(3);
  const normalise = (x: number[]) => x.map((v) => v / x.reduce((a, y) => a + y, 0));
  const p = normalise(Array.from({ length: 6 }, () => rng.uniform()));
  const q = normalise(Array.from({ length: 6 }, () => rng.uniform()));
  let best = 0;
  for (let A = 0; A < 64; A++) {
    let d = 0;
    for (let s = 0; s < 6; s++) if ((A >> s) & 1) d += p[s] - q[s];
    best = Math.max(best, Math.abs(d));
  }
  assert.ok(Math.abs(tvDistance(p, q) - best) < 1e-15, `${tvDistance(p, q)} vs ${best}`);
  assert.equal(tvDistance(p, q), tvDistance(q, p));
});

leakFreeTest("stateIndices, stateVectors and empiricalDistribution: bit i of s is unit i, round trips, hand counts", () => {
  assert.deepEqual(Array.from(stateIndices([1, 0, 1, 0, 1, 1, 0, 0, 0], 3)), [5, 6, 0]);
  assert.deepEqual(Array.from(stateIndices(new Float32Array([0.9, 0.2]), 1)), [1, 0], "values > 0.5 count as 1");
  const all = allBinaryStates(5);
  assert.deepEqual(
    Array.from(stateIndices(all.dataSync(), 5)),
    Array.from({ length: 32 }, (_, s) => s),
  );
  const v = stateVectors([5, 6, 0, 31], 5);
  assert.deepEqual(v.shape, [4, 5]);
  assert.deepEqual(Array.from(v.dataSync()), [1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(stateIndices(v.dataSync(), 5)), [5, 6, 0, 31]);
  tf.dispose([all, v]);
  const q = empiricalDistribution([3, 1, 3, 3], 2);
  assert.ok(maxAbsDiff(q, [0, 0.25, 0, 0.75]) < 1e-15);
  assert.equal(empiricalDistribution([0], 3).length, 8);
});

leakFreeTest("sampleStates: seeded, a continued Rng continues its stream, frequencies approach p", () => {
  const p = [0.1, 0, 0.6, 0.3];
  assert.deepEqual(sampleStates(p, 50, 7), sampleStates(p, 50, 7));
  assert.notDeepEqual(sampleStates(p, 50, 7), sampleStates(p, 50, 8));
  const rng = new Rng(9);
  const both = [...sampleStates(p, 20, rng), ...sampleStates(p, 30, rng)];
  assert.deepEqual(both, Array.from(sampleStates(p, 50, 9)));
  const draws = sampleStates(p, 100000, 1);
  assert.ok(!draws.includes(1), "a state of probability 0 is never drawn");
  const tv = tvDistance(empiricalDistribution(draws, 2), p);
  assert.ok(tv < 0.005, `TV of 100,000 draws ${tv}`);
  assert.equal(sampleStates(p, 0, 1).length, 0);
});

leakFreeTest("the empirical distribution of 20,000 Gibbs chains after t steps matches the exact p_t = δ₀ Tᵗ", () => {
  const { rbm } = randomRBM(4, 3, 13, 2);
  const kernel = gibbsKernel(rbm);
  const steps = 4;
  const exact = evolveDistribution(
    Float64Array.from({ length: 16 }, (_, s) => (s === 0 ? 1 : 0)),
    kernel,
    steps,
  );
  const v0 = tf.zeros([20000, 4]) as tf.Tensor2D;
  const run = gibbsChain(v0, rbm, { steps, seed: 21, every: 1 });
  tf.dispose([v0, run.v, run.vProbs]);
  // E[TV] of N draws over 16 states is at most ½ √(2·16 / (π N)) ≈ 0.011 for N = 20,000.
  run.records.forEach((rec, t) => {
    const tv = tvDistance(empiricalDistribution(stateIndices(rec.values, 4), 4), exact[t]);
    assert.ok(tv < 0.025, `step ${t + 1}: TV(chains, exact p_t) = ${tv}`);
  });
  // And the chains have really moved: at step 1 they are far from p(v) but close to p_1.
  assert.ok(tvDistance(exact[0], exactVisibleMarginal(rbm).probs) > 0.1);
  disposeRBM(rbm);
});

leakFreeTest("secondEigenvalue: λ for λI + (1 − λ)1pᵀ and |1 − 2a| for the two-state flip; the TV decay rate of an RBM chain", () => {
  const p = [0.1, 0.2, 0.3, 0.4];
  for (const lambda of [0.3, 0.9]) {
    const l2 = secondEigenvalue(lazyIndependenceKernel(p, lambda), p);
    assert.ok(Math.abs(l2 - lambda) < 1e-12, `λ = ${lambda}: ${l2}`);
  }
  assert.ok(Math.abs(secondEigenvalue(flipKernel(0.2), [0.5, 0.5], 50) - 0.6) < 1e-12);
  // For an RBM chain, TV(p_t, p) shrinks by a factor λ₂ per step once the other modes have died out
  // (a slowly mixing one, λ₂ ≈ 0.88, so that at t = 40 the distance is still far above float32 noise).
  const { rbm } = randomRBM(4, 3, 17, 4);
  const kernel = gibbsKernel(rbm);
  const pv = exactVisibleMarginal(rbm).probs;
  const l2 = secondEigenvalue(kernel, pv);
  assert.ok(l2 > 0 && l2 < 1, `λ₂ = ${l2}`);
  const pts = evolveDistribution(
    Float64Array.from({ length: 16 }, (_, s) => (s === 0 ? 1 : 0)),
    kernel,
    40,
  );
  const rate = tvDistance(pts[39], pv) / tvDistance(pts[38], pv);
  assert.ok(Math.abs(rate - l2) < 1e-3, `TV ratio ${rate} vs λ₂ ${l2}`);
  disposeRBM(rbm);
});

leakFreeTest(
  "exactAutocorrelation: ρ(0) = 1, ρ(τ) = (1 − 2a)^τ and τ_int = (1 + λ)/(1 − λ) for the flip chain, 0 for independent draws",
  () => {
    const a = 0.15;
    const lambda = 1 - 2 * a;
    const flip = exactAutocorrelation({ kernel: flipKernel(a), stationary: [0.5, 0.5], f: [0, 1], maxLag: 10 });
    assert.equal(flip.rho.length, 11);
    flip.rho.forEach((r, lag) => assert.ok(Math.abs(r - lambda ** lag) < 1e-12, `lag ${lag}: ${r} vs ${lambda ** lag}`));
    assert.ok(Math.abs(flip.tauInt - (1 + lambda) / (1 - lambda)) < 1e-3, `τ_int ${flip.tauInt}`);
    assert.equal(flip.converged, true);
    const p = [0.1, 0.2, 0.3, 0.4];
    const indep = exactAutocorrelation({ kernel: lazyIndependenceKernel(p, 0), stationary: p, f: [3, -1, 0, 2], maxLag: 5 });
    assert.ok(Math.abs(indep.rho[0] - 1) < 1e-12);
    for (const r of indep.rho.slice(1)) assert.ok(Math.abs(r) < 1e-12);
    assert.ok(Math.abs(indep.tauInt - 1) < 1e-12);
    const stuck = exactAutocorrelation({ kernel: flipKernel(1e-6), stationary: [0.5, 0.5], f: [0, 1], maxLag: 3, lagLimit: 50 });
    assert.equal(stuck.converged, false, "τ_int truncated at lagLimit is reported");
  },
);

leakFreeTest("sampledAutocorrelation of equilibrium chains matches the exact one; same seed ⇒ same estimate", () => {
  const { rbm } = randomRBM(4, 3, 15, 2);
  const kernel = gibbsKernel(rbm);
  const pv = exactVisibleMarginal(rbm).probs;
  const f = Float64Array.from({ length: 16 }, (_, s) => bits(s, 4).reduce((x, y) => x + y, 0)); // number of units on
  const exact = exactAutocorrelation({ kernel, stationary: pv, f, maxLag: 8 });
  assert.ok(Math.abs(exact.rho[0] - 1) < 1e-12);
  assert.ok(exact.rho[1] > 0.05, `ρ(1) = ${exact.rho[1]}: the test needs a correlated chain`);
  const opts = { rbm, stationary: pv, f, maxLag: 8, nChains: 2000, seed: 4 };
  const est = sampledAutocorrelation(opts);
  assert.equal(est.length, 9);
  assert.ok(maxAbsDiff(est, exact.rho) < 0.05, `max |ρ̂ − ρ| = ${maxAbsDiff(est, exact.rho)}`);
  assert.deepEqual(sampledAutocorrelation(opts), est);
  assert.notDeepEqual(sampledAutocorrelation({ ...opts, seed: 5 }), est);
  disposeRBM(rbm);
});

leakFreeTest("bad input throws, naming the input", () => {
  // Too large to enumerate: nVisible + max(nVisible, nHidden) > 24.
  const wide = makeRBM(new Float32Array(13), new Array(13).fill(0), [0]);
  assert.throws(() => gibbsKernel(wide), /gibbsKernel: rbm is 13-1, too large to enumerate/);
  disposeRBM(wide);
  const deep = makeRBM(new Float32Array(2 * 23), [0, 0], new Array(23).fill(0));
  assert.throws(() => gibbsKernel(deep), /gibbsKernel: rbm is 2-23/);
  disposeRBM(deep);
  const nan = { W: tf.tensor2d([[NaN]]), b: tf.tensor1d([0]), c: tf.tensor1d([0]) };
  assert.throws(() => gibbsKernel(nan), /NaN or Inf/);
  disposeRBM(nan);

  const T = flipKernel(0.3);
  assert.throws(() => stepDistribution([1, 0, 0], T), /stepDistribution: p has 3 entries but the kernel is over 2 states/);
  assert.throws(() => stepDistribution([1, 0], [[1, 0], [1]]), /kernel must be square \[2\]\[2\], but row 1 has 1 entries/);
  assert.throws(() => evolveDistribution([1, 0], T, 0), /evolveDistribution: steps must be an integer ≥ 1, got 0/);
  assert.throws(() => evolveDistribution([1], T, 3), /evolveDistribution: p0 has 1 entries/);
  assert.throws(() => tvDistance([1, 0], [1, 0, 0]), /tvDistance: p has 2 entries but q has 3/);
  assert.throws(() => stateIndices([1, 0, 1], 2), /stateIndices: values has 3 entries, not a whole number of rows of n = 2/);
  assert.throws(() => stateIndices([1], 0), /stateIndices: n must be an integer in \[1, 24\], got 0/);
  assert.throws(() => stateVectors([4], 2), /stateVectors: states\[0\] = 4 is not a state index in \[0, 4\)/);
  assert.throws(() => empiricalDistribution([], 2), /empiricalDistribution: states is empty/);
  assert.throws(() => empiricalDistribution([0, 1.5], 2), /empiricalDistribution: states\[1\] = 1.5/);
  assert.throws(() => sampleStates([], 3, 1), /sampleStates: p is empty/);
  assert.throws(() => sampleStates([1], -1, 1), /sampleStates: count must be an integer ≥ 0, got -1/);
  assert.throws(() => secondEigenvalue(T, [0.5, 0.5], 0), /secondEigenvalue: iterations must be an integer ≥ 1, got 0/);
  assert.throws(() => secondEigenvalue(T, [1]), /secondEigenvalue: p has 1 entries/);
  const ok = { kernel: T, stationary: [0.5, 0.5], f: [0, 1], maxLag: 3 };
  assert.throws(() => exactAutocorrelation({ ...ok, f: [2, 2] }), /exactAutocorrelation: f is constant on the states where stationary > 0/);
  assert.throws(() => exactAutocorrelation({ ...ok, stationary: [1, 0] }), /f is constant on the states where stationary > 0/);
  assert.throws(() => exactAutocorrelation({ ...ok, f: [0, 1, 2] }), /exactAutocorrelation: f has 3 entries but stationary has 2/);
  assert.throws(() => exactAutocorrelation({ ...ok, stationary: [1] }), /exactAutocorrelation: stationary has 1 entries/);
  assert.throws(() => exactAutocorrelation({ ...ok, maxLag: -1 }), /exactAutocorrelation: maxLag must be an integer ≥ 0, got -1/);

  const { rbm } = randomRBM(2, 2, 1);
  const pv = exactVisibleMarginal(rbm).probs;
  const good = { rbm, stationary: pv, f: [0, 1, 1, 2], maxLag: 2, nChains: 10, seed: 1 };
  assert.throws(
    () => sampledAutocorrelation({ ...good, stationary: [0.5, 0.5] }),
    /sampledAutocorrelation: stationary has 2 entries but the rbm has 2\^2 = 4/,
  );
  assert.throws(() => sampledAutocorrelation({ ...good, nChains: 0 }), /sampledAutocorrelation: nChains must be an integer ≥ 1, got 0/);
  assert.throws(
    () => sampledAutocorrelation({ ...good, steps: 1 }),
    /sampledAutocorrelation: steps must be an integer ≥ max\(1, maxLag = 2\), got 1/,
  );
  assert.throws(() => sampledAutocorrelation({ ...good, f: [1, 1, 1, 1] }), /sampledAutocorrelation: f is constant/);
  disposeRBM(rbm);
});
