/**
 * The trustworthy log-likelihood (lib/eval/bounds.ts) against exact enumeration: every guaranteed bound
 * holds, AIS from both bases and RAISE agree with exact log Z within 0.1 nats on random models and
 * on one trained on MNIST, RAISE's weight is unbiased for its forward model (brute force), and a
 * model with a planted mode fools data-base AIS by tens of nats while the combined result says so.
 */

import assert from "node:assert/strict";
import { after, before, type TestContext, test } from "node:test";
import { initBackend } from "../../lib/compute/backend";
import { exactLogZ, exactVisibleMarginal } from "../../lib/core/exact";
import { softplus64 } from "../../lib/core/numerics";
import { Rng } from "../../lib/core/random";
import { disposeRBM, initRBM, makeRBM, type RBM, randomRBM } from "../../lib/core/rbm";
import { annealedLogZBases } from "../../lib/eval/ais";
import { hardLogZLowerBound, meanFieldLogZLower } from "../../lib/eval/bounds";
import { exactLogLikelihood } from "../../lib/eval/metrics";
import { sampleModel } from "../../lib/eval/model-samples";
import { plantMode } from "../../lib/eval/plant-mode";
import { raiseLogZ } from "../../lib/eval/raise";
import { negFreeEnergies, VisitedStates } from "../../lib/eval/states";
import { type TrustworthyLogLikelihood, trustworthyLogLikelihood } from "../../lib/eval/trust";
import { binarize, type Dataset, loadMnist } from "../../lib/io/data";
import { trainRBM } from "../../lib/train/cd";
import { close, noLeakAsync } from "../support/assert";
import { bits } from "../support/reference";

let mnistTrain: Dataset;
let mnistTest: Dataset;
let trained: RBM;

before(async () => {
  await initBackend({ quiet: true });
  mnistTrain = binarize(loadMnist({ split: "train", limit: 2000 }), { mode: "sample", seed: 1 });
  mnistTest = binarize(loadMnist({ split: "test", limit: 500 }), { mode: "sample", seed: 2 });
  const rbm0 = initRBM(784, 12, { method: "hinton", data: mnistTrain, seed: 1 });
  const r = await trainRBM(rbm0, mnistTrain, {
    epochs: 2,
    learningRate: 0.05,
    initialMomentum: 0,
    finalMomentum: 0,
    seed: 1,
    progress: false,
  });
  disposeRBM(rbm0);
  trained = r.rbm;
});

after(() => disposeRBM(trained));

/** Uniform random binary rows `[n, d]`. */
function randomRows(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * d }, () => (rng.uniform() < 0.5 ? 1 : 0));
}

/** n exact samples of p(v) `[n, nVisible]` (inverse CDF over the enumerated marginal): a model's own "test set". */
function exactSamples(rbm: RBM, n: number, seed: number): Float32Array {
  const { probs, n: d } = exactVisibleMarginal(rbm);
  const cdf = new Float64Array(probs.length);
  let acc = 0;
  probs.forEach((p, i) => (cdf[i] = acc += p));
  const rng = new Rng(seed);
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const u = rng.uniform() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out.set(bits(lo, d), r * d);
  }
  return out;
}

/** Prints every number of a result beside the exact values. */
function report(t: TestContext, what: string, r: TrustworthyLogLikelihood, exact: number, llExact: number): void {
  const f = (x: number) => x.toFixed(3);
  for (const e of r.estimates) {
    t.diagnostic(
      `${what} [${e.base} base]: exact log Z ${f(exact)} | AIS ${f(e.ais.logZ)} ±${f(3 * e.ais.logZStd)} (error ${f(e.ais.logZ - exact)}, ` +
        `ESS ${e.ais.ess.toFixed(1)}/${e.ais.runs}) | RAISE ${f(e.raise.logZ)} ±${f(3 * e.raise.logZStd)} (error ${f(e.raise.logZ - exact)})`,
    );
  }
  t.diagnostic(
    `${what}: guaranteed log Z ≥ ${f(r.hardLogZLower)} (visible states ${f(r.hard.visibleLogZLower)}, hidden states ` +
      `${f(r.hard.hiddenLogZLower)}, mean field ${f(r.hard.meanFieldLogZLower)}) | test LL exact ${f(llExact)}, estimate ` +
      `${f(r.logLikelihood)}, bracket [${f(r.bracket[0])}, ${f(r.bracket[1])}] (RAISE lower ${f(r.raiseLower)}, hard upper ` +
      `${f(r.hardUpper)}) | ${r.seconds.total.toFixed(1)} s${r.warning ? ` | warning: ${r.warning}` : ""}`,
  );
}

