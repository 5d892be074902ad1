/**
 * Deep belief networks: RBMs stacked greedily, layer by layer (Hinton, Osindero & Teh 2006).
 *
 * A DBN with layer sizes n₀ (pixels), n₁, …, n_L is L RBMs. RBM l (l < L−1) has W `[n_l, n_{l+1}]`
 * and is trained on the hidden probabilities of RBM l−1 (the pixels for l = 0). The top RBM may
 * have `nLabels` softmax label units joined to its visible side, so that it models the pair
 * (pen-ultimate layer, label) — the "associative memory" of the 2006 paper:
 *
 *   v_top = [x_{L−1}, y],   x_{L−1} ∈ {0,1}^{n_{L−1}},   y ∈ {e₁ … e_K} (one of K)
 *   p(h | v_top) = σ(v_top W + c),   p(x | h) = σ(h W_xᵀ + b_x),   p(y = e_k | h) = softmax(h W_yᵀ + b_y)_k
 *
 * This file holds the model type, greedy pretraining with per-layer checkpoints, the CD loop of the
 * label-joined top RBM, label inference by free energies, and generation (Gibbs in the top RBM,
 * then a down pass). Fine-tuning (up-down and backprop) is in `finetune.ts`.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { exactLogZ, allBinaryStates } from "../core/exact";
import { withoutUndefined } from "../core/numerics";
import { Rng, toRng, Seed } from "../core/random";
import { RBM, disposeRBM, cloneRBM, freeEnergy, assertFiniteRBM, initRBM } from "../core/rbm";
import { sigmoidLayer, sampleBernoulli, sampleSoftmaxGroup } from "../core/units";
import { JsonObject, JsonValue, SafeTensorInput, rbmToTensors, tensorToSafe, saveSafetensors, decodeSafetensors, rbmFromTensors, safeToTensor, SafeTensor } from "../io/checkpoint";
import { Dataset, dim, assertUnitInterval, visibleRows } from "../io/data";
import { TrainOptions, EpochRecord, CDState, TrainResult, resolveTrainOptions, CDStepper, runEpochs, trainRBM } from "../train/cd";
// ---------------------------------------------------------------------------------------------
// The model

/** Top-down (generative) weights of one lower layer: p(x_l = 1 | x_{l+1}) = σ(x_{l+1} W + b). */
export interface GenerativeLayer {
  /** `[n_{l+1}, n_l]` (the transpose of the recognition weights while they are tied). */
  W: tf.Tensor2D;
  /** `[n_l]` */
  b: tf.Tensor1D;
}

/**
 * A deep belief network: plain typed data, like {@link RBM}.
 *
 * `layers[l]` is the RBM between layers l and l+1. Its W and c are the recognition (bottom-up)
 * weights: p(x_{l+1} = 1 | x_l) ≈ σ(x_l W + c). The top RBM `layers[L−1]` has
 * W `[n_{L−1} + nLabels, n_L]`; the label units are its last `nLabels` visible units.
 */
export interface DBN {
  /** Units per layer, bottom first, e.g. `[784, 500, 500, 2000]`. */
  sizes: number[];
  /** Softmax label units joined to the top RBM's visible side (0 = none, 10 for digits). */
  nLabels: number;
  /** The RBMs, bottom first: `layers.length === sizes.length − 1`. */
  layers: RBM[];
  /**
   * Untied generative weights of the lower layers (length L−1), set by {@link untieDBN} and the
   * up-down algorithm. While undefined the generative weights are tied: `layers[l].Wᵀ`, `layers[l].b`.
   */
  generative?: GenerativeLayer[];
}

/** Checks that `sizes` is at least two positive integers; throws saying what is expected. */
export function assertLayerSizes(sizes: readonly number[], what = "DBN"): void {
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(
      `${what}: layer sizes must be at least two positive integers, bottom (pixels) first, e.g. [784, 500, 500, 2000]; ` +
        `got ${JSON.stringify(sizes)}.`,
    );
  }
}

function assertLabelCount(nLabels: number, what: string): void {
  if (!Number.isInteger(nLabels) || nLabels < 0 || nLabels === 1) {
    throw new Error(`${what}: nLabels must be 0 (no label units) or an integer ≥ 2 (10 for digits), got ${nLabels}.`);
  }
}

/** Number of visible units RBM `l` must have: n_l, plus the label units for the top RBM. */
function visibleUnits(sizes: readonly number[], nLabels: number, l: number): number {
  return sizes[l] + (l === sizes.length - 2 ? nLabels : 0);
}

/**
 * Checks that the layers of `dbn` chain: RBM l is `[n_l, n_{l+1}]` (top: `[n_{L−1} + nLabels, n_L]`)
 * and, when untied, generative l is `[n_{l+1}, n_l]`. Throws one error naming the first mismatch.
 */
export function assertDBN(dbn: DBN): void {
  assertLayerSizes(dbn.sizes);
  assertLabelCount(dbn.nLabels, "DBN");
  const L = dbn.sizes.length - 1;
  if (dbn.layers.length !== L) {
    throw new Error(`DBN: ${dbn.sizes.length} layer sizes [${dbn.sizes}] need ${L} RBMs, but it holds ${dbn.layers.length}.`);
  }
  dbn.layers.forEach((rbm, l) => {
    const want = [visibleUnits(dbn.sizes, dbn.nLabels, l), dbn.sizes[l + 1]];
    if (rbm.W.shape[0] !== want[0] || rbm.W.shape[1] !== want[1] || rbm.b.shape[0] !== want[0] || rbm.c.shape[0] !== want[1]) {
      throw new Error(
        `DBN: layer ${l} has W [${rbm.W.shape}], b [${rbm.b.shape}], c [${rbm.c.shape}] but the sizes [${dbn.sizes}]` +
          `${dbn.nLabels ? ` with ${dbn.nLabels} label units on the top RBM` : ""} need W [${want}]; the layers do not chain.`,
      );
    }
  });
  if (dbn.generative) {
    if (dbn.generative.length !== L - 1) throw new Error(`DBN: ${L} RBMs need ${L - 1} generative layers, it holds ${dbn.generative.length}.`);
    dbn.generative.forEach((g, l) => {
      if (g.W.shape[0] !== dbn.sizes[l + 1] || g.W.shape[1] !== dbn.sizes[l] || g.b.shape[0] !== dbn.sizes[l]) {
        throw new Error(`DBN: generative layer ${l} has W [${g.W.shape}], b [${g.b.shape}]; expected W [${dbn.sizes[l + 1]}, ${dbn.sizes[l]}], b [${dbn.sizes[l]}].`);
      }
    });
  }
}

/**
 * Builds a DBN from trained RBMs, bottom first (the DBN takes them over: no copy). The hidden layer
 * of each RBM must be the visible layer of the next; with `nLabels` the top RBM's visible layer is
 * the previous hidden layer plus the label units.
 * @throws when the sizes do not chain, naming the two layers
 */
