/**
 * Greedy layer-wise pretraining of a DBN (Hinton, Osindero & Teh 2006), with per-layer checkpoints so
 * that an interrupted run resumes after its last finished layer.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { disposeGaussianRBM, gaussianHiddenFeatures, initGaussianRBM } from "../core/gaussian";
import { withoutUndefined } from "../core/numerics";
import { Rng, type Seed, toRng } from "../core/random";
import { disposeRBM, initRBM, type RBM } from "../core/rbm";
import { sigmoidLayer } from "../core/units";
import { assertDataset, type Dataset, dim, visibleRows } from "../io/data";
import type { JsonObject } from "../io/safetensors";
import { applyStandardizer, fitStandardizer, type StandardizeOptions } from "../io/standardize";
import { type EpochRecord, resolveTrainOptions, type TrainOptions, type TrainResult, trainRBM } from "../train/cd";
import { type GaussianTrainOptions, trainGaussianRBM } from "../train/gaussian";
import { TrainingInterruptedError } from "../train/loop";
import { interrupted } from "../view/interrupt";
import { readDBNFile, writeDBNFile } from "./checkpoint";
import { trainJointRBM } from "./joint";
import { archName, assertLabelCount, assertLayerSizes, checkLabels, type DBN, type GaussianPixels, visibleUnits } from "./model";

/** A cheap fingerprint of a data set (size, width and a hash of a strided sample of values and labels). */
function fingerprint(data: Dataset): string {
  const d = dim(data);
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  const bits = new Uint32Array(data.images.buffer, data.images.byteOffset, data.images.length);
  const step = Math.max(1, Math.floor(bits.length / 65536));
  for (let i = 0; i < bits.length; i += step) mix(bits[i]);
  for (let i = 0; i < data.n; i++) mix(data.labels[i]);
  return `${data.n}x${d}:${h.toString(16)}`;
}

/** What is passed from one layer to the next during pretraining. */
export type Propagation = "probs" | "samples";

/** The Gaussian first layer of {@link PretrainOptions} (`visible: "gaussian"`). */
export interface GaussianLayerOptions {
  /**
   * Training options of layer 0 ({@link trainGaussianRBM}: its defaults are the Gaussian ones, a
   * learning rate of 0.001 and σ fixed at 1 unless `learnSigma`). The seed defaults to layer 0's.
   */
  train?: GaussianTrainOptions;
  /** How the pixels are standardised before layer 0 sees them. Default per pixel, spreads floored at 0.05. */
  standardize?: StandardizeOptions;
  /** Standard deviation of layer 0's initial weights. Default 0.01 (initGaussianRBM). */
  initStd?: number;
}

/** Options of {@link pretrainDBN}. */
export interface PretrainOptions {
  /**
   * Training options of every binary layer (one object), or one per layer (an array of L; with
   * `visible: "gaussian"` an array of L − 1 for layers 1 … L−1, layer 0's coming from `gaussian`).
   * Seeds default to distinct numbers derived from `seed`. For the label-joined top RBM
   * `sampleVisible` defaults to true (see {@link trainJointRBM}); the sparsity penalty is not available there.
   */
  perLayer?: TrainOptions | TrainOptions[];
  /**
   * The pixels: "binary" (default), Bernoulli units reading the data in [0, 1] as probabilities; or
   * "gaussian", real-valued Gaussian–Bernoulli units (the DBN's `gaussian`, core/gaussian.ts): the
   * pixels are standardised with statistics of `data` and layer 0 is trained with trainGaussianRBM;
   * the DBN keeps the standardisation, so it still takes and returns pixels in their own units.
   */
  visible?: "binary" | "gaussian";
  /** Options of the Gaussian first layer (`visible: "gaussian"`). */
  gaussian?: GaussianLayerOptions;
  /**
   * What the next layer is trained on: "probs" (default) — the hidden probabilities p(h = 1 | x), as
   * in Hinton & Salakhutdinov's code (less sampling noise, same expectation); "samples" — one binary
   * sample of them per training row, drawn once (the data the next RBM "sees" are then binary, as
   * the theory of the variational bound assumes).
   */
  propagate?: Propagation;
  /**
   * Join label units to the top RBM: true = 10 (digits), a number = that many; labels come from
   * `data.labels`. Default false.
   */
  labels?: boolean | number;
  /**
   * Folder for the checkpoint `pretrain.safetensors`, written after each finished layer. If it
   * exists, finished layers are loaded instead of retrained — only for the same architecture,
   * data and propagation (anything else is an error: use another folder). Default: no checkpoints.
   */
  checkpointDir?: string;
  /**
   * Initial weights: "hinton" (default) — W ~ N(0, initStd²), visible biases log(p/(1−p)) from the
   * data means (label units: from the class frequencies), hidden biases 0; or "xavier".
   */
  init?: "hinton" | "xavier";
  /**
   * Standard deviation of the "hinton" initial weights. Default 0.1, as in Hinton & Salakhutdinov's
   * rbm.m (used for their 784-500-500-2000 network): with the guide's 0.01 the 2000-unit top RBM
   * takes several epochs longer to start using its label units.
   */
  initStd?: number;
  /** Base seed for initialisation, training and sampled propagation. Default 0. */
  seed?: Seed;
  /**
   * Called after each layer, trained or loaded (after its checkpoint is written). An error thrown
   * here stops the pretraining (finished layers stay in the checkpoint).
   */
  onLayer?: (info: LayerInfo) => void | Promise<void>;
}

