/**
 * Training Gaussian–Bernoulli RBMs: one CD-k / PCD-k update against the exact gradient of an
 * enumerable model, learned σ recovering the generating σ, determinism, and the stability guards.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { allBinaryStates } from "../../lib/core/exact";
import {
  disposeGaussianRBM,
  type GaussianRBM,
  gaussianHiddenFreeEnergy,
  initGaussianRBM,
  makeGaussianRBM,
  visibleSigma,
} from "../../lib/core/gaussian";
import { gaussianExactGradient } from "../../lib/core/gaussian-exact";
import { Rng } from "../../lib/core/random";
import type { Dataset } from "../../lib/io/data";
import { trainGaussianRBM } from "../../lib/train/gaussian";
import { TrainingDivergedError } from "../../lib/train/loop";
import { close, noLeakAsync } from "../support/assert";

before(async () => {
  await initBackend({ quiet: true });
});

function dataset(images: Float32Array, d: number, name = "synthetic"): Dataset {
  return { images, labels: new Uint8Array(images.length / d), n: images.length / d, rows: 1, cols: d, name };
}

/** n exact samples of a model: h from p(h) ∝ exp(−G(h)) by enumeration, then v ~ N(b + Wh, σ²). */
function exactSamples(m: GaussianRBM, n: number, seed: number): Float32Array {
  const [nV, nH] = m.W.shape;
  const negG = tf.tidy(() => tf.neg(gaussianHiddenFreeEnergy(allBinaryStates(nH), m)).dataSync());
  const max = Math.max(...negG);
  const p = Array.from(negG, (g) => Math.exp(g - max));
  const total = p.reduce((a, x) => a + x, 0);
  const W = m.W.dataSync();
  const b = m.b.dataSync();
  const sd = visibleSigma(m);
  const rng = new Rng(seed);
  const out = new Float32Array(n * nV);
  for (let r = 0; r < n; r++) {
    let u = rng.uniform() * total;
    let s = 0;
    while (s < p.length - 1 && u >= p[s]) u -= p[s++];
    for (let i = 0; i < nV; i++) {
      let mu = b[i];
      for (let j = 0; j < nH; j++) if ((s >>> j) & 1) mu += W[i * nH + j];
      out[r * nV + i] = mu + sd[i] * rng.normal();
    }
  }
  return out;
}

/** (θ after one update − θ before) / ε, for every parameter. */
async function oneStep(m: GaussianRBM, data: Dataset, persistent: boolean) {
  const lr = 1e-3;
  const { rbm, chains } = await trainGaussianRBM(m, data, {
    k: 200,
    persistent,
    learningRate: lr,
    batchSize: data.n,
    epochs: 1,
    initialMomentum: 0,
    weightDecay: 0,
    learnSigma: true,
    seed: 3,
    progress: false,
  });
  const diff = (a: tf.Tensor, b: tf.Tensor) => {
    const d = tf.tidy(() => tf.div(tf.sub(a, b), lr));
    const out = Float64Array.from(d.dataSync());
    d.dispose();
    return out;
  };
  const out = { dW: diff(rbm.W, m.W), db: diff(rbm.b, m.b), dc: diff(rbm.c, m.c), dLogVar: diff(rbm.logVar, m.logVar) };
  disposeGaussianRBM(rbm);
  chains?.dispose();
  return out;
}

for (const persistent of [false, true]) {
  test(`one ${persistent ? "PCD" : "CD"}-200 update of 20,000 rows is the exact gradient (within sampling error)`, async () => {
    const m = makeGaussianRBM(
      [
        [0.8, -0.5],
        [0.3, 0.9],
        [-0.6, 0.2],
      ],
      [0.2, -0.3, 0.5],
      [0.1, -0.4],
      [0.8, 1.2, 1],
    );
    // Data from elsewhere, so that the gradient is far from zero.
    const rng = new Rng(1);
    const x = Float32Array.from({ length: 20000 * 3 }, (_, k) => 1.3 * rng.normal() + (k % 3) - 1);
    const exact = gaussianExactGradient(m, x);
    const step = await noLeakAsync("one update", () => oneStep(m, dataset(x, 3), persistent));
    let largest = 0;
    for (const key of ["dW", "db", "dc", "dLogVar"] as const) {
      exact[key].forEach((g, i) => {
        largest = Math.max(largest, Math.abs(g));
        close(step[key][i], g, 0.04 + 0.05 * Math.abs(g), `${key}[${i}]`);
      });
    }
    assert.ok(largest > 0.3, `the exact gradient is far from zero (largest ${largest})`);
    disposeGaussianRBM(m);
  });
}

