/**
 * The one training loop under an interrupt (the notebook's ■, here `requestInterrupt()` from a
 * callback): every trainer stops within a batch, frees its tensors, and hands over the model as it
 * was after the last finished batch — in the error and through `lastInterrupted()`. An interrupt
 * that arrived before a run started does not stop it.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM, type RBM } from "../../lib/core/rbm";
import { fineTuneMLP } from "../../lib/dbn/finetune";
import { disposeMLP, type MLP, randomMLP } from "../../lib/dbn/mlp";
import { disposeDBN } from "../../lib/dbn/model";
import { type PretrainPartial, pretrainDBN } from "../../lib/dbn/pretrain";
import { upDownFineTune } from "../../lib/dbn/updown";
import { binarize, type Dataset, firstN, loadMnist } from "../../lib/io/data";
import { trainRBM } from "../../lib/train/cd";
import { TrainingInterruptedError } from "../../lib/train/loop";
import { clearInterrupt, interruptPending, lastInterrupted, requestInterrupt } from "../../lib/view/interrupt";
import { noLeakAsync } from "../support/assert";

let data: Dataset;
before(async () => {
  await initBackend({ quiet: true });
  data = binarize(firstN(loadMnist({ split: "train", limit: 600 }), 600), { mode: "threshold" });
});

/** Calls requestInterrupt() once `at` batches have finished (an onBatch callback). */
function interruptAfter(at: number): (info: { epoch: number; batch: number; nBatches: number }) => void {
  let seen = 0;
  return () => {
    if (++seen === at) requestInterrupt();
  };
}

test("trainRBM stops within a batch of an interrupt and keeps the model after that batch", () =>
  noLeakAsync("interrupted trainRBM", async () => {
    const rbm0 = initRBM(784, 16, { seed: 1 });
    let batchesRun = 0;
    const onBatch = interruptAfter(7);
    await assert.rejects(
      trainRBM(rbm0, data, {
        epochs: 5,
        batchSize: 20,
        progress: false,
        onBatch: (i) => {
          batchesRun++;
          onBatch(i);
        },
      }),
      (e: unknown) => {
        assert.ok(e instanceof TrainingInterruptedError, String(e));
        assert.equal(e.epoch, 0);
        assert.equal(e.batch, 6, "the batch after which it stopped");
        assert.match(e.message, /^trainRBM: interrupted .* in epoch 0, after batch 6\. .*lastInterrupted\(\)\.partial/);
        assert.equal(lastInterrupted(), e, "the next cell can reach it");
        const m = e.partial as RBM;
        assert.deepEqual(m.W.shape, [784, 16]);
        assert.ok(tf.tidy(() => tf.all(tf.isFinite(m.W)).dataSync()[0]) === 1);
        disposeRBM(m);
        return true;
      },
    );
    assert.equal(batchesRun, 7, "no batch ran after the interrupt");
    assert.equal(interruptPending(), false, "the interrupt was honoured, not left pending");
    disposeRBM(rbm0);
  }));

test("the partial model of an interrupted run equals an uninterrupted run stopped at the same batch", () =>
  noLeakAsync("partial = prefix", async () => {
    const rbm0 = initRBM(784, 16, { seed: 2 });
    const opts = { batchSize: 50, progress: false, seed: 5, shuffle: false } as const;
    // 600 rows / 50 = 12 batches: a full epoch is the same as an interrupt after batch 11.
    const full = await trainRBM(rbm0, data, { ...opts, epochs: 1 });
    const err = await trainRBM(rbm0, data, { ...opts, epochs: 3, onBatch: interruptAfter(12) }).catch((e: unknown) => e);
    assert.ok(err instanceof TrainingInterruptedError);
    const partial = err.partial as RBM;
    assert.deepEqual(partial.W.dataSync(), full.rbm.W.dataSync(), "same weights, bit for bit");
    disposeRBM(partial);
    disposeRBM(full.rbm);
    disposeRBM(rbm0);
  }));

test("an interrupt pending before a run starts does not stop it", () =>
  noLeakAsync("stale interrupt", async () => {
    requestInterrupt();
    const rbm0 = initRBM(784, 8, { seed: 3 });
    const r = await trainRBM(rbm0, data, { epochs: 1, batchSize: 100, progress: false });
    assert.equal(r.history.length, 1);
    disposeRBM(r.rbm);
    disposeRBM(rbm0);
  }));

test("fineTuneMLP and upDownFineTune stop on an interrupt and keep their model", () =>
  noLeakAsync("interrupted fine-tuning", async () => {
    const labelled: Dataset = data;
    const mlp = randomMLP([784, 20], { seed: 4 });
    const e1 = await fineTuneMLP(mlp, labelled, { epochs: 3, progress: false, onEpoch: () => requestInterrupt() }).catch((e: unknown) => e);
    assert.ok(e1 instanceof TrainingInterruptedError, String(e1));
    assert.match(e1.message, /^fineTuneMLP: interrupted/);
    assert.equal(e1.history.length, 1, "one finished epoch");
    assert.equal(e1.epoch, 1, "stopped in the second epoch, after its first batch");
    disposeMLP(e1.partial as MLP);
    disposeMLP(mlp);

    const pre = await pretrainDBN([784, 12, 10], data, { labels: true, perLayer: { epochs: 1, progress: false } });
    const e2 = await upDownFineTune(pre.dbn, data, { epochs: 2, progress: false, onEpoch: () => requestInterrupt() }).catch(
      (e: unknown) => e,
    );
    assert.ok(e2 instanceof TrainingInterruptedError, String(e2));
    assert.match(e2.message, /^upDownFineTune: interrupted/);
    disposeDBN(e2.partial as Parameters<typeof disposeDBN>[0]);
    disposeDBN(pre.dbn);
  }));

test("pretrainDBN interrupted in layer 1 keeps layer 0 and the interrupted layer", () =>
  noLeakAsync("interrupted pretraining", async () => {
    let layerDone = false;
    const e = await pretrainDBN([784, 12, 10], data, {
      perLayer: { epochs: 2, batchSize: 50, progress: false, onBatch: () => layerDone && requestInterrupt() },
      onLayer: () => {
        layerDone = true;
      },
    }).catch((err: unknown) => err);
    assert.ok(e instanceof TrainingInterruptedError, String(e));
    assert.match(e.message, /^pretrainDBN: interrupted .* in layer 1, .*1 finished layers and the interrupted one are kept/);
    const p = e.partial as PretrainPartial;
    assert.equal(p.layers.length, 1);
    assert.deepEqual(p.layers[0].W.shape, [784, 12]);
    assert.deepEqual(p.interruptedLayer.W.shape, [12, 10]);
    assert.equal(p.histories.length, 1);
    p.layers.forEach(disposeRBM);
    disposeRBM(p.interruptedLayer);
    clearInterrupt();
  }));