/** Passed to {@link PretrainOptions.onLayer}. */
export interface LayerInfo {
  /** 0-based layer index. */
  layer: number;
  /** The finished RBM (owned by the pretraining: clone it to keep it). */
  rbm: RBM;
  /** Its training history (from the checkpoint when loaded). */
  history: EpochRecord[];
  /** True when the layer was loaded from the checkpoint, not trained. */
  resumed: boolean;
  /** Training seconds (0 when loaded). */
  seconds: number;
}

/** What an interrupted {@link pretrainDBN} keeps (its error's `partial`; the caller owns the tensors). */
export interface PretrainPartial {
  /** The finished RBMs, bottom first. */
  layers: RBM[];
  /** The RBM that was being trained, as it was after its last finished batch. */
  interruptedLayer: RBM;
  /** The finished layers' histories. */
  histories: EpochRecord[][];
}

/**
 * Thrown by {@link pretrainDBN} when a trained layer cannot be written to the checkpoint (a
 * read-only folder, a full disk): the layers trained so far are not thrown away but carried here,
 * owned by whoever catches the error (dispose them, or stack them with stackRBMs).
 */
export class CheckpointWriteError extends Error {
  /** The trained layers, bottom first (live tensors: dispose them when done). */
  readonly layers: RBM[];
  /** Their training histories. */
  readonly histories: EpochRecord[][];
  /** The Gaussian pixels of layer 0 when it is a Gaussian layer (its logVar is a live tensor too). */
  readonly gaussian?: GaussianPixels;
  constructor(message: string, layers: RBM[], histories: EpochRecord[][], cause: unknown, gaussian?: GaussianPixels) {
    super(message, { cause });
    this.name = "CheckpointWriteError";
    this.layers = layers;
    this.histories = histories;
    this.gaussian = gaussian;
  }
}

/** Result of {@link pretrainDBN}. */
export interface PretrainResult {
  /** The stacked model (owned by the caller: {@link disposeDBN}). */
  dbn: DBN;
  /** One training history per layer. */
  histories: EpochRecord[][];
  /** Per layer, whether it was loaded from the checkpoint instead of trained. */
  resumed: boolean[];
  /** Per layer, training seconds (0 when loaded). */
  seconds: number[];
  /** The checkpoint file, when `checkpointDir` was given. */
  checkpoint?: string;
}

/** The JSON-safe part of a layer's options (functions and progress objects are described by name). */
function describeOptions(o: TrainOptions): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[k] = v;
    else if (typeof v === "function") out[k] = `function ${k}`;
  }
  return out;
}

/**
 * Greedy layer-wise pretraining of a DBN with layer sizes `sizes` (bottom first, e.g.
 * `[784, 500, 500, 2000]`): RBM 0 is trained on the images with {@link trainRBM}; each next RBM on
 * the hidden probabilities (or samples, see `propagate`) of the previous one; the top RBM, when
 * `labels` is set, on [x_{L−1}, onehot(label)] with {@link trainJointRBM}.
 *
 * With `checkpointDir`, the finished layers are saved after each layer, and a rerun resumes after
 * the last finished layer. A checkpoint made for another architecture, other data or another
 * propagation, or a file there that is not a DBN checkpoint, is an error (nothing is overwritten).
 * @param data images in [0, 1] `[n, sizes[0]]` (and labels 0…K−1 when `labels` is set)
 */