/** Every bound holds; every estimate (from both bases) is within `tol` of exact; no warning. */
function assertTrustworthy(r: TrustworthyLogLikelihood, exact: number, llExact: number, tol: number, what: string): void {
  // exactLogZ sums float32 free energies: allow 1e-3 nats of rounding on the guaranteed side.
  assert.ok(r.hardLogZLower <= exact + 1e-3, `${what}: guaranteed log Z ≥ ${r.hardLogZLower} exceeds exact ${exact}`);
  assert.ok(r.hardUpper >= llExact - 1e-3, `${what}: guaranteed LL ≤ ${r.hardUpper} is below exact ${llExact}`);
  assert.ok(r.raiseLower <= llExact, `${what}: RAISE lower end ${r.raiseLower} above exact LL ${llExact}`);
  assert.ok(r.bracket[0] <= llExact && llExact <= r.bracket[1] + 1e-3, `${what}: bracket [${r.bracket}] misses exact LL ${llExact}`);
  for (const e of r.estimates) {
    close(e.ais.logZ, exact, tol, `${what}: AIS (${e.base} base) log Z`);
    close(e.raise.logZ, exact, tol, `${what}: RAISE (${e.base} base) log Z`);
    assert.ok(e.ais.logZLower <= exact && exact <= e.ais.logZUpper + tol, `${what}: AIS (${e.base}) band misses exact`);
  }
  close(r.logLikelihood, llExact, tol, `${what}: test log-likelihood`);
  assert.equal(r.warning, undefined, `${what}: unexpected warning: ${r.warning}`);
}

test("visited states are deduplicated by their bits; with every state visited the sums ARE log Z; mean field stays below", () =>
  noLeakAsync("the bounds and sums", async () => {
    const rbm = randomRBM(8, 6, { seed: 5, scale: 1.5 });
    const exact = exactLogZ(rbm);
    const S = new VisitedStates(3);
    const rows = Float32Array.from([1, 0, 1, 1, 0, 1, 0, 0, 1]);
    assert.equal(S.add(rows, 0, 1), true);
    assert.equal(S.add(rows, 1, 1), false, "the same bits again");
    assert.equal(S.add(rows, 2, 2), true);
    close(S.logSumExp(), Math.log(Math.exp(1) + Math.exp(2)), 1e-12, "log-sum-exp of the distinct states");
    // All 256 visible vectors (each twice) as "data": the visible sum is exactly log Z.
    const all = new Float32Array(2 * 256 * 8);
    for (let s = 0; s < 512; s++) all.set(bits(s % 256, 8), s * 8);
    const full = hardLogZLowerBound(rbm, { data: [all] });
    assert.equal(full.distinctVisible, 256);
    close(full.visibleLogZLower, exact, 1e-4, "Σ over all visible states");
    // Long chains of an 8-4 model visit all 16 hidden states: the hidden sum is exactly log Z too.
    const small = randomRBM(8, 4, { seed: 6, scale: 1 });
    const samples = await sampleModel(small, { seed: 3, chains: 20, steps: 300, progress: false });
    const chainsOnly = hardLogZLowerBound(small, { samples });
    const exactSmall = exactLogZ(small);
    assert.equal(chainsOnly.distinctHidden, 16);
    close(chainsOnly.hiddenLogZLower, exactSmall, 1e-4, "Σ over all hidden states");
    assert.ok(chainsOnly.visibleLogZLower <= exactSmall + 1e-4 && chainsOnly.meanFieldLogZLower <= exactSmall + 1e-4);
    disposeRBM(small);
    // Mean field from anywhere is a lower bound, and its fixed-point iteration only raises it.
    const starts = randomRows(30, 8, 9);
    const mf0 = meanFieldLogZLower(rbm, starts, { iterations: 0 });
    const mf = meanFieldLogZLower(rbm, starts, { iterations: 50 });
    assert.ok(mf0.logZLower <= mf.logZLower + 1e-9 && mf.logZLower <= exact, `mean field ${mf0.logZLower} → ${mf.logZLower} ≤ ${exact}`);
    // −F from negFreeEnergies agrees with log p(v) + log Z.
    const negF = negFreeEnergies(rbm, all.subarray(0, 256 * 8));
    close(Math.log(negF.reduce((s, x) => s + Math.exp(x), 0)), exact, 1e-4, "Σ exp(−F) over all states");
    disposeRBM(rbm);
  }));

