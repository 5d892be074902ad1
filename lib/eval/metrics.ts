/**
 * How good is an RBM? Cheap proxies you can watch during training, and the exact answer for tiny models.
 *
 *   reconstructionError   v → h ~ p(h|v) → p(v|h): squared error and cross-entropy (cheap, but not
 *                         the objective CD optimises; it can improve while the model gets worse)
 *   pseudoLikelihood      the one-bit-flip stochastic estimate of Σ_i log p(v_i | v_−i) (seeds 002/004)
 *   exactPseudoLikelihood the same sum over all nVisible flips (deterministic, nVisible× the cost)
 *   freeEnergyGap         mean F(held-out) − mean F(train): grows when the model overfits (guide §6)
 *   exactLogLikelihood    mean log p(v) by enumeration, for models with a layer of ≤ 24 units
 * For large models, log p(v) needs an estimate of log Z: see annealed importance sampling in `ais.ts`.
 *
 * Data are passed as a {@link Dataset} or as flat rows `[n, nVisible]` in a Float32Array; every
 * metric walks over them in batches built from typed-array views, so no big tensor is ever made.
 * Sums are accumulated in float64. Every tensor made here is freed before the function returns.
 */
import * as tf from "@tensorflow/tfjs";
import { exactLogZ } from "../core/exact";
import { logSigmoid64 } from "../core/numerics";
import { type Seed, toRng } from "../core/random";
import { assertFiniteRBM, freeEnergy, type RBM, rbmSize } from "../core/rbm";
import { sampleBernoulli } from "../core/units";
import { assertBinary, type VisibleData, visibleRows } from "../io/data";

/** Default number of rows per batch for the metrics. */
export const METRIC_BATCH_SIZE = 1000;