export function stackRBMs(rbms: RBM[], opts: { nLabels?: number } = {}): DBN {
  const nLabels = opts.nLabels ?? 0;
  assertLabelCount(nLabels, "stackRBMs");
  if (rbms.length < 1) throw new Error("stackRBMs: give at least one RBM, bottom first.");
  for (let l = 0; l + 1 < rbms.length; l++) {
    const nHidden = rbms[l].W.shape[1];
    const nNext = rbms[l + 1].W.shape[0] - (l + 1 === rbms.length - 1 ? nLabels : 0);
    if (nHidden !== nNext) {
      throw new Error(
        `stackRBMs: layer ${l} has nHidden = ${nHidden} but layer ${l + 1} has nVisible = ${rbms[l + 1].W.shape[0]}` +
          `${l + 1 === rbms.length - 1 && nLabels ? ` (${nNext} + ${nLabels} label units)` : ""}; layer sizes must chain — ` +
          `the hidden layer of one RBM is the visible layer of the next.`,
      );
    }
  }
  const top = rbms[rbms.length - 1];
  if (top.W.shape[0] <= nLabels) throw new Error(`stackRBMs: the top RBM has ${top.W.shape[0]} visible units, not more than nLabels = ${nLabels}.`);
  const sizes = [...rbms.map((r, l) => r.W.shape[0] - (l === rbms.length - 1 ? nLabels : 0)), top.W.shape[1]];
  const dbn: DBN = { sizes, nLabels, layers: rbms };
  assertDBN(dbn);
  return dbn;
}

/** Frees every tensor of the DBN. */
export function disposeDBN(dbn: DBN): void {
  dbn.layers.forEach(disposeRBM);
  for (const g of dbn.generative ?? []) tf.dispose([g.W, g.b]);
}

/** A deep copy (new tensors). */
export function cloneDBN(dbn: DBN): DBN {
  return {
    sizes: [...dbn.sizes],
    nLabels: dbn.nLabels,
    layers: dbn.layers.map(cloneRBM),
    generative: dbn.generative?.map((g) => ({ W: g.W.clone(), b: g.b.clone() })),
  };
}

/**
 * A copy whose lower layers have separate generative weights, initialised to the tied ones
 * (generative l: W = layers[l].Wᵀ, b = layers[l].b). The up-down algorithm needs this; an already
 * untied DBN is simply copied.
 */
export function untieDBN(dbn: DBN): DBN {
  assertDBN(dbn);
  const copy = cloneDBN(dbn);
  if (!copy.generative) {
    copy.generative = dbn.layers.slice(0, -1).map((rbm) => ({ W: tf.transpose(rbm.W) as tf.Tensor2D, b: rbm.b.clone() }));
  }
  return copy;
}

/** The top RBM's weights split into the part from x_{L−1} `[n_{L−1}, n_L]` and from the labels `[nLabels, n_L]`. */
function splitTop(dbn: DBN): { Wx: tf.Tensor2D; Wy: tf.Tensor2D } {
  const top = dbn.layers[dbn.layers.length - 1];
  const nX = dbn.sizes[dbn.sizes.length - 2];
  return {
    Wx: tf.slice(top.W, [0, 0], [nX, top.W.shape[1]]),
    Wy: tf.slice(top.W, [nX, 0], [dbn.nLabels, top.W.shape[1]]),
  };
}

/**
 * The same joint distribution with the layers swapped: W → Wᵀ, b ↔ c. Stacked on an RBM as its
 * second layer, it leaves the model unchanged (the "tied" start of greedy training).
 */
export function transposeRBM(rbm: RBM): RBM {
  return { W: tf.transpose(rbm.W) as tf.Tensor2D, b: rbm.c.clone(), c: rbm.b.clone() };
}

/** Result of {@link exactDBNBound}. */
export interface DBNBound {
  /** The bound per row (nats). */
  bound: Float64Array;
  /** Means over rows of its three parts: E_q[log p(h)], E_q[log p(v|h)] and the entropy H(q). */
  logPrior: number;
  logLikelihood: number;
  entropy: number;
  /** Mean of the bound. */
  mean: number;
}

/**
 * The variational lower bound of a two-level model, exactly (tiny models: the lower RBM may have at
 * most 16 hidden units, which are enumerated):
 *
 *   log p(v) ≥ Σ_h q(h|v) [log p(h) + log p(v|h)] + H(q(·|v)),   q(h|v) = Π_j p_lower(h_j = 1 | v)
 *
 * with p(v|h) the lower RBM's conditional and p(h) = exp(−F_prior(h)) / Z_prior the marginal of
 * the `prior` RBM over its visible layer (which is h). With `prior = transposeRBM(lower)` the bound
 * equals the lower RBM's log p(v), since q is then its exact posterior.
 * @param v `[n, nVisible]` @returns per-row bound and the means of its parts
 */
export function exactDBNBound(lower: RBM, prior: RBM, v: tf.Tensor2D): DBNBound {
  const [nV, nH] = lower.W.shape;
  if (nH > 16) throw new Error(`exactDBNBound: the lower RBM has ${nH} hidden units; the exact bound enumerates 2^nHidden states, so use at most 16.`);
  if (prior.W.shape[0] !== nH) throw new Error(`exactDBNBound: the prior RBM has ${prior.W.shape[0]} visible units but the lower RBM has ${nH} hidden units; they must match.`);
  if (v.rank !== 2 || v.shape[1] !== nV) throw new Error(`exactDBNBound: v has shape [${v.shape}], expected [n, ${nV}].`);
  const logZ = exactLogZ(prior);
  const parts = tf.tidy(() => {
    const H = allBinaryStates(nH); // [S, nH]
    const logPrior = tf.sub(tf.neg(freeEnergy(H, prior)), logZ); // [S]
    const A = tf.add(tf.matMul(H, tf.transpose(lower.W)), lower.b); // [S, nV]
    // log p(v|h) = Σ_i v_i a_i − softplus(a_i)  → [n, S]
    const logPvh = tf.sub(tf.matMul(v, tf.transpose(A)), tf.sum(tf.softplus(A), 1));
    const pre = tf.add(tf.matMul(v, lower.W), lower.c); // [n, nH]
    // log q(h|v) = Σ_j h_j log σ(pre_j) + (1 − h_j) log σ(−pre_j)  → [n, S]
    const logQ = tf.add(tf.matMul(tf.logSigmoid(pre), tf.transpose(H)), tf.matMul(tf.logSigmoid(tf.neg(pre)), tf.transpose(tf.sub(1, H))));
    const q = tf.exp(logQ);
    return [tf.sum(tf.mul(q, logPrior), 1), tf.sum(tf.mul(q, logPvh), 1), tf.neg(tf.sum(tf.mul(q, logQ), 1))];
  });
  const [a, b, c] = parts.map((t) => Float64Array.from(t.dataSync()));
  tf.dispose(parts);
  const bound = a.map((x, i) => x + b[i] + c[i]);
  const mean = (x: Float64Array) => x.reduce((s, y) => s + y, 0) / x.length;
  return { bound, logPrior: mean(a), logLikelihood: mean(b), entropy: mean(c), mean: mean(bound) };
}

// ---------------------------------------------------------------------------------------------
// Up and down passes


/** The deepest layer reachable without labels: n_{L−1} when the top RBM has label units, else n_L. */
function defaultDepth(dbn: DBN): number {
  return dbn.nLabels > 0 ? dbn.sizes.length - 2 : dbn.sizes.length - 1;
}

