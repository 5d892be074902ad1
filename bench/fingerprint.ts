/**
 * A numeric fingerprint of every training and evaluation path of the library, to show that a
 * refactoring leaves the numbers bit-for-bit identical (`node --import tsx bench/fingerprint.ts`).
 *
 * One line per path: `name  sha256[0:16]  summary numbers (toPrecision(10))`. The hash covers the
 * bytes of every output tensor / typed array of the path (dtype, shape, values) and every number,
 * string and boolean of its results and histories, objects with sorted keys, EXCEPT wall-clock
 * fields (any key named `seconds`, whether a number, an array or an object). The header is the
 * backend summary line: the numbers depend on the backend (and on native OpenBLAS).
 *
 * Only the public API (`lib/index`) is used, so the file layout under lib/ may change freely.
 * Real MNIST, small subsets and small models, fixed seeds, no progress bars; runs in ~1–2 minutes
 * on 2 cores. Every path frees its tensors: a path that leaks prints a `leak` line, and the last
 * line is the number of live tensors once everything is freed.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import * as lib from "../lib/index";

// ---------------------------------------------------------------------------------------------
// Hashing

function feed(h: crypto.Hash, x: unknown): void {
  if (x === undefined) return void h.update("u;");
  if (x === null) return void h.update("n;");
  switch (typeof x) {
    case "number": {
      if (Number.isNaN(x)) return void h.update("NaN;");
      const b = Buffer.alloc(8);
      b.writeDoubleLE(x);
      h.update("d");
      return void h.update(b);
    }
    case "string":
      return void h.update(`s${Buffer.byteLength(x)}:${x};`);
    case "boolean":
      return void h.update(x ? "T;" : "F;");
    case "bigint":
      return void h.update(`i${x};`);
    case "function":
      return void h.update("fn;");
    case "symbol":
      return void h.update("sym;");
  }
  if (x instanceof tf.Tensor) {
    if (x.isDisposed) throw new Error("fingerprint: a disposed tensor was passed to the hash");
    h.update(`tensor:${x.dtype}[${x.shape.join(",")}]`);
    const d = x.dataSync() as Float32Array | Int32Array | Uint8Array;
    return void h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  if (ArrayBuffer.isView(x)) {
    h.update(`${x.constructor.name}(${x.byteLength}):`);
    return void h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  }
  if (x instanceof Map) {
    const entries = [...x.entries()].map(([k, v]) => [String(k), v] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    h.update(`map${entries.length}{`);
    for (const [k, v] of entries) {
      feed(h, k);
      feed(h, v);
    }
    h.update("}");
    return;
  }
  if (x instanceof Set) {
    feed(h, [...x].sort());
    return;
  }
  if (Array.isArray(x)) {
    h.update(`[${x.length}:`);
    for (const v of x) feed(h, v);
    return void h.update("]");
  }
  const keys = Object.keys(x as object)
    .filter((k) => k !== "seconds")
    .sort();
  h.update("{");
  for (const k of keys) {
    h.update(`k${k}=`);
    feed(h, (x as Record<string, unknown>)[k]);
  }
  h.update("}");
}

function hashOf(x: unknown): string {
  const h = crypto.createHash("sha256");
  feed(h, x);
  return h.digest("hex").slice(0, 16);
}

/** Every tf.Tensor inside x (deduplicated), for leak accounting. */
function tensorsIn(x: unknown, out = new Set<tf.Tensor>(), seen = new Set<object>()): Set<tf.Tensor> {
  if (x === null || typeof x !== "object") return out;
  if (x instanceof tf.Tensor) {
    out.add(x);
    return out;
  }
  if (ArrayBuffer.isView(x) || seen.has(x)) return out;
  seen.add(x);
  for (const v of x instanceof Map ? x.values() : Object.values(x)) tensorsIn(v, out, seen);
  return out;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toPrecision(10) : String(x));

function sum(x: tf.Tensor | ArrayLike<number>): number {
  const d = x instanceof tf.Tensor ? x.dataSync() : x;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i];
  return s;
}

function last<T>(a: T[]): T {
  return a[a.length - 1];
}

const lines: string[] = [];
const leaks: string[] = [];

function out(line: string): void {
  lines.push(line);
  console.log(line);
}

/**
 * Runs one path: `fn` returns what to hash, summary numbers and the tensors it keeps for later
 * paths (the rest of its tensors must be freed by `fn` itself, after the hash: see `emit`).
 */
