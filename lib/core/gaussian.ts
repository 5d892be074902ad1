/**
 * The Gaussian–Bernoulli RBM: real-valued visible units v ∈ ℝ^nVisible, binary hidden units
 * h ∈ {0,1}^nHidden, in the parametrisation of Cho, Ilin & Raiko (2011, "Improved learning of
 * Gaussian-Bernoulli restricted Boltzmann machines"), with z_i = log σ_i² stored instead of σ_i:
 *
 *   E(v, h) = Σ_i (v_i − b_i)² / (2σ_i²) − cᵀh − Σ_ij (v_i / σ_i²) W_ij h_j
 *   p(v_i | h)     = N(b_i + (Wh)_i, σ_i²)
 *   p(h_j = 1 | v) = σ(c_j + Σ_i (v_i / σ_i²) W_ij)
 *   F(v) = −log Σ_h exp(−E(v, h)) = Σ_i (v_i − b_i)² / (2σ_i²) − Σ_j softplus(c_j + Σ_i (v_i / σ_i²) W_ij)
 *   G(h) = −log ∫ exp(−E(v, h)) dv = −cᵀh − Σ_i [(b_i + (Wh)_i)² − b_i²] / (2σ_i²) − Σ_i ½ log(2π σ_i²)
 *
 * so p(v) = exp(−F(v)) / Z is a mixture of 2^nHidden Gaussians with a shared diagonal covariance, and
 * log Z = log Σ_h exp(−G(h)) is an exact finite sum for few hidden units (core/gaussian-exact.ts).
 * Learning z rather than σ keeps σ positive without a constraint (Cho et al. 2011; Melchior, Wang &
 * Wiskott 2017). A model is plain typed data ({@link GaussianRBM}); every function here is pure and tidy.
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "./random";
import { sampleBernoulli, sampleGaussian, type UniformSource } from "./units";

/**
 * Gaussian–Bernoulli RBM parameters: W `[nVisible, nHidden]`, visible means b `[nVisible]`, hidden
 * bias c `[nHidden]`, and the log variances z = log σ² `[nVisible]` of the visible units.
 */
export interface GaussianRBM {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
  c: tf.Tensor1D;
  logVar: tf.Tensor1D;
}

/** Layer sizes of a {@link GaussianRBM}. */
export function gaussianSize(m: GaussianRBM): { nVisible: number; nHidden: number } {
  return { nVisible: m.W.shape[0], nHidden: m.W.shape[1] };
}

/** σ² as a number or one value per visible unit. */
function logVarArray(sigma: number | ArrayLike<number>, nVisible: number, what: string): Float32Array {
  const s = typeof sigma === "number" ? new Array<number>(nVisible).fill(sigma) : Array.from(sigma);
  if (s.length !== nVisible)
    throw new Error(`${what}: sigma has ${s.length} values but nVisible = ${nVisible}; give one σ per visible unit or one number.`);
  const bad = s.findIndex((x) => !(x > 0 && Number.isFinite(x)));
  if (bad >= 0) throw new Error(`${what}: sigma[${bad}] = ${s[bad]}; every σ must be a positive finite number (1 for standardised data).`);
  return Float32Array.from(s, (x) => 2 * Math.log(x));
}

/**
 * Builds a Gaussian–Bernoulli RBM from arrays, checking shapes and values.
 * @param W row-major `[nVisible, nHidden]` (nested rows or flat) @param sigma σ per visible unit, or one σ for all
 */
export function makeGaussianRBM(
  W: number[][] | Float32Array,
  b: ArrayLike<number>,
  c: ArrayLike<number>,
  sigma: number | ArrayLike<number> = 1,
): GaussianRBM {
  const nVisible = b.length;
  const nHidden = c.length;
  const flat = W instanceof Float32Array ? W : Float32Array.from(W.flat());
  if (flat.length !== nVisible * nHidden || (!(W instanceof Float32Array) && W.some((row) => row.length !== nHidden))) {
    throw new Error(
      `makeGaussianRBM: W must be [nVisible, nHidden] = [${nVisible}, ${nHidden}] (from b and c), got ${flat.length} entries.`,
    );
  }
  const z = logVarArray(sigma, nVisible, "makeGaussianRBM");
  const m: GaussianRBM = {
    W: tf.tensor2d(flat, [nVisible, nHidden]),
    b: tf.tensor1d(Float32Array.from(b)),
    c: tf.tensor1d(Float32Array.from(c)),
    logVar: tf.tensor1d(z),
  };
  try {
    assertFiniteGaussianRBM(m, "makeGaussianRBM");
  } catch (e) {
    disposeGaussianRBM(m);
    throw e;
  }
  return m;
}