function checkDepth(dbn: DBN, depth: number, hasLabels: boolean, what: string): void {
  const L = dbn.sizes.length - 1;
  if (!Number.isInteger(depth) || depth < 0 || depth > L) throw new Error(`${what}: depth must be an integer in [0, ${L}], got ${depth}.`);
  if (depth === L && dbn.nLabels > 0 && !hasLabels) {
    throw new Error(`${what}: the top layer (depth ${L}) of this DBN also listens to its ${dbn.nLabels} label units; pass labels, or use depth ${L - 1}.`);
  }
}

/**
 * Bottom-up probabilities: x₀ = v, x_{l+1} = σ(x_l W_l + c_l), up to layer `depth` (the recognition
 * weights, mean-field: probabilities are propagated, not samples). For the top layer of a
 * label-joined DBN pass one-hot `labels` `[batch, nLabels]`.
 * @param v `[batch, n₀]` @returns `[batch, n_depth]`
 */
export function dbnUpPass(dbn: DBN, v: tf.Tensor2D, depth = defaultDepth(dbn), labels?: tf.Tensor2D): tf.Tensor2D {
  checkDepth(dbn, depth, labels !== undefined, "dbnUpPass");
  if (v.rank !== 2 || v.shape[1] !== dbn.sizes[0]) throw new Error(`dbnUpPass: v has shape [${v.shape}] but the DBN's first layer has ${dbn.sizes[0]} units: pass [batch, ${dbn.sizes[0]}].`);
  const L = dbn.sizes.length - 1;
  return tf.tidy(() => {
    let x: tf.Tensor2D = v;
    for (let l = 0; l < depth; l++) {
      const rbm = dbn.layers[l];
      if (l === L - 1 && dbn.nLabels > 0) {
        if (!labels || labels.shape[0] !== v.shape[0] || labels.shape[1] !== dbn.nLabels) {
          throw new Error(`dbnUpPass: labels must be one-hot [${v.shape[0]}, ${dbn.nLabels}].`);
        }
        x = tf.concat([x, labels], 1);
      }
      x = sigmoidLayer(x, rbm.W, rbm.c);
    }
    return x.clone();
  });
}

/**
 * Top-down probabilities from layer `from` (default n_{L−1}) to the pixels: x_l = σ(x_{l+1} G_l + g_l),
 * with the untied generative weights when present, else the tied ones (Wᵀ, explicitly transposed).
 * @param x `[batch, n_from]` @returns `[batch, n₀]`
 */
export function dbnDownPass(dbn: DBN, x: tf.Tensor2D, from = dbn.sizes.length - 2): tf.Tensor2D {
  if (!Number.isInteger(from) || from < 0 || from > dbn.sizes.length - 2) {
    throw new Error(`dbnDownPass: from must be an integer in [0, ${dbn.sizes.length - 2}] (the lower layers), got ${from}.`);
  }
  if (x.rank !== 2 || x.shape[1] !== dbn.sizes[from]) throw new Error(`dbnDownPass: x has shape [${x.shape}] but layer ${from} has ${dbn.sizes[from]} units.`);
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    for (let l = from - 1; l >= 0; l--) {
      const g = dbn.generative?.[l];
      h = g ? sigmoidLayer(h, g.W, g.b) : sigmoidLayer(h, tf.transpose(dbn.layers[l].W) as tf.Tensor2D, dbn.layers[l].b);
    }
    return h.clone();
  });
}


/** Options of {@link upPass}. */
export interface UpPassOptions {
  /** Layer to stop at (0 = the input). Default n_{L−1} for a label-joined DBN, else n_L. */
  depth?: number;
  /** Class labels `[n]`, needed for the top layer of a label-joined DBN. */
  labels?: ArrayLike<number>;
  /** Rows per batch. Default 1000. */
  batchSize?: number;
}

/**
 * {@link dbnUpPass} over a whole data set in batches, returned as flat rows.
 * @param data `[n, n₀]` as a Dataset or flat rows @returns `[n, n_depth]` row-major
 */
export function upPass(dbn: DBN, data: Dataset | Float32Array, opts: UpPassOptions = {}): Float32Array {
  assertDBN(dbn);
  const depth = opts.depth ?? defaultDepth(dbn);
  checkDepth(dbn, depth, opts.labels !== undefined, "upPass");
  const { x, n } = visibleRows(data, dbn.sizes[0], "upPass");
  if (opts.labels) checkLabels(opts.labels, n, dbn.nLabels, "upPass");
  const B = opts.batchSize ?? 1000;
  const d0 = dbn.sizes[0];
  const out = new Float32Array(n * dbn.sizes[depth]);
  for (let start = 0; start < n; start += B) {
    const size = Math.min(B, n - start);
    const probs = tf.tidy(() => {
      const v = tf.tensor2d(x.subarray(start * d0, (start + size) * d0), [size, d0]);
      const y = opts.labels ? oneHotTensor(opts.labels, start, size, dbn.nLabels) : undefined;
      return dbnUpPass(dbn, v, depth, y);
    });
    out.set(probs.dataSync(), start * dbn.sizes[depth]);
    probs.dispose();
  }
  return out;
}

function checkLabels(labels: ArrayLike<number>, n: number, nLabels: number, what: string): void {
  if (labels.length !== n) throw new Error(`${what}: ${labels.length} labels for ${n} rows; give one label per row.`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < nLabels)) {
      throw new Error(`${what}: label ${y} at row ${i} is outside [0, ${nLabels}); labels must be class indices 0…${nLabels - 1}.`);
    }
  }
}

/** One-hot rows `[size, nLabels]` for labels[start … start+size). */
function oneHotTensor(labels: ArrayLike<number>, start: number, size: number, nLabels: number): tf.Tensor2D {
  const y = new Float32Array(size * nLabels);
  for (let r = 0; r < size; r++) y[r * nLabels + labels[start + r]] = 1;
  return tf.tensor2d(y, [size, nLabels]);
}

// ---------------------------------------------------------------------------------------------
// Sampling helpers




/**
 * The negative phase of the label-joined top RBM, k Gibbs steps from hidden states `h`:
 * x̃ = σ(h W_xᵀ + b_x) (sampled when `sampleX`), ỹ ~ softmax(h W_yᵀ + b_y) sampled one-of-K, then
 * p(h | [x̃, ỹ]). Shared by the pretraining CD loop and the up-down algorithm.
 * @param h `[B, n_L]` @param WT the top RBM's Wᵀ `[n_L, n_{L−1} + K]`
 * @returns the last visible state `[B, n_{L−1} + K]` and p(h | it) `[B, n_L]`
 */
export function jointNegativePhase(
  h: tf.Tensor2D, top: RBM, WT: tf.Tensor2D, nLabels: number, k: number, sampleX: boolean, rng: Rng,
): { negVis: tf.Tensor2D; negHidProbs: tf.Tensor2D } {
  const B = h.shape[0];
  const nV = top.W.shape[0];
  const nX = nV - nLabels;
  let states = h;
  let negVis = h;
  let negHidProbs = h;
  for (let step = 0; step < k; step++) {
    if (step > 0) states = sampleBernoulli(negHidProbs, rng);
    const act = tf.fused.matMul({ a: states, b: WT, bias: top.b }) as tf.Tensor2D;
    let x: tf.Tensor2D = tf.sigmoid(nLabels > 0 ? tf.slice(act, [0, 0], [B, nX]) : act);
    if (sampleX) x = sampleBernoulli(x, rng);
    negVis = nLabels > 0 ? tf.concat([x, sampleSoftmaxGroup(tf.softmax(tf.slice(act, [0, nX], [B, nLabels])) as tf.Tensor2D, rng)], 1) : x;
    negHidProbs = sigmoidLayer(negVis, top.W, top.c);
  }
  return { negVis, negHidProbs };
}