function checkBatchSize(batchSize: number, what: string): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${batchSize}.`);
  return batchSize;
}

/** Calls f on consecutive row blocks of x `[n, nVisible]` (views), `batchSize` rows at a time. */
function forEachBatch(
  x: Float32Array,
  n: number,
  nVisible: number,
  batchSize: number,
  f: (rows: Float32Array, size: number, start: number) => void,
): void {
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    f(x.subarray(start * nVisible, (start + size) * nVisible), size, start);
  }
}

/** Rows binarised at 0.5 (v > 0.5 → 1), a new array. */
function binarizeHalf(rows: Float32Array): Float32Array {
  const out = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = rows[i] > 0.5 ? 1 : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reconstruction error

/** Options for {@link reconstructionError}. */
export interface ReconstructionOptions {
  /** Seed for the hidden (and, with `reconstruction: "sample"`, visible) samples. */
  seed: Seed;
  /** Rows per batch. Default 1000. */
  batchSize?: number;
  /** Sample h ~ p(h|v) (true, default: one CD-1 step) or use the probabilities p(h|v) (false, deterministic). */
  sampleHidden?: boolean;
  /**
   * What `squared` compares v with: "probs" (default) the reconstruction probabilities p(v|h), or
   * "sample" a binary v' ~ p(v|h) — the seeds' numpy reference (`recon_mse` in numpy_rbm.py) and
   * seed 000 report this one. The sampled version is larger by Σ_i p_i(1 − p_i) on average.
   * The cross-entropy always uses p(v|h) (a sample would give log 0).
   */
  reconstruction?: "probs" | "sample";
  /** Use only the first `limit` rows. */
  limit?: number;
}

/** Result of {@link reconstructionError}: means over images (sums over the nVisible pixels). */
export interface ReconstructionError {
  /** mean over images of Σ_i (v_i − r_i)², r = p(v|h) or a sample of it (see `reconstruction`). */
  squared: number;
  /** mean over images of −Σ_i [v_i log p_i + (1 − v_i) log(1 − p_i)] in nats, p = p(v = 1|h). */
  crossEntropy: number;
  /** Number of images used. */
  n: number;
}

/**
 * Reconstruction error of one up-down pass: h ~ p(h|v) (or h = p(h|v)), then p(v = 1|h) = σ(b + W h).
 *
 * By default `squared` compares v with the probabilities p(v|h), which is less noisy than the seeds'
 * numpy reference (it compares with a sampled v'); pass `reconstruction: "sample"` to reproduce it.
 * The cross-entropy is computed from the logits a = b + W h as Σ_i softplus(a_i) − v_i a_i, which
 * equals −Σ_i [v_i log σ(a_i) + (1 − v_i) log(1 − σ(a_i))] and never takes log 0. For grey-level v
 * its minimum is the entropy of v, not 0.
 * @param data `[n, nVisible]` in [0, 1] (grey levels are fine)
 */
export function reconstructionError(rbm: RBM, data: VisibleData, opts: ReconstructionOptions): ReconstructionError {
  const what = "reconstructionError";
  assertFiniteRBM(rbm, "reconstructionError");
  const { nVisible } = rbmSize(rbm);
  const { x, n } = visibleRows(data, nVisible, what, opts.limit);
  const batchSize = checkBatchSize(opts.batchSize ?? METRIC_BATCH_SIZE, what);
  const mode = opts.reconstruction ?? "probs";
  if (mode !== "probs" && mode !== "sample")
    throw new Error(`${what}: reconstruction must be "probs" or "sample", got "${mode as string}".`);
  const sampleHidden = opts.sampleHidden ?? true;
  const rng = toRng(opts.seed, "reconstructionError");
  // An explicit transpose once: matMul with a transpose flag is ~10× slower on wasm.
  const WT = tf.transpose(rbm.W) as tf.Tensor2D;
  let squared = 0;
  let crossEntropy = 0;
  try {
    forEachBatch(x, n, nVisible, batchSize, (rows, size) => {
      const sums = tf.tidy(() => {
        const v = tf.tensor2d(rows, [size, nVisible]);
        const hProbs = tf.fused.matMul({ a: v, b: rbm.W, bias: rbm.c, activation: "sigmoid" }) as tf.Tensor2D;
        const h = sampleHidden ? sampleBernoulli(hProbs, rng) : hProbs;
        const a = tf.add(tf.matMul(h, WT), rbm.b) as tf.Tensor2D; // logits of p(v = 1 | h)
        const vProbs = tf.sigmoid(a) as tf.Tensor2D;
        const r = mode === "sample" ? sampleBernoulli(vProbs, rng) : vProbs;
        // Per-image sums only: the total over the batch is accumulated in float64 below (a float32
        // sum over ~10⁶ pixels, as wasm's Sum kernel does it, would be off in the 4th digit).
        const sq = tf.sum(tf.squaredDifference(v, r), 1);
        const ce = tf.sum(tf.sub(tf.softplus(a), tf.mul(v, a)), 1);
        return tf.stack([sq, ce]);
      });
      const perImage = sums.dataSync(); // [2, size]
      sums.dispose();
      for (let k = 0; k < size; k++) {
        squared += perImage[k];
        crossEntropy += perImage[size + k];
      }
    });
  } finally {
    WT.dispose();
  }
  return { squared: squared / n, crossEntropy: crossEntropy / n, n };
}

// ---------------------------------------------------------------------------------------------
// Pseudo-likelihood

/** Options for {@link pseudoLikelihood}. */
export interface PseudoLikelihoodOptions {
  /** Seed for the flipped bit of each example. */
  seed: Seed;
  /** Use only the first `limit` rows (the numpy reference uses 10,000). */
  limit?: number;
  /** Rows per batch. Default 1000. */
  batchSize?: number;
}

/**
 * F(ṽ) − F(v) where ṽ is v with bit i flipped, without forming F(ṽ) and F(v) separately (they are
 * large and nearly equal, so their float32 difference would lose digits):
 *   F(ṽ) − F(v) = −s_i b_i − Σ_j [softplus(x_j + s_i W_ij) − softplus(x_j)],  x = c + vW, s_i = 1 − 2v_i.
 * @param x `[B, nHidden]` c + vW @param s `[B, 1]` or `[B, nV, 1]` signs @param Wi rows of W, broadcastable
 * @param bi visible biases of the flipped bits, shaped like s without the last axis
 */
function flipDeltaF(x: tf.Tensor, s: tf.Tensor, Wi: tf.Tensor, bi: tf.Tensor): tf.Tensor {
  const spDiff = tf.sub(tf.softplus(tf.add(x, tf.mul(s, Wi))), tf.softplus(x));
  return tf.neg(tf.add(tf.mul(tf.squeeze(s, [s.rank - 1]), bi), tf.sum(spDiff, -1)));
}

/**
 * The stochastic pseudo-likelihood of seeds 002/004 (numpy_rbm.py `pseudo_likelihood`): binarise v at
 * 0.5, flip one uniformly chosen bit i per example to get ṽ, and average over examples
 *
 *   nVisible · log σ(F(ṽ) − F(v)) = nVisible · log p(v_i | v_−i).
 *
 * Scaling convention: since i is uniform, the expectation of this number is the TOTAL log-PL of an
 * image, Σ_i log p(v_i | v_−i) (nats per image, not per pixel) — {@link exactPseudoLikelihood}
 * computes that sum exactly. Divide by nVisible for a per-pixel number. scikit-learn's
 * `BernoulliRBM.score_samples` returns the same one-flip estimate with the same n_features factor;
 * its issue 23179 ("wrong normalization") asks for the per-pixel version instead, so check which
 * convention a published number uses before comparing.
 * The estimate of one image is noisy (variance grows with nVisible²); average over many images.
 * @param data `[n, nVisible]` in [0, 1]
 * @returns the mean over the (first `limit`) images, nats per image (≤ 0)
 */
export function pseudoLikelihood(rbm: RBM, data: VisibleData, opts: PseudoLikelihoodOptions): number {
  const what = "pseudoLikelihood";
  assertFiniteRBM(rbm, "pseudoLikelihood");
  const { nVisible } = rbmSize(rbm);
  const { x, n } = visibleRows(data, nVisible, what, opts.limit);
  const batchSize = checkBatchSize(opts.batchSize ?? METRIC_BATCH_SIZE, what);
  const rng = toRng(opts.seed, "pseudoLikelihood");
  let total = 0;
  forEachBatch(x, n, nVisible, batchSize, (rows, size) => {
    const vb = binarizeHalf(rows);
    const idx = new Int32Array(size);
    const sign = new Float32Array(size);
    for (let r = 0; r < size; r++) {
      idx[r] = rng.int(nVisible);
      sign[r] = 1 - 2 * vb[r * nVisible + idx[r]];
    }
    const dF = tf.tidy(() => {
      const v = tf.tensor2d(vb, [size, nVisible]);
      const xh = tf.add(tf.matMul(v, rbm.W), rbm.c);
      const i = tf.tensor1d(idx, "int32");
      return flipDeltaF(xh, tf.tensor2d(sign, [size, 1]), tf.gather(rbm.W, i), tf.gather(rbm.b, i));
    });
    const d = dF.dataSync();
    dF.dispose();
    for (let r = 0; r < size; r++) total += nVisible * logSigmoid64(d[r]);
  });
  return total / n;
}

/** Options for {@link exactPseudoLikelihood}. */
export interface ExactPseudoLikelihoodOptions {
  /** Use only the first `limit` rows. */
  limit?: number;
}

/**
 * The exact log pseudo-likelihood Σ_i log p(v_i | v_−i) = Σ_i log σ(F(ṽ_i) − F(v)), summed over all
 * nVisible single-bit flips ṽ_i of v binarised at 0.5, averaged over images (nats per image).
 * Deterministic, and the expectation of {@link pseudoLikelihood} over its seed. It costs about
 * nVisible times as much: the flips need `[B, nVisible, nHidden]` softplus values per batch of B
 * images (13 s per 1,000 images for a 784-500 model on a 2-core machine with wasm): use `limit`.
 * @param data `[n, nVisible]` in [0, 1]
 */
export function exactPseudoLikelihood(rbm: RBM, data: VisibleData, opts: ExactPseudoLikelihoodOptions = {}): number {
  const what = "exactPseudoLikelihood";
  assertFiniteRBM(rbm, "exactPseudoLikelihood");
  const { nVisible, nHidden } = rbmSize(rbm);
  const { x, n } = visibleRows(data, nVisible, what, opts.limit);
  // Keep the [B, nVisible, nHidden] intermediate near 2^21 floats (8 MB).
  const batchSize = Math.max(1, Math.floor(2 ** 21 / (nVisible * nHidden)));
  let total = 0;
  forEachBatch(x, n, nVisible, batchSize, (rows, size) => {
    const vb = binarizeHalf(rows);
    const logPL = tf.tidy(() => {
      const v = tf.tensor2d(vb, [size, nVisible]);
      const xh = tf.reshape(tf.add(tf.matMul(v, rbm.W), rbm.c), [size, 1, nHidden]);
      const s = tf.reshape(tf.sub(1, tf.mul(v, 2)), [size, nVisible, 1]);
      const dF = flipDeltaF(xh, s, rbm.W, rbm.b); // [B, nVisible]
      return tf.neg(tf.softplus(tf.neg(dF))); // log σ(ΔF_i) = log p(v_i | v_−i), summed in float64 below
    });
    const lp = logPL.dataSync();
    logPL.dispose();
    for (let k = 0; k < lp.length; k++) total += lp[k];
  });
  return total / n;
}

// ---------------------------------------------------------------------------------------------
// Free energy

/** Options for {@link meanFreeEnergy}. */
export interface FreeEnergyOptions {
  /** Use only the first `limit` rows. */
  limit?: number;
  /** Rows per batch. Default 1000. */
  batchSize?: number;
}

/**
 * Mean free energy F(v) = −vᵀb − Σ_j softplus(c_j + (vᵀW)_j) over the rows, in float64.
 * @param data `[n, nVisible]` in [0, 1]
 */
export function meanFreeEnergy(rbm: RBM, data: VisibleData, opts: FreeEnergyOptions = {}): number {
  const what = "meanFreeEnergy";
  assertFiniteRBM(rbm, "meanFreeEnergy");
  const { nVisible } = rbmSize(rbm);
  const { x, n } = visibleRows(data, nVisible, what, opts.limit);
  return meanFreeEnergyOfRows(rbm, x, n, checkBatchSize(opts.batchSize ?? METRIC_BATCH_SIZE, what));
}

/** Mean F over already-checked rows x `[n, nVisible]`. */
function meanFreeEnergyOfRows(rbm: RBM, x: Float32Array, n: number, batchSize: number): number {
  const { nVisible } = rbmSize(rbm);
  let total = 0;
  forEachBatch(x, n, nVisible, batchSize, (rows, size) => {
    const F = tf.tidy(() => freeEnergy(tf.tensor2d(rows, [size, nVisible]), rbm));
    const f = F.dataSync();
    F.dispose();
    for (let r = 0; r < size; r++) total += f[r];
  });
  return total / n;
}

/** Options for {@link freeEnergyGap}. */
export interface FreeEnergyGapOptions {
  /** Rows taken from each set (the first n of each). Default: the smaller of the two sizes. */
  n?: number;
  /** Rows per batch. Default 1000. */
  batchSize?: number;
}

/** Result of {@link freeEnergyGap}. */
export interface FreeEnergyGap {
  /** mean F(held-out) − mean F(train subset). */
  gap: number;
  /** mean F over the training subset. */
  train: number;
  /** mean F over the held-out rows. */
  heldOut: number;
  /** Rows used from each set. */
  n: number;
}

/**
 * The free-energy gap of Hinton's practical guide (§6): mean F over held-out data minus mean F over a
 * subset of the training data of the same size. log Z cancels, so the gap is the difference of the
 * average log-probabilities of the two sets: log p(train) − log p(held-out) per image. A gap that
 * grows during training means the model is fitting the training images better than unseen ones
 * (overfitting). Uses the first `n` rows of each set: pass a training subset that is representative
 * (e.g. random rows), not one sorted by class.
 * @param train, heldOut `[n, nVisible]` in [0, 1]
 */
export function freeEnergyGap(rbm: RBM, train: VisibleData, heldOut: VisibleData, opts: FreeEnergyGapOptions = {}): FreeEnergyGap {
  const what = "freeEnergyGap";
  assertFiniteRBM(rbm, "freeEnergyGap");
  const { nVisible } = rbmSize(rbm);
  const batchSize = checkBatchSize(opts.batchSize ?? METRIC_BATCH_SIZE, what);
  const t = visibleRows(train, nVisible, `${what} (train)`);
  const h = visibleRows(heldOut, nVisible, `${what} (heldOut)`);
  const n = opts.n ?? Math.min(t.n, h.n);
  if (!Number.isInteger(n) || n < 1 || n > t.n || n > h.n) {
    throw new Error(`${what}: n must be an integer in [1, ${Math.min(t.n, h.n)}] (the smaller set), got ${n}.`);
  }
  const trainF = meanFreeEnergyOfRows(rbm, t.x, n, batchSize);
  const heldOutF = meanFreeEnergyOfRows(rbm, h.x, n, batchSize);
  return { gap: heldOutF - trainF, train: trainF, heldOut: heldOutF, n };
}

// ---------------------------------------------------------------------------------------------
// Exact log-likelihood

/** Options for {@link exactLogLikelihood}. */
export interface ExactLogLikelihoodOptions {
  /** A precomputed {@link exactLogZ} of this model (saves the enumeration). */
  logZ?: number;
  /** Use only the first `limit` rows. */
  limit?: number;
}

/**
 * The exact average log-likelihood (1/n) Σ log p(v) = −mean F(v) − log Z in nats per image, with log Z
 * from enumerating the smaller layer (`exactLogZ`; it must have at most 24 units, ~20 is quick).
 * @param data `[n, nVisible]`, binary (0/1): binarise grey-level images first
 */
export function exactLogLikelihood(rbm: RBM, data: VisibleData, opts: ExactLogLikelihoodOptions = {}): number {
  const what = "exactLogLikelihood";
  assertFiniteRBM(rbm, "exactLogLikelihood");
  const { nVisible } = rbmSize(rbm);
  const { x, n } = visibleRows(data, nVisible, what, opts.limit);
  assertBinary(x, what);
  const logZ = opts.logZ ?? exactLogZ(rbm);
  return -meanFreeEnergyOfRows(rbm, x, n, METRIC_BATCH_SIZE) - logZ;
}