/** Options of {@link initGaussianRBM}. */
export interface GaussianInitOptions {
  /** Standard deviation of W ~ N(0, std²). Default 0.01 (Hinton's guide §8; Cho et al. 2011 use 0.01–0.1). */
  std?: number;
  /** σ of every visible unit, or one σ per unit. Default 1 (data standardised to unit variance, Hinton's guide §13.2). */
  sigma?: number | ArrayLike<number>;
  /** Training rows `[n, nVisible]`: b is set to their means (the guide's advice for visible biases). Default b = 0. */
  data?: { images: Float32Array; n: number };
  /** Seed of the weights. Default 0. */
  seed?: Seed;
}

/** A fresh Gaussian–Bernoulli RBM `nVisible × nHidden` (see {@link GaussianInitOptions}). */
export function initGaussianRBM(nVisible: number, nHidden: number, opts: GaussianInitOptions = {}): GaussianRBM {
  for (const [name, n] of [
    ["nVisible", nVisible],
    ["nHidden", nHidden],
  ] as const) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`initGaussianRBM: ${name} must be a positive integer, got ${n}.`);
  }
  const std = opts.std ?? 0.01;
  if (!(std >= 0 && Number.isFinite(std))) throw new Error(`initGaussianRBM: std must be a number ≥ 0, got ${std}.`);
  const w = toRng(opts.seed ?? 0, "initGaussianRBM").fillNormal(new Float32Array(nVisible * nHidden), 0, std);
  const b = new Float32Array(nVisible);
  if (opts.data) {
    const { images, n } = opts.data;
    if (!(n >= 1) || images.length !== n * nVisible) {
      throw new Error(`initGaussianRBM: data holds ${images.length} values, not ${n} rows of nVisible = ${nVisible}.`);
    }
    for (let r = 0; r < n; r++) for (let i = 0; i < nVisible; i++) b[i] += images[r * nVisible + i] / n;
  }
  return {
    W: tf.tensor2d(w, [nVisible, nHidden]),
    b: tf.tensor1d(b),
    c: tf.zeros([nHidden]) as tf.Tensor1D,
    logVar: tf.tensor1d(logVarArray(opts.sigma ?? 1, nVisible, "initGaussianRBM")),
  };
}

/** Frees the parameter tensors. */
export function disposeGaussianRBM(m: GaussianRBM): void {
  tf.dispose([m.W, m.b, m.c, m.logVar]);
}

/** A deep copy (new tensors). */
export function cloneGaussianRBM(m: GaussianRBM): GaussianRBM {
  return { W: m.W.clone(), b: m.b.clone(), c: m.c.clone(), logVar: m.logVar.clone() };
}

/** σ_i = exp(z_i / 2) of every visible unit, `[nVisible]` (a copy in JS). */
export function visibleSigma(m: GaussianRBM): Float32Array {
  return Float32Array.from(m.logVar.dataSync(), (z) => Math.exp(z / 2));
}

/**
 * Checks that `m` is a live Gaussian–Bernoulli RBM whose W, b, c, logVar fit together; throws naming
 * the problem (a binary RBM without logVar, a training result passed whole, a disposed model, wrong shapes).
 * @param what names the caller in the message
 */
export function assertGaussianShapes(m: GaussianRBM, what = "GaussianRBM"): void {
  const given = m as unknown as Record<string, unknown> | null | undefined;
  if (given === null || typeof given !== "object")
    throw new Error(`${what}: expected a GaussianRBM { W, b, c, logVar }, got ${String(given)}.`);
  const names = ["W", "b", "c", "logVar"] as const;
  if (names.some((k) => !(given[k] instanceof tf.Tensor))) {
    const hint =
      "rbm" in given
        ? " It looks like a training result: pass its .rbm."
        : given.W instanceof tf.Tensor && !("logVar" in given)
          ? " It looks like a binary RBM: Gaussian units also need logVar = log σ² (initGaussianRBM)."
          : "";
    throw new Error(
      `${what}: the model is not a GaussianRBM (it needs tensors W, b, c, logVar; it has { ${Object.keys(given).slice(0, 6).join(", ")} }).${hint}`,
    );
  }
  if (names.some((k) => m[k].isDisposed))
    throw new Error(`${what}: the GaussianRBM was disposed; use a live model (cloneGaussianRBM before disposing).`);
  const { W, b, c, logVar } = m;
  if (
    W.rank !== 2 ||
    b.rank !== 1 ||
    c.rank !== 1 ||
    logVar.rank !== 1 ||
    b.shape[0] !== W.shape[0] ||
    logVar.shape[0] !== W.shape[0] ||
    c.shape[0] !== W.shape[1]
  ) {
    throw new Error(
      `${what}: parameters do not fit together: W [${W.shape}], b [${b.shape}], c [${c.shape}], logVar [${logVar.shape}]; ` +
        `expected W [nVisible, nHidden], b and logVar [nVisible], c [nHidden].`,
    );
  }
}