export async function pretrainDBN(sizes: number[], data: Dataset, opts: PretrainOptions = {}): Promise<PretrainResult> {
  const { L, nLabels, propagate, perLayer, gaussianPixels } = checkPretrainOptions(sizes, data, opts);
  // Per-layer seeds drawn up front, so a resumed run trains layer l exactly as an uninterrupted one.
  const seedRng = toRng(opts.seed ?? 0, "pretrainDBN");
  const layerSeeds = Array.from({ length: L }, () => [seedRng.nextUint32(), seedRng.nextUint32(), seedRng.nextUint32()]);
  const hyperparameters: JsonObject = {
    sizes,
    nLabels,
    propagate,
    init: opts.init ?? "hinton",
    initStd: opts.initStd ?? 0.1,
    seed: typeof opts.seed === "number" ? opts.seed : opts.seed === undefined ? 0 : "an Rng",
    data: fingerprint(data),
    perLayer: perLayer.map(describeOptions),
    ...(gaussianPixels
      ? {
          visible: "gaussian",
          gaussian: {
            train: describeOptions((opts.gaussian?.train ?? {}) as TrainOptions),
            standardize: { mode: opts.gaussian?.standardize?.mode ?? "pixel", minStd: opts.gaussian?.standardize?.minStd ?? 0.05 },
            initStd: opts.gaussian?.initStd ?? 0.01,
          },
        }
      : {}),
  };

  const file = opts.checkpointDir ? path.resolve(opts.checkpointDir, "pretrain.safetensors") : undefined;
  const layers: RBM[] = [];
  const histories: EpochRecord[][] = [];
  const resumed: boolean[] = [];
  const seconds: number[] = [];
  let gaussian: GaussianPixels | undefined;
  if (file && fs.existsSync(file)) {
    const done = resumePretraining(file, sizes, nLabels, hyperparameters);
    layers.push(...done.layers);
    histories.push(...done.histories);
    resumed.push(...done.layers.map(() => true));
    seconds.push(...done.layers.map(() => 0));
    gaussian = done.gaussian;
  }

  // Gaussian pixels: layer 0 sees them standardised (u = (v − μ)/s), the DBN keeps μ and s.
  const standardizer = gaussianPixels ? fitStandardizer(data, opts.gaussian?.standardize) : undefined;
  let input: Dataset = standardizer ? applyStandardizer(data, standardizer) : data;
  try {
    for (let l = 0; l < L; l++) {
      const isTop = l === L - 1;
      if (l < layers.length) {
        await opts.onLayer?.({ layer: l, rbm: layers[l], history: histories[l], resumed: true, seconds: 0 });
      } else {
        const t0 = performance.now();
        let result: TrainResult;
        if (l === 0 && standardizer) {
          const r = await trainGaussianLayer(input, sizes[1], opts.gaussian ?? {}, layerSeeds[0]);
          gaussian = { logVar: r.logVar, mean: standardizer.mean, std: standardizer.std };
          result = r;
        } else {
          result = await trainLayer(l, input, sizes, nLabels, opts, perLayer[l], layerSeeds[l]);
        }
        layers.push(result.rbm);
        histories.push(result.history);
        resumed.push(false);
        seconds.push((performance.now() - t0) / 1000);
        result.chains?.dispose();
        if (file) saveLayers(file, { sizes, nLabels, layers, hyperparameters, histories, gaussian });
        await opts.onLayer?.({ layer: l, rbm: result.rbm, history: result.history, resumed: false, seconds: seconds[l] });
      }
      if (!isTop) {
        const g = l === 0 ? gaussian : undefined;
        input = propagateData(layers[l], input, sizes[l + 1], propagate, layerSeeds[l][2], g?.logVar);
      }
    }
  } catch (e) {
    // Keep what was learned: the finished layers (also in the checkpoint) and the interrupted one as it was.
    if (e instanceof TrainingInterruptedError) throw interrupted(keepInterrupted(e, layers, histories, file));
    if (!(e instanceof CheckpointWriteError)) {
      layers.forEach(disposeRBM); // otherwise the error owns them
      gaussian?.logVar.dispose();
    }
    throw e;
  }
  return { dbn: { sizes: [...sizes], nLabels, layers, gaussian }, histories, resumed, seconds, checkpoint: file };
}

