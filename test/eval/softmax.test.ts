/** The softmax classifier used to evaluate features: learns separable data, no leaks, clear errors. */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { Rng } from "../../lib/core/random";
import { accuracy, predictSoftmax, trainSoftmax } from "../../lib/eval/softmax";
import { firstN, loadMnist } from "../../lib/io/data";
import { noLeak } from "../support/assert";

before(async () => {
  await initBackend({ quiet: true });
});

test("separates three Gaussian blobs and leaves no tensors behind", () =>
  noLeak("trainSoftmax", () => {
    const rng = new Rng(4);
    const n = 600;
    const x = new Float32Array(n * 2);
    const y = new Uint8Array(n);
    const centres = [
      [0, 4],
      [4, 0],
      [-4, -4],
    ];
    for (let i = 0; i < n; i++) {
      y[i] = i % 3;
      x[2 * i] = centres[y[i]][0] + rng.normal();
      x[2 * i + 1] = centres[y[i]][1] + rng.normal();
    }
    const { model, losses } = trainSoftmax(x, y, 2, { classes: 3, epochs: 20, learningRate: 0.05 });
    assert.ok(losses[losses.length - 1] < losses[0] / 3, `loss should fall: ${losses[0]} → ${losses[losses.length - 1]}`);
    assert.ok(accuracy(predictSoftmax(model, x, 2), y) > 0.97);
    tf.dispose([model.A, model.a]);
    assert.throws(() => trainSoftmax(x, y, 3), /features hold 1200 values, expected n × d = 600 × 3/);
    assert.throws(() => trainSoftmax(x, y, 2, { classes: 2 }), /label 2 at row 2 is outside \[0, 2\)/);
  }));

test("raw MNIST pixels give a reasonable linear classifier (> 85 % on held-out digits)", () => {
  const train = firstN(loadMnist(), 3000);
  const testSet = firstN(loadMnist({ split: "test" }), 1000);
  const { model } = trainSoftmax(train.images, train.labels, 784, { epochs: 5 });
  const acc = accuracy(predictSoftmax(model, testSet.images, 784), testSet.labels);
  assert.ok(acc > 0.85, `test accuracy ${acc}`);
  tf.dispose([model.A, model.a]);
});