// ---------------------------------------------------------------------------------------------
// Training the label-joined top RBM

/** Options of {@link trainJointRBM}: those of {@link trainRBM} (no sparsity penalty) plus the label count. */
export interface JointTrainOptions extends TrainOptions {
  /** Number of label units (the last visible units of the RBM). */
  nLabels: number;
}

/** One epoch record of {@link trainJointRBM}: {@link EpochRecord} plus the label reconstruction rate. */
export interface JointEpochRecord extends EpochRecord {
  /** Fraction of training rows whose one-step reconstructed label ỹ differs from the true label. */
  labelFlips: number;
}

/** trainJointRBM's state: {@link CDState} plus the count of reconstructed labels that flipped. */
interface JointState extends CDState {
  flipSum: tf.Scalar;
}

/**
 * Trains an RBM whose visible vector is [x, onehot(y)] — features `data.images` `[n, nVisible − K]`
 * and labels `data.labels` — with CD-k, sampling the K label units as ONE softmax group in the
 * negative phase (Hinton, Osindero & Teh 2006). Same hyperparameters and defaults as
 * {@link trainRBM} (learning rate, momentum schedule, weight decay, batch size, k, persistent chains,
 * seed, callbacks); the sparsity penalty is not supported here. The input RBM is not modified.
 * With `persistent`, the chains start from the hidden states of random training rows (as trainRBM).
 */
export async function trainJointRBM(rbm: RBM, data: Dataset, opts: JointTrainOptions): Promise<TrainResult & { history: JointEpochRecord[] }> {
  const o = resolveTrainOptions(opts, data.n);
  const K = opts.nLabels;
  if (o.sparsityTarget !== undefined) throw new Error("trainJointRBM: the sparsity penalty is not supported for the label-joined RBM; drop sparsityTarget.");
  assertLabelCount(K, "trainJointRBM");
  if (K < 2) throw new Error("trainJointRBM: nLabels must be ≥ 2; for an RBM without labels use trainRBM.");
  assertFiniteRBM(rbm);
  const [nV, nH] = rbm.W.shape;
  const nX = nV - K;
  if (dim(data) !== nX) {
    throw new Error(`trainJointRBM: the data have ${dim(data)} values per row but the RBM has ${nV} visible units = ${nX} features + ${K} labels; they must match.`);
  }
  checkLabels(data.labels, data.n, K, `trainJointRBM: ${data.name}`);
  assertUnitInterval(data.images, `trainJointRBM: data ${data.name}`);
  const rng = toRng(o.seed);
  let s: JointState = {
    W: rbm.W.clone(), b: rbm.b.clone(), c: rbm.c.clone(),
    dW: tf.zerosLike(rbm.W), db: tf.zerosLike(rbm.b), dc: tf.zerosLike(rbm.c),
    errSum: tf.scalar(0), flipSum: tf.scalar(0),
  };
  if (o.persistent) {
    const nChains = o.nChains ?? o.batchSize;
    const x0 = new Float32Array(nChains * nX);
    const y0 = new Float32Array(nChains * K);
    for (let r = 0; r < nChains; r++) {
      const i = rng.int(data.n);
      x0.set(data.images.subarray(i * nX, (i + 1) * nX), r * nX);
      y0[r * K + data.labels[i]] = 1;
    }
    s.chains = tf.tidy(() => sampleBernoulli(sigmoidLayer(tf.concat([tf.tensor2d(x0, [nChains, nX]), tf.tensor2d(y0, [nChains, K])], 1) as tf.Tensor2D, s.W, s.c), rng));
  }
  const stepper: CDStepper<JointEpochRecord> = {
    params: () => ({ W: s.W, b: s.b, c: s.c }),
    update: (batch, lr, momentum) => {
      s = jointCdUpdate(s, batch.v, batch.y, batch.size, K, o, lr, momentum, rng);
    },
    endEpoch: () => {
      const errSum = s.errSum.dataSync()[0];
      const flips = s.flipSum.dataSync()[0];
      tf.dispose([s.errSum, s.flipSum]);
      s.errSum = tf.scalar(0);
      s.flipSum = tf.scalar(0);
      // With persistent chains the negative state is not a reconstruction of the batch: NaN.
      return { trainRecon: o.persistent ? NaN : errSum / data.n, labelFlips: o.persistent ? NaN : flips / data.n };
    },
    dispose: (all) => tf.dispose([s.dW, s.db, s.dc, s.errSum, s.flipSum, ...(all ? [s.W, s.b, s.c, ...(s.chains ? [s.chains] : [])] : [])]),
  };
  const history = await runEpochs(stepper, data, o, rng, `CD-${o.k} (top RBM + ${K} labels)`, K);
  return { rbm: { W: s.W, b: s.b, c: s.c }, history, chains: s.chains };
}

/** One CD-k / PCD-k update of the label-joined RBM on features x `[B, nX]` and one-hot labels y `[B, K]`. */
function jointCdUpdate(
  s: JointState, x: Float32Array, y: Float32Array, B: number, K: number,
  o: { k: number; sampleVisible: boolean; weightDecay: number; persistent: boolean }, lr: number, momentum: number, rng: Rng,
): JointState {
  const weightDecay = o.weightDecay;
  const next = tf.tidy(() => {
    const nX = x.length / B;
    const yT = tf.tensor2d(y, [B, K]);
    const v = tf.concat([tf.tensor2d(x, [B, nX]), yT], 1) as tf.Tensor2D;
    const top: RBM = { W: s.W, b: s.b, c: s.c };
    // Positive phase: p(h | x, y) driven by the data.
    const posHidProbs = sigmoidLayer(v, s.W, s.c);
    // Negative phase: k Gibbs steps from h ~ p(h | x, y) (CD) or from the persistent chains (PCD);
    // the labels are sampled one-of-K.
    const start = s.chains ?? sampleBernoulli(posHidProbs, rng);
    const { negVis, negHidProbs } = jointNegativePhase(start, top, tf.transpose(s.W) as tf.Tensor2D, K, o.k, o.sampleVisible, rng);
    const nNeg = start.shape[0];
    // ε(⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model) as one matMul of the stacked phases (as in train.ts).
    const stackedV = tf.transpose(tf.concat([v, negVis], 0)) as tf.Tensor2D;
    const stackedH = tf.concat([tf.mul(posHidProbs, lr / B), tf.mul(negHidProbs, -lr / nNeg)], 0) as tf.Tensor2D;
    let stepW: tf.Tensor = tf.matMul(stackedV, stackedH);
    if (weightDecay > 0) stepW = tf.sub(stepW, tf.mul(s.W, lr * weightDecay));
    let stepB: tf.Tensor = tf.sub(tf.mul(tf.sum(v, 0), lr / B), tf.mul(tf.sum(negVis, 0), lr / nNeg));
    let stepC: tf.Tensor = tf.sub(tf.mul(tf.sum(posHidProbs, 0), lr / B), tf.mul(tf.sum(negHidProbs, 0), lr / nNeg));
    if (momentum > 0) {
      stepW = tf.add(tf.mul(s.dW, momentum), stepW);
      stepB = tf.add(tf.mul(s.db, momentum), stepB);
      stepC = tf.add(tf.mul(s.dc, momentum), stepC);
    }
    const persistent = s.chains !== undefined;
    const flips = persistent ? tf.scalar(0) : tf.sum(tf.cast(tf.notEqual(tf.argMax(tf.slice(negVis, [0, nX], [B, K]), 1), tf.argMax(yT, 1)), "float32"));
    const err = persistent ? tf.scalar(0) : tf.sum(tf.squaredDifference(tf.slice(v, [0, 0], [B, nX]), tf.slice(negVis, [0, 0], [B, nX])));
    return {
      W: tf.add(s.W, stepW) as tf.Tensor2D, b: tf.add(s.b, stepB) as tf.Tensor1D, c: tf.add(s.c, stepC) as tf.Tensor1D,
      dW: stepW as tf.Tensor2D, db: stepB as tf.Tensor1D, dc: stepC as tf.Tensor1D,
      errSum: tf.add(s.errSum, err) as tf.Scalar,
      flipSum: tf.add(s.flipSum, flips) as tf.Scalar,
      chains: persistent ? sampleBernoulli(negHidProbs, rng) : undefined,
    };
  });
  tf.dispose([s.W, s.b, s.c, s.dW, s.db, s.dc, s.errSum, s.flipSum, ...(s.chains ? [s.chains] : [])]);
  return next;
}

