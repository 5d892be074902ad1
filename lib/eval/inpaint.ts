/**
 * Filling in and cleaning up digits with an RBM, and how well it does beside simple baselines.
 *
 *   inpaintMask      which pixels are known: a missing half (top, bottom, left, right) or a random share
 *   inpaintRBM       the missing pixels from p(v_missing | v_known): the clamped Gibbs chain of core/sampling
 *   flipPixels       salt-and-pepper noise: each pixel flipped with probability ρ
 *   denoiseRBM       the clean digit from p(v | noisy y) ∝ p(v) Π_i p(y_i | v_i), exactly an RBM whose
 *                    visible biases are shifted by the evidence (2y_i − 1)·log((1 − ρ)/ρ)
 *   scoreMissing     pixel accuracy and log-probability of the missing pixels under predicted marginals
 *   meanImageProbs, nearestDigitProbs   the baselines: the mean training image, the k nearest training digits
 *   compareInpainting  one table row per mask: the model(s) beside the baselines
 *
 * The log-probability reported is Σ_{i missing} log p̂(v_i | v_known) under the chain's per-pixel
 * marginals p̂ (Rao-Blackwellised: the average of p(v_i | h) over the chain). It scores each missing
 * pixel on its own and ignores their correlations, so it is not log p(v_missing | v_known) of the
 * joint; it is the same quantity for the model and the baselines, which is what the comparison needs.
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "../core/random";
import { assertFiniteRBM, type RBM } from "../core/rbm";
import { clampedGibbsChain } from "../core/sampling";
import { sampleBernoulli } from "../core/units";
import { assertBinary, type VisibleData, visibleRows } from "../io/data";

/** The missing region: a half of the picture, or a random share of its pixels. */
export type MaskName = "top" | "bottom" | "left" | "right" | "random";

/** The masks of the comparison, in the order of its table. */
export const MASK_NAMES: readonly MaskName[] = ["top", "bottom", "left", "right", "random"];

/** Options of {@link inpaintMask}. */
export interface MaskOptions {
  /** Picture height and width. Default 28 × 28 (MNIST). */
  height?: number;
  width?: number;
  /** Share of missing pixels for "random". Default 0.5. */
  fraction?: number;
  /** Seed of the random mask (each image gets its own). Default 0. */
  seed?: Seed;
}

/**
 * Known-pixel masks for `n` images: 1 = known (clamped), 0 = missing. The name is the MISSING part:
 * "top" hides the top half (rows 0 … h/2 − 1), "left" the left columns, "random" a random `fraction`
 * of the pixels of each image.
 * @returns `[n * height * width]` row-major
 */
export function inpaintMask(name: MaskName, n: number, opts: MaskOptions = {}): Float32Array {
  const h = opts.height ?? 28;
  const w = opts.width ?? 28;
  if (!Number.isInteger(n) || n < 1) throw new Error(`inpaintMask: n must be a positive integer, got ${n}.`);
  const out = new Float32Array(n * h * w).fill(1);
  if (name === "random") {
    const fraction = opts.fraction ?? 0.5;
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`inpaintMask: fraction must be in [0, 1], got ${fraction}.`);
    const rng = toRng(opts.seed ?? 0, "inpaintMask");
    const hw = h * w;
    const missing = Math.round(fraction * hw);
    const idx = new Uint32Array(hw);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < hw; i++) idx[i] = i;
      rng.shuffle(idx);
      for (let i = 0; i < missing; i++) out[r * hw + idx[i]] = 0;
    }
    return out;
  }
  const hide: Record<Exclude<MaskName, "random">, (y: number, x: number) => boolean> = {
    top: (y) => y < h / 2,
    bottom: (y) => y >= h / 2,
    left: (_, x) => x < w / 2,
    right: (_, x) => x >= w / 2,
  };
  const f = hide[name as Exclude<MaskName, "random">];
  if (!f) throw new Error(`inpaintMask: unknown mask "${name}"; use one of ${MASK_NAMES.join(", ")}.`);
  const one = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) one[y * w + x] = f(y, x) ? 0 : 1;
  for (let r = 0; r < n; r++) out.set(one, r * h * w);
  return out;
}

/** Options of {@link inpaintRBM} and {@link denoiseRBM}. */
export interface InpaintOptions {
  /** Gibbs steps. Default 200. */
  steps?: number;
  /** Steps left out of the mean probabilities. Default steps / 2. */
  burnIn?: number;
  /** Inverse temperature β of the chain. Default 1. */
  beta?: number;
  /** Seed of the chains. Default 0. */
  seed?: Seed;
  /** Images per batch of chains. Default 500. */
  batchSize?: number;
  /**
   * Independent chains per image (inpaintRBM), their marginals averaged. Default 1. One chain that
   * settles on one completion is overconfident where several are plausible (a 7 or a 9 under a
   * missing bottom half); more chains show the spread.
   */
  chainsPerImage?: number;
}

