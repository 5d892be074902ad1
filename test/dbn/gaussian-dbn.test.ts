/**
 * A DBN whose first layer is a Gaussian–Bernoulli RBM (real-valued pixels): the passes, the unrolled
 * MLP and the checkpoint against the Gaussian layer's own functions, the variational bound against
 * enumeration, resuming, and the methods that need binary pixels refusing clearly.
 */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { allBinaryStates, exactLogZ } from "../../lib/core/exact";
import { gaussianHiddenFeatures, gaussianVisibleMean, makeGaussianRBM } from "../../lib/core/gaussian";
import { Rng } from "../../lib/core/random";
import { freeEnergy } from "../../lib/core/rbm";
import { exactDBNBound } from "../../lib/dbn/bound";
import { loadDBN, saveDBN } from "../../lib/dbn/checkpoint";
import { inpaintDBN } from "../../lib/dbn/inpaint";
import { dbnToMLP, disposeMLP, forward } from "../../lib/dbn/mlp";
import { type DBN, disposeDBN, gaussianFirstLayer } from "../../lib/dbn/model";
import { dbnDownPass, upPass } from "../../lib/dbn/passes";
import { pretrainDBN } from "../../lib/dbn/pretrain";
import { upDownFineTune } from "../../lib/dbn/updown";
import type { Dataset } from "../../lib/io/data";
import { applyStandardizer, fitStandardizer } from "../../lib/io/standardize";
import { randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

const D = 12;

/** Grey pixels in [0, 1] from two prototypes plus noise, with labels (which prototype). */
function greyData(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Float32Array(n * D);
  const labels = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    labels[r] = r % 2;
    for (let i = 0; i < D; i++) {
      const proto = i < D / 2 === (labels[r] === 0) ? 0.8 : 0.15;
      images[r * D + i] = Math.min(1, Math.max(0, proto + 0.1 * rng.normal()));
    }
  }
  return { images, labels, n, rows: 1, cols: D, name: "grey" };
}

const small = { epochs: 2, batchSize: 20, progress: false } as const;

