/**
 * The Gaussian–Bernoulli RBM checked against truth on tiny models: energies summed over h by brute
 * force, Gaussian integrals over v done numerically on a grid, sampled p(v|h) moments against the
 * analytic ones, and the exact gradient against finite differences of the exact log-likelihood.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import {
  cloneGaussianRBM,
  disposeGaussianRBM,
  gaussianEnergy,
  gaussianFreeEnergy,
  gaussianGibbsChain,
  gaussianHiddenFreeEnergy,
  gaussianHiddenProbs,
  gaussianVisibleMean,
  initGaussianRBM,
  makeGaussianRBM,
  sampleGaussianVisible,
  visibleSigma,
} from "../../lib/core/gaussian";
import { gaussianExactGradient, gaussianExactLogLikelihood, gaussianExactLogZ } from "../../lib/core/gaussian-exact";
import { logSumExp } from "../../lib/core/numerics";
import { Rng } from "../../lib/core/random";
import { makeRBM } from "../../lib/core/rbm";
import { close, noLeak } from "../support/assert";
import { bits } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

/** A random tiny model with plain JS copies of its parameters (σ between 0.5 and 1.5). */
function tiny(nV: number, nH: number, seed: number, scale = 1) {
  const rng = new Rng(seed);
  const W = Array.from({ length: nV }, () => Array.from({ length: nH }, () => scale * rng.normal()));
  const b = Array.from({ length: nV }, () => 0.5 * rng.normal());
  const c = Array.from({ length: nH }, () => 0.5 * rng.normal());
  const sigma = Array.from({ length: nV }, () => 0.5 + rng.uniform());
  return { m: makeGaussianRBM(W, b, c, sigma), W, b, c, sigma };
}

/** E(v, h) in float64 straight from the definition. */
function energy64(v: number[], h: number[], t: ReturnType<typeof tiny>): number {
  let e = 0;
  for (let i = 0; i < v.length; i++) e += (v[i] - t.b[i]) ** 2 / (2 * t.sigma[i] ** 2);
  for (let j = 0; j < h.length; j++) e -= t.c[j] * h[j];
  for (let i = 0; i < v.length; i++) for (let j = 0; j < h.length; j++) e -= (v[i] / t.sigma[i] ** 2) * t.W[i][j] * h[j];
  return e;
}

/** A 2-d grid over [−L, L]² with spacing d: points and the cell area. */
function grid2(L: number, n: number): { pts: number[][]; area: number } {
  const d = (2 * L) / n;
  const pts: number[][] = [];
  for (let a = 0; a <= n; a++) for (let q = 0; q <= n; q++) pts.push([-L + a * d, -L + q * d]);
  return { pts, area: d * d };
}

test("energy and free energy agree with the definition and the brute-force sum over h", () => {
  const t = tiny(3, 2, 1);
  const rng = new Rng(7);
  const vs = Array.from({ length: 5 }, () => [0, 1, 2].map(() => 2 * rng.normal()));
  noLeak("energy/free energy", () => {
    const v = tf.tensor2d(vs);
    const F = tf.tidy(() => gaussianFreeEnergy(v, t.m).arraySync());
    for (let s = 0; s < 4; s++) {
      const h = bits(s, 2);
      const E = tf.tidy(() => gaussianEnergy(v, tf.tensor2d(vs.map(() => h)), t.m).arraySync());
      vs.forEach((row, r) => close(E[r], energy64(row, h, t), 1e-4, `E(v${r}, h${s})`));
    }
    vs.forEach((row, r) => {
      const ref = -logSumExp([0, 1, 2, 3].map((s) => -energy64(row, bits(s, 2), t)));
      close(F[r], ref, 1e-4, `F(v${r})`);
    });
    v.dispose();
  });
  disposeGaussianRBM(t.m);
});

test("G(h), log Z and p(v|h)'s mean and variance agree with numerical integration over v", () => {
  const t = tiny(2, 3, 2);
  const { pts, area } = grid2(10, 300);
  const logZ = gaussianExactLogZ(t.m);
  const negG: number[] = [];
  noLeak("G and p(v|h)", () => {
    for (let s = 0; s < 8; s++) {
      const h = bits(s, 3);
      const negE = pts.map((v) => -energy64(v, h, t));
      const logMass = logSumExp(negE) + Math.log(area);
      negG.push(logMass);
      const G = tf.tidy(() => gaussianHiddenFreeEnergy(tf.tensor2d([h]), t.m).dataSync()[0]);
      close(G, -logMass, 1e-4, `G(h${s}) vs ∫ exp(−E) dv`);
      const w = negE.map((x) => Math.exp(x - logMass) * area);
      const mean = tf.tidy(() => gaussianVisibleMean(tf.tensor2d([h]), t.m).dataSync());
      for (let i = 0; i < 2; i++) {
        const mu = pts.reduce((acc, v, k) => acc + w[k] * v[i], 0);
        const varI = pts.reduce((acc, v, k) => acc + w[k] * (v[i] - mu) ** 2, 0);
        close(mean[i], mu, 1e-4, `E[v${i} | h${s}]`);
        close(varI, t.sigma[i] ** 2, 1e-4, `Var[v${i} | h${s}] vs σ²`);
      }
    }
  });
  close(logZ, logSumExp(negG), 1e-5, "exact log Z vs Σ_h ∫ exp(−E) dv");
  // ∫ exp(−F(v)) dv on the grid is the same number, reached through the visible side.
  const F = tf.tidy(() => gaussianFreeEnergy(tf.tensor2d(pts), t.m).dataSync());
  close(logSumExp(Float64Array.from(F, (f) => -f)) + Math.log(area), logZ, 1e-4, "log ∫ exp(−F(v)) dv vs exact log Z");
  disposeGaussianRBM(t.m);
});