/** {@link assertGaussianShapes} plus: no parameter is NaN or ±Inf. Call it at API boundaries, not per batch. */
export function assertFiniteGaussianRBM(m: GaussianRBM, what = "GaussianRBM"): void {
  assertGaussianShapes(m, what);
  const names = ["W", "b", "c", "logVar"] as const;
  const bad = tf.tidy(() => names.map((k) => tf.logicalNot(tf.all(tf.isFinite(m[k]))).dataSync()[0]));
  const which = names.filter((_, i) => bad[i]);
  if (which.length > 0) {
    throw new Error(
      `${what}: parameters ${which.join(", ")} contain NaN or Inf. Training diverged or the file is corrupt: restart with a smaller learning rate.`,
    );
  }
}

/** Checks the model (shapes, no sync read) and that x is `[batch, width]`. */
function assertRows(m: GaussianRBM, x: tf.Tensor, width: number, name: string, what: string): void {
  assertGaussianShapes(m, what);
  if (x.rank !== 2 || x.shape[1] !== width) throw new Error(`${what}: ${name} has shape [${x.shape}] but must be [batch, ${width}].`);
}

/** 1/σ² = exp(−z) `[nVisible]`. */
function precision(m: GaussianRBM): tf.Tensor1D {
  return tf.exp(tf.neg(m.logVar));
}

/**
 * The hidden units' input c + (v/σ²) W.
 * @param v `[batch, nVisible]` @returns `[batch, nHidden]`
 */
export function gaussianHiddenInput(v: tf.Tensor2D, m: GaussianRBM): tf.Tensor2D {
  assertRows(m, v, m.W.shape[0], "v", "gaussianHiddenInput");
  return tf.tidy(() => tf.fused.matMul({ a: tf.mul(v, precision(m)) as tf.Tensor2D, b: m.W, bias: m.c }) as tf.Tensor2D);
}

/**
 * Energy E(v, h) = Σ_i (v_i − b_i)²/(2σ_i²) − cᵀh − Σ_ij (v_i/σ_i²) W_ij h_j for each row.
 * @param v `[batch, nVisible]` @param h `[batch, nHidden]` @returns `[batch]`
 */
export function gaussianEnergy(v: tf.Tensor2D, h: tf.Tensor2D, m: GaussianRBM): tf.Tensor1D {
  const { nVisible, nHidden } = gaussianSize(m);
  assertRows(m, v, nVisible, "v", "gaussianEnergy");
  assertRows(m, h, nHidden, "h", "gaussianEnergy");
  if (v.shape[0] !== h.shape[0]) throw new Error(`gaussianEnergy: v [${v.shape}] and h [${h.shape}] need the same batch size.`);
  return tf.tidy(() => {
    const prec = precision(m);
    const quad = tf.mul(tf.sum(tf.mul(tf.square(tf.sub(v, m.b)), prec), 1), 0.5);
    const vWh = tf.sum(tf.mul(tf.matMul(tf.mul(v, prec) as tf.Tensor2D, m.W), h), 1);
    return tf.sub(quad, tf.add(tf.sum(tf.mul(h, m.c), 1), vWh)) as tf.Tensor1D;
  });
}

/**
 * Free energy F(v) = Σ_i (v_i − b_i)²/(2σ_i²) − Σ_j softplus(c_j + Σ_i (v_i/σ_i²) W_ij), so that
 * p(v) = exp(−F(v)) / Z is a density on ℝ^nVisible (softplus is stable for large inputs).
 * @param v `[batch, nVisible]` @returns `[batch]`
 */
export function gaussianFreeEnergy(v: tf.Tensor2D, m: GaussianRBM): tf.Tensor1D {
  assertRows(m, v, m.W.shape[0], "v", "gaussianFreeEnergy");
  return tf.tidy(() => {
    const quad = tf.mul(tf.sum(tf.mul(tf.square(tf.sub(v, m.b)), precision(m)), 1), 0.5);
    return tf.sub(quad, tf.sum(tf.softplus(gaussianHiddenInput(v, m)), 1)) as tf.Tensor1D;
  });
}

/**
 * The hidden free energy G(h) = −log ∫ exp(−E(v, h)) dv
 *   = −cᵀh − Σ_i [(b_i + (Wh)_i)² − b_i²]/(2σ_i²) − Σ_i ½ log(2π σ_i²)   (a Gaussian integral).
 * @param h `[batch, nHidden]` @returns `[batch]`
 */
