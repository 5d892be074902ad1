/**
 * Deep belief networks: greedy stacking (shapes, propagation, determinism), resuming an interrupted
 * pretraining from its checkpoint, the label-joined top RBM (softmax sampling, exact label
 * posterior), generation, up-down and backprop fine-tuning, bad input, and tensor leaks.
 */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { exactLogProb } from "../../lib/core/exact";
import { disposeRBM, freeEnergy, hiddenProbs, initRBM, type RBM } from "../../lib/core/rbm";
import { sampleBernoulli, sampleSoftmaxGroup } from "../../lib/core/units";
import { exactDBNBound } from "../../lib/dbn/bound";
import { DBN_FORMAT, loadDBN, loadMLP, saveDBN, saveMLP } from "../../lib/dbn/checkpoint";
import { classifyDBN, labelLogProbs } from "../../lib/dbn/classify";
import { fineTuneMLP } from "../../lib/dbn/finetune";
import { generateDBN } from "../../lib/dbn/generate";
import { trainJointRBM } from "../../lib/dbn/joint";
import {
  confusionMatrix,
  dbnToMLP,
  disposeMLP,
  dropoutMask,
  evaluateMLP,
  type MLP,
  mlpGradients,
  mlpSizes,
  randomMLP,
} from "../../lib/dbn/mlp";
import { cloneDBN, type DBN, disposeDBN, stackRBMs, transposeRBM } from "../../lib/dbn/model";
import { dbnDownPass, dbnUpPass, upPass } from "../../lib/dbn/passes";
import { pretrainDBN } from "../../lib/dbn/pretrain";
import { tuneTopPCD, upDownFineTune } from "../../lib/dbn/updown";
import { binarize, type Dataset, firstN, loadMnist, selectRows, splitValidation, stratifiedSubset } from "../../lib/io/data";
import { saveSafetensors } from "../../lib/io/safetensors";
import { type TrainOptions, trainRBM } from "../../lib/train/cd";
import { noLeak, noLeakAsync } from "../support/assert";
import { assertDivergesCleanly } from "../support/training";

