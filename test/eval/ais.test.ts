/**
 * Annealed importance sampling checked against exact log Z (enumeration) on models small enough to
 * enumerate: random ones, and one trained briefly on MNIST. A wrong AIS silently misleads every
 * later chapter, so the tolerances are tight (0.1 nats) and the ±3σ band must cover the truth.
 */

import assert from "node:assert/strict";
import { before, type TestContext, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { exactLogProb, exactLogZ } from "../../lib/core/exact";
import { disposeRBM, initRBM, makeRBM, randomRBM } from "../../lib/core/rbm";
import { aisLogLikelihood, annealedLogZ } from "../../lib/eval/ais";
import { type AISResult, aisBetas, baseRateVisibleBias, SM_N_BETAS } from "../../lib/eval/anneal";
import { exactLogLikelihood } from "../../lib/eval/metrics";
import { binarize, loadMnist } from "../../lib/io/data";
import { close, noLeak, noLeakAsync } from "../support/assert";
import { plainCD1 } from "../support/training";

before(async () => {
  await initBackend({ quiet: true });
});

/** Asserts that AIS agrees with the exact value within `tol` and that its ±3σ band covers it. */
function assertAgrees(t: TestContext, ais: AISResult, exact: number, tol: number, what: string): void {
  t.diagnostic(
    `${what}: exact ${exact.toFixed(4)}, AIS ${ais.logZ.toFixed(4)} (error ${(ais.logZ - exact).toFixed(4)}), ` +
      `band [${ais.logZLower.toFixed(4)}, ${ais.logZUpper.toFixed(4)}], ESS ${ais.ess.toFixed(1)}/${ais.runs}, ` +
      `K = ${ais.nBetas}, ${ais.seconds.toFixed(2)} s`,
  );
  close(ais.logZ, exact, tol, `${what}: AIS log Z vs exact`);
  assert.ok(ais.logZLower <= exact && exact <= ais.logZUpper, `${what}: band [${ais.logZLower}, ${ais.logZUpper}] misses exact ${exact}`);
  assert.ok(ais.ess > 1 && ais.ess <= ais.runs + 1e-9, `${what}: ess ${ais.ess}`);
}

test("the default schedule is Salakhutdinov & Murray's: 500 + 4,000 + 10,000 uniform steps", () => {
  const b = aisBetas();
  assert.equal(b.length, SM_N_BETAS + 1);
  assert.equal(b[0], 0);
  assert.equal(b[SM_N_BETAS], 1);
  close(b[500], 0.5, 1e-12, "β[500]");
  close(b[4500], 0.9, 1e-12, "β[4500]");
  close(b[1] - b[0], 1e-3, 1e-12, "step below 0.5");
  close(b[501] - b[500], 1e-4, 1e-12, "step in [0.5, 0.9)");
  close(b[4501] - b[4500], 1e-5, 1e-12, "step in [0.9, 1]");
  for (let k = 1; k < b.length; k++) assert.ok(b[k] > b[k - 1], `β increases at ${k}`);
  const short = aisBetas(1000);
  assert.equal(short.length, 1001);
  close(short[34], 0.5, 1e-12, "K = 1000 keeps the proportions");
  assert.deepEqual(Array.from(aisBetas(2)), [0, 0.5, 1]);
});

test("the base rate is log(p̄/(1 − p̄)) of the pixel means, clamped", () => {
  const data = Float32Array.from([1, 0, 1, 1, 0, 0, 1, 0, 0.5, 0.5, 0, 0.5]); // 4 rows × 3 pixels
  const bA = baseRateVisibleBias(data, 3);
  close(bA[0], Math.log(0.875 / 0.125), 1e-5, "b_A[0] from mean 0.875");
  close(bA[1], Math.log(1e-3 / (1 - 1e-3)), 1e-4, "always-off pixel clamped at ε = 1e-3");
  close(bA[2], 0, 1e-6, "mean 0.5 → 0");
});

test("with betas [0, 1] AIS is plain importance sampling: mean weight = Z_B / Z_A exactly (6-4 model)", async (t) => {
  // No Markov transitions at all: checks the weight increments and log Z_A on their own.
  const rbm = randomRBM(6, 4, { seed: 21, scale: 0.7 });
  const exact = exactLogZ(rbm);
  const bA = Float32Array.from([0.3, -0.5, 1, 0, -1.2, 0.4]);
  const ais = await annealedLogZ(rbm, { seed: 5, runs: 20000, betas: [0, 1], baseVisibleBias: bA, progress: false });
  let lzA = 4 * Math.LN2;
  for (const x of bA) lzA += Math.log1p(Math.exp(x));
  close(ais.logZBase, lzA, 1e-9, "log Z_A = Σ softplus(b_A) + nHidden log 2");
  assertAgrees(t, ais, exact, 0.03, "importance sampling 6-4");
  disposeRBM(rbm);
});

test("AIS log Z agrees with exact enumeration on random 20-15 models (within 0.1 nats)", async (t) => {
  // scale 2 is a peaked, multimodal model: it needs a longer schedule for the same accuracy.
  for (const [seed, scale, K] of [
    [1, 1, 2000],
    [2, 2, 8000],
  ]) {
    const rbm = randomRBM(20, 15, { seed, scale });
    const exact = exactLogZ(rbm);
    const ais = await annealedLogZ(rbm, { seed: 100 + seed, runs: 100, betas: K, progress: false });
    assertAgrees(t, ais, exact, 0.1, `20-15 scale ${scale}`);
    disposeRBM(rbm);
  }
});

test("AIS log Z agrees with exact enumeration on a random 784-10 model (uniform base)", async (t) => {
  const rbm = randomRBM(784, 10, { seed: 3, scale: 0.1 });
  const exact = exactLogZ(rbm);
  const ais = await annealedLogZ(rbm, { seed: 7, runs: 100, betas: 1000, progress: false });
  assertAgrees(t, ais, exact, 0.1, "784-10");
  disposeRBM(rbm);
});

test("AIS on an RBM trained on MNIST (784-15, CD-1) matches exact log Z and log-likelihood", async (t) => {
  const train = loadMnist({ split: "train", limit: 2000 });
  const init = initRBM(784, 15, { method: "hinton", data: train, seed: 1 });
  const rbm = await plainCD1(init, train, { epochs: 2, lr: 0.1, batchSize: 100, seed: 1 });
  disposeRBM(init);
  const exact = exactLogZ(rbm);
  const ais = await noLeakAsync("annealedLogZ", () =>
    annealedLogZ(rbm, { seed: 11, runs: 100, betas: 1500, data: train, progress: false }),
  );
  assertAgrees(t, ais, exact, 0.1, "784-15 trained");
  // Test log-likelihood on stochastically binarised test images: AIS vs exact.
  const testSet = binarize(loadMnist({ split: "test", limit: 500 }), { mode: "sample", seed: 2 });
  const ll = await noLeakAsync("aisLogLikelihood", () => aisLogLikelihood(rbm, testSet, { ais }));
  const llExact = noLeak("exactLogLikelihood", () => exactLogLikelihood(rbm, testSet, { logZ: exact }));
  close(ll.logLikelihood, llExact, 0.1, "test log-likelihood");
  t.diagnostic(
    `test log p(v): exact ${llExact.toFixed(3)}, AIS ${ll.logLikelihood.toFixed(3)} [${ll.lower.toFixed(3)}, ${ll.upper.toFixed(3)}]`,
  );
  assert.ok(ll.lower <= llExact && llExact <= ll.upper, `LL band [${ll.lower}, ${ll.upper}] misses ${llExact}`);
  const vTest = tf.tensor2d(testSet.images, [500, 784]);
  const lp = exactLogProb(vTest, rbm, exact);
  vTest.dispose();
  close(llExact, lp.reduce((a, x) => a + x, 0) / lp.length, 1e-3, "exactLogLikelihood = mean exactLogProb");
  assert.ok(llExact < -100 && llExact > -300, `a briefly trained 784-15 RBM has log p(v) ≈ −150…−200 nats, got ${llExact}`);
  disposeRBM(rbm);
});

test("same seed ⇒ same weights; different seed ⇒ different; the band and ESS are consistent", async () => {
  const rbm = randomRBM(12, 8, { seed: 4, scale: 1.5 });
  const opts = { runs: 30, betas: 200, progress: false } as const;
  const a = await annealedLogZ(rbm, { ...opts, seed: 9 });
  const b = await annealedLogZ(rbm, { ...opts, seed: 9 });
  const c = await annealedLogZ(rbm, { ...opts, seed: 10 });
  assert.deepEqual(a.logWeights, b.logWeights);
  assert.equal(a.logZ, b.logZ);
  assert.notDeepEqual(a.logWeights, c.logWeights);
  assert.equal(a.logWeights.length, 30);
  assert.equal(a.nBetas, 200);
  assert.ok(a.logZLower < a.logZ && a.logZ < a.logZUpper);
  // logZ is log-mean-exp of the weights plus log Z_A.
  const m = Math.max(...a.logWeights);
  const lme = m + Math.log(a.logWeights.reduce((s, x) => s + Math.exp(x - m), 0) / 30);
  close(a.logZ, a.logZBase + lme, 1e-9, "log-mean-exp");
  const one = await annealedLogZ(rbm, { ...opts, runs: 1, seed: 9 });
  assert.equal(one.ess, 1);
  assert.equal(one.logZUpper, Infinity);
  assert.equal(one.logZLower, -Infinity);
  disposeRBM(rbm);
});

test("bad inputs give clear errors and leak nothing", () =>
  noLeakAsync("failed AIS calls", async () => {
    const rbm = makeRBM(
      [
        [0.1, -0.2],
        [0.3, 0.4],
        [0, 1],
      ],
      [0, 0, 0],
      [0, 0],
    );
    await assert.rejects(annealedLogZ(rbm, { seed: 1, runs: 0 }), /runs must be an integer ≥ 1, got 0/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, runs: 2.5 }), /runs must be an integer/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, betas: [0, 0.5, 0.9] }), /betas must start at 0 and end at 1/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, betas: [0, 0.6, 0.5, 1] }), /non-decreasing/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, betas: 0 }), /integer ≥ 1, got 0/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, baseVisibleBias: new Float32Array(4) }), /baseVisibleBias must be 3 finite numbers/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, data: new Float32Array(4) }), /not a whole number of rows of nVisible = 3/);
    await assert.rejects(annealedLogZ(rbm, { seed: 1, data: Float32Array.from([0, 2, 1]) }), /value 2 at flat index 1 is not in \[0, 1\]/);
    await assert.rejects(aisLogLikelihood(rbm, Float32Array.from([0, 0.5, 1]), { seed: 1 }), /not 0 or 1.*binari/);
    disposeRBM(rbm);
  }));
