/**
 * The exact expected CD-k update (lib/core/cd-exact.ts) checked against truth: with long chains it
 * is the exact log-likelihood gradient, for short chains it matches the average of many sampled
 * CD-k updates run with the library's own Gibbs sampler, and CD-1's bias is real (larger than the
 * sampling tolerance) and shrinks with k. Bad input and tensor leaks too.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { compareUpdates, exactCDUpdates, updateNorm } from "../../lib/core/cd-exact";
import { exactLogLikelihoodGradient } from "../../lib/core/exact";
import { disposeRBM, hiddenProbs } from "../../lib/core/rbm";
import { gibbsChain } from "../../lib/core/sampling";
import { noLeak } from "../support/assert";
import { randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

/** A 5-6 RBM and four binary data vectors. */
function setup(scale: number) {
  const { rbm } = randomRBM(5, 6, 3, scale);
  const data = tf.tensor2d([
    [1, 0, 1, 0, 1],
    [1, 1, 0, 0, 0],
    [0, 0, 1, 1, 1],
    [1, 1, 1, 0, 0],
  ]);
  return { rbm, data };
}

test("with a long chain the expected CD-k update is the exact log-likelihood gradient", () =>
  noLeak("long chain", () => {
    const { rbm, data } = setup(1);
    const exact = exactLogLikelihoodGradient(data, rbm);
    const cd = exactCDUpdates(data, rbm, 300);
    assert.equal(cd.length, 300);
    const far = compareUpdates(cd[299], exact);
    assert.ok(far.relativeError < 1e-4, `CD-300 vs exact: relative error ${far.relativeError}`);
    assert.ok(far.cosine > 0.99999, `cosine ${far.cosine}`);
    // CD-1 is biased: measurably away from the gradient, and the error falls with k.
    const near = compareUpdates(cd[0], exact);
    assert.ok(near.relativeError > 1e-2, `CD-1 should be biased, relative error ${near.relativeError}`);
    assert.ok(compareUpdates(cd[9], exact).relativeError < near.relativeError, "CD-10 closer than CD-1");
    assert.ok(updateNorm(cd[0]) > 0);
    tf.dispose(data);
    disposeRBM(rbm);
  }));

test("the expected CD-k update equals the average of many sampled CD-k updates (library sampler)", () =>
  noLeak("sampled", () => {
    const { rbm, data } = setup(2);
    const reps = 5000; // chains per data row
    const start = tf.tidy(() => tf.tile(data, [reps, 1]) as tf.Tensor2D);
    const N = start.shape[0];
    const exact = exactCDUpdates(data, rbm, 3);
    for (const k of [1, 3]) {
      const run = gibbsChain(start, rbm, { steps: k, seed: 10 + k });
      // The negative statistics of CD-k with sampled visible states: v^k p(h | v^k)ᵀ, v^k, p(h | v^k).
      const [negVH, negV, negH, posVH, posV, posH] = tf.tidy(() => {
        const ph = hiddenProbs(run.v, rbm);
        const ph0 = hiddenProbs(start, rbm);
        return [
          tf.div(tf.matMul(run.v, ph, true), N).dataSync(),
          tf.mean(run.v, 0).dataSync(),
          tf.mean(ph, 0).dataSync(),
          tf.div(tf.matMul(start, ph0, true), N).dataSync(),
          tf.mean(start, 0).dataSync(),
          tf.mean(ph0, 0).dataSync(),
        ];
      });
      tf.dispose([run.v, run.vProbs]);
      const sampled = {
        dW: Float64Array.from(posVH, (x, i) => x - negVH[i]),
        db: Float64Array.from(posV, (x, i) => x - negV[i]),
        dc: Float64Array.from(posH, (x, i) => x - negH[i]),
      };
      // Every statistic lies in [0, 1], so its variance is ≤ 1/4: 5 standard errors of a mean of N.
      const tol = 5 * Math.sqrt(0.25 / N);
      const e = exact[k - 1];
      for (const key of ["dW", "db", "dc"] as const) {
        e[key].forEach((x, i) =>
          assert.ok(Math.abs(x - sampled[key][i]) < tol, `CD-${k} ${key}[${i}]: exact ${x}, sampled ${sampled[key][i]} (tol ${tol})`),
        );
      }
      if (k === 3) {
        // The check can fail: CD-1's exact update is not within the tolerance of the sampled CD-3.
        const gap = Math.max(...exact[0].dW.map((x, i) => Math.abs(x - sampled.dW[i])));
        assert.ok(gap > tol, `CD-1 and sampled CD-3 should differ by more than ${tol}; max gap ${gap}`);
      }
    }
    tf.dispose([start, data]);
    disposeRBM(rbm);
  }));

test("bad input: non-binary data, a bad k, the wrong width", () =>
  noLeak("bad input", () => {
    const { rbm, data } = setup(1);
    const grey = tf.fill([2, 5], 0.5) as tf.Tensor2D;
    const wide = tf.zeros([2, 6]) as tf.Tensor2D;
    assert.throws(() => exactCDUpdates(grey, rbm, 1), /0\/1 values/);
    assert.throws(() => exactCDUpdates(data, rbm, 0), /maxK must be a positive integer, got 0/);
    assert.throws(() => exactCDUpdates(data, rbm, 1.5), /maxK/);
    assert.throws(() => exactCDUpdates(wide, rbm, 1), /exactCDUpdates: v/);
    assert.throws(
      () =>
        compareUpdates(
          { dW: new Float64Array(2), db: new Float64Array(1), dc: new Float64Array(1) },
          { dW: new Float64Array(3), db: new Float64Array(1), dc: new Float64Array(1) },
        ),
      /dW has 2 entries/,
    );
    tf.dispose([grey, wide, data]);
    disposeRBM(rbm);
  }));
