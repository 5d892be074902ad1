/**
 * Centered PCD and parallel-tempering training: with centering off it is exactly trainRBM's PCD-1,
 * the centered update improves the exact likelihood on a toy problem, the offsets track the data,
 * tempering reports its swap rates, nothing leaks, and bad options fail early.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM } from "../../lib/core/rbm";
import { exactLogLikelihood } from "../../lib/eval/metrics";
import type { Dataset } from "../../lib/io/data";
import { trainRBM } from "../../lib/train/cd";
import { trainCenteredRBM } from "../../lib/train/centered";
import { close, noLeakAsync } from "../support/assert";
import { bits } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

/** Toy data: 10-pixel bars (two blocks of five), each row noisy with probability 0.05, seeded. */
function bars(n: number): Dataset {
  const d = 10;
  const images = new Float32Array(n * d);
  let s = 12345;
  const u = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  for (let r = 0; r < n; r++) {
    const pattern = bits([0b0000011111, 0b1111100000, 0b1111111111, 0][r % 4], d);
    for (let i = 0; i < d; i++) images[r * d + i] = u() < 0.05 ? 1 - pattern[i] : pattern[i];
  }
  return { images, labels: new Uint8Array(n), n, rows: 1, cols: d, name: "bars" };
}

const common = { learningRate: 0.05, initialMomentum: 0, finalMomentum: 0, batchSize: 20, epochs: 3, progress: false, seed: 4 } as const;

test("with centering off and no tempering, trainCenteredRBM is trainRBM's PCD-1 (same seed, same numbers)", async () => {
  const data = bars(200);
  const rbm0 = initRBM(10, 6, { method: "hinton", data, seed: 1 });
  const a = await trainRBM(rbm0, data, { ...common, persistent: true });
  const b = await noLeakAsync("trainCenteredRBM", () => trainCenteredRBM(rbm0, data, { ...common, centering: false }), { returned: 3 });
  for (const key of ["W", "b", "c"] as const) {
    const [x, y] = [a.rbm[key].dataSync(), b.rbm[key].dataSync()];
    x.forEach((v, i) => close(y[i], v, 1e-5, `${key}[${i}]`));
  }
  assert.deepEqual(Array.from(b.offsets.mu), Array(10).fill(0));
  a.chains?.dispose();
  [rbm0, a.rbm, b.rbm].forEach(disposeRBM);
});

test("centered PCD-1 and centered parallel tempering raise the exact log-likelihood; the visible offset is the data mean", async () => {
  const data = bars(400);
  const rbm0 = initRBM(10, 6, { method: "hinton", data, seed: 1 });
  const ll0 = exactLogLikelihood(rbm0, data);
  const opts = { ...common, learningRate: 0.2, epochs: 30, nChains: 20 };
  const c = await noLeakAsync("centered PCD", () => trainCenteredRBM(rbm0, data, opts), { returned: 3 });
  const p = await noLeakAsync(
    "centered PT",
    () => trainCenteredRBM(rbm0, data, { ...opts, tempering: { betas: 4, betaMin: 0.4, chainsPerTemperature: 10 } }),
    {
      returned: 3,
    },
  );
  for (const [name, r] of [
    ["centered PCD", c],
    ["centered PT", p],
  ] as const) {
    const ll = exactLogLikelihood(r.rbm, data);
    assert.ok(ll > ll0 + 1, `${name}: exact log-likelihood ${ll.toFixed(3)} should beat the initial ${ll0.toFixed(3)} by a nat`);
    const mean = Array.from({ length: 10 }, (_, i) => {
      let s = 0;
      for (let r = 0; r < data.n; r++) s += data.images[r * 10 + i];
      return s / data.n;
    });
    r.offsets.mu.forEach((m, i) => close(m, mean[i], 0.1, `${name}: μ[${i}] follows the data mean`));
    assert.ok(
      r.offsets.lambda.every((x) => x > 0 && x < 1),
      `${name}: λ is a mean activation`,
    );
  }
  assert.equal(p.swapRates?.length, 3);
  assert.ok(
    p.swapRates?.every((x) => x > 0 && x <= 1),
    `swap rates ${p.swapRates}`,
  );
  assert.ok(
    p.history.every((h) => h.swapRate > 0 && h.swapRate <= 1),
    "each epoch records its swap rate",
  );
  [rbm0, c.rbm, p.rbm].forEach(disposeRBM);
});

test("trainCenteredRBM is deterministic under a seed and refuses a bad sliding factor", async () => {
  const data = bars(100);
  const rbm0 = initRBM(10, 4, { seed: 2 });
  const run = async (seed: number) => {
    const r = await trainCenteredRBM(rbm0, data, { ...common, seed, epochs: 1, tempering: { betas: 3, chainsPerTemperature: 5 } });
    const w = Array.from(r.rbm.W.dataSync());
    disposeRBM(r.rbm);
    return w;
  };
  assert.deepEqual(await run(1), await run(1));
  assert.notDeepEqual(await run(1), await run(2));
  await assert.rejects(trainCenteredRBM(rbm0, data, { centering: { slidingFactor: 2 } }), /slidingFactor must be in \[0, 1\]/);
  const before = tf.memory().numTensors;
  await assert.rejects(trainCenteredRBM(rbm0, data, { epochs: 0 }), /^Error: trainCenteredRBM: epochs must be an integer ≥ 1/);
  assert.equal(tf.memory().numTensors, before);
  disposeRBM(rbm0);
});
