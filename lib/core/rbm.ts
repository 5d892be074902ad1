/**
 * The restricted Boltzmann machine: parameters, energy, free energy and the factorised conditionals.
 *
 * Binary visible units v ∈ {0,1}^nVisible and hidden units h ∈ {0,1}^nHidden with
 *
 *   E(v, h) = −vᵀb − hᵀc − vᵀWh
 *   F(v)    = −log Σ_h exp(−E(v, h)) = −vᵀb − Σ_j softplus(c_j + (vᵀW)_j)
 *   p(h_j = 1 | v) = σ(c_j + (vᵀW)_j),   p(v_i = 1 | h) = σ(b_i + (Wh)_i)
 *
 * A model is plain typed data ({@link RBM}); every function here is pure and tidy.
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "./random";
import { sigmoidLayer, sigmoidLayerAT } from "./units";
/** RBM parameters: W `[nVisible, nHidden]`, visible bias b `[nVisible]`, hidden bias c `[nHidden]`. */
export interface RBM {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
  c: tf.Tensor1D;
}

/** Layer sizes of an {@link RBM}. */
export function rbmSize(rbm: RBM): { nVisible: number; nHidden: number } {
  return { nVisible: rbm.W.shape[0], nHidden: rbm.W.shape[1] };
}

/**
 * Builds an RBM from arrays, checking shapes and values.
 * @param W row-major `[nVisible, nHidden]` (nested rows or flat with sizes)
 */
export function makeRBM(W: number[][] | Float32Array, b: ArrayLike<number>, c: ArrayLike<number>): RBM {
  const nVisible = b.length;
  const nHidden = c.length;
  const flat = W instanceof Float32Array ? W : Float32Array.from(W.flat());
  if (!(W instanceof Float32Array) && W.some((row) => row.length !== nHidden)) {
    throw new Error(`makeRBM: every row of W must have nHidden = c.length = ${nHidden} entries.`);
  }
  if (flat.length !== nVisible * nHidden) {
    throw new Error(
      `makeRBM: W has ${flat.length} entries but b [${nVisible}] and c [${nHidden}] need ` +
        `[${nVisible}, ${nHidden}] = ${nVisible * nHidden}.`,
    );
  }
  const rbm: RBM = {
    W: tf.tensor2d(flat, [nVisible, nHidden]),
    b: tf.tensor1d(Float32Array.from(b)),
    c: tf.tensor1d(Float32Array.from(c)),
  };
  try {
    assertFiniteRBM(rbm);
  } catch (e) {
    disposeRBM(rbm);
    throw e;
  }
  return rbm;
}

/** Options for {@link initRBM}. */
export interface InitOptions {
  /**
   * "xavier": W ~ U(−√(6/(nV+nH)), +√(6/(nV+nH))) and zero biases (seed 004, deeplearning.net).
   * "hinton": W ~ N(0, 0.01²), c = 0, b_i = log(p_i / (1 − p_i)) from the data's pixel means
   * (Hinton, "A Practical Guide to Training RBMs", §8). Default "xavier".
   */
  method?: "xavier" | "hinton";
  /** Standard deviation for "hinton". Default 0.01. */
  std?: number;
  /** Training data `[n, nVisible]` in [0, 1], used by "hinton" for the visible bias. */
  data?: tf.Tensor2D | { images: Float32Array; n: number };
  /** Seed for the weights. Default 0. */
  seed?: Seed;
}