// ---------------------------------------------------------------------------------------------
// Label inference with the top RBM

/**
 * log p(y = k | x) for a label-joined top RBM, exactly: with a one-hot y the free energy is
 * F(x, e_k) = −x·b_x − b_{y,k} − Σ_j softplus(c_j + (x W_x)_j + W_{y,kj}), and
 * p(y = k | x) = exp(−F(x, e_k)) / Σ_k' exp(−F(x, e_k')) (the x·b_x term cancels).
 * @param x `[batch, n_{L−1}]` the layer below the top @returns `[batch, nLabels]` log-probabilities
 */
export function labelLogProbs(dbn: DBN, x: tf.Tensor2D): tf.Tensor2D {
  if (dbn.nLabels === 0) throw new Error("labelLogProbs: this DBN has no label units; pretrain it with labels: true (or use a classifier on its features).");
  const nX = dbn.sizes[dbn.sizes.length - 2];
  if (x.rank !== 2 || x.shape[1] !== nX) throw new Error(`labelLogProbs: x has shape [${x.shape}] but the top RBM's feature part has ${nX} units.`);
  const top = dbn.layers[dbn.layers.length - 1];
  return tf.tidy(() => {
    const { Wx, Wy } = splitTop(dbn);
    const by = tf.slice(top.b, [nX], [dbn.nLabels]);
    const base = tf.add(tf.matMul(x, Wx), top.c); // [B, n_L]
    // [B, 1, n_L] + [1, K, n_L] → softplus summed over the hidden units → [B, K]
    const negF = tf.add(tf.sum(tf.softplus(tf.add(tf.expandDims(base, 1), tf.expandDims(Wy, 0))), 2), by);
    return tf.logSoftmax(negF) as tf.Tensor2D;
  });
}

/** Result of {@link classifyDBN}. */
export interface DBNClassification {
  /** argmax_k p(y = k | v) `[n]`. */
  predicted: Int32Array;
  /** Mean over rows of log p(y = true label | v) (nats), when the data carry labels. */
  meanLogProb: number;
  /** Fraction of rows misclassified, when the data carry labels. */
  error: number;
}

/**
 * Classifies with the generative model itself: an up pass to x_{L−1} (probabilities), then the exact
 * label posterior of the top RBM ({@link labelLogProbs}). Needs a label-joined DBN.
 */
export function classifyDBN(dbn: DBN, data: Dataset, opts: { batchSize?: number } = {}): DBNClassification {
  assertDBN(dbn);
  if (dbn.nLabels === 0) throw new Error("classifyDBN: this DBN has no label units; pretrain it with labels: true.");
  const { x, n } = visibleRows(data, dbn.sizes[0], "classifyDBN");
  checkLabels(data.labels, n, dbn.nLabels, `classifyDBN: ${data.name}`);
  const B = opts.batchSize ?? 250;
  const d0 = dbn.sizes[0];
  const predicted = new Int32Array(n);
  let logProb = 0;
  let wrong = 0;
  for (let start = 0; start < n; start += B) {
    const size = Math.min(B, n - start);
    const lp = tf.tidy(() => labelLogProbs(dbn, dbnUpPass(dbn, tf.tensor2d(x.subarray(start * d0, (start + size) * d0), [size, d0]))));
    const values = lp.dataSync();
    lp.dispose();
    for (let r = 0; r < size; r++) {
      let best = 0;
      for (let k = 1; k < dbn.nLabels; k++) if (values[r * dbn.nLabels + k] > values[r * dbn.nLabels + best]) best = k;
      predicted[start + r] = best;
      const y = data.labels[start + r];
      logProb += values[r * dbn.nLabels + y];
      if (best !== y) wrong++;
    }
  }
  return { predicted, meanLogProb: logProb / n, error: wrong / n };
}

// ---------------------------------------------------------------------------------------------
// Generation

/** Options of {@link generateDBN}. */
export interface GenerateOptions {
  /**
   * Class to clamp on the label units: one for every chain, or one per chain (e.g. 0…9). Undefined:
   * the labels are free and sampled (softmax group) at every step. Needs a label-joined DBN.
   */
  labels?: number | ArrayLike<number>;
  /** Number of chains. Default: the number of labels given, else 10. */
  nChains?: number;
  /** Alternating Gibbs steps in the top RBM. Default 1000 (as in the 2006 paper's figures). */
  steps?: number;
  /** Record a picture every this many steps (0 = only the last). Default steps / 10. */
  every?: number;
  /**
   * Start of the chains in layer n_{L−1}: "noise" (default, as in the 2006 paper: an up pass from a
   * random binary image, each pixel on with probability ½, then a sample), "random" (each unit of
   * layer n_{L−1} on with probability ½), or images `[nChains, n₀]` pushed up (probabilities).
   */
  init?: "noise" | "random" | Float32Array;
  /** Seed of the chains. Default 0. */
  seed?: Seed;
}

/** Result of {@link generateDBN}: pictures p(v | x_{L−1}) from the down pass, `[nChains, n₀]` each. */
export interface GenerateResult {
  /** The last pictures, flat `[nChains * n₀]`. */
  images: Float32Array;
  /** The recorded pictures over time, each flat `[nChains * n₀]`. */
  frames: Float32Array[];
  /** Gibbs step of each frame. */
  steps: number[];
  /** Label of each chain at the end (the clamped one, or the last sample). Empty without label units. */
  labels: Int32Array;
}

/**
 * Dreams: runs alternating Gibbs sampling in the top RBM (labels clamped or free), and turns the state
 * of layer n_{L−1} into pictures with a down pass of probabilities through the generative weights.
 * The picture uses p(x_{L−1} | h) of the last step (smoother than a binary sample).
 */