test("learned σ recovers the generating σ of data sampled from a known Gaussian–Bernoulli RBM", async () => {
  const sigma = [0.5, 1, 2, 0.7];
  const truth = makeGaussianRBM(
    [
      [1, 0],
      [0, 1.5],
      [-1, 2],
      [0.5, -0.5],
    ],
    [0, 1, -1, 0.5],
    [-0.5, 0.3],
    sigma,
  );
  const x = exactSamples(truth, 4000, 5);
  const init = initGaussianRBM(4, 2, { seed: 2, std: 0.1, sigma: 1, data: { images: x, n: 4000 } });
  const { rbm, history } = await noLeakAsync(
    "training",
    () =>
      trainGaussianRBM(init, dataset(x, 4), {
        learnSigma: true,
        persistent: true,
        learningRate: 0.01,
        batchSize: 50,
        epochs: 30,
        weightDecay: 0,
        seed: 4,
        progress: false,
      }),
    { returned: 5 },
  );
  const learned = visibleSigma(rbm);
  learned.forEach((s, i) => close(s, sigma[i], 0.15 * sigma[i], `σ[${i}]`));
  assert.equal(history.length, 30);
  assert.ok(history.every((r) => Number.isFinite(r.sigmaMin) && r.sigmaMin > 0));
  [truth, init, rbm].forEach(disposeGaussianRBM);
});

test("same seed, same model; distinct seeds, distinct models", async () => {
  const rng = new Rng(2);
  const x = Float32Array.from({ length: 200 * 5 }, () => rng.normal());
  const init = initGaussianRBM(5, 3, { seed: 1, std: 0.1 });
  const run = async (seed: number) => {
    const { rbm } = await trainGaussianRBM(init, dataset(x, 5), { epochs: 2, batchSize: 20, seed, progress: false });
    const w = rbm.W.dataSync().slice();
    disposeGaussianRBM(rbm);
    return w;
  };
  assert.deepEqual(await run(7), await run(7));
  assert.notDeepEqual(await run(7), await run(8));
  disposeGaussianRBM(init);
});

test("the stability guards stop with one clear error", async () => {
  const rng = new Rng(3);
  const pixels = Float32Array.from({ length: 300 * 4 }, () => 0.1 * rng.uniform()); // variance ≈ 0.001
  const init = initGaussianRBM(4, 3, { seed: 1 });
  const opts = { epochs: 1, batchSize: 30, progress: false } as const;
  await assert.rejects(trainGaussianRBM(init, dataset(pixels, 4), opts), /ratio .*Standardise the data.*checkScale: false/s);
  const unit = Float32Array.from({ length: 300 * 4 }, () => rng.normal());
  await assert.rejects(trainGaussianRBM(init, dataset(unit, 4), { ...opts, learningRate: 0.1 }), /10–100× smaller/);
  await assert.rejects(trainGaussianRBM(init, dataset(unit, 4), { ...opts, learnSigma: true, minSigma: 0 }), /minSigma must be/);
  const nan = unit.slice();
  nan[5] = NaN;
  await assert.rejects(trainGaussianRBM(init, dataset(nan, 4), opts), /flat index 5.*finite/);
  // Pixel 0 constant: with learned σ its variance collapses.
  const flat = unit.slice();
  for (let r = 0; r < 300; r++) flat[r * 4] = 0;
  const before = tf.memory().numTensors;
  const err = await trainGaussianRBM(init, dataset(flat, 4), {
    ...opts,
    epochs: 100,
    learnSigma: true,
    learningRate: 0.01,
    checkEvery: 5,
    minSigma: 0.2,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof TrainingDivergedError, `a TrainingDivergedError, got ${String(err)}`);
  assert.match(err.message, /variance collapse.*minSigma = 0.2/s);
  const kept = err.lastGood as GaussianRBM;
  const sd = visibleSigma(kept);
  assert.ok(sd[0] >= 0.2 && sd[0] < 0.3, `the last good model's σ of the constant pixel is just above the limit (${sd[0]})`);
  assert.ok(sd[1] > 0.8, `the other pixels keep σ ≈ 1 (${sd[1]})`);
  disposeGaussianRBM(kept);
  assert.equal(tf.memory().numTensors, before, "only the error's model was left, and it is freed");
  // Without the collapse limit, σ overshoots once 1/σ² is large: the explosion guard stops it.
  const boom = await trainGaussianRBM(init, dataset(flat, 4), {
    ...opts,
    epochs: 100,
    learnSigma: true,
    learningRate: 0.01,
    minSigma: 1e-6,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(boom instanceof TrainingDivergedError, `a TrainingDivergedError, got ${String(boom)}`);
  assert.match(boom.message, /exploding variance.*maxSigma = 100/s);
  disposeGaussianRBM(boom.lastGood as GaussianRBM);
  disposeGaussianRBM(init);
});