/** Creates a fresh RBM `nVisible × nHidden` (see {@link InitOptions}). */
export function initRBM(nVisible: number, nHidden: number, opts: InitOptions = {}): RBM {
  for (const [name, n] of [
    ["nVisible", nVisible],
    ["nHidden", nHidden],
  ] as const) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`initRBM: ${name} must be a positive integer, got ${n}.`);
  }
  const rng = toRng(opts.seed ?? 0, "initRBM");
  const method = opts.method ?? "xavier";
  const w = new Float32Array(nVisible * nHidden);
  const b = new Float32Array(nVisible);
  if (method === "xavier") {
    const a = Math.sqrt(6 / (nVisible + nHidden));
    rng.fillUniform(w);
    for (let i = 0; i < w.length; i++) w[i] = (2 * w[i] - 1) * a;
  } else if (method === "hinton") {
    rng.fillNormal(w, 0, opts.std ?? 0.01);
    if (opts.data) {
      const means = pixelMeans(opts.data, nVisible);
      for (let i = 0; i < nVisible; i++) {
        // Clamp so that always-off pixels get a large negative bias rather than −∞.
        const p = Math.min(Math.max(means[i], 1e-3), 1 - 1e-3);
        b[i] = Math.log(p / (1 - p));
      }
    }
  } else {
    throw new Error(`initRBM: unknown method "${method as string}"; use "xavier" or "hinton".`);
  }
  return {
    W: tf.tensor2d(w, [nVisible, nHidden]),
    b: tf.tensor1d(b),
    c: tf.zeros([nHidden]) as tf.Tensor1D,
  };
}

/**
 * A random RBM for experiments on toy models: W ~ N(0, scale²), b and c ~ N(0, (scale/2)²).
 * Large `scale` gives a peaked (low-temperature) distribution, small `scale` a nearly uniform one.
 */
export function randomRBM(nVisible: number, nHidden: number, opts: { seed?: Seed; scale?: number } = {}): RBM {
  const rng = toRng(opts.seed ?? 0, "randomRBM");
  const scale = opts.scale ?? 1;
  const w = rng.fillNormal(new Float32Array(nVisible * nHidden), 0, scale);
  const b = rng.fillNormal(new Float32Array(nVisible), 0, scale / 2);
  const c = rng.fillNormal(new Float32Array(nHidden), 0, scale / 2);
  return makeRBM(w, b, c);
}

function pixelMeans(data: NonNullable<InitOptions["data"]>, nVisible: number): Float32Array {
  if (data instanceof tf.Tensor) {
    if (data.shape[1] !== nVisible) {
      throw new Error(`initRBM: data has shape [${data.shape}] but nVisible = ${nVisible}.`);
    }
    const mean = tf.mean(data, 0);
    const out = mean.dataSync() as Float32Array;
    mean.dispose();
    return out;
  }
  if (data.images.length !== data.n * nVisible) {
    throw new Error(`initRBM: data holds ${data.images.length / data.n} values per row but nVisible = ${nVisible}.`);
  }
  const m = new Float32Array(nVisible);
  for (let r = 0; r < data.n; r++) {
    const off = r * nVisible;
    for (let i = 0; i < nVisible; i++) m[i] += data.images[off + i];
  }
  for (let i = 0; i < nVisible; i++) m[i] /= data.n;
  return m;
}

/** Frees the parameter tensors. */
export function disposeRBM(rbm: RBM): void {
  tf.dispose([rbm.W, rbm.b, rbm.c]);
}

/** The parameters as row-major Float32Arrays (copies read from the tensors), for the native loops: W `[nV·nH]`, b `[nV]`, c `[nH]`. */
export function rbmArrays(rbm: RBM): { W: Float32Array; b: Float32Array; c: Float32Array } {
  return { W: rbm.W.dataSync() as Float32Array, b: rbm.b.dataSync() as Float32Array, c: rbm.c.dataSync() as Float32Array };
}

/** A deep copy (new tensors). */
export function cloneRBM(rbm: RBM): RBM {
  return { W: rbm.W.clone(), b: rbm.b.clone(), c: rbm.c.clone() };
}

/**
 * Checks that `rbm` is an RBM of live tensors whose W, b, c shapes fit together; throws naming the
 * problem otherwise (a training result passed whole instead of its `.rbm`, a disposed model, wrong shapes).
 * @param what names the caller in the message
 */