export function gaussianHiddenFreeEnergy(h: tf.Tensor2D, m: GaussianRBM): tf.Tensor1D {
  assertRows(m, h, m.W.shape[1], "h", "gaussianHiddenFreeEnergy");
  return tf.tidy(() => {
    const prec = precision(m);
    const Wh = tf.matMul(h, tf.transpose(m.W));
    // (b + Wh)² − b² = Wh (2b + Wh): no cancellation when Wh is small.
    const quad = tf.mul(tf.sum(tf.mul(tf.mul(Wh, tf.add(tf.mul(m.b, 2), Wh)), prec), 1), 0.5);
    const logNorm = tf.mul(tf.sum(tf.add(m.logVar, Math.log(2 * Math.PI))), 0.5);
    return tf.neg(tf.addN([tf.sum(tf.mul(h, m.c), 1), quad, tf.broadcastTo(logNorm, [h.shape[0]])])) as tf.Tensor1D;
  });
}

/** p(h = 1 | v) = σ(c + (v/σ²) W). @param v `[batch, nVisible]` @returns `[batch, nHidden]` */
export function gaussianHiddenProbs(v: tf.Tensor2D, m: GaussianRBM): tf.Tensor2D {
  return tf.tidy(() => tf.sigmoid(gaussianHiddenInput(v, m)) as tf.Tensor2D);
}

/** The mean of p(v | h), b + W h. @param h `[batch, nHidden]` @returns `[batch, nVisible]` */
export function gaussianVisibleMean(h: tf.Tensor2D, m: GaussianRBM): tf.Tensor2D {
  assertRows(m, h, m.W.shape[1], "h", "gaussianVisibleMean");
  // An explicit transpose then a plain matMul (a transposed-operand matMul is ~10× slower on wasm).
  return tf.tidy(() => tf.fused.matMul({ a: h, b: tf.transpose(m.W) as tf.Tensor2D, bias: m.b }) as tf.Tensor2D);
}

/**
 * A draw v ~ p(v | h) = N(b + W h, diag σ²), the normals from the seeded JS generator.
 * @param h `[batch, nHidden]` @returns `[batch, nVisible]`
 */
export function sampleGaussianVisible(h: tf.Tensor2D, m: GaussianRBM, seed: Seed | UniformSource): tf.Tensor2D {
  return tf.tidy(() => sampleGaussian(gaussianVisibleMean(h, m), tf.exp(tf.mul(m.logVar, 0.5)), seed));
}

/**
 * p(h = 1 | v) for many rows given as a flat array, in batches: the hidden layer as a feature map.
 * @param x row-major `[n, nVisible]` @returns row-major `[n, nHidden]`
 */
export function gaussianHiddenFeatures(x: Float32Array, m: GaussianRBM, batchSize = 1000): Float32Array {
  const { nVisible, nHidden } = gaussianSize(m);
  if (x.length % nVisible !== 0) throw new Error(`gaussianHiddenFeatures: ${x.length} values are not rows of nVisible = ${nVisible}.`);
  const n = x.length / nVisible;
  const out = new Float32Array(n * nHidden);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const p = tf.tidy(() => gaussianHiddenProbs(tf.tensor2d(x.subarray(start * nVisible, (start + size) * nVisible), [size, nVisible]), m));
    out.set(p.dataSync(), start * nHidden);
    p.dispose();
  }
  return out;
}

/** Options of {@link gaussianGibbsChain}. */
export interface GaussianChainOptions {
  /** Block Gibbs steps v → h → v. Default 1000. */
  steps?: number;
  /** Seed of the draws. */
  seed: Seed;
}

/**
 * Runs block Gibbs chains h ~ p(h|v), v ~ N(b + Wh, σ²) from the rows of `v0` and returns the last
 * visible sample and its noise-free mean b + Wh (the mean is what one shows as a picture: the sample
 * adds independent pixel noise of spread σ on top).
 * @param v0 `[chains, nVisible]` starting states (e.g. data rows) @returns both `[chains, nVisible]`, owned by the caller
 */
export function gaussianGibbsChain(
  m: GaussianRBM,
  v0: tf.Tensor2D,
  opts: GaussianChainOptions,
): { sample: tf.Tensor2D; mean: tf.Tensor2D } {
  assertRows(m, v0, m.W.shape[0], "v0", "gaussianGibbsChain");
  const steps = opts.steps ?? 1000;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`gaussianGibbsChain: steps must be an integer ≥ 1, got ${steps}.`);
  const rng = toRng(opts.seed, "gaussianGibbsChain");
  let v = v0.clone();
  let mean: tf.Tensor2D | undefined;
  for (let t = 0; t < steps; t++) {
    const next = tf.tidy(() => {
      const h = sampleBernoulli(gaussianHiddenProbs(v, m), rng);
      const mu = gaussianVisibleMean(h, m);
      return { mu, v: sampleGaussian(mu, tf.exp(tf.mul(m.logVar, 0.5)), rng) };
    });
    tf.dispose([v, mean as tf.Tensor2D | undefined].filter((x): x is tf.Tensor2D => x !== undefined));
    v = next.v;
    mean = next.mu;
  }
  return { sample: v, mean: mean as tf.Tensor2D };
}
