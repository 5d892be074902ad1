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
 * This file holds the model type and its checks, copies and views. The rest of dbn/: pretrain.ts
 * (greedy layer-wise training), joint.ts (the label-joined top RBM), passes.ts (up and down passes),
 * bound.ts (the variational bound), classify.ts (labels from free energies), generate.ts (dreams),
 * updown.ts (generative fine-tuning), mlp.ts and finetune.ts (the unrolled network and backprop),
 * checkpoint.ts (DBN and MLP files).
 */

import * as tf from "@tensorflow/tfjs";
import type { GaussianRBM } from "../core/gaussian";
import { assertRBMShapes, cloneRBM, disposeRBM, type RBM } from "../core/rbm";
/** Top-down (generative) weights of one lower layer: p(x_l = 1 | x_{l+1}) = σ(x_{l+1} W + b). */
export interface GenerativeLayer {
  /** `[n_{l+1}, n_l]` (the transpose of the recognition weights while they are tied). */
  W: tf.Tensor2D;
  /** `[n_l]` */
  b: tf.Tensor1D;
}

/**
 * Real-valued pixels through a Gaussian–Bernoulli first layer (core/gaussian.ts, in the
 * parametrisation of Cho, Ilin & Raiko 2011). `layers[0]` holds that RBM's W, b and c, learned on
 * standardised pixels u = (v − μ)/s; these are its log variances z = log σ² and the standardisation,
 * so that the DBN takes and returns pixels in their own units:
 *
 *   p(x₁ = 1 | v) = σ(c + (u/σ²) W),   p(v | x₁) = N(μ + s ⊙ (b + W x₁), s² σ²)
 */
export interface GaussianPixels {
  /** z = log σ² of the first layer's visible units `[n₀]`, in standardised units. */
  logVar: tf.Tensor1D;
  /** μ `[n₀]`: the pixel means the layer was standardised with. */
  mean: Float32Array;
  /** s `[n₀]`: the pixel spreads the layer was standardised with (each > 0). */
  std: Float32Array;
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
  /** Set when the pixels are real-valued Gaussian units ({@link GaussianPixels}); binary pixels otherwise. */
  gaussian?: GaussianPixels;
}

/**
 * The first layer's input map of a Gaussian DBN as one affine map of the pixels: u/σ² = v ⊙ scale +
 * shift with scale = 1/(s σ²) and shift = −μ/(s σ²) `[n₀]` (plain arrays).
 */
export function gaussianInputMap(g: GaussianPixels): { scale: Float32Array; shift: Float32Array } {
  const z = g.logVar.dataSync();
  const scale = Float32Array.from(z, (zi, i) => Math.exp(-zi) / g.std[i]);
  return { scale, shift: Float32Array.from(scale, (a, i) => -a * g.mean[i]) };
}

/** The first layer of a Gaussian DBN as a {@link GaussianRBM} on standardised pixels (a view: no copies). */
export function gaussianFirstLayer(dbn: DBN): GaussianRBM {
  if (!dbn.gaussian) throw new Error("gaussianFirstLayer: this DBN has binary pixels (no .gaussian).");
  const { W, b, c } = dbn.layers[0];
  return { W, b, c, logVar: dbn.gaussian.logVar };
}