export function assertRBMShapes(rbm: RBM, what = "RBM"): void {
  const given = rbm as unknown as Record<string, unknown> | null | undefined;
  if (given === null || typeof given !== "object") {
    throw new Error(`${what}: expected an RBM { W, b, c }, got ${given === null ? "null" : typeof given}.`);
  }
  if (!(given.W instanceof tf.Tensor) || !(given.b instanceof tf.Tensor) || !(given.c instanceof tf.Tensor)) {
    const inner = "rbm" in given ? ` It looks like a training result: pass its .rbm (e.g. result.rbm).` : "";
    const keys = Object.keys(given).slice(0, 6).join(", ");
    throw new Error(`${what}: the model is not an RBM (it needs tensors W, b, c; it has ${keys ? `{ ${keys} }` : "no fields"}).${inner}`);
  }
  const { W, b, c } = rbm;
  if (W.isDisposed || b.isDisposed || c.isDisposed) {
    throw new Error(
      `${what}: the RBM was disposed (disposeRBM or a dispose of its tensors); use a live model, e.g. cloneRBM it before disposing or load it again.`,
    );
  }
  if (W.rank !== 2 || b.rank !== 1 || c.rank !== 1 || b.shape[0] !== W.shape[0] || c.shape[0] !== W.shape[1]) {
    throw new Error(
      `${what}: RBM parameters do not fit together: W [${W.shape}], b [${b.shape}], c [${c.shape}]; ` +
        `expected W [nVisible, nHidden], b [nVisible], c [nHidden].`,
    );
  }
}

/**
 * Checks that `rbm` is a live RBM (see {@link assertRBMShapes}) and that no parameter is NaN or ±Inf
 * (a sync read of three booleans). Call it at API boundaries (training start, checkpoints, exact
 * computations), not per batch.
 * @param what names the caller in the message
 */
export function assertFiniteRBM(rbm: RBM, what = "RBM"): void {
  assertRBMShapes(rbm, what);
  const bad = tf.tidy(() => [rbm.W, rbm.b, rbm.c].map((t) => tf.logicalNot(tf.all(tf.isFinite(t))).dataSync()[0]));
  const names = ["W", "b", "c"].filter((_, i) => bad[i]);
  if (names.length > 0) {
    throw new Error(
      `${what === "RBM" ? "" : `${what}: `}RBM parameters ${names.join(", ")} contain NaN or Inf. Training diverged or the file is corrupt: ` +
        `restart from a checkpoint with a smaller learning rate.`,
    );
  }
}

/** Checks that v is `[batch, nVisible]` for this RBM; throws naming both shapes. */
export function assertVisible(v: tf.Tensor, rbm: RBM, what = "v"): asserts v is tf.Tensor2D {
  if (v.rank !== 2 || v.shape[1] !== rbm.W.shape[0]) {
    throw new Error(`${what} has shape [${v.shape}] but W is [${rbm.W.shape}]: ${what} must be [batch, ${rbm.W.shape[0]}].`);
  }
}

/** Checks that h is `[batch, nHidden]` for this RBM; throws naming both shapes. */
export function assertHidden(h: tf.Tensor, rbm: RBM, what = "h"): asserts h is tf.Tensor2D {
  if (h.rank !== 2 || h.shape[1] !== rbm.W.shape[1]) {
    throw new Error(`${what} has shape [${h.shape}] but W is [${rbm.W.shape}]: ${what} must be [batch, ${rbm.W.shape[1]}].`);
  }
}

/**
 * Energy E(v, h) = −vᵀb − hᵀc − vᵀWh for each row.
 * @param v `[batch, nVisible]` @param h `[batch, nHidden]` @returns `[batch]`
 */