export function generateDBN(dbn: DBN, opts: GenerateOptions = {}): GenerateResult {
  assertDBN(dbn);
  const K = dbn.nLabels;
  const clamp = opts.labels === undefined ? undefined : typeof opts.labels === "number" ? [opts.labels] : Array.from(opts.labels);
  if (clamp && K === 0) throw new Error("generateDBN: this DBN has no label units to clamp; pretrain it with labels: true, or drop opts.labels.");
  const nChains = opts.nChains ?? (clamp && clamp.length > 1 ? clamp.length : 10);
  if (!Number.isInteger(nChains) || nChains < 1) throw new Error(`generateDBN: nChains must be a positive integer, got ${nChains}.`);
  if (clamp && clamp.length !== 1 && clamp.length !== nChains) throw new Error(`generateDBN: ${clamp.length} labels for ${nChains} chains; give one label, or one per chain.`);
  const perChain = clamp ? Array.from({ length: nChains }, (_, i) => clamp[clamp.length === 1 ? 0 : i]) : undefined;
  if (perChain) checkLabels(perChain, nChains, K, "generateDBN");
  const steps = opts.steps ?? 1000;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`generateDBN: steps must be an integer ≥ 1, got ${steps}.`);
  const every = opts.every ?? Math.max(1, Math.floor(steps / 10));
  if (!Number.isInteger(every) || every < 0) throw new Error(`generateDBN: every must be an integer ≥ 0, got ${every}.`);
  const rng = toRng(opts.seed ?? 0);
  const nX = dbn.sizes[dbn.sizes.length - 2];
  const top = dbn.layers[dbn.layers.length - 1];

  let x: tf.Tensor2D;
  if (opts.init === "random") {
    x = tf.tidy(() => sampleBernoulli(tf.fill([nChains, nX], 0.5) as tf.Tensor2D, rng));
  } else if (opts.init === undefined || opts.init === "noise") {
    // The 2006 paper: an up pass from a random binary image, each pixel on with probability ½.
    x = tf.tidy(() => sampleBernoulli(dbnUpPass(dbn, sampleBernoulli(tf.fill([nChains, dbn.sizes[0]], 0.5) as tf.Tensor2D, rng), dbn.sizes.length - 2), rng));
  } else {
    const d0 = dbn.sizes[0];
    if (!(opts.init instanceof Float32Array) || opts.init.length !== nChains * d0) {
      throw new Error(`generateDBN: init must be "random" or images [nChains, ${d0}] = ${nChains * d0} values.`);
    }
    const init = opts.init;
    x = tf.tidy(() => dbnUpPass(dbn, tf.tensor2d(init, [nChains, d0]), dbn.sizes.length - 2));
  }
  let y: tf.Tensor2D | undefined = K === 0 ? undefined : perChain
    ? oneHotTensor(perChain, 0, nChains, K)
    : tf.tidy(() => sampleSoftmaxGroup(tf.fill([nChains, K], 1 / K) as tf.Tensor2D, rng));
  let xProbs: tf.Tensor2D = x.clone();
  const WT = tf.transpose(top.W) as tf.Tensor2D;
  const frames: Float32Array[] = [];
  const frameSteps: number[] = [];
  const picture = (): Float32Array => {
    const img = dbnDownPass(dbn, xProbs);
    const values = img.dataSync().slice() as Float32Array;
    img.dispose();
    return values;
  };
  try {
    for (let step = 1; step <= steps; step++) {
      const next = tf.tidy(() => {
        const v = y ? tf.concat([x, y], 1) as tf.Tensor2D : x;
        const h = sampleBernoulli(sigmoidLayer(v, top.W, top.c), rng);
        const act = tf.fused.matMul({ a: h, b: WT, bias: top.b }) as tf.Tensor2D;
        const p = tf.sigmoid(K > 0 ? tf.slice(act, [0, 0], [nChains, nX]) : act) as tf.Tensor2D;
        const yNext = y && !perChain ? sampleSoftmaxGroup(tf.softmax(tf.slice(act, [0, nX], [nChains, K])) as tf.Tensor2D, rng) : y?.clone();
        return { x: sampleBernoulli(p, rng), xProbs: p, y: yNext };
      });
      tf.dispose([x, xProbs, ...(y ? [y] : [])]);
      x = next.x;
      xProbs = next.xProbs;
      y = next.y;
      if ((every > 0 && step % every === 0) || step === steps) {
        if (frameSteps[frameSteps.length - 1] !== step) {
          frames.push(picture());
          frameSteps.push(step);
        }
      }
    }
    let labels = new Int32Array(0);
    if (y) {
      const argmax = tf.argMax(y, 1);
      labels = Int32Array.from(argmax.dataSync());
      argmax.dispose();
    }
    return { images: frames[frames.length - 1], frames, steps: frameSteps, labels };
  } finally {
    tf.dispose([x, xProbs, WT, ...(y ? [y] : [])]);
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** `__metadata__.format` of a DBN checkpoint. */
export const DBN_FORMAT = "rbm-notebooks/dbn";
/** `__metadata__.version` written and read by this library. */
export const DBN_VERSION = "1";

/** What a DBN file holds besides the tensors. */
export interface DBNFileInfo {
  /** Per-layer training settings and anything else the writer stored (JSON). */
  hyperparameters: JsonObject;
  /** Per-layer training histories (JSON). */
  histories: JsonValue[];
  /** All metadata strings as stored. */
  metadata: Record<string, string>;
}

interface DBNFileContent extends DBNFileInfo {
  sizes: number[];
  nLabels: number;
  /** The finished RBMs, bottom first (fewer than L in an interrupted pretraining). */
  layers: RBM[];
  generative?: GenerativeLayer[];
}

function writeDBNFile(file: string, c: Omit<DBNFileContent, "metadata"> & { metadata?: Record<string, string> }, overwrite: boolean | "sameFormat"): void {
  const tensors: Record<string, SafeTensorInput> = {};
  c.layers.forEach((rbm, l) => Object.assign(tensors, rbmToTensors(rbm, `layer${l}.`)));
  (c.generative ?? []).forEach((g, l) => {
    tensors[`generative${l}.W`] = tensorToSafe(g.W, `generative${l}.W`);
    tensors[`generative${l}.b`] = tensorToSafe(g.b, `generative${l}.b`);
  });
  const metadata: Record<string, string> = {
    ...(c.metadata ?? {}),
    format: DBN_FORMAT,
    version: DBN_VERSION,
    sizes: JSON.stringify(c.sizes),
    nLabels: String(c.nLabels),
    layersDone: String(c.layers.length),
    untied: c.generative ? "1" : "0",
    hyperparameters: JSON.stringify(c.hyperparameters),
    histories: JSON.stringify(c.histories, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v)),
  };
  saveSafetensors(file, tensors, metadata, { overwrite });
}

