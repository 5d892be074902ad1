/**
 * CD-k / PCD training: the update computes the right statistics (checked against the exact
 * gradient on a tiny model), training improves the exact likelihood, and bad input fails early.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { exactLogLikelihoodGradient, exactLogProb } from "../../lib/core/exact";
import { Rng } from "../../lib/core/random";
import { disposeRBM, initRBM, makeRBM, type RBM } from "../../lib/core/rbm";
import { binarize, type Dataset, firstN, loadMnist } from "../../lib/io/data";
import { trainRBM } from "../../lib/train/cd";
import { noLeakAsync } from "../support/assert";
import { assertDivergesCleanly } from "../support/training";

before(async () => {
  await initBackend({ quiet: true });
});

/** A dataset of `rows` repeated `times` times (so one batch holds many copies of each row). */
function repeated(rows: number[][], times: number): Dataset {
  const d = rows[0].length;
  const images = new Float32Array(rows.length * times * d);
  for (let t = 0; t < times; t++) rows.forEach((r, i) => images.set(r, (t * rows.length + i) * d));
  return { images, labels: new Uint8Array(rows.length * times), n: rows.length * times, rows: 1, cols: d, name: "toy" };
}

function diff(after: RBM, before: RBM): { dW: Float32Array; db: Float32Array; dc: Float32Array } {
  return tf.tidy(() => ({
    dW: tf.sub(after.W, before.W).dataSync() as Float32Array,
    db: tf.sub(after.b, before.b).dataSync() as Float32Array,
    dc: tf.sub(after.c, before.c).dataSync() as Float32Array,
  }));
}

const noMomentum = { initialMomentum: 0, finalMomentum: 0, weightDecay: 0, shuffle: false, progress: false } as const;

for (const persistent of [false, true]) {
  const what = `${persistent ? "PCD" : "CD"}-k`;
  test(`one ${what} update with long chains equals the exact log-likelihood gradient`, () =>
    noLeakAsync(`the ${what} test`, async () => {
      const rng = new Rng(1);
      const rows = Array.from({ length: 6 }, () => Array.from({ length: 5 }, () => (rng.uniform() < 0.35 ? 1 : 0)));
      const W = Array.from({ length: 5 }, () => Array.from({ length: 3 }, () => rng.normal()));
      const rbm = makeRBM(W, [0.2, -0.3, 0.1, 0, -0.5], [0.3, -0.2, 0.1]);
      const data = repeated(rows, 1000);
      const v = tf.tensor2d(rows);
      const exact = exactLogLikelihoodGradient(v, rbm);
      v.dispose();
      // lr = 1, one batch holding all 6,000 rows, k = 30 so the chains reach the model distribution.
      const { rbm: after, chains } = await trainRBM(rbm, data, {
        ...noMomentum,
        k: 30,
        learningRate: 1,
        batchSize: data.n,
        persistent,
        sampleVisible: true,
        seed: 3,
      });
      tf.dispose(chains);
      const got = diff(after, rbm);
      const worst = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
      // Monte-Carlo error of a mean over 6,000 chains is ≈ 0.5/√6000 ≈ 0.007; allow 4σ.
      assert.ok(worst(got.dW, exact.dW) < 0.03, `dW off by ${worst(got.dW, exact.dW)}`);
      assert.ok(worst(got.db, exact.db) < 0.03, `db off by ${worst(got.db, exact.db)}`);
      assert.ok(worst(got.dc, exact.dc) < 0.03, `dc off by ${worst(got.dc, exact.dc)}`);
      // CD-1 instead is biased: its update differs clearly from the exact gradient on this model.
      if (!persistent) {
        const { rbm: cd1 } = await trainRBM(rbm, data, {
          ...noMomentum,
          k: 1,
          learningRate: 1,
          batchSize: data.n,
          sampleVisible: true,
          seed: 3,
        });
        const g1 = diff(cd1, rbm);
        assert.ok(worst(g1.dW, exact.dW) > 0.05, `CD-1 should be visibly biased here, off by only ${worst(g1.dW, exact.dW)}`);
        disposeRBM(cd1);
      }
      disposeRBM(after);
      disposeRBM(rbm);
    }));
}