/** Marginals and last samples of an inpainting or denoising run, `[n * nVisible]` each. */
export interface InpaintResult {
  /** p̂(v_i = 1 | evidence): the mean of p(v_i | h) over the steps after burn-in (known pixels: their value). */
  meanProbs: Float32Array;
  /** The last binary state of each chain. */
  v: Float32Array;
}

/** The rows of `data` (a Dataset or flat rows), checked: width nVisible, values exactly 0 or 1. */
function checkRows(data: VisibleData, nV: number, what: string): { x: Float32Array; n: number } {
  const rows = visibleRows(data, nV, what);
  assertBinary(rows.x, what);
  return rows;
}

/** Runs the chains of {@link inpaintRBM} / {@link denoiseRBM} batch by batch. */
function runBatches(
  rbm: RBM,
  images: Float32Array,
  n: number,
  opts: InpaintOptions,
  what: string,
  batchInputs: (start: number, size: number) => { v0: tf.Tensor2D; known?: tf.Tensor2D; evidence?: tf.Tensor2D },
): InpaintResult {
  const nV = rbm.W.shape[0];
  const steps = opts.steps ?? 200;
  const batchSize = opts.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${batchSize}.`);
  const rng = toRng(opts.seed ?? 0, what);
  const meanProbs = new Float32Array(n * nV);
  const v = new Float32Array(n * nV);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const inp = batchInputs(start, size);
    const values = tf.tensor2d(images.subarray(start * nV, (start + size) * nV), [size, nV]);
    try {
      const clamp = inp.known ? { values, known: inp.known } : undefined;
      const r = clampedGibbsChain(inp.v0, rbm, clamp, { steps, burnIn: opts.burnIn, beta: opts.beta, evidence: inp.evidence, seed: rng });
      meanProbs.set(r.meanProbs.dataSync(), start * nV);
      v.set(r.v.dataSync(), start * nV);
      tf.dispose([r.v, r.vProbs, r.meanProbs]);
    } finally {
      tf.dispose([values, inp.v0, ...(inp.known ? [inp.known] : []), ...(inp.evidence ? [inp.evidence] : [])]);
    }
  }
  return { meanProbs, v };
}

/**
 * Inpainting: the missing pixels of binary `images` sampled from p(v_missing | v_known) by the clamped
 * block-Gibbs chain (core/sampling: clampedGibbsChain), the free pixels started from coin flips.
 * @param data binary images, a Dataset or flat rows `[n * nVisible]` @param known `[n * nVisible]` 0/1 (1 = known), e.g. {@link inpaintMask}
 */
export function inpaintRBM(rbm: RBM, data: VisibleData, known: Float32Array, opts: InpaintOptions = {}): InpaintResult {
  assertFiniteRBM(rbm, "inpaintRBM");
  const nV = rbm.W.shape[0];
  const { x: images, n } = checkRows(data, nV, "inpaintRBM");
  if (known.length !== images.length)
    throw new Error(`inpaintRBM: the mask holds ${known.length} values, the images ${images.length}; give one per pixel.`);
  const r = opts.chainsPerImage ?? 1;
  if (!Number.isInteger(r) || r < 1) throw new Error(`inpaintRBM: chainsPerImage must be a positive integer, got ${r}.`);
  const tile = (x: Float32Array) => {
    const out = new Float32Array(x.length * r);
    for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) out.set(x.subarray(i * nV, (i + 1) * nV), (i * r + j) * nV);
    return out;
  };
  const [allImages, allKnown] = r === 1 ? [images, known] : [tile(images), tile(known)];
  const rng = toRng(toRng(opts.seed ?? 0, "inpaintRBM").nextUint32(), "inpaintRBM start");
  const out = runBatches(rbm, allImages, n * r, opts, "inpaintRBM", (start, size) => ({
    v0: tf.tidy(() => sampleBernoulli(tf.fill([size, nV], 0.5) as tf.Tensor2D, rng)),
    known: tf.tensor2d(allKnown.subarray(start * nV, (start + size) * nV), [size, nV]),
  }));
  if (r === 1) return out;
  // The average of each image's chains; the last state of its first chain.
  const meanProbs = new Float32Array(n * nV);
  const v = new Float32Array(n * nV);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < r; j++) for (let p = 0; p < nV; p++) meanProbs[i * nV + p] += out.meanProbs[(i * r + j) * nV + p] / r;
    v.set(out.v.subarray(i * r * nV, (i * r + 1) * nV), i * nV);
  }
  return { meanProbs, v };
}

/** Salt-and-pepper noise: each pixel of binary `images` flipped with probability `rate`, seeded. */
export function flipPixels(images: Float32Array, rate: number, seed: Seed = 0): { noisy: Float32Array; flipped: Float32Array } {
  if (!(rate >= 0 && rate < 0.5))
    throw new Error(`flipPixels: rate must be in [0, 0.5) (at 0.5 nothing of the image is left), got ${rate}.`);
  assertBinary(images, "flipPixels");
  const rng = toRng(seed, "flipPixels");
  const noisy = new Float32Array(images.length);
  const flipped = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) {
    const f = rng.uniform() < rate ? 1 : 0;
    flipped[i] = f;
    noisy[i] = f ? 1 - images[i] : images[i];
  }
  return { noisy, flipped };
}

/**
 * Denoising: samples p(v | y) for noisy binary images y whose pixels were flipped independently
 * with probability `rate` = ρ. By Bayes, p(v | y) ∝ exp(−F(v)) Π_i ρ^[v_i ≠ y_i] (1 − ρ)^[v_i = y_i],
 * which is the same RBM with visible biases b_i + (2y_i − 1)·log((1 − ρ)/ρ): Gibbs sampling with this
 * evidence added is exact, and no pixel needs to be known clean. The chains start at y.
 * @param data the noisy binary images, a Dataset or flat rows `[n * nVisible]`
 */
export function denoiseRBM(rbm: RBM, data: VisibleData, rate: number, opts: InpaintOptions = {}): InpaintResult {
  assertFiniteRBM(rbm, "denoiseRBM");
  const nV = rbm.W.shape[0];
  const { x: noisy, n } = checkRows(data, nV, "denoiseRBM");
  if (!(rate > 0 && rate < 0.5)) throw new Error(`denoiseRBM: rate (the flip probability) must be in (0, 0.5), got ${rate}.`);
  const logOdds = Math.log((1 - rate) / rate);
  return runBatches(rbm, noisy, n, opts, "denoiseRBM", (start, size) => {
    const y = tf.tensor2d(noisy.subarray(start * nV, (start + size) * nV), [size, nV]);
    return { v0: y, evidence: tf.tidy(() => tf.mul(tf.sub(tf.mul(y, 2), 1), logOdds)) as tf.Tensor2D };
  });
}

/** Accuracy and log-probability of predicted marginals on the missing pixels. */
export interface MissingScore {
  /** Share of missing pixels where [p̂ > ½] equals the truth. */
  accuracy: number;
  /** Mean over images of Σ_{i missing} log p̂(v_i = truth_i), nats (p̂ kept in [1e-6, 1 − 1e-6]). */
  logProb: number;
  /** Missing pixels per image, on average. */
  missing: number;
}

/**
 * Scores predicted marginals `probs` of the missing pixels (`known` = 0) against the binary truth.
 * @param truth `[n * d]` @param known `[n * d]` 0/1 @param probs `[n * d]` p̂(v = 1), or `[d]` for every image
 * @param d pixels per image (default 784)
 */
export function scoreMissing(truth: Float32Array, known: Float32Array, probs: Float32Array, d = 784): MissingScore {
  const n = truth.length / d;
  if (!Number.isInteger(n) || n < 1 || known.length !== truth.length || (probs.length !== truth.length && probs.length !== d)) {
    throw new Error(
      `scoreMissing: truth [${truth.length}], mask [${known.length}] and probs [${probs.length}] must be rows of ${d} pixels (probs: one row or one per image).`,
    );
  }
  const shared = probs.length === d;
  let right = 0;
  let count = 0;
  let logProb = 0;
  for (let i = 0; i < truth.length; i++) {
    if (known[i] === 1) continue;
    const p = Math.min(1 - 1e-6, Math.max(1e-6, probs[shared ? i % d : i]));
    const t = truth[i] > 0.5;
    count++;
    if (p > 0.5 === t) right++;
    logProb += Math.log(t ? p : 1 - p);
  }
  return { accuracy: count ? right / count : NaN, logProb: logProb / n, missing: count / n };
}

/** The mean training image `[d]`, each pixel kept in [1/(n+2), (n+1)/(n+2)] (add-one smoothing). */
export function meanImageProbs(train: Float32Array, d: number): Float32Array {
  const n = train.length / d;
  if (!Number.isInteger(n) || n < 1) throw new Error(`meanImageProbs: ${train.length} values are not rows of ${d}.`);
  const m = new Float32Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) m[i] += train[r * d + i];
  for (let i = 0; i < d; i++) m[i] = (m[i] + 1) / (n + 2);
  return m;
}

/**
 * The k nearest training digits as a predictor: for each image the k training images closest in
 * squared distance ON ITS KNOWN PIXELS, and p̂_i = (Σ of their pixel i + 1)/(k + 2) (add-one
 * smoothing, so a log-probability exists). Known pixels get their value. Distances are matMuls.
 * @param images `[n * d]` @param known `[n * d]` 0/1 @param train `[m * d]` @returns `[n * d]`
 */
export function nearestDigitProbs(images: Float32Array, known: Float32Array, train: Float32Array, d: number, k = 10): Float32Array {
  const n = images.length / d;
  const m = train.length / d;
  if (!Number.isInteger(n) || !Number.isInteger(m) || known.length !== images.length)
    throw new Error(
      `nearestDigitProbs: images [${images.length}], mask [${known.length}] and train [${train.length}] must be rows of ${d}.`,
    );
  if (!Number.isInteger(k) || k < 1 || k > m) throw new Error(`nearestDigitProbs: k must be an integer in [1, ${m}], got ${k}.`);
  const out = new Float32Array(images.length);
  const T = tf.tensor2d(train, [m, d]);
  const TT = tf.transpose(T);
  const T2T = tf.tidy(() => tf.transpose(tf.square(T)));
  try {
    for (let start = 0; start < n; start += 200) {
      const size = Math.min(200, n - start);
      const indices = tf.tidy(() => {
        const x = tf.tensor2d(images.subarray(start * d, (start + size) * d), [size, d]);
        const mk = tf.tensor2d(known.subarray(start * d, (start + size) * d), [size, d]);
        // Σ_i m_i (x_i − t_i)² = Σ m x² − 2 Σ (m x) t + Σ m t²; the first term is the same for every t.
        const dist = tf.sub(tf.matMul(mk, T2T), tf.mul(tf.matMul(tf.mul(mk, x), TT), 2));
        return tf.topk(tf.neg(dist), k).indices;
      });
      const idx = indices.dataSync();
      indices.dispose();
      for (let r = 0; r < size; r++) {
        const o = (start + r) * d;
        for (let j = 0; j < k; j++) {
          const t = idx[r * k + j] * d;
          for (let i = 0; i < d; i++) out[o + i] += train[t + i];
        }
        for (let i = 0; i < d; i++) out[o + i] = known[o + i] === 1 ? images[o + i] : (out[o + i] + 1) / (k + 2);
      }
    }
  } finally {
    tf.dispose([T, TT, T2T]);
  }
  return out;
}

/** A predictor of missing pixels: marginals p̂ `[n * d]` from the images and their known-pixel masks. */
export type InpaintPredictor = (images: Float32Array, known: Float32Array) => Float32Array;

/** One row of {@link compareInpainting}: per predictor its accuracy (%) and log-probability (nats per digit). */
export type InpaintRow = Record<string, string | number>;

/**
 * The comparison table: for each mask, each predictor's pixel accuracy on the missing pixels (%) and
 * log-probability of them (nats per digit, see {@link scoreMissing}), beside the mean training image
 * and the k nearest training digits.
 * @param test `[n * d]` binary @param train `[m * d]` binary, for the baselines
 */
export function compareInpainting(
  test: Float32Array,
  train: Float32Array,
  predictors: Record<string, InpaintPredictor>,
  opts: MaskOptions & { masks?: readonly MaskName[]; neighbours?: number } = {},
): InpaintRow[] {
  const d = (opts.height ?? 28) * (opts.width ?? 28);
  const n = test.length / d;
  const mean = meanImageProbs(train, d);
  return (opts.masks ?? MASK_NAMES).map((name) => {
    const known = inpaintMask(name, n, opts);
    const row: InpaintRow = { "missing part": name === "random" ? `random ${Math.round(100 * (opts.fraction ?? 0.5))} %` : `${name} half` };
    const all: Record<string, Float32Array> = {
      "mean image": mean,
      [`${opts.neighbours ?? 10} nearest`]: nearestDigitProbs(test, known, train, d, opts.neighbours ?? 10),
    };
    for (const [label, predict] of Object.entries(predictors)) all[label] = predict(test, known);
    for (const [label, probs] of Object.entries(all)) {
      const s = scoreMissing(test, known, probs, d);
      row[`${label}: acc %`] = Number((100 * s.accuracy).toFixed(1));
      row[`${label}: log p`] = Number(s.logProb.toFixed(1));
    }
    return row;
  });
}
