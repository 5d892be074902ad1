/** AIS for Gaussian–Bernoulli RBMs against the exact log Z of models with few hidden units. */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import { initBackend } from "../../lib/compute/backend";
import { disposeGaussianRBM, makeGaussianRBM } from "../../lib/core/gaussian";
import { gaussianExactLogLikelihood, gaussianExactLogZ } from "../../lib/core/gaussian-exact";
import { Rng } from "../../lib/core/random";
import { gaussianAisLogLikelihood, gaussianAnnealedLogZ, gaussianRaiseLogLikelihood } from "../../lib/eval/gaussian-ais";
import { close, noLeakAsync } from "../support/assert";

before(async () => {
  await initBackend({ quiet: true });
});

/** A 30-10 model with weights strong enough that log Z is far from the base's. */
function model(seed: number, scale: number) {
  const rng = new Rng(seed);
  const nV = 30;
  const nH = 10;
  const W = Float32Array.from({ length: nV * nH }, () => scale * rng.normal());
  const b = Array.from({ length: nV }, () => rng.normal());
  const c = Array.from({ length: nH }, () => rng.normal() - 1);
  const sigma = Array.from({ length: nV }, () => 0.6 + 0.8 * rng.uniform());
  return makeGaussianRBM(W, b, c, sigma);
}

test("AIS log Z agrees with the exact sum over 2^10 hidden states, inside its band", async () => {
  const m = model(1, 0.4);
  const exact = gaussianExactLogZ(m);
  const ais = await noLeakAsync("AIS", () => gaussianAnnealedLogZ(m, { seed: 2, runs: 100, betas: 3000, progress: false }));
  const base = ais.logZBase;
  assert.ok(exact - base > 5, `the model is far from the base (log Z − log Z_0 = ${exact - base})`);
  // 3,000 temperatures leave a small downward bias (0.07 here; 0.01 at 10,000): AIS under-estimates log Z on average.
  close(ais.logZ, exact, 0.1, "AIS vs exact log Z");
  assert.ok(ais.logZLower <= exact && exact <= ais.logZUpper, `exact ${exact} inside [${ais.logZLower}, ${ais.logZUpper}]`);
  assert.ok(ais.ess > 50, `effective sample size ${ais.ess}`);
  // A schedule of 3 temperatures is far too short: the estimate is visibly off, and the band says so.
  const rough = await gaussianAnnealedLogZ(m, { seed: 2, runs: 100, betas: 3, progress: false });
  assert.ok(
    Math.abs(rough.logZ - exact) > 0.5 || rough.ess < 20,
    `a 3-step schedule should be poor (${rough.logZ} vs ${exact}, ESS ${rough.ess})`,
  );
  disposeGaussianRBM(m);
});

test("AIS log-likelihood is −mean F − log Z, and seeds fix the estimate", async () => {
  const m = model(3, 0.3);
  const rng = new Rng(4);
  const x = Float32Array.from({ length: 50 * 30 }, () => rng.normal());
  const a = await gaussianAisLogLikelihood(m, x, { seed: 5, runs: 50, betas: 2000, progress: false });
  close(a.logLikelihood, gaussianExactLogLikelihood(m, x), 0.05, "AIS vs exact log-likelihood");
  const again = await gaussianAnnealedLogZ(m, { seed: 5, runs: 50, betas: 2000, progress: false });
  assert.equal(again.logZ, a.ais.logZ, "same seed, same estimate");
  const other = await gaussianAnnealedLogZ(m, { seed: 6, runs: 50, betas: 2000, progress: false });
  assert.notEqual(other.logZ, a.ais.logZ, "distinct seeds, distinct runs");
  const reused = await gaussianAisLogLikelihood(m, x, { ais: a.ais });
  assert.equal(reused.logLikelihood, a.logLikelihood);
  await assert.rejects(gaussianAnnealedLogZ(m, { seed: -1 }), /seed/);
  disposeGaussianRBM(m);
});

test("Gaussian RAISE: a conservative estimate that closes on the exact log-likelihood as the schedule gets finer, and the bracket holds it", async () => {
  const m = model(1, 0.4);
  const rng = new Rng(8);
  // Test rows near the model's own means, so that they are likely under it.
  const b = m.b.dataSync();
  const x = Float32Array.from({ length: 40 * 30 }, (_, k) => b[k % 30] + rng.normal());
  const exact = gaussianExactLogLikelihood(m, x);
  const fine = await noLeakAsync("RAISE", () => gaussianRaiseLogLikelihood(m, x, { seed: 3, betas: 3000, progress: false }));
  const rough = await gaussianRaiseLogLikelihood(m, x, { seed: 3, betas: 10, progress: false });
  assert.ok(fine.logLikelihood < exact + 0.05, `RAISE ${fine.logLikelihood} should not exceed the exact ${exact} (beyond noise)`);
  close(fine.logLikelihood, exact, 0.3, "RAISE with 3,000 temperatures vs exact");
  assert.ok(
    rough.logLikelihood < fine.logLikelihood - 0.5,
    `10 temperatures are more conservative: ${rough.logLikelihood} vs ${fine.logLikelihood}`,
  );
  assert.ok(fine.lower <= exact, `RAISE − 3σ ${fine.lower} ≤ exact ${exact}`);
  const ais = await gaussianAisLogLikelihood(m, x, { seed: 4, runs: 100, betas: 3000, progress: false });
  const bracket = [fine.lower, ais.logLikelihood + Math.log(20)];
  assert.ok(bracket[0] <= exact && exact <= bracket[1], `exact ${exact} inside the bracket [${bracket}]`);
  assert.ok(bracket[1] - bracket[0] < 4, `bracket width ${bracket[1] - bracket[0]}`);
  const again = await gaussianRaiseLogLikelihood(m, x, { seed: 3, betas: 3000, progress: false });
  assert.equal(again.logLikelihood, fine.logLikelihood, "same seed, same estimate");
  const sub = await gaussianRaiseLogLikelihood(m, x, { seed: 3, betas: 100, vectors: 10, runs: 2, progress: false });
  assert.equal(sub.perVector.length, 10);
  await assert.rejects(gaussianRaiseLogLikelihood(m, x, { seed: 3, vectors: 41 }), /vectors must be an integer in \[1, 40\]/);
  await assert.rejects(gaussianRaiseLogLikelihood(m, Float32Array.of(Number.NaN, ...x.subarray(1)), { seed: 3 }), /NaN/);
  disposeGaussianRBM(m);
});
