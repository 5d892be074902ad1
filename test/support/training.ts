/** Training helpers shared by the train, eval and dbn tests. */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeRBM, type RBM } from "../../lib/core/rbm";
import type { Dataset } from "../../lib/io/data";
import { trainRBM } from "../../lib/train/cd";
import { TrainingDivergedError } from "../../lib/train/loop";
import { noLeakAsync } from "./assert";

/**
 * A few epochs of plain CD-1 (rbm.m without momentum or weight decay) through the library's
 * trainRBM; `rbm0` is left untouched and the trained model is returned.
 */
export async function plainCD1(rbm0: RBM, data: Dataset, o: { epochs: number; lr: number; batchSize: number; seed: number }): Promise<RBM> {
  const { rbm } = await trainRBM(rbm0, data, {
    epochs: o.epochs,
    learningRate: o.lr,
    batchSize: o.batchSize,
    seed: o.seed,
    initialMomentum: 0,
    finalMomentum: 0,
    weightDecay: 0,
    progress: false,
  });
  return rbm;
}

/**
 * Asserts that `training` fails with a TrainingDivergedError at epoch 0 whose message names the fix
 * and whose last good parameters are finite and within `maxWeight`, and that nothing leaks.
 */
export async function assertDivergesCleanly(training: () => Promise<unknown>, maxWeight: number): Promise<void> {
  await noLeakAsync("a training run that fails", () =>
    assert.rejects(training(), (e: unknown) => {
      assert.ok(e instanceof TrainingDivergedError);
      assert.match(e.message, /diverged at epoch 0, batch \d+: .*Lower the learning rate/);
      const maxAbs = tf.tidy(() => tf.max(tf.abs(e.lastGood.W)).dataSync()[0]);
      assert.ok(Number.isFinite(maxAbs) && maxAbs <= maxWeight, `last good |W| = ${maxAbs}`);
      disposeRBM(e.lastGood);
      return true;
    }),
  );
}