/** Brute-force T_β(v' | v) = Σ_h p_β(h | v) p_β(v' | h) on the path of base bA, for nV, nH ≤ 6. */
function transitionMatrix(W: number[][], b: number[], c: number[], bA: number[], beta: number): number[][] {
  const nV = b.length;
  const nH = c.length;
  const sig = (a: number) => 1 / (1 + Math.exp(-a));
  const T = Array.from({ length: 2 ** nV }, () => new Array<number>(2 ** nV).fill(0));
  for (let sv = 0; sv < 2 ** nV; sv++) {
    const v = bits(sv, nV);
    for (let sh = 0; sh < 2 ** nH; sh++) {
      const h = bits(sh, nH);
      let ph = 1;
      for (let j = 0; j < nH; j++) {
        const p = sig(beta * (c[j] + v.reduce((s, vi, i) => s + vi * W[i][j], 0)));
        ph *= h[j] ? p : 1 - p;
      }
      const pv = b.map((bi, i) => sig((1 - beta) * bA[i] + beta * (bi + h.reduce((s, hj, j) => s + hj * W[i][j], 0))));
      for (let sv2 = 0; sv2 < 2 ** nV; sv2++) {
        const v2 = bits(sv2, nV);
        T[sv][sv2] += ph * v2.reduce((s, x, i) => s * (x ? pv[i] : 1 - pv[i]), 1);
      }
    }
  }
  return T;
}

test("RAISE's weight is unbiased for its forward model p_fwd (brute force, K = 2); AIS bases as importance sampling", async (t) => {
  const rng = new Rng(4);
  const nV = 5;
  const nH = 3;
  const W = Array.from({ length: nV }, () => Array.from({ length: nH }, () => 1.2 * rng.normal()));
  const b = Array.from({ length: nV }, () => 0.6 * rng.normal());
  const c = Array.from({ length: nH }, () => 0.6 * rng.normal());
  const rbm = makeRBM(W, b, c);
  const bA = [0.5, -1, 0.2, 1.5, -0.3];
  const base = { name: "test", visibleBias: Float32Array.from(bA) };
  // p_fwd(v) = Σ p_0(x_0) T_{0.5}(x_1 | x_0) T_1(v | x_1) with p_0 = Π σ(b_A).
  const T1 = transitionMatrix(W, b, c, bA, 0.5);
  const T2 = transitionMatrix(W, b, c, bA, 1);
  const p0 = Array.from({ length: 2 ** nV }, (_, s) =>
    bits(s, nV).reduce((p, x, i) => p * (x ? 1 / (1 + Math.exp(-bA[i])) : 1 / (1 + Math.exp(bA[i]))), 1),
  );
  const p1 = p0.map((_, s1) => p0.reduce((acc, p, s0) => acc + p * T1[s0][s1], 0));
  const pFwd = p0.map((_, s2) => p1.reduce((acc, p, s1) => acc + p * T2[s1][s2], 0));
  const testStates = [0, 7, 19, 31];
  const testRows = Float32Array.from(testStates.flatMap((s) => bits(s, nV)));
  const [r] = await raiseLogZ(rbm, testRows, [base], { seed: 8, runs: 40000, betas: [0, 0.5, 1], progress: false });
  const negF = negFreeEnergies(rbm, testRows);
  testStates.forEach((s, k) => {
    // ℓ_v = −F(v) − log p̂_fwd(v).
    const logPHat = negF[k] - r.perVector[k];
    t.diagnostic(`v = ${s}: log p_fwd ${Math.log(pFwd[s]).toFixed(4)}, RAISE ${logPHat.toFixed(4)}`);
    close(logPHat, Math.log(pFwd[s]), 0.02, `RAISE log p̂_fwd(v = ${s})`);
  });
  // With betas [0, 1] AIS is plain importance sampling from each base: mean weight = Z / Z_A exactly.
  const exact = exactLogZ(rbm);
  const ais = await annealedLogZBases(rbm, [base, { name: "uniform", visibleBias: new Float32Array(nV) }], {
    seed: 2,
    runs: 20000,
    betas: [0, 1],
    progress: false,
  });
  for (const a of ais) close(a.logZ, exact, 0.02, "importance sampling log Z");
  let logZA = nH * Math.LN2;
  for (const x of bA) logZA += softplus64(x);
  close(ais[0].logZBase, logZA, 1e-6, "log Z_A (of the float32 b_A)");
  disposeRBM(rbm);
});

