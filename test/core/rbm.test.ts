/**
 * The RBM core checked against truth: brute-force enumeration in float64 on tiny models,
 * finite differences for the gradient identity, and long Gibbs runs against the exact distribution.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import {
  allBinaryStates,
  exactHiddenMarginal,
  exactLogLikelihoodGradient,
  exactLogProb,
  exactLogZ,
  exactVisibleMarginal,
} from "../../lib/core/exact";
import { tvDistance } from "../../lib/core/mixing";
import { logSumExp } from "../../lib/core/numerics";
import { Rng } from "../../lib/core/random";
import {
  assertFiniteRBM,
  disposeRBM,
  energy,
  freeEnergy,
  hiddenFeatures,
  hiddenFreeEnergy,
  hiddenProbs,
  initRBM,
  makeRBM,
  visibleProbs,
} from "../../lib/core/rbm";
import { gibbsChain, gibbsHVH, gibbsVHV } from "../../lib/core/sampling";
import { sampleBernoulli } from "../../lib/core/units";
import { close, noLeak } from "../support/assert";
import { bits, energy64, joint64, randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

test("energy matches the definition on every state of a 5-4 RBM", () => {
  const { rbm, W, b, c } = randomRBM(5, 4, 1);
  const v = allBinaryStates(5);
  const hStates = allBinaryStates(4);
  noLeak("energy", () => {
    for (let sh = 0; sh < 16; sh++) {
      const h = tf.tidy(() => tf.tile(hStates.slice([sh, 0], [1, 4]), [32, 1])) as tf.Tensor2D;
      const e = energy(v, h, rbm);
      const got = e.dataSync();
      for (let sv = 0; sv < 32; sv++) close(got[sv], energy64(bits(sv, 5), bits(sh, 4), W, b, c), 1e-4, `E(${sv},${sh})`);
      tf.dispose([h, e]);
    }
  });
  tf.dispose([v, hStates]);
  disposeRBM(rbm);
});

test("F(v) = −log Σ_h exp(−E(v,h)) by brute force, and G(h) likewise over v", () =>
  noLeak("free energies", () => {
    const { rbm, W, b, c } = randomRBM(6, 5, 2, 1.5);
    const v = allBinaryStates(6);
    const h = allBinaryStates(5);
    const F = tf.tidy(() => freeEnergy(v, rbm).dataSync());
    const G = tf.tidy(() => hiddenFreeEnergy(h, rbm).dataSync());
    for (let sv = 0; sv < 64; sv++) {
      const negE = Array.from({ length: 32 }, (_, sh) => -energy64(bits(sv, 6), bits(sh, 5), W, b, c));
      close(F[sv], -logSumExp(negE), 1e-4, `F(v=${sv})`);
    }
    for (let sh = 0; sh < 32; sh++) {
      const negE = Array.from({ length: 64 }, (_, sv) => -energy64(bits(sv, 6), bits(sh, 5), W, b, c));
      close(G[sh], -logSumExp(negE), 1e-4, `G(h=${sh})`);
    }
    tf.dispose([v, h]);
    disposeRBM(rbm);
  }));

test("free energy stays finite and exact for huge weights (stable softplus)", () =>
  noLeak("free energy", () => {
    const rbm = makeRBM([[500, -500]], [0], [0, 0]);
    const v = tf.tensor2d([[0], [1]]);
    const F = tf.tidy(() => freeEnergy(v, rbm).dataSync());
    // v=0: −2·softplus(0) = −2 log 2; v=1: −softplus(500) − softplus(−500) ≈ −500.
    close(F[0], -2 * Math.log(2), 1e-5, "F(0)");
    close(F[1], -500, 1e-3, "F(1)");
    tf.dispose(v);
    disposeRBM(rbm);
  }));

test("p(h|v) and p(v|h) from the formulas equal the conditionals of the brute-force joint", () =>
  noLeak("conditionals", () => {
    const { rbm, W, b, c } = randomRBM(4, 3, 3);
    const { p } = joint64(W, b, c);
    const v = allBinaryStates(4);
    const h = allBinaryStates(3);
    const ph = tf.tidy(() => hiddenProbs(v, rbm).arraySync());
    const pv = tf.tidy(() => visibleProbs(h, rbm).arraySync());
    for (let sv = 0; sv < 16; sv++) {
      const pvTotal = p[sv].reduce((a, x) => a + x, 0);
      for (let j = 0; j < 3; j++) {
        const on = p[sv].reduce((a, x, sh) => a + ((sh >>> j) & 1 ? x : 0), 0);
        close(ph[sv][j], on / pvTotal, 1e-5, `p(h${j}=1|v=${sv})`);
      }
    }
    for (let sh = 0; sh < 8; sh++) {
      const phTotal = p.reduce((a, row) => a + row[sh], 0);
      for (let i = 0; i < 4; i++) {
        const on = p.reduce((a, row, sv) => a + ((sv >>> i) & 1 ? row[sh] : 0), 0);
        close(pv[sh][i], on / phTotal, 1e-5, `p(v${i}=1|h=${sh})`);
      }
    }
    tf.dispose([v, h]);
    disposeRBM(rbm);
  }));

test("exact log Z, log p(v) and marginals agree with the brute-force joint (both enumeration sides)", () => {
  for (const [nV, nH] of [
    [6, 4],
    [4, 6],
  ]) {
    const { rbm, W, b, c } = randomRBM(nV, nH, 4 + nV);
    const truth = joint64(W, b, c);
    close(exactLogZ(rbm), truth.logZ, 1e-4, `log Z ${nV}-${nH}`);
    const pv = exactVisibleMarginal(rbm).probs;
    const ph = exactHiddenMarginal(rbm).probs;
    for (let sv = 0; sv < 2 ** nV; sv++)
      close(
        pv[sv],
        truth.p[sv].reduce((a, x) => a + x, 0),
        1e-6,
        `p(v=${sv})`,
      );
    for (let sh = 0; sh < 2 ** nH; sh++)
      close(
        ph[sh],
        truth.p.reduce((a, r) => a + r[sh], 0),
        1e-6,
        `p(h=${sh})`,
      );
    const v = allBinaryStates(nV);
    const lp = exactLogProb(v, rbm);
    for (let sv = 0; sv < 2 ** nV; sv++) close(lp[sv], Math.log(pv[sv]), 1e-4, `log p(v=${sv})`);
    v.dispose();
    disposeRBM(rbm);
  }
});

test("the ML gradient identity: finite differences of exact log p equal ⟨vhᵀ⟩_data − ⟨vhᵀ⟩_model", () =>
  noLeak("gradient identity", () => {
    const { rbm, W, b, c } = randomRBM(5, 3, 5);
    const rng = new Rng(11);
    const data = tf.tensor2d(Array.from({ length: 8 }, () => Array.from({ length: 5 }, () => (rng.uniform() < 0.4 ? 1 : 0))));
    const grad = exactLogLikelihoodGradient(data, rbm);
    disposeRBM(rbm);
    const meanLogP = (W2: number[][], b2: number[], c2: number[]) => {
      const m = makeRBM(W2, b2, c2);
      const lp = exactLogProb(data, m);
      disposeRBM(m);
      return lp.reduce((a, x) => a + x, 0) / lp.length;
    };
    const eps = 1e-2;
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 3; j++) {
        const plus = W.map((r) => r.slice());
        const minus = W.map((r) => r.slice());
        plus[i][j] += eps;
        minus[i][j] -= eps;
        const fd = (meanLogP(plus, b, c) - meanLogP(minus, b, c)) / (2 * eps);
        close(grad.dW[i * 3 + j], fd, 2e-3, `dW[${i},${j}]`);
      }
    }
    for (let i = 0; i < 5; i++) {
      const p = b.slice();
      p[i] += eps;
      const m = b.slice();
      m[i] -= eps;
      close(grad.db[i], (meanLogP(W, p, c) - meanLogP(W, m, c)) / (2 * eps), 2e-3, `db[${i}]`);
    }
    for (let j = 0; j < 3; j++) {
      const p = c.slice();
      p[j] += eps;
      const m = c.slice();
      m[j] -= eps;
      close(grad.dc[j], (meanLogP(W, b, p) - meanLogP(W, b, m)) / (2 * eps), 2e-3, `dc[${j}]`);
    }
    data.dispose();
  }));

test("Bernoulli samples have the right means and are reproducible from the seed", () =>
  noLeak("Bernoulli test", () => {
    const p = tf.tidy(() => tf.tensor2d([[0.1, 0.5, 0.9, 0, 1]]).tile([20000, 1]) as tf.Tensor2D);
    noLeak("sampleBernoulli", () => {
      const s1 = sampleBernoulli(p, 7);
      const s2 = sampleBernoulli(p, 7);
      const s3 = sampleBernoulli(p, 8);
      const meanT = tf.mean(s1, 0);
      const means = meanT.dataSync();
      meanT.dispose();
      [0.1, 0.5, 0.9, 0, 1].forEach((q, i) => close(means[i], q, 4 * Math.sqrt((q * (1 - q)) / 20000) + 1e-9, `mean ${i}`));
      assert.deepEqual(s1.dataSync(), s2.dataSync());
      assert.notDeepEqual(s1.dataSync(), s3.dataSync());
      tf.dispose([s1, s2, s3]);
    });
    p.dispose();
  }));

test("long block-Gibbs runs reproduce the exact p(v) (total variation < 0.02)", () => {
  const { rbm } = randomRBM(4, 3, 6);
  const exact = exactVisibleMarginal(rbm).probs;
  const chains = 2000;
  noLeak("Gibbs chains", () => {
    const v0 = tf.zeros([chains, 4]) as tf.Tensor2D;
    // Burn in 20 steps, then record every step for 30 more: 60,000 correlated samples.
    const run = gibbsChain(v0, rbm, { steps: 50, seed: 3, every: 1 });
    const counts = new Float64Array(16);
    let total = 0;
    for (const rec of run.records.filter((r) => r.step > 20)) {
      for (let r = 0; r < chains; r++) {
        let s = 0;
        for (let i = 0; i < 4; i++) s |= rec.values[r * 4 + i] << i;
        counts[s]++;
        total++;
      }
    }
    const tv = tvDistance(
      exact,
      counts.map((n) => n / total),
    );
    assert.ok(tv < 0.02, `total variation ${tv}`);
    tf.dispose([v0, run.v, run.vProbs]);
  });
  disposeRBM(rbm);
});

test("h→v→h steps also leave the exact joint invariant (hidden marginal, TV < 0.02)", () => {
  const { rbm } = randomRBM(3, 4, 8);
  const exact = exactHiddenMarginal(rbm).probs;
  const rng = new Rng(9);
  let h = tf.zeros([4000, 4]) as tf.Tensor2D;
  const counts = new Float64Array(16);
  let total = 0;
  for (let step = 0; step < 40; step++) {
    const s = gibbsHVH(h, rbm, rng);
    tf.dispose([h, s.v, s.vProbs, s.hProbs]);
    h = s.h;
    if (step >= 15) {
      const vals = h.dataSync();
      for (let r = 0; r < 4000; r++) {
        let st = 0;
        for (let j = 0; j < 4; j++) st |= vals[r * 4 + j] << j;
        counts[st]++;
        total++;
      }
    }
  }
  h.dispose();
  const tv = tvDistance(
    exact,
    counts.map((n) => n / total),
  );
  assert.ok(tv < 0.02, `total variation ${tv}`);
  disposeRBM(rbm);
});

test("same seed ⇒ same chain; different seed ⇒ different chain; no leaked tensors", () => {
  const rbm = initRBM(20, 10, { seed: 1 });
  const v0 = tf.zeros([5, 20]) as tf.Tensor2D;
  noLeak("gibbsVHV, gibbsChain, freeEnergy, exactLogZ", () => {
    const a = gibbsVHV(v0, rbm, 42);
    const b = gibbsVHV(v0, rbm, 42);
    const c = gibbsVHV(v0, rbm, 43);
    assert.deepEqual(a.v.dataSync(), b.v.dataSync());
    assert.deepEqual(a.h.dataSync(), b.h.dataSync());
    assert.notDeepEqual(a.h.dataSync(), c.h.dataSync());
    for (const s of [a, b, c]) tf.dispose([s.v, s.h, s.vProbs, s.hProbs]);
    const r1 = gibbsChain(v0, rbm, { steps: 10, seed: 5, every: 5 });
    const r2 = gibbsChain(v0, rbm, { steps: 10, seed: 5, every: 5 });
    assert.deepEqual(
      r1.records.map((r) => Array.from(r.values)),
      r2.records.map((r) => Array.from(r.values)),
    );
    tf.dispose([r1.v, r1.vProbs, r2.v, r2.vProbs]);
    freeEnergy(v0, rbm).dispose();
    exactLogZ(rbm);
  });
  const init1 = initRBM(30, 7, { seed: 9, method: "hinton" });
  const init2 = initRBM(30, 7, { seed: 9, method: "hinton" });
  assert.deepEqual(init1.W.dataSync(), init2.W.dataSync());
  disposeRBM(init1);
  disposeRBM(init2);
  v0.dispose();
  disposeRBM(rbm);
});

test("initialisation: Xavier bounds, Hinton's N(0, 0.01²) and data-driven visible bias", () => {
  const x = initRBM(784, 500, { seed: 0 });
  const a = Math.sqrt(6 / 1284);
  const w = x.W.dataSync() as Float32Array;
  const max = w.reduce((m, z) => Math.max(m, Math.abs(z)), 0);
  assert.ok(max <= a && max > 0.99 * a, `max |W| ${max} vs bound ${a}`);
  disposeRBM(x);
  const data = tf.tensor2d([
    [1, 0, 1],
    [1, 0, 0],
    [1, 0, 1],
    [0, 0, 0],
  ]);
  const hRBM = initRBM(3, 2000, { method: "hinton", data, seed: 1 });
  const hb = hRBM.b.dataSync();
  close(hb[1], Math.log(1e-3 / (1 - 1e-3)), 1e-4, "b for an always-off pixel is clamped");
  close(hb[0], Math.log(0.75 / 0.25), 1e-5, "b = log(p/(1-p))");
  close(hb[2], 0, 1e-6, "p = 0.5 → b = 0");
  const hw = hRBM.W.dataSync() as Float32Array;
  const std = Math.sqrt(hw.reduce((s, z) => s + z * z, 0) / hw.length);
  close(std, 0.01, 0.0005, "std of W");
  disposeRBM(hRBM);
  data.dispose();
});

test("bad inputs give one clear error naming the shapes or the problem", () =>
  noLeak("bad inputs", () => {
    const rbm = initRBM(6, 3, { seed: 1 });
    const v = tf.zeros([2, 5]) as tf.Tensor2D;
    assert.throws(() => freeEnergy(v, rbm), /v has shape \[2,5\] but W is \[6,3\]/);
    assert.throws(() => hiddenProbs(v, rbm), /\[batch, 6\]/);
    const h = tf.zeros([2, 4]) as tf.Tensor2D;
    assert.throws(() => visibleProbs(h, rbm), /h has shape \[2,4\] but W is \[6,3\]/);
    assert.throws(
      () =>
        makeRBM(
          [
            [1, 2],
            [3, 4],
          ],
          [0, 0],
          [0, 0, 0],
        ),
      /every row of W must have nHidden = c.length = 3/,
    );
    assert.throws(() => makeRBM([[NaN, 1]], [0], [0, 0]), /W contain NaN or Inf/);
    const broken = { W: tf.tensor2d([[1, Infinity]]), b: tf.tensor1d([0]), c: tf.tensor1d([0, 0]) };
    assert.throws(() => exactLogZ(broken), /NaN or Inf.*smaller learning rate/);
    const b5 = tf.zeros([5]) as tf.Tensor1D;
    assert.throws(() => assertFiniteRBM({ ...rbm, b: b5 }), /W \[6,3\], b \[5\], c \[3\]/);
    assert.throws(() => initRBM(0, 3), /nVisible must be a positive integer/);
    const wide = initRBM(30, 30);
    assert.throws(() => exactLogZ(wide), /at most 24 units.*AIS/);
    tf.dispose([v, h, b5, broken.W, broken.b, broken.c]);
    disposeRBM(wide);
    disposeRBM(rbm);
  }));

test("hiddenFeatures equals hiddenProbs row by row, in batches, without leaks", () =>
  noLeak("hiddenFeatures test", () => {
    const rbm = initRBM(12, 5, { seed: 3 });
    const rng = new Rng(2);
    const x = Float32Array.from({ length: 7 * 12 }, () => rng.uniform());
    const got = noLeak("hiddenFeatures", () => hiddenFeatures(x, rbm, 3));
    const v = tf.tensor2d(x, [7, 12]);
    const want = tf.tidy(() => hiddenProbs(v, rbm).dataSync());
    got.forEach((g, i) => close(g, want[i], 1e-6, `feature ${i}`));
    assert.throws(() => hiddenFeatures(new Float32Array(13), rbm), /13 values are not rows of nVisible = 12/);
    tf.dispose(v);
    disposeRBM(rbm);
  }));