let root = "";
let train: Dataset;
let test1k: Dataset;
before(async () => {
  await initBackend({ quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-dbn-test-"));
  const all = loadMnist({ split: "train", limit: 10000 });
  train = firstN(all, 1000);
  test1k = loadMnist({ split: "test", limit: 1000 });
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const quiet: TrainOptions = { epochs: 1, progress: false };

function disposeSome(ts: (tf.Tensor | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

function sameDBN(a: DBN, b: DBN): boolean {
  return a.layers.every((r, l) =>
    [r.W, r.b, r.c].every((t, i) => {
      const other = [b.layers[l].W, b.layers[l].b, b.layers[l].c][i];
      return tf.tidy(() => tf.all(tf.equal(t, other)).dataSync()[0] === 1);
    }),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** `x`, asserting that it is there. */
function defined<T>(x: T | undefined, what: string): T {
  assert.ok(x !== undefined, `${what} is undefined`);
  return x;
}

test("greedy stacking: layer shapes chain, the up pass is the layers' hiddenProbs in turn, runs are seeded", async () => {
  await noLeakAsync("pretrainDBN", async () => {
    const { dbn, histories, resumed } = await pretrainDBN([784, 40, 30, 20], train, { perLayer: quiet, seed: 5 });
    assert.deepEqual(
      dbn.layers.map((r) => r.W.shape),
      [
        [784, 40],
        [40, 30],
        [30, 20],
      ],
    );
    assert.deepEqual(dbn.sizes, [784, 40, 30, 20]);
    assert.equal(dbn.nLabels, 0);
    assert.equal(histories.length, 3);
    assert.deepEqual(resumed, [false, false, false]);
    // The deepest up pass equals hiddenProbs applied layer by layer.
    const v = tf.tensor2d(train.images.subarray(0, 10 * 784), [10, 784]);
    const byHand = tf.tidy(() => dbn.layers.reduce<tf.Tensor2D>((x, rbm) => hiddenProbs(x, rbm), v));
    const up = dbnUpPass(dbn, v, 3);
    assert.ok(maxAbsDiff(values(up), values(byHand)) < 1e-5);
    assert.ok(maxAbsDiff(upPass(dbn, firstN(train, 10), { depth: 3 }), values(byHand)) < 1e-5);
    // The down pass goes back to pixel probabilities.
    const pen = dbnUpPass(dbn, v, 2);
    const down = dbnDownPass(dbn, pen);
    assert.deepEqual(down.shape, [10, 784]);
    tf.dispose([v, byHand, up, pen, down]);
    // Same seed → same DBN; "samples" propagation changes the upper layers only.
    const again = await pretrainDBN([784, 40, 30, 20], train, { perLayer: quiet, seed: 5 });
    assert.ok(sameDBN(dbn, again.dbn), "same seed, different DBN");
    const sampled = await pretrainDBN([784, 40, 30, 20], train, { perLayer: quiet, seed: 5, propagate: "samples" });
    assert.ok(maxAbsDiff(values(sampled.dbn.layers[0].W), values(dbn.layers[0].W)) === 0, "layer 0 does not depend on the propagation");
    assert.ok(maxAbsDiff(values(sampled.dbn.layers[1].W), values(dbn.layers[1].W)) > 1e-3, "layer 1 must see different data with samples");
    [dbn, again.dbn, sampled.dbn].forEach(disposeDBN);
  });
});

test("stackRBMs checks that sizes chain; bad layer sizes and labels give one clear error each", async () => {
  const a = initRBM(784, 50);
  const b = initRBM(40, 30);
  assert.throws(() => stackRBMs([a, b]), /layer 0 has nHidden = 50 but layer 1 has nVisible = 40; layer sizes must chain/);
  const top = initRBM(60, 30);
  const dbn = stackRBMs([a, top], { nLabels: 10 });
  assert.deepEqual(dbn.sizes, [784, 50, 30]);
  disposeRBM(b);
  disposeDBN(dbn);
  await assert.rejects(pretrainDBN([784, 0, 10], train, { perLayer: quiet }), /layer sizes must be at least two positive integers/);
  await assert.rejects(pretrainDBN([700, 10], train, { perLayer: quiet }), /700.*sizes\[0\]|sizes\[0\] = 700/);
  const badLabels: Dataset = {
    ...firstN(train, 200),
    labels: Uint8Array.from(train.labels.subarray(0, 200), (y, i) => (i === 7 ? 12 : y)),
  };
  await assert.rejects(pretrainDBN([784, 20, 10], badLabels, { perLayer: quiet, labels: true }), /label 12 at row 7 is outside \[0, 10\)/);
  await assert.rejects(
    pretrainDBN([784, 20, 10], train, { perLayer: [quiet] }),
    /perLayer has 1 option objects but \[784,20,10\] has 2 layers/,
  );
  const joint = initRBM(30, 8);
  const feats: Dataset = {
    images: new Float32Array(200 * 20).fill(0.5),
    labels: badLabels.labels,
    n: 200,
    rows: 1,
    cols: 20,
    name: "feats",
  };
  await assert.rejects(trainJointRBM(joint, feats, { nLabels: 10, ...quiet }), /label 12 at row 7 is outside/);
  disposeRBM(joint);
});

test("a diverging label-joined RBM stops with the last good parameters and frees its state", async () => {
  const feats: Dataset = { ...firstN(train, 400), name: "pixels" };
  const joint = initRBM(794, 16, { seed: 1 });
  await assertDivergesCleanly(
    () => trainJointRBM(joint, feats, { nLabels: 10, learningRate: 500, batchSize: 20, checkEvery: 2, maxWeight: 50, progress: false }),
    50,
  );
  disposeRBM(joint);
});

test("pretraining resumes after the last finished layer; other architectures, data and files are refused", () =>
  noLeakAsync("resumed pretraining", async () => {
    const dir = path.join(root, "resume");
    const sizes = [784, 30, 20, 16];
    const epochCounts = [0, 0, 0];
    const perLayer = (): TrainOptions[] => sizes.slice(1).map((_, l) => ({ ...quiet, epochs: 2, onEpoch: () => void epochCounts[l]++ }));
    let layer0: RBM | undefined;
    // Interrupt right after layer 0 has been trained and saved: only the test's copy of layer 0 may remain.
    await noLeakAsync(
      "the interrupted pretrainDBN",
      () =>
        assert.rejects(
          pretrainDBN(sizes, train, {
            perLayer: perLayer(),
            labels: true,
            seed: 3,
            checkpointDir: dir,
            onLayer: (info) => {
              layer0 = { W: info.rbm.W.clone(), b: info.rbm.b.clone(), c: info.rbm.c.clone() };
              throw new Error("simulated crash after layer 0");
            },
          }),
          /simulated crash after layer 0/,
        ),
      { returned: 3 },
    );
    assert.deepEqual(epochCounts, [2, 0, 0]);
    const file = path.join(dir, "pretrain.safetensors");
    assert.ok(fs.existsSync(file));
    assert.throws(() => loadDBN(file), /holds 1 of 3 layers \(an interrupted pretraining\)/);

    // Rerun: layer 0 is loaded (no epoch runs), layers 1 and 2 are trained.
    const resumedInfo: boolean[] = [];
    const run = await pretrainDBN(sizes, train, {
      perLayer: perLayer(),
      labels: true,
      seed: 3,
      checkpointDir: dir,
      onLayer: (i) => void resumedInfo.push(i.resumed),
    });
    assert.deepEqual(epochCounts, [2, 2, 2], "layer 0 must not be retrained");
    assert.deepEqual(run.resumed, [true, false, false]);
    assert.deepEqual(resumedInfo, [true, false, false]);
    assert.equal(run.histories[0].length, 2, "layer 0's history comes from the checkpoint");
    assert.ok(layer0);
    assert.equal(maxAbsDiff(values(run.dbn.layers[0].W), values(layer0.W)), 0, "layer 0 must be the saved one");
    // Interrupted + resumed gives exactly the uninterrupted result.
    const straight = await pretrainDBN(sizes, train, { perLayer: perLayer(), labels: true, seed: 3 });
    assert.ok(sameDBN(run.dbn, straight.dbn), "resumed run differs from an uninterrupted one");
    // A finished checkpoint: nothing is retrained, and loadDBN reads it.
    const done = await pretrainDBN(sizes, train, { perLayer: perLayer(), labels: true, seed: 3, checkpointDir: dir });
    assert.deepEqual(done.resumed, [true, true, true]);
    const loaded = loadDBN(file, { expect: { sizes, nLabels: 10 } });
    assert.ok(sameDBN(loaded.dbn, run.dbn));
    assert.equal(loaded.metadata.format, DBN_FORMAT);
    assert.throws(
      () => loadDBN(file, { expect: { sizes: [784, 30, 20, 10] } }),
      /holds a 784-30-20-16 with 10 label units DBN but 784-30-20-10 .*was expected/,
    );
    [run.dbn, straight.dbn, done.dbn, loaded.dbn].forEach(disposeDBN);
    disposeRBM(layer0);

    // Another architecture, other data, or another propagation with the same folder: one clear error each.
    await assert.rejects(
      pretrainDBN([784, 30, 20, 12], train, { perLayer: quiet, labels: true, checkpointDir: dir }),
      /cannot resume from .*pretrain\.safetensors: it holds a pretraining of a 784-30-20-16 with 10 label units DBN, but 784-30-20-12 with 10 label units was asked for\. Use another checkpointDir/,
    );
    await assert.rejects(
      pretrainDBN(sizes, firstN(train, 900), { perLayer: quiet, labels: true, checkpointDir: dir }),
      /it was trained on other data/,
    );
    await assert.rejects(
      pretrainDBN(sizes, train, { perLayer: quiet, labels: true, checkpointDir: dir, propagate: "samples" }),
      /propagated "probs"/,
    );
    // A user's own file under that name is never overwritten.
    const other = path.join(root, "users-file");
    fs.mkdirSync(other);
    saveSafetensors(
      path.join(other, "pretrain.safetensors"),
      { x: { shape: [2], data: new Float32Array([1, 2]) } },
      { format: "my-thing" },
    );
    const bytes = fs.readFileSync(path.join(other, "pretrain.safetensors"));
    await assert.rejects(
      pretrainDBN(sizes, train, { perLayer: quiet, checkpointDir: other }),
      /"my-thing" file, not a DBN checkpoint.*left untouched/,
    );
    assert.ok(fs.readFileSync(path.join(other, "pretrain.safetensors")).equals(bytes));
  }));

test("softmax groups are sampled one-of-K with the right frequencies", async () => {
  noLeak("sampleSoftmaxGroup", () => {
    const p = tf.tensor2d(Array.from({ length: 20000 }, () => [0.1, 0.2, 0.7]));
    const s = sampleSoftmaxGroup(p, 4);
    const rowSums = tf.sum(s, 1);
    const freq = tf.mean(s, 0);
    assert.ok(
      values(rowSums).every((x) => x === 1),
      "every row must be one-hot",
    );
    assert.ok(maxAbsDiff(values(freq), [0.1, 0.2, 0.7]) < 0.015, `frequencies ${values(freq)}`);
    tf.dispose([p, s, rowSums, freq]);
  });
});

test("label posterior of the top RBM equals softmax(−F(x, e_k)) computed from the free energy", async () => {
  const top = initRBM(12 + 4, 9, { method: "xavier", seed: 2 });
  const dbn: DBN = { sizes: [12, 9], nLabels: 4, layers: [top] };
  noLeak("labelLogProbs", () => {
    const x = tf.tensor2d(Array.from({ length: 5 }, (_, r) => Array.from({ length: 12 }, (_, i) => ((r * 7 + i * 3) % 5) / 4)));
    const lp = labelLogProbs(dbn, x);
    const brute = tf.tidy(() => {
      const negF = [0, 1, 2, 3].map((k) =>
        tf.neg(freeEnergy(tf.concat([x, tf.oneHot(tf.fill([5], k, "int32") as tf.Tensor1D, 4).toFloat()], 1) as tf.Tensor2D, top)),
      );
      return tf.logSoftmax(tf.stack(negF, 1));
    });
    assert.ok(maxAbsDiff(values(lp), values(brute)) < 1e-4);
    tf.dispose([x, lp, brute]);
  });
  disposeRBM(top);
});

test("variational bound: tight with the tied (transposed) prior, raised by training layer 2", () =>
  noLeakAsync("variational bound test", async () => {
    const data = binarize(firstN(train, 600), { mode: "sample", seed: 0 });
    const { dbn } = await pretrainDBN([784, 8], data, { perLayer: { ...quiet, epochs: 3 } });
    const lower = dbn.layers[0];
    const tied = transposeRBM(lower);
    await noLeakAsync("exactDBNBound", async () => {
      const v = tf.tensor2d(data.images.subarray(0, 200 * 784), [200, 784]);
      const b = exactDBNBound(lower, tied, v);
      const exact = exactLogProb(v, lower);
      assert.ok(maxAbsDiff(b.bound, exact) < 2e-3 * Math.max(1, Math.abs(b.mean) / 100), `bound ${b.mean} vs exact log p(v)`);
      assert.ok(Math.abs(b.logPrior + b.logLikelihood + b.entropy - b.mean) < 1e-6);
      // A worse prior (all-zero RBM: uniform over h) gives a lower bound than the tied one.
      const flat = {
        W: tf.zerosLike(tied.W) as tf.Tensor2D,
        b: tf.zerosLike(tied.b) as tf.Tensor1D,
        c: tf.zerosLike(tied.c) as tf.Tensor1D,
      };
      assert.ok(exactDBNBound(lower, flat, v).mean < b.mean);
      tf.dispose([flat.W, flat.b, flat.c]);
      // Training layer 2 (from the tied start) on samples of q(h|v) raises the bound above log p(v).
      const hs = tf.tidy(() => sampleBernoulli(hiddenProbs(tf.tensor2d(data.images, [data.n, 784]), lower), 1));
      const hData: Dataset = { images: Float32Array.from(hs.dataSync()), labels: data.labels, n: data.n, rows: 1, cols: 8, name: "h" };
      hs.dispose();
      const layer2 = (await trainRBM(tied, hData, { ...quiet, epochs: 3, batchSize: 20, learningRate: 0.02, finalMomentum: 0.5 })).rbm;
      const raised = exactDBNBound(lower, layer2, v);
      assert.ok(raised.mean > b.mean + 0.1, `bound ${b.mean.toFixed(3)} → ${raised.mean.toFixed(3)} should rise`);
      assert.ok(
        maxAbsDiff([raised.logLikelihood, raised.entropy], [b.logLikelihood, b.entropy]) < 1e-3,
        "layer 2 changes only E_q log p(h)",
      );
      disposeRBM(layer2);
      v.dispose();
    });
    const wrongPrior = initRBM(9, 4);
    const v1 = tf.zeros([1, 784]) as tf.Tensor2D;
    assert.throws(() => exactDBNBound(lower, wrongPrior, v1), /prior RBM has 9 visible units but the lower RBM has 8 hidden units/);
    disposeRBM(wrongPrior);
    v1.dispose();
    disposeRBM(tied);
    disposeDBN(dbn);
  }));

test("generation: class-conditional chains, recorded frames, seeded, no leaks", async () => {
  const { dbn } = await pretrainDBN([784, 30, 40], train, { perLayer: quiet, labels: true });
  noLeak("generateDBN", () => {
    const g = generateDBN(dbn, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], steps: 20, every: 5, seed: 1 });
    assert.equal(g.frames.length, 4);
    assert.deepEqual(g.steps, [5, 10, 15, 20]);
    assert.equal(g.images.length, 10 * 784);
    assert.ok(g.images.every((p) => p >= 0 && p <= 1));
    assert.deepEqual(Array.from(g.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const same = generateDBN(dbn, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], steps: 20, every: 5, seed: 1 });
    assert.equal(maxAbsDiff(same.images, g.images), 0);
    const other = generateDBN(dbn, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], steps: 20, every: 5, seed: 2 });
    assert.ok(maxAbsDiff(other.images, g.images) > 1e-3);
    const free = generateDBN(dbn, { nChains: 6, steps: 3, every: 0 });
    assert.equal(free.frames.length, 1);
    assert.equal(free.labels.length, 6);
    assert.ok(Array.from(free.labels).every((y) => y >= 0 && y < 10));
  });
  assert.throws(() => generateDBN(dbn, { labels: [3, 11] }), /label 11 at row 1 is outside \[0, 10\)/);
  const plain = await pretrainDBN([784, 20], train, { perLayer: quiet });
  assert.throws(() => generateDBN(plain.dbn, { labels: 3 }), /no label units to clamp/);
  disposeDBN(plain.dbn);
  disposeDBN(dbn);
});

test("up-down fine-tuning: seeded, leaves the input alone, no leaks, raises the label log-probability", async () => {
  const data = firstN(train, 1000);
  const { dbn } = await pretrainDBN([784, 100, 200], data, { perLayer: { ...quiet, epochs: 4 }, labels: true });
  const copy = cloneDBN(dbn);
  const before = classifyDBN(dbn, data);
  // The result owns exactly its parameters: 2 RBMs × (W, b, c) + 1 generative layer × (W, b).
  const tuned = await noLeakAsync(
    "upDownFineTune",
    () => upDownFineTune(dbn, data, { epochs: 2, learningRate: 0.01, seed: 1, progress: false }),
    { returned: 8 },
  );
  const again = await upDownFineTune(dbn, data, { epochs: 2, learningRate: 0.01, seed: 1, progress: false });
  assert.ok(sameDBN(tuned.dbn, again.dbn), "same seed, different result");
  assert.equal(maxAbsDiff(values(again.dbn.generative?.[0].W ?? tf.scalar(0)), values(tuned.dbn.generative?.[0].W ?? tf.scalar(1))), 0);
  disposeDBN(again.dbn);
  assert.equal(tuned.history.length, 2);
  assert.ok(sameDBN(dbn, copy), "the input DBN must not change");
  assert.deepEqual(
    tuned.dbn.generative?.map((g) => g.W.shape),
    [[100, 784]],
  );
  const after = classifyDBN(tuned.dbn, data);
  assert.ok(
    after.meanLogProb > before.meanLogProb + 0.01,
    `label log-prob ${before.meanLogProb.toFixed(4)} → ${after.meanLogProb.toFixed(4)} should rise`,
  );
  [dbn, copy, tuned.dbn].forEach(disposeDBN);
});

test("persistent-CD polish of the top RBM: lower layers untouched, seeded, no leaks, labels still known", async () => {
  const data = firstN(train, 600);
  const { dbn } = await pretrainDBN([784, 40, 60], data, { perLayer: { ...quiet, epochs: 3 }, labels: true });
  const before = classifyDBN(dbn, data);
  // The result owns exactly its parameters: 2 RBMs × (W, b, c).
  const a = await noLeakAsync("tuneTopPCD", () => tuneTopPCD(dbn, data, { epochs: 1, seed: 2, progress: false }), { returned: 6 });
  const b = await tuneTopPCD(dbn, data, { epochs: 1, seed: 2, progress: false });
  assert.ok(sameDBN(a.dbn, b.dbn), "same seed, different result");
  assert.equal(maxAbsDiff(values(a.dbn.layers[0].W), values(dbn.layers[0].W)), 0, "the lower layer must not change");
  assert.ok(maxAbsDiff(values(a.dbn.layers[1].W), values(dbn.layers[1].W)) > 1e-4, "the top RBM must change");
  assert.ok(Number.isNaN(a.history[0].trainRecon), "PCD has no reconstruction of the batch");
  const after = classifyDBN(a.dbn, data);
  assert.ok(after.error < before.error + 0.05, `label error ${before.error} → ${after.error}`);
  [dbn, a.dbn, b.dbn].forEach(disposeDBN);
});

test("backprop fine-tuning: beats chance widely, and pretrained init beats random init at 1,000 labels", async () => {
  const unlabelled = loadMnist({ split: "train", limit: 2000 });
  const labelled = stratifiedSubset(loadMnist({ split: "train", limit: 10000 }), 1000, 1);
  const { dbn } = await pretrainDBN([784, 200, 200], unlabelled, { perLayer: { ...quiet, epochs: 3 } });
  const errors = await noLeakAsync("fineTuneMLP", async () => {
    const out: Record<string, number> = {};
    for (const init of ["pretrained", "random"] as const) {
      const mlp = init === "pretrained" ? dbnToMLP(dbn, { seed: 1 }) : randomMLP(dbn.sizes, { seed: 1 });
      assert.deepEqual(mlpSizes(mlp), [784, 200, 200, 10]);
      const r = await fineTuneMLP(mlp, labelled, { epochs: 5, optimizer: "adam", seed: 1, progress: false });
      out[init] = evaluateMLP(r.mlp, test1k).error;
      disposeMLP(r.mlp);
      disposeMLP(mlp);
    }
    return out;
  });
  assert.ok(errors.pretrained < 0.35, `pretrained test error ${errors.pretrained} (chance 0.9)`);
  assert.ok(errors.pretrained < errors.random - 0.05, `pretrained ${errors.pretrained} vs random ${errors.random}`);
  disposeDBN(dbn);
});

test("early stopping keeps the best validation epoch; save/load, confusion matrix and bad options", async () => {
  const { train: tr, validation } = splitValidation(firstN(train, 600), 100, 0);
  assert.equal(tr.n, 500);
  assert.equal(validation.n, 100);
  const mlp = randomMLP([784, 30], { seed: 0 });
  await noLeakAsync("fineTuneMLP + evaluate", async () => {
    const r = await fineTuneMLP(mlp, tr, { epochs: 6, validation, patience: 2, optimizer: "adam", learningRate: 0.01, progress: false });
    const best = Math.min(...r.history.map((h) => h.valError));
    assert.equal(r.history[r.bestEpoch].valError, best);
    assert.ok(Math.abs(evaluateMLP(r.mlp, validation).error - best) < 1e-9, "the returned model is the best epoch's");
    const file = path.join(root, "mlp.safetensors");
    saveMLP(file, r.mlp, { note: "test" });
    const back = loadMLP(file);
    assert.deepEqual(mlpSizes(back.mlp), [784, 30, 10]);
    assert.equal(evaluateMLP(back.mlp, validation).error, evaluateMLP(r.mlp, validation).error);
    disposeMLP(back.mlp);
    const ev = evaluateMLP(r.mlp, validation);
    assert.equal(
      ev.confusion.flat().reduce((a, b) => a + b, 0),
      validation.n,
    );
    assert.equal(
      ev.confusion.reduce((s, row, k) => s + row[k], 0),
      Math.round((1 - ev.error) * validation.n),
    );
    disposeMLP(r.mlp);
  });
  // freezeEpochs: only the output layer learns.
  const deep = randomMLP([784, 20, 15], { seed: 2 });
  const frozen = await fineTuneMLP(deep, tr, { epochs: 2, freezeEpochs: 2, progress: false });
  assert.equal(maxAbsDiff(values(frozen.mlp.layers[0].W), values(deep.layers[0].W)), 0);
  assert.equal(maxAbsDiff(values(frozen.mlp.layers[1].b), values(deep.layers[1].b)), 0);
  assert.ok(maxAbsDiff(values(frozen.mlp.layers[2].W), values(deep.layers[2].W)) > 1e-4, "the output layer must learn");
  disposeMLP(frozen.mlp);
  disposeMLP(deep);
  assert.deepEqual(confusionMatrix([0, 1, 1], [0, 1, 0], 2), [
    [1, 1],
    [0, 1],
  ]);
  await assert.rejects(
    fineTuneMLP(mlp, tr, { optimizer: "adam", learningRate: (e) => 0.1 / (1 + e) }),
    /schedule needs optimizer "momentum"/,
  );
  const bad = selectRows(tr, [0, 1, 2]);
  bad.labels[1] = 10;
  await assert.rejects(fineTuneMLP(mlp, bad, { batchSize: 3 }), /fineTuneMLP: train data .*: label 10 at row 1 is outside \[0, 10\)/);
  disposeMLP(mlp);
});

test("fine-tuning with max-norm keeps every hidden unit's incoming weights on the ball; averaging returns the average", async () => {
  const { train: tr, validation } = splitValidation(firstN(train, 600), 100, 0);
  const sizes = [784, 30, 20];
  const colNorms = (W: tf.Tensor2D): number[] => tf.tidy(() => Array.from(tf.sqrt(tf.sum(tf.square(W), 0)).dataSync()));
  await noLeakAsync("fineTuneMLP with maxNorm and averageDecay", async () => {
    // A large step, so that the unconstrained weights grow past the bound.
    const opts = { epochs: 3, learningRate: 0.5, seed: 4, progress: false } as const;
    const start = randomMLP(sizes, { seed: 4 });
    const free = await fineTuneMLP(start, tr, opts);
    const c = 0.8 * Math.max(...colNorms(free.mlp.layers[0].W));
    const capped = await fineTuneMLP(start, tr, { ...opts, maxNorm: c });
    for (const l of [0, 1]) {
      const norms = colNorms(capped.mlp.layers[l].W);
      assert.ok(Math.max(...norms) <= c * (1 + 1e-5), `layer ${l}: longest column ${Math.max(...norms)} > maxNorm ${c}`);
    }
    assert.ok(Math.max(...colNorms(capped.mlp.layers[0].W)) > 0.99 * c, "the constraint must bind in layer 0");
    // A decay of 1e-9 makes the average the last iterate: the same model as without averaging.
    const last = await fineTuneMLP(start, tr, { ...opts, averageDecay: 1e-9 });
    assert.ok(maxAbsDiff(values(last.mlp.layers[0].W), values(free.mlp.layers[0].W)) < 1e-5, "α → 0 is the plain iterate");
    const avg = await fineTuneMLP(start, tr, { ...opts, averageDecay: 0.99, validation, patience: 10 });
    assert.ok(maxAbsDiff(values(avg.mlp.layers[0].W), values(free.mlp.layers[0].W)) > 1e-3, "α = 0.99 averages");
    for (const r of avg.history) assert.ok(r.valErrorIterate >= 0 && r.valErrorIterate <= 1, "the iterate's validation error is recorded");
    assert.equal(evaluateMLP(avg.mlp, validation).error, avg.history[avg.bestEpoch].valError, "the kept model is the validated average");
    assert.ok(Number.isNaN(free.history[0].valErrorIterate));
    for (const r of [free, capped, last, avg]) disposeMLP(r.mlp);
    disposeMLP(start);
  });
  const mlp = randomMLP(sizes, { seed: 0 });
  await assert.rejects(fineTuneMLP(mlp, tr, { maxNorm: 0 }), /maxNorm must be a positive number/);
  await assert.rejects(fineTuneMLP(mlp, tr, { averageDecay: 1 }), /averageDecay must be in \[0, 1\)/);
  disposeMLP(mlp);
});

test("backprop gradients equal finite differences of the loss, with and without dropout masks", () =>
  noLeak("backprop gradients test", () => {
    const mlp = randomMLP([6, 5, 4], { seed: 3, outputStd: 0.5, nClasses: 3 });
    const B = 4;
    const x = tf.tensor2d(
      Array.from({ length: B * 6 }, (_, i) => ((i * 37) % 11) / 10),
      [B, 6],
    );
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 2, 1, 2], "int32"), 3).toFloat() as tf.Tensor2D);
    const masks = [dropoutMask([B, 6], 0.3, 1), undefined, dropoutMask([B, 4], 0.5, 2)];
    for (const m of [undefined, masks])
      noLeak(`mlpGradients (${m ? "dropout" : "plain"})`, () => {
        const g = mlpGradients(mlp, x, y, { masks: m });
        const meanLoss = (net: MLP): number => {
          const r = mlpGradients(net, x, y, { masks: m });
          const v = r.loss.dataSync()[0] / B;
          disposeSome([r.loss, r.wrong, ...r.dW, ...r.db]);
          return v;
        };
        let checked = 0;
        for (let l = 0; l < mlp.layers.length; l++) {
          for (const which of ["W", "b"] as const) {
            const param = mlp.layers[l][which];
            const analytic = (which === "W" ? g.dW[l] : g.db[l]) as tf.Tensor;
            const grad = analytic.dataSync();
            const base = param.dataSync().slice();
            for (let i = 0; i < base.length; i += 3) {
              const eps = 1e-2;
              const at = (delta: number): number => {
                const vals = base.slice();
                vals[i] += delta;
                const t = tf.tensor(vals, param.shape);
                const layers = mlp.layers.map((ly, k) => (k === l ? { ...ly, [which]: t } : ly)) as MLP["layers"];
                const v = meanLoss({ layers });
                t.dispose();
                return v;
              };
              const fd = (at(eps) - at(-eps)) / (2 * eps);
              assert.ok(
                Math.abs(fd - grad[i]) < 2e-4 + 1e-2 * Math.abs(fd),
                `${m ? "dropout" : "plain"} layer ${l} ${which}[${i}]: finite difference ${fd}, backprop ${grad[i]}`,
              );
              checked++;
            }
          }
        }
        assert.ok(checked > 20);
        // fromLayer freezes the layers below: no gradients there, the same ones above.
        const top = mlpGradients(mlp, x, y, { masks: m, fromLayer: 2, scale: 2 });
        assert.equal(top.dW[0], undefined);
        assert.equal(top.db[1], undefined);
        assert.ok(
          maxAbsDiff(
            defined(top.dW[2], "top.dW[2]").dataSync(),
            Array.from(defined(g.dW[2], "g.dW[2]").dataSync(), (v) => 2 * v),
          ) < 1e-6,
          "scale multiplies the gradient",
        );
        disposeSome([g.loss, g.wrong, top.loss, top.wrong, ...g.dW, ...g.db, ...top.dW, ...top.db]);
      });
    // A masked-out input pixel gets no gradient on its weights.
    const mask0 = defined(masks[0], "masks[0]").dataSync();
    const g = mlpGradients(mlp, x, y, { masks: masks });
    const dW0 = defined(g.dW[0], "g.dW[0]").dataSync();
    for (let i = 0; i < 6; i++) {
      const alive = [0, 1, 2, 3].some((r) => mask0[r * 6 + i] !== 0);
      if (!alive) for (let j = 0; j < 5; j++) assert.equal(dW0[i * 5 + j], 0);
    }
    const notOneHot = tf.zeros([B, 4]) as tf.Tensor2D;
    const wrongMask = tf.ones([B, 5]) as tf.Tensor2D;
    assert.throws(() => mlpGradients(mlp, x, notOneHot), /y has shape \[4,4\] but must be one-hot \[4, 3\]/);
    assert.throws(() => mlpGradients(mlp, x, y, { masks: [wrongMask] }), /mask 0 has shape \[4,5\]/);
    disposeSome([x, y, notOneHot, wrongMask, g.loss, g.wrong, ...g.dW, ...g.db, ...masks]);
    disposeMLP(mlp);
  }));