export function energy(v: tf.Tensor2D, h: tf.Tensor2D, rbm: RBM): tf.Tensor1D {
  assertVisible(v, rbm);
  assertHidden(h, rbm);
  if (v.shape[0] !== h.shape[0]) throw new Error(`energy: v [${v.shape}] and h [${h.shape}] need the same batch size.`);
  return tf.tidy(() => {
    const vWh = tf.sum(tf.mul(tf.matMul(v, rbm.W), h), 1);
    return tf.neg(tf.addN([tf.sum(tf.mul(v, rbm.b), 1), tf.sum(tf.mul(h, rbm.c), 1), vWh])) as tf.Tensor1D;
  });
}

/**
 * Free energy F(v) = −vᵀb − Σ_j softplus(c_j + (vᵀW)_j), so that p(v) = exp(−F(v)) / Z.
 * softplus is evaluated stably (tf.softplus never overflows for large inputs).
 * @param v `[batch, nVisible]` @returns `[batch]`
 */
export function freeEnergy(v: tf.Tensor2D, rbm: RBM): tf.Tensor1D {
  assertVisible(v, rbm);
  return tf.tidy(() => {
    const vb = tf.sum(tf.mul(v, rbm.b), 1);
    const hiddenTerm = tf.sum(tf.softplus(tf.add(tf.matMul(v, rbm.W), rbm.c)), 1);
    return tf.neg(tf.add(vb, hiddenTerm)) as tf.Tensor1D;
  });
}

/**
 * The dual free energy over hidden states, G(h) = −log Σ_v exp(−E(v, h)) = −hᵀc − Σ_i softplus(b_i + (Wh)_i).
 * @param h `[batch, nHidden]` @returns `[batch]`
 */
export function hiddenFreeEnergy(h: tf.Tensor2D, rbm: RBM): tf.Tensor1D {
  assertHidden(h, rbm);
  return tf.tidy(() => {
    const hc = tf.sum(tf.mul(h, rbm.c), 1);
    const visibleTerm = tf.sum(tf.softplus(tf.add(tf.matMul(h, tf.transpose(rbm.W)), rbm.b)), 1);
    return tf.neg(tf.add(hc, visibleTerm)) as tf.Tensor1D;
  });
}

/** p(h = 1 | v) = σ(vW + c). @param v `[batch, nVisible]` @returns `[batch, nHidden]` */
export function hiddenProbs(v: tf.Tensor2D, rbm: RBM): tf.Tensor2D {
  assertVisible(v, rbm);
  return sigmoidLayer(v, rbm.W, rbm.c);
}

/**
 * p(v = 1 | h) = σ(hWᵀ + b), through Wᵀ as a transpose flag where matMul reads one for free (see
 * core/units.ts's sigmoidLayerAT). @param h `[batch, nHidden]` @returns `[batch, nVisible]`
 */
export function visibleProbs(h: tf.Tensor2D, rbm: RBM): tf.Tensor2D {
  assertHidden(h, rbm);
  return sigmoidLayerAT(h, rbm.W, rbm.b);
}

/**
 * p(h = 1 | v) for many rows given as a flat array, computed in batches (no big tensor is built):
 * the RBM's hidden layer as a feature map, or the input of the next layer of a DBN.
 * @param x row-major `[n, nVisible]` @returns row-major `[n, nHidden]`
 */
export function hiddenFeatures(x: Float32Array, rbm: RBM, batchSize = 1000): Float32Array {
  const { nVisible, nHidden } = rbmSize(rbm);
  if (x.length % nVisible !== 0) throw new Error(`hiddenFeatures: ${x.length} values are not rows of nVisible = ${nVisible}.`);
  const n = x.length / nVisible;
  const out = new Float32Array(n * nHidden);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const p = tf.tidy(() => hiddenProbs(tf.tensor2d(x.subarray(start * nVisible, (start + size) * nVisible), [size, nVisible]), rbm));
    out.set(p.dataSync(), start * nHidden); // read outside tidy: tidy walks returned typed arrays slowly
    p.dispose();
  }
  return out;
}
