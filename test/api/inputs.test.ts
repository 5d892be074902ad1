/**
 * Every public entry point that takes a model or data, called with NaN, negative, wrong-shape,
 * wrong-type and disposed arguments: each must throw an Error (never a TypeError from inside tfjs)
 * whose message names the function, and leave no tensor behind.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import * as lib from "../../lib/index";
import { noLeakAsync } from "../support/assert";

before(async () => {
  await lib.initBackend({ quiet: true });
});

const NV = 6;
const NH = 4;
const quiet = { progress: false } as const;

/** Binary rows [n, NV]. */
function rows(n: number): Float32Array {
  return Float32Array.from({ length: n * NV }, (_, i) => ((i * 5) % 3 === 0 ? 1 : 0));
}

function dataset(n: number): lib.Dataset {
  return { images: rows(n), labels: Uint8Array.from({ length: n }, (_, i) => i % 2), n, rows: 1, cols: NV, name: "toy" };
}

/** The entry points taking an RBM and visible data, each as a call of (rbm, data). */
const RBM_ENTRY_POINTS: [string, (rbm: lib.RBM, data: lib.Dataset | Float32Array) => unknown][] = [
  ["trainRBM", (rbm, data) => lib.trainRBM(rbm, data as lib.Dataset, { ...quiet, batchSize: 2 })],
  [
    "trainCenteredRBM",
    (rbm, data) =>
      lib.trainCenteredRBM(rbm, data as lib.Dataset, { ...quiet, batchSize: 2, tempering: { betas: 2, chainsPerTemperature: 2 } }),
  ],
  ["reconstructionError", (rbm, data) => lib.reconstructionError(rbm, data, { seed: 0 })],
  ["pseudoLikelihood", (rbm, data) => lib.pseudoLikelihood(rbm, data, { seed: 0 })],
  ["exactPseudoLikelihood", (rbm, data) => lib.exactPseudoLikelihood(rbm, data)],
  ["meanFreeEnergy", (rbm, data) => lib.meanFreeEnergy(rbm, data)],
  ["freeEnergyGap", (rbm, data) => lib.freeEnergyGap(rbm, data, data)],
  ["exactLogLikelihood", (rbm, data) => lib.exactLogLikelihood(rbm, data)],
  ["aisLogLikelihood", (rbm, data) => lib.aisLogLikelihood(rbm, data, { ...quiet, seed: 0, runs: 2, betas: 10 })],
  [
    "raiseLogZ",
    (rbm, data) => lib.raiseLogZ(rbm, data, [{ name: "u", visibleBias: new Float32Array(NV) }], { ...quiet, seed: 0, runs: 2, betas: 10 }),
  ],
  [
    "trustworthyLogLikelihood",
    (rbm, data) => lib.trustworthyLogLikelihood(rbm, data, { ...quiet, trainData: data, seed: 0, runs: 2, betas: 10 }),
  ],
  ["inpaintRBM", (rbm, data) => lib.inpaintRBM(rbm, data, new Float32Array(4 * NV), { steps: 2, seed: 0 })],
  ["denoiseRBM", (rbm, data) => lib.denoiseRBM(rbm, data, 0.1, { steps: 2, seed: 0 })],
];

/** The entry points taking only an RBM. */
const MODEL_ENTRY_POINTS: [string, (rbm: lib.RBM) => unknown][] = [
  ["annealedLogZ", (rbm) => lib.annealedLogZ(rbm, { ...quiet, seed: 0, runs: 2, betas: 10 })],
  [
    "annealedLogZBases",
    (rbm) => lib.annealedLogZBases(rbm, [{ name: "u", visibleBias: new Float32Array(NV) }], { ...quiet, seed: 0, runs: 2, betas: 10 }),
  ],
  ["sampleModel", (rbm) => lib.sampleModel(rbm, { ...quiet, seed: 0 })],
  ["meanFieldLogZLower", (rbm) => lib.meanFieldLogZLower(rbm, rows(2))],
  ["plantMode", (rbm) => lib.plantMode(rbm, { pixels: [0, 1] })],
  ["parallelTempering", (rbm) => lib.parallelTempering(rbm, { seed: 0, steps: 2, betas: 2, chainsPerTemperature: 2 })],
];

/** Asserts an Error (not a TypeError) naming `name` and matching `p`, with no tensor left behind. */
async function refuses(name: string, label: string, f: () => unknown, p: RegExp): Promise<void> {
  await noLeakAsync(`${name} ${label}`, async () => {
    let caught: unknown;
    try {
      await f();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error, `${name} ${label}: expected an error, none was thrown`);
    assert.ok(!(caught instanceof TypeError), `${name} ${label}: a TypeError from inside: ${caught.message}`);
    assert.match(caught.message, new RegExp(`^${name}\\b`), `${name} ${label}: the message must name the function`);
    assert.match(caught.message, p, `${name} ${label}`);
  });
}