test("p(h = 1 | v) is the brute-force conditional of the joint", () => {
  const t = tiny(3, 2, 3);
  const vs = [
    [0.3, -1.2, 2.0],
    [-2, 0, 1],
  ];
  const p = noLeak("hiddenProbs", () => tf.tidy(() => gaussianHiddenProbs(tf.tensor2d(vs), t.m).arraySync()));
  vs.forEach((v, r) => {
    const negE = [0, 1, 2, 3].map((s) => -energy64(v, bits(s, 2), t));
    const lz = logSumExp(negE);
    for (let j = 0; j < 2; j++) {
      const pj = [0, 1, 2, 3].filter((s) => bits(s, 2)[j] === 1).reduce((a, s) => a + Math.exp(negE[s] - lz), 0);
      close(p[r][j], pj, 1e-5, `p(h${j} = 1 | v${r})`);
    }
  });
  disposeGaussianRBM(t.m);
});

test("sampled p(v|h) has the analytic mean b + Wh and variance σ², and the seed fixes the stream", () => {
  const t = tiny(3, 2, 4);
  const n = 20000;
  const h = [1, 0];
  const draw = (seed: number) =>
    noLeak("sampleGaussianVisible", () =>
      tf.tidy(() => sampleGaussianVisible(tf.tensor2d(new Array(n).fill(h)), t.m, seed).dataSync() as Float32Array),
    );
  const x = draw(11);
  for (let i = 0; i < 3; i++) {
    const mu = t.b[i] + t.W[i][0];
    let s1 = 0;
    let s2 = 0;
    for (let r = 0; r < n; r++) {
      s1 += x[r * 3 + i];
      s2 += x[r * 3 + i] ** 2;
    }
    const mean = s1 / n;
    const variance = s2 / n - mean * mean;
    const sd = t.sigma[i];
    // 5 standard errors: the mean's is σ/√n, the variance's σ²√(2/n).
    close(mean, mu, (5 * sd) / Math.sqrt(n), `sampled mean of v${i}`);
    close(variance, sd * sd, 5 * sd * sd * Math.sqrt(2 / n), `sampled variance of v${i}`);
  }
  assert.deepEqual(draw(11), x, "same seed, same samples");
  assert.notDeepEqual(draw(12).subarray(0, 30), x.subarray(0, 30), "distinct seeds, distinct samples");
  disposeGaussianRBM(t.m);
});

test("the exact gradient matches central finite differences of the exact log-likelihood", () => {
  const nV = 3;
  const nH = 2;
  const t = tiny(nV, nH, 5, 0.7);
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 6 * nV }, () => 1.5 * rng.normal());
  const g = noLeak("gradient", () => gaussianExactGradient(t.m, x));
  const z = t.sigma.map((s) => 2 * Math.log(s));
  const ll = (W: number[][], b: number[], c: number[], zz: number[]) => {
    const m = makeGaussianRBM(
      W,
      b,
      c,
      zz.map((q) => Math.exp(q / 2)),
    );
    const out = gaussianExactLogLikelihood(m, x);
    disposeGaussianRBM(m);
    return out;
  };
  const eps = 1e-2;
  const fd = (bump: (d: number) => number) => (bump(eps) - bump(-eps)) / (2 * eps);
  const copy = () => ({ W: t.W.map((r) => [...r]), b: [...t.b], c: [...t.c], z: [...z] });
  for (let i = 0; i < nV; i++) {
    for (let j = 0; j < nH; j++) {
      const num = fd((d) => {
        const p = copy();
        p.W[i][j] += d;
        return ll(p.W, p.b, p.c, p.z);
      });
      close(g.dW[i * nH + j], num, 2e-3, `∂/∂W[${i}][${j}]`);
    }
    const nb = fd((d) => {
      const p = copy();
      p.b[i] += d;
      return ll(p.W, p.b, p.c, p.z);
    });
    close(g.db[i], nb, 2e-3, `∂/∂b[${i}]`);
    const nz = fd((d) => {
      const p = copy();
      p.z[i] += d;
      return ll(p.W, p.b, p.c, p.z);
    });
    close(g.dLogVar[i], nz, 2e-3, `∂/∂log σ²[${i}]`);
  }
  for (let j = 0; j < nH; j++) {
    const nc = fd((d) => {
      const p = copy();
      p.c[j] += d;
      return ll(p.W, p.b, p.c, p.z);
    });
    close(g.dc[j], nc, 2e-3, `∂/∂c[${j}]`);
  }
  assert.ok(
    g.dW.some((v) => Math.abs(v) > 1e-2),
    "the gradient is not trivially zero",
  );
  disposeGaussianRBM(t.m);
});