async function run(
  name: string,
  fn: (emit: (outputs: unknown, summary: Record<string, number>) => void) => Promise<unknown> | unknown,
): Promise<void> {
  const before = tf.memory().numTensors;
  let emitted = 0;
  const emit = (outputs: unknown, summary: Record<string, number>): void => {
    emitted++;
    const s = Object.entries(summary)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(" ");
    out(`${name.padEnd(34)} ${hashOf(outputs)}  ${s}`);
  };
  const kept = await fn(emit);
  if (emitted !== 1) throw new Error(`fingerprint: path ${name} emitted ${emitted} lines`);
  const delta = tf.memory().numTensors - before - tensorsIn(kept).size;
  if (delta !== 0) {
    leaks.push(`leak ${name} ${delta > 0 ? "+" : ""}${delta}`);
    console.error(`fingerprint: path ${name} leaves ${delta} tensors`);
  }
}

/** A Dataset of feature rows (e.g. hidden probabilities) with the labels of `like`. */
function features(x: Float32Array, like: lib.Dataset, cols: number, name: string): lib.Dataset {
  return { images: x, labels: like.labels, n: like.n, rows: 1, cols, name };
}

function withoutSeconds<T extends object>(records: readonly T[]): Omit<T, "seconds">[] {
  return records.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== "seconds")) as Omit<T, "seconds">);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  const info = await lib.initBackend({ quiet: true });
  out(lib.summaryLine(info));
  out(`tfjs ${info.tfjsVersion}`);

  const trainAll = lib.loadMnist({ limit: 1000 });
  const testAll = lib.loadMnist({ split: "test", limit: 500 });
  const train = lib.firstN(trainAll, 600);
  const test = lib.firstN(testAll, 300);
  const trainSubset = lib.firstN(trainAll, 300);
  const trainBin = lib.binarize(train, { mode: "sample", seed: 101 });
  const testBin = lib.binarize(test, { mode: "sample", seed: 102 });
  const testThr = lib.binarize(lib.firstN(test, 100)); // threshold 0.5
  await run("data", (emit) => {
    const strat = lib.stratifiedSubset(trainAll, 50, 7);
    emit(
      { train, test, trainBin, testBin, testThr, strat },
      { trainSum: sum(train.images), binOn: sum(trainBin.images), strat: sum(strat.labels) },
    );
  });

  const rbm0 = lib.initRBM(784, 64, { method: "hinton", data: { images: train.images, n: train.n }, seed: 1 });
  const base = { progress: false as const };

  // ------------------------------------------------------------------------- trainRBM
  let rbm!: lib.RBM; // CD-1 with defaults: the 784-64 RBM used by the evaluation paths below
  await run("trainRBM cd1-defaults", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, epochs: 2, seed: 11 });
    emit(r, { recon0: r.history[0].trainRecon, recon1: r.history[1].trainRecon, mom1: r.history[1].momentum, Wsum: sum(r.rbm.W) });
    rbm = r.rbm;
    return rbm;
  });
  await run("trainRBM cd1-schedule", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, epochs: 2, seed: 12, learningRate: (e) => 0.1 / (1 + e), momentumSwitchEpoch: 1 });
    emit(r, { lr1: r.history[1].learningRate, mom1: r.history[1].momentum, recon1: r.history[1].trainRecon, Wsum: sum(r.rbm.W) });
    lib.disposeRBM(r.rbm);
  });
  await run("trainRBM cd3", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, k: 3, seed: 13 });
    emit(r, { recon: r.history[0].trainRecon, Wsum: sum(r.rbm.W) });
    lib.disposeRBM(r.rbm);
  });
  await run("trainRBM pcd1-nChains", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, persistent: true, nChains: 40, epochs: 2, seed: 14 });
    emit(r, { chainsOn: sum(r.chains as tf.Tensor), Wsum: sum(r.rbm.W), csum: sum(r.rbm.c) });
    lib.disposeRBM(r.rbm);
    r.chains?.dispose();
  });
  await run("trainRBM cd1-sparsity", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, sparsityTarget: 0.05, sparsityCost: 0.2, epochs: 2, seed: 15 });
    emit(r, { recon: last(r.history).trainRecon, csum: sum(r.rbm.c) });
    lib.disposeRBM(r.rbm);
  });
  await run("trainRBM cd1-sampleVisible", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, sampleVisible: true, seed: 16 });
    emit(r, { recon: r.history[0].trainRecon, Wsum: sum(r.rbm.W) });
    lib.disposeRBM(r.rbm);
  });
  await run("trainRBM cd1-noshuffle", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, { ...base, shuffle: false, batchSize: 50, weightDecay: 0, seed: 17 });
    emit(r, { recon: r.history[0].trainRecon, Wsum: sum(r.rbm.W) });
    lib.disposeRBM(r.rbm);
  });
  await run("trainRBM cd1-monitor", async (emit) => {
    const r = await lib.trainRBM(rbm0, train, {
      ...base,
      epochs: 2,
      seed: 18,
      monitor: lib.standardMonitors({ heldOut: test, trainSubset, seed: 3 }),
    });
    const h = last(r.history);
    emit(r, { recon: h.recon, crossEntropy: h.crossEntropy, pl: h.pseudoLikelihood, gap: h.freeEnergyGap });
    lib.disposeRBM(r.rbm);
  });

  // ------------------------------------------------------------------------- trainJointRBM
  const feat = features(lib.hiddenFeatures(train.images, rbm), train, 64, "train → h64");
  const joint0 = lib.initRBM(64 + 10, 40, { seed: 21 });
  await run("trainJointRBM cd", async (emit) => {
    const r = await lib.trainJointRBM(joint0, feat, { ...base, nLabels: 10, epochs: 2, seed: 22 });
    emit(r, { recon: last(r.history).trainRecon, flips: last(r.history).labelFlips, Wsum: sum(r.rbm.W) });
    lib.disposeRBM(r.rbm);
  });
  await run("trainJointRBM pcd", async (emit) => {
    const r = await lib.trainJointRBM(joint0, feat, { ...base, nLabels: 10, persistent: true, nChains: 30, epochs: 2, seed: 23 });
    emit(r, { chainsOn: sum(r.chains as tf.Tensor), Wsum: sum(r.rbm.W) });
    lib.disposeRBM(r.rbm);
    r.chains?.dispose();
  });
  lib.disposeRBM(joint0);

  // ------------------------------------------------------------------------- pretrainDBN
  const sizes = [784, 64, 48, 80];
  const perLayer: lib.TrainOptions = { ...base, epochs: 2 };
  let dbn!: lib.DBN;
  await run("pretrainDBN probs", async (emit) => {
    const r = await lib.pretrainDBN(sizes, train, { labels: true, perLayer, seed: 31 });
    emit(r, { flips: last(r.histories[2]).labelFlips, W0: sum(r.dbn.layers[0].W), W2: sum(r.dbn.layers[2].W) });
    dbn = r.dbn;
    return dbn;
  });
  await run("pretrainDBN samples", async (emit) => {
    const r = await lib.pretrainDBN(sizes, train, { labels: true, perLayer, propagate: "samples", seed: 31 });
    emit(r, { flips: last(r.histories[2]).labelFlips, W1: sum(r.dbn.layers[1].W), W2: sum(r.dbn.layers[2].W) });
    lib.disposeDBN(r.dbn);
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-fingerprint-"));
  try {
    const ckDir = path.join(tmp, "pretrain");
    // The checkpoint file stores the histories with their wall-clock seconds: its bytes are not
    // hashed, and neither is the (random) path in `checkpoint`.
    const pretrainCk = async (
      emit: (o: unknown, s: Record<string, number>) => void,
      dir: string,
      onLayer?: lib.PretrainOptions["onLayer"],
    ) => {
      const r = await lib.pretrainDBN(sizes, train, {
        labels: true,
        perLayer: [perLayer, { ...perLayer, k: 2 }, perLayer],
        seed: 32,
        checkpointDir: dir,
        onLayer,
      });
      emit(
        { dbn: r.dbn, histories: r.histories, resumed: r.resumed, file: path.basename(r.checkpoint ?? "") },
        {
          resumed: r.resumed.filter(Boolean).length,
          W1: sum(r.dbn.layers[1].W),
          W2: sum(r.dbn.layers[2].W),
        },
      );
      lib.disposeDBN(r.dbn);
    };
    await run("pretrainDBN checkpoint run1", (emit) => pretrainCk(emit, ckDir));
    await run("pretrainDBN checkpoint run2", (emit) => pretrainCk(emit, ckDir));
    // Interrupted after layer 1 (an error from onLayer), then resumed: layer 2 is trained on resume.
    const ckDir2 = path.join(tmp, "pretrain-interrupted");
    let stopped = false;
    try {
      await lib.pretrainDBN(sizes, train, {
        labels: true,
        perLayer: [perLayer, { ...perLayer, k: 2 }, perLayer],
        seed: 32,
        checkpointDir: ckDir2,
        onLayer: (i) => {
          if (i.layer === 1) throw new Error("stop");
        },
      });
    } catch (e) {
      stopped = (e as Error).message === "stop";
    }
    if (!stopped) throw new Error("fingerprint: the interrupted pretraining did not stop");
    await run("pretrainDBN checkpoint resumed", (emit) => pretrainCk(emit, ckDir2));

    // ----------------------------------------------------------------------- DBN paths
    await run("tuneTopPCD", async (emit) => {
      const r = await lib.tuneTopPCD(dbn, train, { ...base, epochs: 1, nChains: 50, learningRate: 0.01, seed: 41 });
      emit(r, { W2: sum(r.dbn.layers[2].W), b2: sum(r.dbn.layers[2].b) });
      lib.disposeDBN(r.dbn);
    });
    let untied!: lib.DBN;
    let upDownHistory!: lib.UpDownRecord[];
    await run("upDownFineTune", async (emit) => {
      const r = await lib.upDownFineTune(dbn, train, { ...base, epochs: 2, topK: 3, seed: 42 });
      emit(r, {
        wakeRecon: last(r.history).wakeRecon,
        flips: last(r.history).labelFlips,
        G0: sum((r.dbn.generative ?? [])[0].W),
        R0: sum(r.dbn.layers[0].W),
      });
      untied = r.dbn;
      upDownHistory = r.history;
      return untied;
    });
    await run("classifyDBN", (emit) => {
      const r = lib.classifyDBN(dbn, test, { batchSize: 128 });
      emit(r, { error: r.error, meanLogProb: r.meanLogProb });
    });
    await run("classifyDBN untied", (emit) => {
      const r = lib.classifyDBN(untied, test);
      emit(r, { error: r.error, meanLogProb: r.meanLogProb });
    });
    await run("labelLogProbs", (emit) => {
      const x = tf.tensor2d(lib.upPass(dbn, lib.firstN(test, 20), { depth: 2 }), [20, 48]);
      const lp = lib.labelLogProbs(dbn, x);
      emit(lp, { sum: sum(lp) });
      tf.dispose([x, lp]);
    });
    const gen = (name: string, model: () => lib.DBN, opts: lib.GenerateOptions) =>
      run(name, (emit) => {
        const r = lib.generateDBN(model(), { steps: 40, every: 10, seed: 43, ...opts });
        emit(r, { frames: r.frames.length, img: sum(r.images), labels: sum(r.labels) });
      });
    await gen("generateDBN clamped-per-chain", () => dbn, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    await gen("generateDBN clamped-one", () => dbn, { labels: 3, nChains: 4, init: "noise" });
    await gen("generateDBN free-labels", () => dbn, { nChains: 8 });
    await gen("generateDBN init-random", () => dbn, { labels: [1, 7], init: "random", every: 0 });
    await gen("generateDBN init-images", () => dbn, { labels: [5, 6, 7], init: lib.firstN(test, 3).images });
    await gen("generateDBN untied", () => untied, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    await run("upPass", (emit) => {
      const a = lib.upPass(dbn, test, { batchSize: 128 });
      const b = lib.upPass(dbn, test, { depth: 3, labels: test.labels });
      const c = lib.upPass(untied, test.images, { depth: 1 });
      emit({ a, b, c }, { a: sum(a), b: sum(b), c: sum(c) });
    });
    await run("dbnUpPass/dbnDownPass", (emit) => {
      const v = tf.tensor2d(lib.firstN(test, 16).images, [16, 784]);
      const up = lib.dbnUpPass(dbn, v);
      const up1 = lib.dbnUpPass(dbn, v, 1);
      const down = lib.dbnDownPass(dbn, up);
      const down1 = lib.dbnDownPass(dbn, up1, 1);
      const downU = lib.dbnDownPass(untied, up);
      emit({ up, up1, down, down1, downU }, { up: sum(up), down: sum(down), downU: sum(downU) });
      tf.dispose([v, up, up1, down, down1, downU]);
    });
    await run("exactDBNBound", (emit) => {
      const lower = lib.randomRBM(10, 6, { seed: 51, scale: 1 });
      const prior = lib.randomRBM(6, 5, { seed: 52, scale: 1 });
      const tied = lib.transposeRBM(lower);
      const rng = new lib.Rng(53);
      const v = tf.tensor2d(
        Float32Array.from({ length: 40 * 10 }, () => (rng.uniform() < 0.5 ? 1 : 0)),
        [40, 10],
      );
      const a = lib.exactDBNBound(lower, prior, v);
      const b = lib.exactDBNBound(lower, tied, v);
      const exact = lib.exactLogLikelihood(lower, v.dataSync() as Float32Array);
      emit({ a, b, exact }, { bound: a.mean, tiedBound: b.mean, exactLL: exact, entropy: a.entropy });
      [lower, prior, tied].forEach(lib.disposeRBM);
      v.dispose();
    });
    await run("stackRBMs/untieDBN/cloneDBN", (emit) => {
      const a = lib.cloneDBN(dbn);
      const s = lib.stackRBMs(a.layers, { nLabels: 10 });
      const u = lib.untieDBN(s);
      emit({ s, u }, { G1: sum((u.generative ?? [])[1].W) });
      lib.disposeDBN(s);
      lib.disposeDBN(u);
    });

    // ----------------------------------------------------------------------- MLP
    let mlp!: lib.MLP;
    await run("dbnToMLP", (emit) => {
      mlp = lib.dbnToMLP(dbn, { seed: 61 });
      emit(mlp, { sizes: lib.mlpSizes(mlp).reduce((a, b) => a + b, 0), out: sum(mlp.layers[3].W) });
      return mlp;
    });
    await run("randomMLP", (emit) => {
      const m = lib.randomMLP(sizes, { seed: 62 });
      emit(m, { W0: sum(m.layers[0].W), out: sum(m.layers[3].W) });
      lib.disposeMLP(m);
    });
    const ft = (name: string, opts: lib.FineTuneOptions, data: lib.Dataset = train, keep = false) =>
      run(name, async (emit) => {
        const r = await lib.fineTuneMLP(mlp, data, { ...base, seed: 63, ...opts });
        const h = last(r.history);
        emit(r, {
          epochs: r.history.length,
          best: r.bestEpoch,
          early: Number(r.stoppedEarly),
          loss: h.trainLoss,
          err: h.trainError,
          valErr: h.valError,
        });
        if (keep) return r.mlp;
        lib.disposeMLP(r.mlp);
        return undefined;
      });
    let tuned!: lib.MLP;
    await run("fineTuneMLP momentum", async (emit) => {
      const r = await lib.fineTuneMLP(mlp, train, { ...base, epochs: 2, seed: 63 });
      emit(r, { loss: last(r.history).trainLoss, err: last(r.history).trainError, W0: sum(r.mlp.layers[0].W) });
      tuned = r.mlp;
      return tuned;
    });
    await ft("fineTuneMLP dropout", { epochs: 2, inputDropout: 0.2, hiddenDropout: 0.5 });
    await ft("fineTuneMLP freeze+schedule+wd", { epochs: 3, freezeEpochs: 1, learningRate: (e) => 0.05 / (1 + e), weightDecay: 1e-3 });
    await ft("fineTuneMLP adam", { epochs: 2, optimizer: "adam" });
    let split!: { train: lib.Dataset; validation: lib.Dataset };
    await run("splitValidation", (emit) => {
      split = lib.splitValidation(train, 100, 64);
      emit(split, { val: sum(split.validation.labels), train: sum(split.train.images) });
    });
    await ft(
      "fineTuneMLP validation+early-stop",
      { epochs: 12, patience: 1, learningRate: 0.3, validation: split.validation },
      split.train,
    );
    await run("evaluateMLP", (emit) => {
      const r = lib.evaluateMLP(tuned, test, { batchSize: 128 });
      const cm = lib.confusionMatrix(r.predicted, test.labels);
      emit({ r, cm }, { error: r.error, loss: r.loss });
    });
    await run("mlpProbs", (emit) => {
      const x = tf.tensor2d(lib.firstN(test, 20).images, [20, 784]);
      const p = lib.mlpProbs(tuned, x);
      emit(p, { sum: sum(p) });
      tf.dispose([x, p]);
    });
    await run("mlpGradients", (emit) => {
      const n = 32;
      const x = tf.tensor2d(lib.firstN(test, n).images, [n, 784]);
      const y = tf.tensor2d(lib.oneHot(lib.firstN(test, n).labels), [n, 10]);
      const g = lib.mlpGradients(tuned, x, y);
      const masks = tuned.layers.map((l, i) => lib.dropoutMask([n, l.W.shape[0]], i === 0 ? 0.2 : 0.5, 65 + i));
      const gm = lib.mlpGradients(tuned, x, y, { masks, scale: 0.5, fromLayer: 2 });
      emit({ g, gm, masks }, { loss: sum(g.loss), wrong: sum(g.wrong), lossMasked: sum(gm.loss), dW0: sum(g.dW[0] as tf.Tensor) });
      tf.dispose([...tensorsIn({ x, y, g, gm, masks })]);
    });

    // ----------------------------------------------------------------------- AIS and bounds
    await run("aisBetas", (emit) => {
      const a = lib.aisBetas(500);
      const b = lib.aisBetas();
      emit({ a, b }, { a: sum(a), b: sum(b) });
    });
    let aisData!: lib.AISResult;
    await run("annealedLogZ uniform-base", async (emit) => {
      const r = await lib.annealedLogZ(rbm, { ...base, seed: 71, runs: 100, betas: 500 });
      emit(r, { logZ: r.logZ, std: r.logZStd, ess: r.ess });
    });
    await run("annealedLogZ data-base", async (emit) => {
      aisData = await lib.annealedLogZ(rbm, { ...base, seed: 72, runs: 100, betas: 500, data: trainBin });
      emit(aisData, { logZ: aisData.logZ, lo: aisData.logZLower, hi: aisData.logZUpper, ess: aisData.ess });
    });
    await run("annealedLogZ explicit-betas+bias", async (emit) => {
      const betas = Float64Array.from({ length: 201 }, (_, k) => (k / 200) ** 2);
      const r = await lib.annealedLogZ(rbm, { ...base, seed: 73, runs: 30, betas, baseVisibleBias: lib.baseRateVisibleBias(train, 784) });
      emit(r, { logZ: r.logZ, ess: r.ess });
    });
    await run("aisLogLikelihood reuse", async (emit) => {
      const r = await lib.aisLogLikelihood(rbm, testBin, { ais: aisData });
      emit(r, { ll: r.logLikelihood, lower: r.lower, upper: r.upper, F: r.meanFreeEnergy });
    });
    await run("aisLogLikelihood run", async (emit) => {
      const r = await lib.aisLogLikelihood(rbm, testBin, { ...base, seed: 74, runs: 50, betas: 200, data: trainBin });
      emit(r, { ll: r.logLikelihood, logZ: r.ais.logZ });
    });
    let samples!: lib.ModelSamples;
    await run("sampleModel", async (emit) => {
      samples = await lib.sampleModel(rbm, { ...base, seed: 75, chains: 20, steps: 200, data: trainBin });
      emit(samples, {
        distinctV: samples.visitedVisible.size,
        distinctH: samples.visitedHidden.size,
        lseV: samples.visitedVisible.logSumExp(),
        means: sum(samples.pixelMeans),
      });
    });
    const bases: lib.AISBase[] = [
      { name: "data", visibleBias: lib.baseRateVisibleBias(trainBin, 784) },
      { name: "samples", visibleBias: samples.visibleBias },
    ];
    await run("annealedLogZBases", async (emit) => {
      const r = await lib.annealedLogZBases(rbm, bases, { ...base, seed: 76, runs: 50, betas: 300 });
      emit(r, { logZdata: r[0].logZ, logZsamples: r[1].logZ, essData: r[0].ess });
    });
    await run("raiseLogZ", async (emit) => {
      const r = await lib.raiseLogZ(rbm, testBin, bases, { ...base, seed: 77, runs: 2, betas: 300, vectors: 20 });
      emit(r, { logZdata: r[0].logZ, logZsamples: r[1].logZ, ll: r[0].logLikelihood });
    });
    await run("meanFieldLogZLower", (emit) => {
      const r = lib.meanFieldLogZLower(rbm, lib.firstN(trainBin, 20).images, { iterations: 30 });
      const r0 = lib.meanFieldLogZLower(rbm, lib.firstN(train, 5).images, { iterations: 0 });
      emit({ r, r0 }, { logZLower: r.logZLower, noIter: r0.logZLower });
    });
    await run("hardLogZLowerBound", (emit) => {
      const r = lib.hardLogZLowerBound(rbm, { samples, data: [trainBin.images, testBin] });
      const r2 = lib.hardLogZLowerBound(rbm, { data: [testBin], meanFieldStarts: 10 });
      emit(
        { r, r2 },
        { logZLower: r.logZLower, vis: r.visibleLogZLower, hid: r.hiddenLogZLower, mf: r.meanFieldLogZLower, dataOnly: r2.logZLower },
      );
    });
    await run("negFreeEnergies", (emit) => {
      const v = lib.firstN(testBin, 50).images;
      const f = lib.negFreeEnergies(rbm, v, 16);
      const h = Float32Array.from(lib.hiddenFeatures(v, rbm), (p) => (p > 0.5 ? 1 : 0));
      const g = lib.negHiddenFreeEnergies(rbm, h, 16);
      emit({ f, h, g }, { f: sum(f), g: sum(g) });
    });
    await run("trustworthyLogLikelihood", async (emit) => {
      const r = await lib.trustworthyLogLikelihood(rbm, lib.firstN(testBin, 100), {
        trainData: trainBin,
        seed: 78,
        runs: 30,
        betas: 200,
        chains: 20,
        chainSteps: 100,
        raiseVectors: 10,
        progress: false,
      });
      emit(r, { ll: r.logLikelihood, logZ: r.logZ, hard: r.hardLogZLower, raiseLower: r.raiseLower, warnings: r.warnings.length });
    });
    await run("plantMode", async (emit) => {
      const planted = lib.plantMode(rbm, { pixels: Array.from({ length: 28 }, (_, i) => i), units: 3 });
      const ais = await lib.annealedLogZ(planted, { ...base, seed: 79, runs: 20, betas: 100, data: trainBin });
      emit({ planted, ais }, { W: sum(planted.W), b: sum(planted.b), c: sum(planted.c), logZ: ais.logZ });
      lib.disposeRBM(planted);
    });

    // ----------------------------------------------------------------------- sampling
    const v16 = tf.tensor2d(lib.firstN(testBin, 16).images, [16, 784]);
    await run("gibbsVHV", (emit) => {
      const s = lib.gibbsVHV(v16, rbm, 81);
      emit(s, { h: sum(s.h), v: sum(s.v), vProbs: sum(s.vProbs) });
      tf.dispose([s.h, s.hProbs, s.v, s.vProbs]);
    });
    await run("gibbsHVH", (emit) => {
      const h0 = tf.tidy(() => lib.sampleBernoulli(tf.fill([16, 64], 0.3) as tf.Tensor2D, 82));
      const s = lib.gibbsHVH(h0, rbm, 83);
      emit({ h0, s }, { h: sum(s.h), v: sum(s.v) });
      tf.dispose([h0, s.h, s.hProbs, s.v, s.vProbs]);
    });
    await run("gibbsChain every+recordProbs", (emit) => {
      const c = lib.gibbsChain(v16, rbm, { steps: 30, seed: 84, every: 10, recordProbs: true });
      emit(c, { records: c.records.length, v: sum(c.v), last: sum(last(c.records).values) });
      tf.dispose([c.v, c.vProbs]);
    });
    await run("gibbsChain samples", (emit) => {
      let steps = 0;
      const c = lib.gibbsChain(v16, rbm, { steps: 25, seed: 85, every: 5, onStep: () => steps++ });
      const c0 = lib.gibbsChain(v16, rbm, { steps: 5, seed: 86 });
      emit({ c, c0, steps }, { v: sum(c.v), c0: sum(c0.vProbs), records: c.records.length + c0.records.length });
      tf.dispose([c.v, c.vProbs, c0.v, c0.vProbs]);
    });
    await run("sampleBernoulli", (emit) => {
      const p = tf.tensor2d(lib.firstN(test, 8).images, [8, 784]);
      const s = lib.sampleBernoulli(p, 87);
      const rng = new lib.Rng(88);
      const s2 = lib.sampleBernoulli(p, rng);
      const s3 = lib.sampleBernoulli(p, rng);
      emit({ s, s2, s3 }, { s: sum(s), s3: sum(s3) });
      tf.dispose([p, s, s2, s3]);
    });
    await run("hiddenFeatures", (emit) => {
      const f = lib.hiddenFeatures(test.images, rbm, 128);
      emit(f, { sum: sum(f) });
    });
    await run("energy/freeEnergy/hiddenFreeEnergy", (emit) => {
      const hp = lib.hiddenProbs(v16, rbm);
      const h = lib.sampleBernoulli(hp, 89);
      const vp = lib.visibleProbs(h, rbm);
      const E = lib.energy(v16, h, rbm);
      const F = lib.freeEnergy(v16, rbm);
      const G = lib.hiddenFreeEnergy(h, rbm);
      emit({ hp, vp, E, F, G }, { E: sum(E), F: sum(F), G: sum(G) });
      tf.dispose([hp, h, vp, E, F, G]);
    });
    v16.dispose();

    // ----------------------------------------------------------------------- metrics
    await run("reconstructionError", (emit) => {
      const a = lib.reconstructionError(rbm, test, { seed: 91 });
      const b = lib.reconstructionError(rbm, test, { seed: 92, sampleHidden: false, reconstruction: "sample", batchSize: 64, limit: 200 });
      emit({ a, b }, { sq: a.squared, ce: a.crossEntropy, sqB: b.squared, ceB: b.crossEntropy });
    });
    await run("pseudoLikelihood", (emit) => {
      const a = lib.pseudoLikelihood(rbm, test, { seed: 93 });
      const b = lib.pseudoLikelihood(rbm, test.images, { seed: 94, limit: 100, batchSize: 32 });
      emit({ a, b }, { a, b });
    });
    await run("exactPseudoLikelihood", (emit) => {
      const a = lib.exactPseudoLikelihood(rbm, test, { limit: 100 });
      emit(a, { a });
    });
    await run("freeEnergyGap", (emit) => {
      const a = lib.freeEnergyGap(rbm, trainSubset, test);
      const b = lib.freeEnergyGap(rbm, train, test, { n: 100, batchSize: 32 });
      emit({ a, b }, { gap: a.gap, train: a.train, heldOut: a.heldOut, gapB: b.gap });
    });
    await run("meanFreeEnergy", (emit) => {
      const a = lib.meanFreeEnergy(rbm, test);
      const b = lib.meanFreeEnergy(rbm, testBin.images, { limit: 50, batchSize: 16 });
      emit({ a, b }, { a, b });
    });
    const tiny = lib.randomRBM(10, 6, { seed: 95, scale: 1 });
    const tinyWide = lib.randomRBM(6, 12, { seed: 96, scale: 1.5 });
    const rngT = new lib.Rng(97);
    const tinyData = Float32Array.from({ length: 50 * 10 }, () => (rngT.uniform() < 0.4 ? 1 : 0));
    await run("exactLogZ", (emit) => {
      const a = lib.exactLogZ(tiny);
      const b = lib.exactLogZ(tinyWide); // enumerates the visible layer
      emit({ a, b }, { a, b });
    });
    await run("exactLogLikelihood", (emit) => {
      const a = lib.exactLogLikelihood(tiny, tinyData);
      const b = lib.exactLogLikelihood(tiny, tinyData, { logZ: lib.exactLogZ(tiny), limit: 20 });
      const v = tf.tensor2d(tinyData, [50, 10]);
      const lp = lib.exactLogProb(v, tiny);
      v.dispose();
      emit({ a, b, lp }, { a, b, lp: sum(lp) });
    });
    await run("exactVisible/HiddenMarginal", (emit) => {
      const v = lib.exactVisibleMarginal(tiny);
      const h = lib.exactHiddenMarginal(tiny);
      emit({ v, h }, { logZv: v.logZ, logZh: h.logZ, p0: v.probs[0] });
    });
    await run("exactModelExpectations", (emit) => {
      const e = lib.exactModelExpectations(tiny);
      emit(e, { vh: sum(e.vh), v: sum(e.v), h: sum(e.h) });
    });
    await run("exactLogLikelihoodGradient", (emit) => {
      const v = tf.tensor2d(tinyData, [50, 10]);
      const g = lib.exactLogLikelihoodGradient(v, tiny);
      v.dispose();
      emit(g, { dW: sum(g.dW), db: sum(g.db), dc: sum(g.dc) });
    });
    await run("exactPseudoLikelihood tiny", (emit) => {
      const a = lib.exactPseudoLikelihood(tiny, tinyData);
      const b = lib.pseudoLikelihood(tiny, tinyData, { seed: 98 });
      emit({ a, b }, { exact: a, stochastic: b });
    });
    [tiny, tinyWide].forEach(lib.disposeRBM);

    // ----------------------------------------------------------------------- softmax
    await run("trainSoftmax/predictSoftmax", (emit) => {
      const { model, losses } = lib.trainSoftmax(feat.images, feat.labels, 64, { epochs: 3, seed: 99 });
      const testFeat = lib.hiddenFeatures(test.images, rbm);
      const pred = lib.predictSoftmax(model, testFeat, 64);
      const acc = lib.accuracy(pred, test.labels);
      emit({ model, losses, pred }, { loss: last(losses), acc, A: sum(model.A) });
      tf.dispose([model.A, model.a]);
    });

    // ----------------------------------------------------------------------- checkpoints
    const io = path.join(tmp, "io");
    fs.mkdirSync(io);
    const bytes = (f: string) => new Uint8Array(fs.readFileSync(f));
    await run("saveCheckpoint/loadCheckpoint", async (emit) => {
      const pcd = await lib.trainRBM(rbm0, train, { ...base, persistent: true, nChains: 20, seed: 101 });
      const file = path.join(io, "rbm.safetensors");
      // History without its wall-clock seconds, so that the file bytes are deterministic too.
      const history = withoutSeconds(pcd.history);
      lib.saveCheckpoint(file, {
        rbm: pcd.rbm,
        hyperparameters: { k: 1, persistent: true, note: "fingerprint", missing: NaN, inf: -Infinity },
        history,
        extra: { chains: pcd.chains as tf.Tensor, idx: { shape: [3], data: Int32Array.from([1, 2, 3]) } },
        metadata: { note: "x" },
      });
      lib.saveCheckpoint(file, { rbm: pcd.rbm, hyperparameters: { again: true }, history, extra: { chains: pcd.chains as tf.Tensor } }); // overwrite (same format)
      const ck = lib.loadCheckpoint(file, { expect: { nVisible: 784, nHidden: 64 } });
      emit({ ck, file: bytes(file) }, { W: sum(ck.rbm.W), chains: sum(ck.extra.chains), hist: ck.history.length });
      lib.disposeCheckpoint(ck);
      lib.disposeRBM(pcd.rbm);
      pcd.chains?.dispose();
    });
    await run("saveDBN/loadDBN", (emit) => {
      const file = path.join(io, "dbn.safetensors");
      lib.saveDBN(file, untied, { hyperparameters: { epochs: 2, topK: 3 }, histories: [withoutSeconds(upDownHistory)] });
      const r = lib.loadDBN(file, { expect: { sizes, nLabels: 10 } });
      const fileTied = path.join(io, "dbn-tied.safetensors");
      lib.saveDBN(fileTied, dbn);
      const t = lib.loadDBN(fileTied);
      emit({ r, t, file: bytes(file), fileTied: bytes(fileTied) }, { G0: sum((r.dbn.generative ?? [])[0].W), W2: sum(t.dbn.layers[2].W) });
      lib.disposeDBN(r.dbn);
      lib.disposeDBN(t.dbn);
    });
    await run("saveMLP/loadMLP", (emit) => {
      const file = path.join(io, "mlp.safetensors");
      lib.saveMLP(file, tuned, { epochs: 2, note: "fingerprint" });
      const r = lib.loadMLP(file);
      emit({ r, file: bytes(file) }, { W0: sum(r.mlp.layers[0].W), out: sum(r.mlp.layers[3].W) });
      lib.disposeMLP(r.mlp);
    });

    lib.disposeDBN(untied);
    lib.disposeMLP(mlp);
    lib.disposeMLP(tuned);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  lib.disposeDBN(dbn);
  lib.disposeRBM(rbm);
  lib.disposeRBM(rbm0);

  for (const l of leaks) out(l);
  out(`tensors: ${tf.memory().numTensors}`);
  out(`all: ${hashOf(lines)}`);
  console.error(`fingerprint: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