test("CD-1 on MNIST raises the exact log-likelihood of a 784-10 RBM and lowers reconstruction error", async () => {
  const data = binarize(firstN(loadMnist(), 2000));
  const rbm = initRBM(784, 10, { method: "hinton", data, seed: 0 });
  const logLik = (m: RBM) => {
    const v = tf.tensor2d(data.images.subarray(0, 500 * 784), [500, 784]);
    const lp = exactLogProb(v, m);
    v.dispose();
    return lp.reduce((a, x) => a + x, 0) / lp.length;
  };
  const before = logLik(rbm);
  const { rbm: trained, history } = await trainRBM(rbm, data, { epochs: 4, learningRate: 0.1, progress: false, seed: 1 });
  const after = logLik(trained);
  assert.ok(after > before + 12, `exact log-likelihood should rise by > 12 nats: ${before.toFixed(1)} → ${after.toFixed(1)}`);
  assert.ok(
    history[3].trainRecon < history[0].trainRecon,
    `reconstruction error should fall: ${history.map((h) => h.trainRecon.toFixed(1))}`,
  );
  assert.deepEqual(
    history.map((h) => h.momentum),
    [0.5, 0.5, 0.5, 0.5],
  );
  disposeRBM(rbm);
  disposeRBM(trained);
});

test("same seed ⇒ same history and weights; no tensors leak across epochs; schedules are honoured", () =>
  noLeakAsync("five training runs", async () => {
    const data = firstN(loadMnist({ split: "test" }), 300);
    const rbm = initRBM(784, 20, { seed: 2 });
    const opts = {
      epochs: 3,
      batchSize: 50,
      momentumSwitchEpoch: 1,
      learningRate: (e: number) => 0.1 / (1 + e),
      progress: false,
      seed: 9,
    } as const;
    // Only the trained W, b, c remain.
    const a = await noLeakAsync("trainRBM", () => trainRBM(rbm, data, opts), { returned: 3 });
    const b = await trainRBM(rbm, data, opts);
    assert.deepEqual(
      a.history.map((h) => h.trainRecon),
      b.history.map((h) => h.trainRecon),
    );
    assert.deepEqual(a.rbm.W.dataSync(), b.rbm.W.dataSync());
    assert.deepEqual(
      a.history.map((h) => [h.learningRate, h.momentum]),
      [
        [0.1, 0.5],
        [0.05, 0.9],
        [0.1 / 3, 0.9],
      ],
    );
    const c = await trainRBM(rbm, data, { ...opts, seed: 10 });
    assert.notDeepEqual(a.rbm.W.dataSync(), c.rbm.W.dataSync());
    const pcd = await trainRBM(rbm, data, { ...opts, persistent: true, nChains: 7 });
    assert.deepEqual(pcd.chains?.shape, [7, 20]);
    tf.dispose(pcd.chains);
    for (const r of [a, b, c, pcd]) disposeRBM(r.rbm);
    disposeRBM(rbm);
  }));

test("divergence stops with the epoch, batch, a fix, and the last good parameters", async () => {
  const data = firstN(loadMnist({ split: "test" }), 400);
  const rbm = initRBM(784, 16, { seed: 1 });
  await assertDivergesCleanly(
    () => trainRBM(rbm, data, { learningRate: 500, batchSize: 20, checkEvery: 2, maxWeight: 50, progress: false }),
    50,
  );
  disposeRBM(rbm);
});

test("bad hyperparameters and data fail before any training starts", async () => {
  const data = firstN(loadMnist({ split: "test" }), 100);
  const rbm = initRBM(784, 5);
  let batches = 0;
  const onBatch = () => void batches++;
  const cases: [object, RegExp][] = [
    [{ k: 0 }, /k must be an integer ≥ 1/],
    [{ learningRate: 0 }, /learningRate must be a positive number/],
    [{ learningRate: -1 }, /learningRate must be a positive number/],
    [{ batchSize: 101 }, /batchSize 101 is larger than the data \(100 rows\)/],
    [{ initialMomentum: 1 }, /initialMomentum must be in \[0, 1\)/],
    [{ nChains: 10 }, /nChains only applies to persistent CD/],
    [{ sparsityTarget: 2 }, /sparsityTarget must be in \(0, 1\)/],
  ];
  for (const [opts, re] of cases) await assert.rejects(trainRBM(rbm, data, { ...opts, onBatch, progress: false }), re);
  const bright = { ...data, images: data.images.map((x) => x * 255) };
  await assert.rejects(trainRBM(rbm, bright, { onBatch, progress: false }), /not in \[0, 1\].*divide by 255/);
  const small = initRBM(100, 5);
  await assert.rejects(trainRBM(small, data, { onBatch, progress: false }), /784 values per row but the RBM has nVisible = 100/);
  assert.equal(batches, 0, "no batch ran");
  disposeRBM(rbm);
  disposeRBM(small);
});