test("random 20-15 models: AIS from both bases and RAISE within 0.1 nats of exact log Z; every bound holds", async (t) => {
  // Training and test rows are exact samples of the model (a model fitted perfectly to its data).
  for (const [seed, scale, K] of [
    [1, 1, 2000],
    [2, 2, 4000],
  ]) {
    const rbm = randomRBM(20, 15, { seed, scale });
    const exact = exactLogZ(rbm);
    const testRows = exactSamples(rbm, 200, 10 + seed);
    const llExact = exactLogLikelihood(rbm, testRows, { logZ: exact });
    const r = await trustworthyLogLikelihood(rbm, testRows, {
      trainData: exactSamples(rbm, 300, 20 + seed),
      seed: 30 + seed,
      runs: 100,
      betas: K,
      chains: 50,
      chainSteps: 500,
      progress: false,
    });
    report(t, `20-15 scale ${scale}`, r, exact, llExact);
    assertTrustworthy(r, exact, llExact, 0.1, `20-15 scale ${scale}`);
    disposeRBM(rbm);
  }
});

test("an RBM trained on MNIST with trainRBM (784-12): both bases, RAISE and the bounds against exact; no tensor leaks", async (t) => {
  const exact = exactLogZ(trained);
  const llExact = exactLogLikelihood(trained, mnistTest, { logZ: exact });
  const r = await noLeakAsync("trustworthyLogLikelihood", () =>
    trustworthyLogLikelihood(trained, mnistTest, {
      trainData: mnistTrain,
      seed: 3,
      runs: 50,
      betas: 500,
      chains: 50,
      chainSteps: 300,
      progress: false,
    }),
  );
  report(t, "784-12 trained", r, exact, llExact);
  assertTrustworthy(r, exact, llExact, 0.1, "784-12 trained");
  assert.ok(llExact < -100 && llExact > -300, `a briefly trained 784-12 RBM has log p(v) ≈ −200 nats, got ${llExact}`);
});