/** Bad models: a training result passed whole, a disposed model, NaN weights, a wrong shape, not an object. */
function badModels(): { label: string; rbm: lib.RBM; p: RegExp; free: () => void }[] {
  const live = lib.randomRBM(NV, NH, { seed: 1 });
  const disposed = lib.randomRBM(NV, NH, { seed: 2 });
  lib.disposeRBM(disposed);
  const nan = { W: tf.fill([NV, NH], Number.NaN) as tf.Tensor2D, b: tf.zeros([NV]) as tf.Tensor1D, c: tf.zeros([NH]) as tf.Tensor1D };
  const shape = { W: tf.zeros([NV, NH]) as tf.Tensor2D, b: tf.zeros([NV + 1]) as tf.Tensor1D, c: tf.zeros([NH]) as tf.Tensor1D };
  return [
    {
      label: "TrainResult",
      rbm: { rbm: live, history: [] } as unknown as lib.RBM,
      p: /not an RBM.*\.rbm/,
      free: () => lib.disposeRBM(live),
    },
    { label: "disposed", rbm: disposed, p: /disposed/, free: () => {} },
    { label: "NaN weights", rbm: nan, p: /contain NaN or Inf/, free: () => lib.disposeRBM(nan) },
    { label: "wrong shape", rbm: shape, p: /do not fit together/, free: () => lib.disposeRBM(shape) },
    { label: "a number", rbm: 3 as unknown as lib.RBM, p: /expected an RBM/, free: () => {} },
  ];
}

test("entry points taking an RBM refuse bad models with an error naming the function", async () => {
  for (const m of badModels()) {
    for (const [name, call] of RBM_ENTRY_POINTS) await refuses(name, m.label, () => call(m.rbm, dataset(4)), m.p);
    for (const [name, call] of MODEL_ENTRY_POINTS) await refuses(name, m.label, () => call(m.rbm), m.p);
    m.free();
  }
});

test("entry points taking data refuse NaN, negative, wrong-width and wrong-type data, naming the function", async () => {
  const rbm = lib.randomRBM(NV, NH, { seed: 3 });
  const nan = dataset(4);
  nan.images[2] = Number.NaN;
  const negative = dataset(4);
  negative.images[1] = -1;
  const wide = Float32Array.from({ length: 4 * (NV + 1) }, () => 0);
  const cases: [string, unknown, RegExp][] = [
    ["NaN pixel", nan, /NaN at flat index 2|value NaN/],
    ["negative pixel", negative, /-1 at flat index 1|value -1/],
    ["wrong width", wide, /nVisible = 6|values per row/],
    ["a plain array", [[0, 1, 0, 1, 0, 1]], /must be a Dataset.*got a plain array/],
    ["a string", "digits", /must be a Dataset.*got string/],
  ];
  for (const [label, data, p] of cases) {
    for (const [name, call] of RBM_ENTRY_POINTS) {
      if ((name === "trainRBM" || name === "trainCenteredRBM") && label === "wrong width") continue; // a Float32Array is not a Dataset for the trainers
      await refuses(name, label, () => call(rbm, data as lib.Dataset), p);
    }
  }
  lib.disposeRBM(rbm);
});

test("DBN entry points refuse bad data and disposed models with an error naming the function", async () => {
  const dbn = lib.stackRBMs([lib.randomRBM(NV, NH, { seed: 4 }), lib.randomRBM(NH, 3, { seed: 5 })]);
  const nan = dataset(4);
  nan.images[0] = Number.NaN;
  await refuses("pretrainDBN", "NaN pixel", () => lib.pretrainDBN([NV, NH, 3], nan, { perLayer: { ...quiet, batchSize: 2 } }), /NaN/);
  await refuses("upDownFineTune", "NaN pixel", () => lib.upDownFineTune(dbn, nan, { ...quiet, batchSize: 2 }), /NaN/);
  const mlp = lib.randomMLP([NV, 3, 2]);
  await refuses("fineTuneMLP", "NaN pixel", () => lib.fineTuneMLP(mlp, nan, { ...quiet, batchSize: 2 }), /NaN/);
  lib.disposeMLP(mlp);
  lib.disposeDBN(dbn);
});

test("DBN and MLP entry points refuse a disposed or wrong-type model, naming the function", async () => {
  const ds = dataset(4);
  const disposed = lib.stackRBMs([lib.randomRBM(NV, NH, { seed: 6 }), lib.randomRBM(NH, 3, { seed: 7 })]);
  lib.disposeDBN(disposed);
  const v = tf.zeros([2, NV]) as tf.Tensor2D;
  const dbnCalls: [string, (dbn: lib.DBN) => unknown][] = [
    ["classifyDBN", (dbn) => lib.classifyDBN(dbn, ds)],
    ["generateDBN", (dbn) => lib.generateDBN(dbn, {})],
    ["upDownFineTune", (dbn) => lib.upDownFineTune(dbn, ds, { ...quiet, batchSize: 2 })],
    ["tuneTopPCD", (dbn) => lib.tuneTopPCD(dbn, ds, { ...quiet, batchSize: 2 })],
    ["dbnUpPass", (dbn) => lib.dbnUpPass(dbn, v)],
    ["upPass", (dbn) => lib.upPass(dbn, ds)],
    ["dbnToMLP", (dbn) => lib.dbnToMLP(dbn)],
  ];
  for (const [name, call] of dbnCalls) {
    await refuses(name, "disposed DBN", () => call(disposed), /disposed/);
    await refuses(name, "a result object", () => call({ dbn: disposed } as unknown as lib.DBN), /expected a DBN.*\.dbn/);
  }
  v.dispose();
  const mlp = lib.randomMLP([NV, 3, 2]);
  lib.disposeMLP(mlp);
  await refuses("fineTuneMLP", "disposed MLP", () => lib.fineTuneMLP(mlp, ds, { ...quiet, batchSize: 2 }), /disposed/);
  await refuses("evaluateMLP", "disposed MLP", () => lib.evaluateMLP(mlp, ds), /disposed/);
  await refuses("evaluateMLP", "a number", () => lib.evaluateMLP(7 as unknown as lib.MLP, ds), /expected an MLP/);
});