/** Trains the Gaussian first layer on the standardised pixels: its RBM part (W, b, c) and its log variances. */
async function trainGaussianLayer(
  input: Dataset,
  nHidden: number,
  g: GaussianLayerOptions,
  seeds: number[],
): Promise<TrainResult & { logVar: tf.Tensor1D }> {
  const [initSeed, trainSeed] = seeds;
  const m0 = initGaussianRBM(dim(input), nHidden, { std: g.initStd ?? 0.01, sigma: 1, data: input, seed: initSeed });
  try {
    const r = await trainGaussianRBM(m0, input, { seed: trainSeed, ...withoutUndefined(g.train ?? {}) });
    const { W, b, c, logVar } = r.rbm;
    return { rbm: { W, b, c }, logVar, history: r.history, chains: r.chains };
  } finally {
    disposeGaussianRBM(m0);
  }
}

/** The options of {@link pretrainDBN} checked against the sizes and the data (one clear error each), with their defaults. */
function checkPretrainOptions(
  sizes: number[],
  data: Dataset,
  opts: PretrainOptions,
): { L: number; nLabels: number; propagate: Propagation; perLayer: TrainOptions[]; gaussianPixels: boolean } {
  assertDataset(data, "pretrainDBN");
  assertLayerSizes(sizes, "pretrainDBN");
  const L = sizes.length - 1;
  const nLabels = opts.labels === true ? 10 : opts.labels === false || opts.labels === undefined ? 0 : opts.labels;
  assertLabelCount(nLabels, "pretrainDBN");
  if (dim(data) !== sizes[0]) {
    throw new Error(
      `pretrainDBN: the data have ${dim(data)} values per row but sizes[0] = ${sizes[0]}; the first layer size must be the number of pixels.`,
    );
  }
  if (nLabels > 0) checkLabels(data.labels, data.n, nLabels, `pretrainDBN: ${data.name}`);
  visibleRows(data, sizes[0], `pretrainDBN: data ${data.name}`); // n × sizes[0] values, all in [0, 1]
  const propagate = opts.propagate ?? "probs";
  if (propagate !== "probs" && propagate !== "samples")
    throw new Error(`pretrainDBN: propagate must be "probs" or "samples", got ${JSON.stringify(propagate)}.`);
  const visible = opts.visible ?? "binary";
  if (visible !== "binary" && visible !== "gaussian")
    throw new Error(`pretrainDBN: visible must be "binary" or "gaussian", got ${JSON.stringify(visible)}.`);
  const gaussianPixels = visible === "gaussian";
  if (opts.gaussian !== undefined && !gaussianPixels)
    throw new Error(`pretrainDBN: gaussian options were given but visible is "binary"; set visible: "gaussian" or drop them.`);
  if (gaussianPixels && L < 2)
    throw new Error(`pretrainDBN: a Gaussian first layer needs at least one binary layer above it; for one RBM use trainGaussianRBM.`);
  const binaryLayers = gaussianPixels ? L - 1 : L;
  const given = Array.isArray(opts.perLayer)
    ? opts.perLayer
    : Array.from({ length: binaryLayers }, () => (opts.perLayer ?? {}) as TrainOptions);
  if (given.length !== binaryLayers)
    throw new Error(
      gaussianPixels
        ? `pretrainDBN: perLayer has ${given.length} option objects but [${sizes}] has ${binaryLayers} binary layers above the Gaussian one; ` +
            `give one object, or one per binary layer (layer 0's options go in gaussian.train).`
        : `pretrainDBN: perLayer has ${given.length} option objects but [${sizes}] has ${L} layers; give one object, or one per layer.`,
    );
  // Layer 0 of a Gaussian DBN is trained by trainGaussianRBM from gaussian.train: its slot here is empty.
  const perLayer = gaussianPixels ? [{} as TrainOptions, ...given] : given;
  given.forEach((o) => resolveTrainOptions(o, data.n)); // validate every layer's options before any work
  if (nLabels > 0 && perLayer[L - 1].sparsityTarget !== undefined) {
    throw new Error("pretrainDBN: the label-joined top RBM does not support sparsityTarget; drop it from that layer's options.");
  }
  return { L, nLabels, propagate, perLayer, gaussianPixels };
}