test("a planted mode the data path misses: data-base AIS is tens of nats too low, and the combined result flags it", async (t) => {
  // 3 extra hidden units (15 in all) joined to the top two rows of pixels, always off in MNIST.
  const rbm = plantMode(trained, { pixels: Array.from({ length: 56 }, (_, i) => i) });
  const exact = exactLogZ(rbm);
  const llExact = exactLogLikelihood(rbm, mnistTest, { logZ: exact });
  // A longer schedule than for the plain model: the model-sample base starts between the two modes.
  const r = await noLeakAsync("trustworthyLogLikelihood", () =>
    trustworthyLogLikelihood(rbm, mnistTest, {
      trainData: mnistTrain,
      seed: 3,
      runs: 50,
      betas: 2000,
      chains: 50,
      chainSteps: 300,
      progress: false,
    }),
  );
  report(t, "planted mode", r, exact, llExact);
  const [dataBase, sampleBase] = r.estimates;
  // The data-base AIS alone is wrong, confidently: far too low a log Z, with a band that excludes the truth.
  assert.ok(dataBase.ais.logZ < exact - 30, `data-base AIS ${dataBase.ais.logZ} should miss the mode (exact ${exact})`);
  assert.ok(dataBase.ais.logZUpper < exact, "and its ±3σ band does not cover the truth");
  assert.ok(dataBase.logLikelihood > llExact + 30, "so its log-likelihood is far too optimistic");
  // The model-sample base finds it (its runs split between the modes: a wider band, ±0.2–0.3 nats,
  // which covers the truth); the combined estimate and its bracket are right.
  const band = Math.max(0.1, 3 * sampleBase.ais.logZStd);
  close(sampleBase.ais.logZ, exact, band, "model-sample-base AIS log Z");
  assert.equal(r.trusted, "samples");
  close(r.logLikelihood, llExact, band, "combined test log-likelihood");
  assert.ok(r.hardLogZLower <= exact + 1e-3 && r.hardLogZLower > dataBase.ais.logZUpper, "the guaranteed bound exposes the data-base AIS");
  assert.ok(r.bracket[0] <= llExact && llExact <= r.bracket[1] + 1e-3, `bracket [${r.bracket}] misses ${llExact}`);
  // The warning names the wrong estimate, the right one and why.
  assert.ok(r.warning !== undefined, "a warning");
  assert.match(r.warning, /data-base AIS puts the test log-likelihood \d+\.\d+ nats ABOVE model-sample-base AIS/);
  assert.match(r.warning, /missed probability mass \(a mode/);
  assert.match(r.warning, /trust the larger log Z: model-sample-base AIS/);
  assert.match(r.warning, /GUARANTEED lower bound/);
  disposeRBM(rbm);
});

test("same seed ⇒ same numbers; different seed ⇒ different", async () => {
  const rbm = randomRBM(10, 6, { seed: 7, scale: 1 });
  const data = randomRows(50, 10, 1);
  const o = { trainData: data, runs: 20, betas: 100, chains: 10, chainSteps: 50, progress: false } as const;
  const a = await trustworthyLogLikelihood(rbm, data, { ...o, seed: 1 });
  const b = await trustworthyLogLikelihood(rbm, data, { ...o, seed: 1 });
  const c = await trustworthyLogLikelihood(rbm, data, { ...o, seed: 2 });
  assert.deepEqual(
    a.estimates.map((e) => [e.ais.logWeights, e.raise.perVector]),
    b.estimates.map((e) => [e.ais.logWeights, e.raise.perVector]),
  );
  assert.deepEqual(a.bracket, b.bracket);
  assert.notDeepEqual(a.estimates[0].ais.logWeights, c.estimates[0].ais.logWeights);
  disposeRBM(rbm);
});

test("bad inputs give one clear error each and leak nothing", () =>
  noLeakAsync("failed calls", async () => {
    const rbm = makeRBM(
      [
        [0.1, -0.2],
        [0.3, 0.4],
        [0, 1],
      ],
      [0, 0, 0],
      [0, 0],
    );
    const ok = Float32Array.from([1, 0, 1, 0, 0, 1]);
    const opts = { trainData: ok, seed: 1, runs: 4, betas: 10, chains: 2, chainSteps: 5, progress: false };
    await assert.rejects(trustworthyLogLikelihood(rbm, Float32Array.from([0, 0.5, 1]), opts), /testData.*not 0 or 1.*binari/);
    await assert.rejects(
      trustworthyLogLikelihood(rbm, ok, { ...opts, trainData: Float32Array.from([0, 0.5, 1]) }),
      /trainData.*not 0 or 1/,
    );
    await assert.rejects(trustworthyLogLikelihood(rbm, new Float32Array(4), opts), /not a whole number of rows of nVisible = 3/);
    await assert.rejects(trustworthyLogLikelihood(rbm, ok, { ...opts, runs: 0 }), /runs must be an integer ≥ 1, got 0/);
    await assert.rejects(trustworthyLogLikelihood(rbm, ok, { ...opts, betas: [0, 0.5] }), /betas must start at 0 and end at 1/);
    await assert.rejects(trustworthyLogLikelihood(rbm, ok, { ...opts, chains: 0 }), /chains must be an integer ≥ 1, got 0/);
    await assert.rejects(trustworthyLogLikelihood(rbm, ok, { ...opts, raiseVectors: 3 }), /vectors must be an integer in \[1, 2\]/);
    await assert.rejects(trustworthyLogLikelihood(rbm, ok, { ...opts, tolerance: -1 }), /tolerance must be ≥ 0/);
    await assert.rejects(
      sampleModel(rbm, { seed: 1, steps: 10, burnIn: 10, progress: false }),
      /burnIn must be an integer in \[0, steps\)/,
    );
    await assert.rejects(
      annealedLogZBases(rbm, [{ name: "x", visibleBias: new Float32Array(2) }], { seed: 1 }),
      /base "x" must have 3 finite visible biases/,
    );
    await assert.rejects(annealedLogZBases(rbm, [], { seed: 1 }), /at least one base/);
    assert.throws(() => hardLogZLowerBound(rbm, {}), /no states/);
    assert.throws(() => plantMode(rbm, { pixels: [0, 3] }), /pixels must be distinct integers in \[0, 3\)/);
    assert.throws(() => meanFieldLogZLower(rbm, ok, { iterations: -1 }), /iterations must be an integer ≥ 0/);
    disposeRBM(rbm);
  }));