async function gaussianDBN(data: Dataset, extra: Parameters<typeof pretrainDBN>[2] = {}): Promise<DBN> {
  return (
    await pretrainDBN([D, 6, 4], data, {
      visible: "gaussian",
      gaussian: { train: { ...small, learningRate: 0.005, learnSigma: true } },
      perLayer: { ...small, learningRate: 0.05 },
      seed: 3,
      ...extra,
    })
  ).dbn;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("Gaussian pixels: the DBN keeps the standardisation, and its up pass is the Gaussian layer's p(h|v) of the standardised pixels", async () => {
  const data = greyData(200, 1);
  const tensors = tf.memory().numTensors;
  const dbn = await gaussianDBN(data);
  const g = dbn.gaussian;
  assert.ok(g, "pretrainDBN with visible: 'gaussian' gives a DBN with .gaussian");
  const st = fitStandardizer(data);
  assert.deepEqual(g.mean, st.mean);
  assert.deepEqual(g.std, st.std);
  const sigma = Array.from(g.logVar.dataSync(), (z) => Math.exp(z / 2));
  assert.ok(
    sigma.some((s) => Math.abs(s - 1) > 1e-4),
    `learnSigma moved σ away from 1: ${sigma.map((s) => s.toFixed(3))}`,
  );
  // x₁ from the DBN (pixels) against the Gaussian layer on the standardised pixels.
  const ours = upPass(dbn, data, { depth: 1 });
  const theirs = gaussianHiddenFeatures(applyStandardizer(data, st).images, gaussianFirstLayer(dbn));
  assert.ok(maxDiff(ours, theirs) < 1e-5, `up pass vs gaussianHiddenFeatures: ${maxDiff(ours, theirs)}`);
  // The down pass is the Gaussian mean, back in pixel units.
  const x1 = tf.tensor2d(ours.subarray(0, 10 * 6), [10, 6]);
  const down = dbnDownPass(dbn, x1, 1);
  const mean = gaussianVisibleMean(x1, gaussianFirstLayer(dbn));
  const expected = Float32Array.from(mean.dataSync(), (u, k) => g.mean[k % D] + g.std[k % D] * u);
  assert.ok(maxDiff(down.dataSync(), expected) < 1e-5, "down pass = μ + s (b + W x₁)");
  tf.dispose([x1, down, mean]);
  disposeDBN(dbn);
  assert.equal(tf.memory().numTensors, tensors, "disposeDBN frees the log variances too");
});

test("the unrolled MLP reads pixels: standardisation and 1/σ² folded into its first layer", async () => {
  const data = greyData(100, 2);
  const dbn = await gaussianDBN(data);
  const mlp = dbnToMLP(dbn, { nClasses: 2 });
  const x = tf.tensor2d(data.images.subarray(0, 30 * D), [30, D]);
  const out = tf.tidy(() => forward(mlp.layers, x).acts[2].dataSync()); // the input of the output layer: x₂
  const up = upPass(dbn, data.images.subarray(0, 30 * D), { depth: 2 });
  assert.ok(maxDiff(out, up) < 1e-5, `MLP's last hidden layer vs the DBN's up pass: ${maxDiff(out, up)}`);
  x.dispose();
  disposeMLP(mlp);
  disposeDBN(dbn);
});

test("a Gaussian DBN's checkpoint keeps its log variances and standardisation; a binary one says binary", async () => {
  const data = greyData(100, 3);
  const dbn = await gaussianDBN(data);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gdbn-"));
  const file = path.join(dir, "g.safetensors");
  saveDBN(file, dbn);
  const back = loadDBN(file);
  assert.equal(back.metadata.pixels, "gaussian");
  assert.ok(back.dbn.gaussian);
  assert.deepEqual(back.dbn.gaussian.mean, dbn.gaussian?.mean);
  assert.deepEqual(back.dbn.gaussian.std, dbn.gaussian?.std);
  assert.deepEqual(back.dbn.gaussian.logVar.dataSync(), dbn.gaussian?.logVar.dataSync());
  assert.deepEqual(upPass(back.dbn, data), upPass(dbn, data));
  disposeDBN(back.dbn);
  // Resuming: the same settings load both layers; binary pixels asked of a Gaussian pretraining is an error.
  const ckpt = path.join(dir, "run");
  const resumable = () =>
    pretrainDBN([D, 6, 4], data, { visible: "gaussian", gaussian: { train: small }, perLayer: small, seed: 5, checkpointDir: ckpt });
  const first = await resumable();
  const again = await resumable();
  assert.deepEqual(again.resumed, [true, true]);
  assert.deepEqual(again.dbn.gaussian?.logVar.dataSync(), first.dbn.gaussian?.logVar.dataSync());
  assert.deepEqual(upPass(again.dbn, data), upPass(first.dbn, data));
  await assert.rejects(
    pretrainDBN([D, 6, 4], data, { perLayer: small, seed: 5, checkpointDir: ckpt }),
    /its pixels are Gaussian, binary ones were asked for/,
  );
  const binary = (await pretrainDBN([D, 6, 4], data, { perLayer: small, seed: 5 })).dbn;
  saveDBN(path.join(dir, "b.safetensors"), binary);
  const b = loadDBN(path.join(dir, "b.safetensors"));
  assert.equal(b.metadata.pixels, "binary");
  assert.equal(b.dbn.gaussian, undefined);
  [dbn, first.dbn, again.dbn, binary, b.dbn].forEach(disposeDBN);
  fs.rmSync(dir, { recursive: true });
});

test("the variational bound with a Gaussian lower layer: log p(v) − KL(q ‖ p(h|v)), by enumeration", () => {
  const rng = new Rng(11);
  const [nV, nH] = [3, 3];
  const W = Array.from({ length: nV }, () => Array.from({ length: nH }, () => rng.normal()));
  const lower = makeGaussianRBM(W, [0.3, -0.5, 0.1], [0.2, -0.4, 0.6], [0.7, 1.3, 0.9]);
  const prior = randomRBM(nH, 2, 12, 1.2).rbm;
  const u = [
    [0.5, -1.2, 2],
    [-0.3, 0.8, -1.5],
  ];
  const v = tf.tensor2d(u);
  const r = exactDBNBound(lower, prior, v);
  // Exact: p(v) = Σ_h p_prior(h) N(v; b + W h, σ²), the posterior p(h|v) ∝ the same terms.
  const H = allBinaryStates(nH);
  const logPrior = tf.tidy(() => tf.sub(tf.neg(freeEnergy(H, prior)), exactLogZ(prior)).dataSync());
  const hs = H.arraySync();
  const b = [0.3, -0.5, 0.1];
  const c = [0.2, -0.4, 0.6];
  const s2 = [0.7, 1.3, 0.9].map((s) => s * s);
  u.forEach((row, n) => {
    const terms = hs.map((h, k) => {
      let lp = logPrior[k];
      for (let i = 0; i < nV; i++) {
        const a = b[i] + W[i].reduce((acc, w, j) => acc + w * h[j], 0);
        lp += -((row[i] - a) ** 2) / (2 * s2[i]) - 0.5 * Math.log(2 * Math.PI * s2[i]);
      }
      return lp;
    });
    const m = Math.max(...terms);
    const logp = m + Math.log(terms.reduce((acc, t) => acc + Math.exp(t - m), 0));
    const q1 = c.map((cj, j) => 1 / (1 + Math.exp(-(cj + row.reduce((acc, x, i) => acc + (x / s2[i]) * W[i][j], 0)))));
    let kl = 0;
    hs.forEach((h, k) => {
      const q = h.reduce((acc, hj, j) => acc * (hj ? q1[j] : 1 - q1[j]), 1);
      kl += q * (Math.log(q) - (terms[k] - logp));
    });
    assert.ok(Math.abs(r.bound[n] - (logp - kl)) < 1e-4, `row ${n}: bound ${r.bound[n]}, log p − KL = ${logp - kl}`);
    assert.ok(r.bound[n] <= logp + 1e-6, `row ${n}: the bound ${r.bound[n]} is above log p(v) = ${logp}`);
  });
  tf.dispose([v, H, lower.W, lower.b, lower.c, lower.logVar, prior.W, prior.b, prior.c]);
});

test("bad requests for Gaussian pixels get one clear error each", async () => {
  const data = greyData(60, 4);
  await assert.rejects(pretrainDBN([D, 6], data, { visible: "gaussian" }), /needs at least one binary layer above it/);
  await assert.rejects(pretrainDBN([D, 6, 4], data, { gaussian: { train: small } }), /gaussian options were given but visible is "binary"/);
  await assert.rejects(
    pretrainDBN([D, 6, 4], data, { visible: "gaussian", perLayer: [small, small] }),
    /perLayer has 2 option objects but .* has 1 binary layers above the Gaussian one/,
  );
  await assert.rejects(pretrainDBN([D, 6, 4], data, { visible: "gauss" as "gaussian" }), /visible must be "binary" or "gaussian"/);
  const dbn = await gaussianDBN(data);
  assert.throws(
    () => inpaintDBN(dbn, data.images, new Float32Array(D), { steps: 1, seed: 0 }),
    /pixels are real-valued .* needs binary pixels/,
  );
  await assert.rejects(upDownFineTune(dbn, data, { epochs: 1 }), /upDownFineTune: this DBN's pixels are real-valued/);
  disposeDBN(dbn);
});