/** Writes the finished layers to the checkpoint; a failed write becomes a {@link CheckpointWriteError} that keeps them. */
function saveLayers(file: string, c: Parameters<typeof writeDBNFile>[1] & { layers: RBM[]; histories: EpochRecord[][] }): void {
  try {
    writeDBNFile(file, c, "sameFormat");
  } catch (e) {
    throw new CheckpointWriteError(
      `pretrainDBN: layer ${c.layers.length - 1} is trained but could not be saved to the checkpoint: ${(e as Error).message} ` +
        `The ${c.layers.length} trained layer(s) are not lost: they are kept in memory as this error's .layers (bottom first; ` +
        `dispose them, or stackRBMs them). Fix the folder, or pass another checkpointDir, and rerun.`,
      [...c.layers],
      [...c.histories],
      e,
      c.gaussian,
    );
  }
}

/** The error of a pretraining interrupted in a layer: it owns the finished layers and the interrupted one. */
function keepInterrupted(
  e: TrainingInterruptedError,
  layers: RBM[],
  histories: EpochRecord[][],
  file: string | undefined,
): TrainingInterruptedError<PretrainPartial> {
  const where = file ? ` (the finished ones are also in ${file}, and a rerun resumes from them)` : "";
  return new TrainingInterruptedError<PretrainPartial>(
    `pretrainDBN: interrupted (■) in layer ${layers.length}, epoch ${e.epoch}, batch ${e.batch}. The ${layers.length} finished ` +
      `layers and the interrupted one are kept${where}: in the next cell, rbmlib.lastInterrupted().partial.`,
    { layers, interruptedLayer: e.partial as RBM, histories },
    e.epoch,
    e.batch,
    e.history,
  );
}

/**
 * The finished layers of an earlier pretraining stored in `file`, after checking that it is one of
 * the same architecture, data and propagation (anything else is an error: nothing is overwritten).
 */
function resumePretraining(
  file: string,
  sizes: number[],
  nLabels: number,
  hyperparameters: JsonObject,
): { layers: RBM[]; histories: EpochRecord[][]; gaussian?: GaussianPixels } {
  const c = readDBNFile(file);
  const theirs = c.hyperparameters;
  const pixels = (x: unknown) => (x === "gaussian" ? "Gaussian" : "binary");
  const problem =
    JSON.stringify(c.sizes) !== JSON.stringify(sizes) || c.nLabels !== nLabels
      ? `it holds a pretraining of a ${archName(c.sizes, c.nLabels)} DBN, but ${archName(sizes, nLabels)} was asked for`
      : c.generative
        ? "it holds a fine-tuned (untied) DBN, not a pretraining"
        : pixels(theirs.visible) !== pixels(hyperparameters.visible)
          ? `its pixels are ${pixels(theirs.visible)}, ${pixels(hyperparameters.visible)} ones were asked for`
          : JSON.stringify(theirs.gaussian) !== JSON.stringify(hyperparameters.gaussian)
            ? `its Gaussian first layer was trained with other settings (${JSON.stringify(theirs.gaussian)}, now ${JSON.stringify(hyperparameters.gaussian)})`
            : theirs.data !== hyperparameters.data
              ? `it was trained on other data (${String(theirs.data)}, now ${String(hyperparameters.data)})`
              : theirs.propagate !== hyperparameters.propagate
                ? `it propagated "${String(theirs.propagate)}" between layers, "${String(hyperparameters.propagate)}" was asked for`
                : settingsDiffer(theirs, hyperparameters, c.layers.length);
  if (problem) {
    c.layers.forEach(disposeRBM);
    (c.generative ?? []).forEach((g) => tf.dispose([g.W, g.b]));
    c.gaussian?.logVar.dispose();
    throw new Error(`pretrainDBN: cannot resume from ${file}: ${problem}. Use another checkpointDir (or delete that file to start over).`);
  }
  const histories = c.layers.map((_, l) => {
    const h = c.histories[l];
    return Array.isArray(h) ? (h as unknown as EpochRecord[]) : [];
  });
  return { layers: c.layers, histories, gaussian: c.gaussian };
}

/** Options that do not change what a layer learns (display and callbacks): ignored when resuming. */
const NOT_TRAINING = new Set(["progress", "onBatch", "monitor", "onEpoch"]);

/**
 * What differs between the settings a checkpoint's `done` layers were trained with and those asked
 * for now (init, initStd, seed, and every training option of those layers), or undefined. A file
 * from before seeds were recorded has no seed to compare.
 */