test("with W = 0 the model is independent Gaussians: log Z and log p(v) in closed form", () => {
  const sigma = [0.5, 2, 1];
  const b = [1, -1, 0];
  const c = [0.3, -0.7];
  const m = makeGaussianRBM(new Float32Array(6), b, c, sigma);
  const logZ = sigma.reduce((a, s) => a + 0.5 * Math.log(2 * Math.PI * s * s), 0) + c.reduce((a, cj) => a + Math.log1p(Math.exp(cj)), 0);
  close(gaussianExactLogZ(m), logZ, 1e-6, "log Z of W = 0 (σ stored as float32 log σ²)");
  const x = Float32Array.from([0, 0, 0, 1, 2, 3]);
  let ref = 0;
  for (let r = 0; r < 2; r++)
    for (let i = 0; i < 3; i++)
      ref += (-((x[r * 3 + i] - b[i]) ** 2) / (2 * sigma[i] ** 2) - 0.5 * Math.log(2 * Math.PI * sigma[i] ** 2)) / 2;
  close(gaussianExactLogLikelihood(m, x), ref, 1e-5, "log p(v) of independent Gaussians");
  disposeGaussianRBM(m);
});

test("initialisation, copies, σ and bad input", () => {
  const data = { images: Float32Array.from([1, 2, 3, 5, 6, 7]), n: 2 };
  const m = noLeak("init", () => initGaussianRBM(3, 4, { seed: 1, sigma: 0.5, data }), { returned: 4 });
  assert.deepEqual(Array.from(m.b.dataSync()), [3, 4, 5], "b = data means");
  visibleSigma(m).forEach((s) => close(s, 0.5, 1e-6, "σ"));
  const same = initGaussianRBM(3, 4, { seed: 1 });
  const other = initGaussianRBM(3, 4, { seed: 2 });
  assert.deepEqual(same.W.dataSync(), m.W.dataSync(), "same seed, same weights");
  assert.notDeepEqual(other.W.dataSync(), m.W.dataSync(), "distinct seeds, distinct weights");
  const copy = cloneGaussianRBM(m);
  disposeGaussianRBM(m);
  assert.equal(copy.W.isDisposed, false, "a clone owns its tensors");
  [copy, same, other].forEach(disposeGaussianRBM);
  const binary = makeRBM([[1]], [0], [0]);
  assert.throws(() => gaussianFreeEnergy(tf.zeros([1, 1]), binary as never), /not a GaussianRBM|\[batch/);
  assert.throws(() => gaussianExactLogZ(binary as never), /binary RBM: Gaussian units also need logVar/);
  assert.throws(() => makeGaussianRBM([[1]], [0], [0], 0), /σ must be a positive/);
  assert.throws(() => makeGaussianRBM([[1, 2]], [0], [0]), /W must be \[nVisible, nHidden\]/);
  const big = initGaussianRBM(2, 30);
  assert.throws(() => gaussianExactLogZ(big), /Use AIS/);
  disposeGaussianRBM(big);
});

test("block Gibbs chains reach the model's exact mean E[v] = Σ_h p(h) (b + Wh)", () => {
  const t = tiny(3, 2, 6, 0.8);
  const negG = [0, 1, 2, 3].map((s) => -tf.tidy(() => gaussianHiddenFreeEnergy(tf.tensor2d([bits(s, 2)]), t.m).dataSync()[0]));
  const lz = logSumExp(negG);
  const exact = [0, 1, 2].map((i) =>
    [0, 1, 2, 3].reduce((a, s) => a + Math.exp(negG[s] - lz) * (t.b[i] + t.W[i][0] * bits(s, 2)[0] + t.W[i][1] * bits(s, 2)[1]), 0),
  );
  const n = 4000;
  const run = (seed: number) =>
    noLeak("gaussianGibbsChain", () => {
      const v0 = tf.zeros([n, 3]) as tf.Tensor2D;
      const { sample, mean } = gaussianGibbsChain(t.m, v0, { steps: 30, seed });
      const out = { sample: sample.dataSync().slice() as Float32Array, mean: mean.dataSync().slice() as Float32Array };
      tf.dispose([v0, sample, mean]);
      return out;
    });
  const { sample, mean } = run(1);
  for (let i = 0; i < 3; i++) {
    let sm = 0;
    let ss = 0;
    for (let r = 0; r < n; r++) {
      sm += mean[r * 3 + i] / n;
      ss += sample[r * 3 + i] / n;
    }
    close(sm, exact[i], 0.06, `chains' mean of b + Wh, unit ${i}`);
    close(ss, exact[i], (5 * 2) / Math.sqrt(n) + 0.06, `chains' sample mean, unit ${i}`);
  }
  assert.deepEqual(run(1).sample, sample, "same seed, same chains");
  disposeGaussianRBM(t.m);
});