test("dropout masks: P(0) = p, mean 1, seeded; fine-tuning with dropout is reproducible and still learns", async () => {
  const m = dropoutMask([200, 500], 0.2, 7);
  const v = m.dataSync();
  const zeros = v.filter((x) => x === 0).length / v.length;
  assert.ok(Math.abs(zeros - 0.2) < 0.006, `fraction dropped ${zeros}`); // 4.5 standard errors
  assert.ok(
    v.every((x) => x === 0 || Math.abs(x - 1.25) < 1e-6),
    "survivors are scaled by 1/(1 − p)",
  );
  const again = dropoutMask([200, 500], 0.2, 7);
  assert.equal(maxAbsDiff(v, again.dataSync()), 0);
  tf.dispose([m, again]);
  assert.throws(() => dropoutMask([2, 2], 1, 0), /p must be a drop probability in \[0, 1\), got 1/);

  const { train: tr, validation } = splitValidation(firstN(train, 1000), 200, 0);
  const mlp = randomMLP([784, 100], { seed: 4 });
  const opts = {
    epochs: 5,
    inputDropout: 0.2,
    hiddenDropout: 0.5,
    seed: 5,
    progress: false,
    optimizer: "adam" as const,
    learningRate: 0.003,
  };
  await noLeakAsync("fineTuneMLP with dropout", async () => {
    const a = await fineTuneMLP(mlp, tr, opts);
    const b = await fineTuneMLP(mlp, tr, opts);
    const c = await fineTuneMLP(mlp, tr, { ...opts, seed: 6 });
    assert.equal(maxAbsDiff(values(a.mlp.layers[0].W), values(b.mlp.layers[0].W)), 0, "same seed, different weights");
    assert.ok(maxAbsDiff(values(a.mlp.layers[0].W), values(c.mlp.layers[0].W)) > 1e-5, "the seed must change the masks");
    const err = evaluateMLP(a.mlp, validation).error;
    assert.ok(err < 0.3, `validation error with dropout ${err} (chance 0.9)`);
    [a, b, c].forEach((r) => disposeMLP(r.mlp));
  });
  await assert.rejects(fineTuneMLP(mlp, tr, { hiddenDropout: 1 }), /hiddenDropout must be a probability in \[0, 1\), got 1/);
  disposeMLP(mlp);
});

test("saveDBN/loadDBN round trip of an untied DBN; saving never replaces a foreign file", async () => {
  const { dbn } = await pretrainDBN([784, 20, 12], firstN(train, 300), { perLayer: quiet, labels: true });
  const { dbn: untied } = await upDownFineTune(dbn, firstN(train, 300), { epochs: 1, progress: false });
  const file = path.join(root, "untied.safetensors");
  saveDBN(file, untied, { hyperparameters: { note: "x" } });
  const back = loadDBN(file);
  assert.ok(back.dbn.generative);
  assert.ok(sameDBN(back.dbn, untied));
  assert.equal(maxAbsDiff(values(back.dbn.generative[0].W), values(untied.generative?.[0].W ?? tf.scalar(0))), 0);
  const foreign = path.join(root, "foreign.bin");
  fs.writeFileSync(foreign, "not a checkpoint");
  assert.throws(() => saveDBN(foreign, dbn), /already exists|not a/);
  assert.equal(fs.readFileSync(foreign, "utf8"), "not a checkpoint");
  [dbn, untied, back.dbn].forEach(disposeDBN);
});