function settingsDiffer(theirs: JsonObject, ours: JsonObject, done: number): string | undefined {
  const show = (v: unknown) => (v === undefined ? "not set" : JSON.stringify(v));
  const diffs: string[] = [];
  for (const key of ["init", "initStd", "seed"] as const) {
    if (key === "seed" && !("seed" in theirs)) continue;
    if (JSON.stringify(theirs[key]) !== JSON.stringify(ours[key])) diffs.push(`${key} was ${show(theirs[key])}, now ${show(ours[key])}`);
  }
  const theirLayers = Array.isArray(theirs.perLayer) ? theirs.perLayer : [];
  const ourLayers = Array.isArray(ours.perLayer) ? ours.perLayer : [];
  for (let l = 0; l < done; l++) {
    const a = (theirLayers[l] ?? {}) as Record<string, unknown>;
    const b = (ourLayers[l] ?? {}) as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (NOT_TRAINING.has(key) || JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
      diffs.push(`layer ${l}'s ${key} was ${show(a[key])}, now ${show(b[key])}`);
    }
  }
  return diffs.length > 0
    ? `its ${done} finished layer(s) were trained with other settings (${diffs.join("; ")}); rerun with those settings to resume`
    : undefined;
}

/** Initialises and trains RBM `l` of the stack on `input` (the joint label RBM for the top of a labelled DBN). */
async function trainLayer(
  l: number,
  input: Dataset,
  sizes: number[],
  nLabels: number,
  opts: PretrainOptions,
  layerOptions: TrainOptions,
  seeds: number[],
): Promise<TrainResult> {
  const joint = l === sizes.length - 2 && nLabels > 0;
  const [initSeed, trainSeed] = seeds;
  const rbm0 = initRBM(visibleUnits(sizes, nLabels, l), sizes[l + 1], {
    method: opts.init ?? "hinton",
    std: opts.initStd ?? 0.1,
    seed: initSeed,
    data: { images: meanRow(input, joint ? nLabels : 0), n: 1 },
  });
  // The label-joined top RBM samples its x units in the negative phase unless told otherwise:
  // generation runs the chain on binary x, and training it the same way keeps far fewer chains
  // from collapsing into one blurry mode (measured in chapter 7's set-up).
  const o: TrainOptions = { seed: trainSeed, ...(joint ? { sampleVisible: true } : {}), ...withoutUndefined(layerOptions) };
  try {
    return joint ? await trainJointRBM(rbm0, input, { ...o, nLabels }) : await trainRBM(rbm0, input, o);
  } finally {
    disposeRBM(rbm0);
  }
}

/** Mean of every column (plus the label frequencies when `nLabels` > 0), as one row for initRBM's visible bias. */
function meanRow(ds: Dataset, nLabels: number): Float32Array {
  const d = dim(ds);
  const m = new Float64Array(d + nLabels);
  for (let r = 0; r < ds.n; r++) {
    const off = r * d;
    for (let i = 0; i < d; i++) m[i] += ds.images[off + i];
    if (nLabels > 0) m[d + ds.labels[r]] += 1;
  }
  return Float32Array.from(m, (x) => x / ds.n);
}

/**
 * The data for the next layer: p(h = 1 | x) of every row, or one binary sample of it. With `logVar`
 * the layer is the Gaussian first layer and `ds` the standardised pixels: p(h = 1 | u) = σ(c + (u/σ²) W).
 */
function propagateData(rbm: RBM, ds: Dataset, nHidden: number, how: Propagation, seed: number, logVar?: tf.Tensor1D): Dataset {
  const B = 1000;
  const out = logVar ? gaussianHiddenFeatures(ds.images, { ...rbm, logVar }, B) : binaryHiddenProbs(rbm, ds, nHidden, B);
  if (how === "samples") {
    const rng = new Rng(seed);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform() < out[i] ? 1 : 0;
  }
  return { images: out, labels: ds.labels, n: ds.n, rows: 1, cols: nHidden, name: `${ds.name} → h(${nHidden}, ${how})` };
}

/** p(h = 1 | x) = σ(xW + c) of every row of a binary layer's input, in batches of B rows. */
function binaryHiddenProbs(rbm: RBM, ds: Dataset, nHidden: number, B: number): Float32Array {
  const d = dim(ds);
  const out = new Float32Array(ds.n * nHidden);
  for (let start = 0; start < ds.n; start += B) {
    const size = Math.min(B, ds.n - start);
    const p = tf.tidy(() => sigmoidLayer(tf.tensor2d(ds.images.subarray(start * d, (start + size) * d), [size, d]), rbm.W, rbm.c));
    out.set(p.dataSync(), start * nHidden);
    p.dispose();
  }
  return out;
}