function readDBNFile(file: string): DBNFileContent {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new Error(`Cannot read DBN checkpoint ${abs}: no such file.`);
  const source = `DBN checkpoint ${abs}`;
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(abs), source);
  const fail = (what: string, todo = "pick another file") => new Error(`Cannot read ${source}: ${what}; ${todo}.`);
  if (metadata.format !== DBN_FORMAT) {
    throw fail(
      metadata.format ? `it is a "${metadata.format}" file, not a DBN checkpoint ("${DBN_FORMAT}")` : `it is not a DBN checkpoint (no "format": "${DBN_FORMAT}" metadata)`,
      "it was left untouched; pick another file or folder",
    );
  }
  if (metadata.version !== DBN_VERSION) throw fail(`it has version ${JSON.stringify(metadata.version)}, this library reads ${DBN_VERSION}`, "update rbm-notebooks or pick another file");
  const parse = (key: string): JsonValue => {
    try {
      return JSON.parse(metadata[key] ?? "null") as JsonValue;
    } catch {
      throw fail(`its "${key}" metadata is not valid JSON`, "the file is corrupt; pick another file");
    }
  };
  const sizes = parse("sizes");
  if (!Array.isArray(sizes) || !sizes.every((n) => typeof n === "number")) throw fail(`its "sizes" metadata is not a list of numbers`, "the file is corrupt; pick another file");
  const nLabels = Number(metadata.nLabels);
  const done = Number(metadata.layersDone);
  if (!Number.isInteger(nLabels) || !Number.isInteger(done) || done < 0 || done > sizes.length - 1) throw fail("its layer counts are invalid", "the file is corrupt; pick another file");
  const hyperparameters = parse("hyperparameters");
  const histories = parse("histories");
  const layers: RBM[] = [];
  const generative: GenerativeLayer[] = [];
  try {
    for (let l = 0; l < done; l++) layers.push(rbmFromTensors(tensors, `layer${l}.`, source));
    if (metadata.untied === "1") {
      for (let l = 0; l < sizes.length - 2; l++) {
        const W = tensors[`generative${l}.W`];
        const b = tensors[`generative${l}.b`];
        if (!W || !b) throw fail(`generative layer ${l} is missing`, "the file is corrupt; pick another file");
        generative.push({ W: safeToTensor(W as SafeTensor) as tf.Tensor2D, b: safeToTensor(b as SafeTensor) as tf.Tensor1D });
      }
    }
  } catch (e) {
    layers.forEach(disposeRBM);
    generative.forEach((g) => tf.dispose([g.W, g.b]));
    throw e;
  }
  const content: DBNFileContent = {
    sizes: sizes as number[], nLabels, layers, generative: metadata.untied === "1" ? generative : undefined,
    hyperparameters: hyperparameters !== null && typeof hyperparameters === "object" && !Array.isArray(hyperparameters) ? hyperparameters : {},
    histories: Array.isArray(histories) ? histories : [],
    metadata,
  };
  // Shapes must chain as far as the file goes (a corrupt or hand-edited file fails here).
  const bad = layers.findIndex((rbm, l) => rbm.W.shape[0] !== visibleUnits(content.sizes, nLabels, l) || rbm.W.shape[1] !== content.sizes[l + 1]);
  const badGen = generative.findIndex((g, l) => g.W.shape[0] !== content.sizes[l + 1] || g.W.shape[1] !== content.sizes[l] || g.b.shape[0] !== content.sizes[l]);
  if (bad >= 0 || badGen >= 0) {
    const what = bad >= 0 ? `layer ${bad} has W [${layers[bad].W.shape}]` : `generative layer ${badGen} has W [${generative[badGen].W.shape}]`;
    layers.forEach(disposeRBM);
    generative.forEach((g) => tf.dispose([g.W, g.b]));
    throw fail(`${what}, which does not fit its sizes [${content.sizes}]`, "the file is corrupt; pick another file");
  }
  return content;
}

function archName(sizes: readonly number[], nLabels: number): string {
  return `${sizes.join("-")}${nLabels ? ` with ${nLabels} label units` : ""}`;
}

/** Options of {@link saveDBN}. */
export interface SaveDBNOptions {
  /** Plain JSON settings to store (e.g. the pretraining options). */
  hyperparameters?: JsonObject;
  /** Per-layer histories to store. */
  histories?: object[][];
  /** Replace an existing file: default "sameFormat" (only a DBN checkpoint is replaced, never another file). */
  overwrite?: boolean | "sameFormat";
}

/**
 * Saves a DBN as one safetensors file: `layer<l>.W/b/c` per RBM (and `generative<l>.W/b` when untied),
 * with metadata format "rbm-notebooks/dbn", sizes, nLabels. Atomic; never replaces a file that is not
 * a DBN checkpoint unless `overwrite: true`.
 */
export function saveDBN(file: string, dbn: DBN, opts: SaveDBNOptions = {}): void {
  assertDBN(dbn);
  dbn.layers.forEach((rbm, l) => {
    try {
      assertFiniteRBM(rbm);
    } catch (e) {
      throw new Error(`Cannot save ${path.resolve(file)}: layer ${l}: ${(e as Error).message}`);
    }
  });
  writeDBNFile(file, {
    sizes: dbn.sizes, nLabels: dbn.nLabels, layers: dbn.layers, generative: dbn.generative,
    hyperparameters: opts.hyperparameters ?? {}, histories: toJsonHistories(opts.histories ?? []),
  }, opts.overwrite ?? "sameFormat");
}

/**
 * Loads a DBN saved by {@link saveDBN} or a finished {@link pretrainDBN}. With `expect`, an
 * architecture mismatch is an error naming both. The caller disposes the DBN ({@link disposeDBN}).
 */
export function loadDBN(file: string, opts: { expect?: { sizes?: number[]; nLabels?: number } } = {}): { dbn: DBN } & DBNFileInfo {
  const c = readDBNFile(file);
  const L = c.sizes.length - 1;
  const release = () => {
    c.layers.forEach(disposeRBM);
    (c.generative ?? []).forEach((g) => tf.dispose([g.W, g.b]));
  };
  if (c.layers.length < L) {
    release();
    throw new Error(
      `Cannot use DBN checkpoint ${path.resolve(file)}: it holds ${c.layers.length} of ${L} layers (an interrupted pretraining); ` +
        `finish it with pretrainDBN(…, { checkpointDir: "${path.dirname(path.resolve(file))}" }).`,
    );
  }
  const want = opts.expect ?? {};
  if ((want.sizes && JSON.stringify(want.sizes) !== JSON.stringify(c.sizes)) || (want.nLabels !== undefined && want.nLabels !== c.nLabels)) {
    release();
    throw new Error(
      `Cannot use DBN checkpoint ${path.resolve(file)}: it holds a ${archName(c.sizes, c.nLabels)} DBN but ` +
        `${archName(want.sizes ?? c.sizes, want.nLabels ?? c.nLabels)} was expected; pick the checkpoint saved for this architecture.`,
    );
  }
  const dbn: DBN = { sizes: c.sizes, nLabels: c.nLabels, layers: c.layers, generative: c.generative };
  return { dbn, hyperparameters: c.hyperparameters, histories: c.histories, metadata: c.metadata };
}

function toJsonHistories(histories: readonly object[][]): JsonValue[] {
  return JSON.parse(JSON.stringify(histories, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))) as JsonValue[];
}

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

// ---------------------------------------------------------------------------------------------
// Greedy layer-wise pretraining

/** What is passed from one layer to the next during pretraining. */
export type Propagation = "probs" | "samples";