/** Throws, naming `what`, when the DBN has Gaussian pixels: for the methods written for binary ones. */
export function assertBinaryPixels(dbn: DBN, what: string, instead: string): void {
  if (dbn.gaussian)
    throw new Error(`${what}: this DBN's pixels are real-valued (a Gaussian first layer); ${what} needs binary pixels. ${instead}`);
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

export function assertLabelCount(nLabels: number, what: string): void {
  if (!Number.isInteger(nLabels) || nLabels < 0 || nLabels === 1) {
    throw new Error(`${what}: nLabels must be 0 (no label units) or an integer ≥ 2 (10 for digits), got ${nLabels}.`);
  }
}

/** Number of visible units RBM `l` must have: n_l, plus the label units for the top RBM. */
export function visibleUnits(sizes: readonly number[], nLabels: number, l: number): number {
  return sizes[l] + (l === sizes.length - 2 ? nLabels : 0);
}

/**
 * Checks that the layers of `dbn` chain: RBM l is `[n_l, n_{l+1}]` (top: `[n_{L−1} + nLabels, n_L]`)
 * and, when untied, generative l is `[n_{l+1}, n_l]`; every tensor is live. Throws one error naming
 * the first problem (not a DBN, a disposed layer, a mismatch).
 * @param what names the caller in the message
 */
export function assertDBN(dbn: DBN, what = "DBN"): void {
  const given = dbn as Partial<DBN> | null | undefined;
  if (typeof given !== "object" || given === null || !Array.isArray(given.sizes) || !Array.isArray(given.layers)) {
    const inner = given && typeof given === "object" && "dbn" in given ? " It looks like a result object: pass its .dbn." : "";
    throw new Error(
      `${what}: expected a DBN { sizes, nLabels, layers } (e.g. pretrainDBN(...).dbn), got ${given === null ? "null" : typeof given}.${inner}`,
    );
  }
  assertLayerSizes(dbn.sizes, what);
  assertLabelCount(dbn.nLabels, what);
  dbn.layers.forEach((rbm, l) => assertRBMShapes(rbm, `${what}: layer ${l}`));
  for (const [l, g] of (dbn.generative ?? []).entries()) {
    if (!(g.W instanceof tf.Tensor && g.b instanceof tf.Tensor) || g.W.isDisposed || g.b.isDisposed) {
      throw new Error(
        `${what}: generative layer ${l} is missing or was disposed; use a live model (cloneDBN before disposing, or load it again).`,
      );
    }
  }
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
  if (dbn.gaussian) {
    const g = dbn.gaussian;
    const n0 = dbn.sizes[0];
    if (!(g.logVar instanceof tf.Tensor) || g.logVar.isDisposed)
      throw new Error(`${what}: the Gaussian first layer's logVar is missing or was disposed; use a live model.`);
    if (g.logVar.shape.length !== 1 || g.logVar.shape[0] !== n0 || g.mean?.length !== n0 || g.std?.length !== n0)
      throw new Error(
        `${what}: the Gaussian first layer needs logVar, mean and std of ${n0} values (one per pixel); got [${g.logVar.shape}], ${g.mean?.length}, ${g.std?.length}.`,
      );
    const bad = g.std.findIndex((x) => !(x > 0 && Number.isFinite(x)));
    if (bad >= 0)
      throw new Error(`${what}: the Gaussian first layer's std[${bad}] = ${g.std[bad]}; every spread must be positive and finite.`);
  }
  if (dbn.generative) {
    if (dbn.generative.length !== L - 1)
      throw new Error(`DBN: ${L} RBMs need ${L - 1} generative layers, it holds ${dbn.generative.length}.`);
    dbn.generative.forEach((g, l) => {
      if (g.W.shape[0] !== dbn.sizes[l + 1] || g.W.shape[1] !== dbn.sizes[l] || g.b.shape[0] !== dbn.sizes[l]) {
        throw new Error(
          `DBN: generative layer ${l} has W [${g.W.shape}], b [${g.b.shape}]; expected W [${dbn.sizes[l + 1]}, ${dbn.sizes[l]}], b [${dbn.sizes[l]}].`,
        );
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
  if (top.W.shape[0] <= nLabels)
    throw new Error(`stackRBMs: the top RBM has ${top.W.shape[0]} visible units, not more than nLabels = ${nLabels}.`);
  const sizes = [...rbms.map((r, l) => r.W.shape[0] - (l === rbms.length - 1 ? nLabels : 0)), top.W.shape[1]];
  const dbn: DBN = { sizes, nLabels, layers: rbms };
  assertDBN(dbn, "stackRBMs");
  return dbn;
}

/** Frees every tensor of the DBN. */
export function disposeDBN(dbn: DBN): void {
  dbn.layers.forEach(disposeRBM);
  for (const g of dbn.generative ?? []) tf.dispose([g.W, g.b]);
  dbn.gaussian?.logVar.dispose();
}

/** A deep copy (new tensors). */
export function cloneDBN(dbn: DBN): DBN {
  return {
    sizes: [...dbn.sizes],
    nLabels: dbn.nLabels,
    layers: dbn.layers.map(cloneRBM),
    generative: dbn.generative?.map((g) => ({ W: g.W.clone(), b: g.b.clone() })),
    gaussian: dbn.gaussian && { logVar: dbn.gaussian.logVar.clone(), mean: dbn.gaussian.mean.slice(), std: dbn.gaussian.std.slice() },
  };
}

/**
 * A copy whose lower layers have separate generative weights, initialised to the tied ones
 * (generative l: W = layers[l].Wᵀ, b = layers[l].b). The up-down algorithm needs this; an already
 * untied DBN is simply copied.
 */
export function untieDBN(dbn: DBN): DBN {
  assertDBN(dbn, "untieDBN");
  const copy = cloneDBN(dbn);
  if (!copy.generative) {
    copy.generative = dbn.layers.slice(0, -1).map((rbm) => ({ W: tf.transpose(rbm.W) as tf.Tensor2D, b: rbm.b.clone() }));
  }
  return copy;
}

/** The top RBM's weights split into the part from x_{L−1} `[n_{L−1}, n_L]` and from the labels `[nLabels, n_L]`. */
export function splitTop(dbn: DBN): { Wx: tf.Tensor2D; Wy: tf.Tensor2D } {
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

/**
 * Throws unless `labels` holds one integer class index in [0, nLabels) per row (floats, negatives
 * and labels beyond the classes are named with their row).
 * @param what names the caller and the data in the message
 */
export function checkLabels(labels: ArrayLike<number>, n: number, nLabels: number, what: string): void {
  if (labels.length !== n) throw new Error(`${what}: ${labels.length} labels for ${n} rows; give one label per row.`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < nLabels)) {
      throw new Error(`${what}: label ${y} at row ${i} is outside [0, ${nLabels}); labels must be class indices 0…${nLabels - 1}.`);
    }
  }
}

/** One-hot rows `[size, nLabels]` for labels[start … start+size). */
export function oneHotTensor(labels: ArrayLike<number>, start: number, size: number, nLabels: number): tf.Tensor2D {
  const y = new Float32Array(size * nLabels);
  for (let r = 0; r < size; r++) y[r * nLabels + labels[start + r]] = 1;
  return tf.tensor2d(y, [size, nLabels]);
}

export function archName(sizes: readonly number[], nLabels: number): string {
  return `${sizes.join("-")}${nLabels ? ` with ${nLabels} label units` : ""}`;
}