/** Options of {@link pretrainDBN}. */
export interface PretrainOptions {
  /**
   * Training options of every layer (one object), or one per layer (an array of L). Seeds default
   * to distinct numbers derived from `seed`. For the label-joined top RBM `sampleVisible` defaults
   * to true (see {@link trainJointRBM}); the sparsity penalty is not available there.
   */
  perLayer?: TrainOptions | TrainOptions[];
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
  assertLayerSizes(sizes, "pretrainDBN");
  const L = sizes.length - 1;
  const nLabels = opts.labels === true ? 10 : opts.labels === false || opts.labels === undefined ? 0 : opts.labels;
  assertLabelCount(nLabels, "pretrainDBN");
  if (dim(data) !== sizes[0]) {
    throw new Error(`pretrainDBN: the data have ${dim(data)} values per row but sizes[0] = ${sizes[0]}; the first layer size must be the number of pixels.`);
  }
  if (nLabels > 0) checkLabels(data.labels, data.n, nLabels, `pretrainDBN: ${data.name}`);
  assertUnitInterval(data.images, `pretrainDBN: data ${data.name}`);
  const propagate = opts.propagate ?? "probs";
  if (propagate !== "probs" && propagate !== "samples") throw new Error(`pretrainDBN: propagate must be "probs" or "samples", got ${JSON.stringify(propagate)}.`);
  const perLayer = Array.isArray(opts.perLayer) ? opts.perLayer : Array.from({ length: L }, () => (opts.perLayer ?? {}) as TrainOptions);
  if (perLayer.length !== L) throw new Error(`pretrainDBN: perLayer has ${perLayer.length} option objects but [${sizes}] has ${L} layers; give one object, or one per layer.`);
  perLayer.forEach((o) => resolveTrainOptions(o, data.n)); // validate every layer's options before any work
  if (nLabels > 0 && perLayer[L - 1].sparsityTarget !== undefined) {
    throw new Error("pretrainDBN: the label-joined top RBM does not support sparsityTarget; drop it from that layer's options.");
  }
  // Per-layer seeds drawn up front, so a resumed run trains layer l exactly as an uninterrupted one.
  const seedRng = toRng(opts.seed ?? 0);
  const layerSeeds = Array.from({ length: L }, () => [seedRng.nextUint32(), seedRng.nextUint32(), seedRng.nextUint32()]);
  const hyperparameters: JsonObject = {
    sizes, nLabels, propagate, init: opts.init ?? "hinton", initStd: opts.initStd ?? 0.1, data: fingerprint(data),
    perLayer: perLayer.map(describeOptions),
  };

  const file = opts.checkpointDir ? path.resolve(opts.checkpointDir, "pretrain.safetensors") : undefined;
  const layers: RBM[] = [];
  const histories: EpochRecord[][] = [];
  const resumed: boolean[] = [];
  const seconds: number[] = [];
  if (file && fs.existsSync(file)) {
    const c = readDBNFile(file);
    const release = () => {
      c.layers.forEach(disposeRBM);
      (c.generative ?? []).forEach((g) => tf.dispose([g.W, g.b]));
    };
    const theirs = c.hyperparameters;
    const problem =
      JSON.stringify(c.sizes) !== JSON.stringify(sizes) || c.nLabels !== nLabels
        ? `it holds a pretraining of a ${archName(c.sizes, c.nLabels)} DBN, but ${archName(sizes, nLabels)} was asked for`
        : c.generative
          ? "it holds a fine-tuned (untied) DBN, not a pretraining"
          : theirs.data !== hyperparameters.data
            ? `it was trained on other data (${String(theirs.data)}, now ${String(hyperparameters.data)})`
            : theirs.propagate !== propagate
              ? `it propagated "${String(theirs.propagate)}" between layers, "${propagate}" was asked for`
              : undefined;
    if (problem) {
      release();
      throw new Error(`pretrainDBN: cannot resume from ${file}: ${problem}. Use another checkpointDir (or delete that file to start over).`);
    }
    layers.push(...c.layers);
    c.layers.forEach((_, l) => {
      const h = c.histories[l];
      histories.push(Array.isArray(h) ? (h as unknown as EpochRecord[]) : []);
      resumed.push(true);
      seconds.push(0);
    });
  }

  let input: Dataset = data;
  try {
    for (let l = 0; l < L; l++) {
      const isTop = l === L - 1;
      const joint = isTop && nLabels > 0;
      if (l < layers.length) {
        await opts.onLayer?.({ layer: l, rbm: layers[l], history: histories[l], resumed: true, seconds: 0 });
      } else {
        const [initSeed, trainSeed] = layerSeeds[l];
        const nV = visibleUnits(sizes, nLabels, l);
        const rbm0 = initRBM(nV, sizes[l + 1], {
          method: opts.init ?? "hinton", std: opts.initStd ?? 0.1, seed: initSeed, data: { images: meanRow(input, joint ? nLabels : 0), n: 1 },
        });
        // The label-joined top RBM samples its x units in the negative phase unless told otherwise:
        // generation runs the chain on binary x, and training it the same way keeps far fewer chains
        // from collapsing into one blurry mode (measured in chapter 7's set-up).
        const o: TrainOptions = { seed: trainSeed, ...(joint ? { sampleVisible: true } : {}), ...withoutUndefined(perLayer[l]) };
        const t0 = performance.now();
        let result: TrainResult;
        try {
          result = joint ? await trainJointRBM(rbm0, input, { ...o, nLabels }) : await trainRBM(rbm0, input, o);
        } finally {
          disposeRBM(rbm0);
        }
        layers.push(result.rbm);
        histories.push(result.history);
        resumed.push(false);
        seconds.push((performance.now() - t0) / 1000);
        result.chains?.dispose();
        if (file) {
          writeDBNFile(file, { sizes, nLabels, layers, hyperparameters, histories: toJsonHistories(histories) }, "sameFormat");
        }
        await opts.onLayer?.({ layer: l, rbm: result.rbm, history: result.history, resumed: false, seconds: seconds[l] });
      }
      if (!isTop) input = propagateData(layers[l], input, sizes[l + 1], propagate, layerSeeds[l][2]);
    }
  } catch (e) {
    layers.forEach(disposeRBM);
    throw e;
  }
  return { dbn: { sizes: [...sizes], nLabels, layers }, histories, resumed, seconds, checkpoint: file };
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

/** The data for the next layer: p(h = 1 | x) of every row, or one binary sample of it. */
function propagateData(rbm: RBM, ds: Dataset, nHidden: number, how: Propagation, seed: number): Dataset {
  const d = dim(ds);
  const out = new Float32Array(ds.n * nHidden);
  const B = 1000;
  for (let start = 0; start < ds.n; start += B) {
    const size = Math.min(B, ds.n - start);
    const p = tf.tidy(() => sigmoidLayer(tf.tensor2d(ds.images.subarray(start * d, (start + size) * d), [size, d]), rbm.W, rbm.c));
    out.set(p.dataSync(), start * nHidden);
    p.dispose();
  }
  if (how === "samples") {
    const rng = new Rng(seed);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform() < out[i] ? 1 : 0;
  }
  return { images: out, labels: ds.labels, n: ds.n, rows: 1, cols: nHidden, name: `${ds.name} → h(${nHidden}, ${how})` };
}
