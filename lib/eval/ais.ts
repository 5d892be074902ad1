/**
 * Annealed importance sampling (AIS) of the partition function of an RBM, after Salakhutdinov &
 * Murray (2008), "On the quantitative analysis of deep belief networks", §3–4.
 *
 * Z = Σ_v exp(−F(v)) cannot be enumerated for a 784-500 RBM, but its ratio to the Z_A of a simple
 * "base" model A can be estimated by moving samples through a chain of models between A and the
 * target B. Here A is the base-rate RBM: W_A = 0, visible bias b_A, and nHidden hidden units with
 * bias 0, so that
 *
 *   Z_A = 2^nHidden · Π_i (1 + exp(b_A,i)),   log Z_A = Σ_i softplus(b_A,i) + nHidden·log 2,
 *
 * and the intermediate models, for 0 = β_0 < β_1 < … < β_K = 1, are the RBMs with parameters
 *
 *   W_k = β_k W,   b_k = (1 − β_k) b_A + β_k b,   c_k = β_k c.
 *
 * This is S&M's path: p_k(v, h) ∝ exp(−(1 − β_k) E_A(v, h) − β_k E_B(v, h)), a geometric average of
 * the JOINT distributions (both models share h). Its visible marginal is
 *
 *   p*_k(v) = exp(vᵀb_k) · Π_j (1 + exp(β_k (c_j + (vᵀW)_j))),
 *
 * which is not exp(−(1 − β_k) F_A(v) − β_k F_B(v)) (softplus(βx) ≠ β·softplus(x)); it is the one the
 * Gibbs transitions below leave invariant. Each of M independent runs does
 *
 *   v_1 ~ p_A (independent pixels, p(v_i = 1) = σ(b_A,i))
 *   for k = 1 … K:  log w += log p*_k(v_k) − log p*_{k−1}(v_k)
 *                   (if k < K) v_{k+1} ~ T_k(v_k): h ~ σ(β_k (c + vW)), v ~ σ(b_k + β_k W h)
 *
 * with the increment in closed form, x = c + vW:
 *   log p*_k(v) − log p*_{k−1}(v) = (β_k − β_{k−1}) vᵀ(b − b_A) + Σ_j [softplus(β_k x_j) − softplus(β_{k−1} x_j)].
 *
 * Then E[w] = Z_B / Z_A, and log Z_B ≈ log Z_A + log mean(w). The estimate of Z is unbiased, so
 * log Z is biased low (Jensen) and tends to UNDER-estimate log Z: log-likelihoods computed from it
 * then tend to be too optimistic. A small effective sample size or a wide band means the schedule is
 * too short or the base model too far from B.
 */
import * as tf from "@tensorflow/tfjs";
import { meanFreeEnergy } from "./metrics";
import { ProgressBar, barFor, yieldToEventLoop } from "../view/progress";
import { RBM, assertFiniteRBM, rbmSize } from "../core/rbm";
import { Seed, toRng } from "../core/random";
import { softplus64 } from "../core/numerics";
import { VisibleData, visibleRows, assertBinary } from "../io/data";
/** Number of intermediate distributions K in Salakhutdinov & Murray's schedule (500 + 4,000 + 10,000). */
export const SM_N_BETAS = 14500;

/**
 * The inverse temperatures 0 = β_0 < … < β_K = 1 of Salakhutdinov & Murray (2008): uniform steps,
 * 500 in [0, 0.5), 4,000 in [0.5, 0.9) and 10,000 in [0.9, 1] for K = 14,500 (the default). Other K
 * keep the same proportions (steps 29 : 8 : 2.9 ≈ finer near β = 1, where the distribution changes
 * fastest). K < 3 gives evenly spaced betas.
 * @returns K + 1 values
 */
export function aisBetas(K: number = SM_N_BETAS): Float64Array {
  if (!Number.isInteger(K) || K < 1) throw new Error(`aisBetas: the number of intermediate distributions must be an integer ≥ 1, got ${K}.`);
  if (K < 3) return Float64Array.from({ length: K + 1 }, (_, k) => k / K);
  const n1 = Math.max(1, Math.round((K * 500) / SM_N_BETAS));
  const n2 = Math.max(1, Math.round((K * 4000) / SM_N_BETAS));
  const n3 = K - n1 - n2;
  const out = new Float64Array(K + 1);
  for (let k = 0; k < n1; k++) out[k] = (0.5 * k) / n1;
  for (let k = 0; k < n2; k++) out[n1 + k] = 0.5 + (0.4 * k) / n2;
  for (let k = 0; k <= n3; k++) out[n1 + n2 + k] = 0.9 + (0.1 * k) / n3;
  out[K] = 1;
  return out;
}

/**
 * The base-rate visible bias of Salakhutdinov & Murray: b_A,i = log(p̄_i / (1 − p̄_i)) from the data's
 * pixel means p̄_i, clamped to [ε, 1 − ε] so that always-off pixels get a finite bias (−6.9 for ε = 1e-3).
 * @param data `[n, nVisible]` in [0, 1] @returns b_A `[nVisible]`
 */
export function baseRateVisibleBias(data: VisibleData, nVisible: number, eps = 1e-3): Float32Array {
  if (!(eps > 0 && eps < 0.5)) throw new Error(`baseRateVisibleBias: eps must be in (0, 0.5), got ${eps}.`);
  const { x, n } = visibleRows(data, nVisible, "baseRateVisibleBias");
  const mean = new Float64Array(nVisible);
  for (let r = 0; r < n; r++) for (let i = 0; i < nVisible; i++) mean[i] += x[r * nVisible + i];
  const bA = new Float32Array(nVisible);
  for (let i = 0; i < nVisible; i++) {
    const p = Math.min(Math.max(mean[i] / n, eps), 1 - eps);
    bA[i] = Math.log(p / (1 - p));
  }
  return bA;
}

/** Options for {@link annealedLogZ}. */
export interface AISOptions {
  /** Seed of all the runs. */
  seed: Seed;
  /** Number of independent AIS runs M. Default 100 (S&M). */
  runs?: number;
  /**
   * The schedule: explicit betas 0 = β_0 ≤ … ≤ β_K = 1, or the number K of intermediate
   * distributions for {@link aisBetas}. Default 14,500 (S&M).
   */
  betas?: ArrayLike<number> | number;
  /** Visible bias b_A `[nVisible]` of the base model. Default: from `data` if given, else 0 (uniform base). */
  baseVisibleBias?: Float32Array;
  /** Training data `[n, nVisible]` in [0, 1] to fit the base rate ({@link baseRateVisibleBias}). */
  data?: VisibleData;
  /** Show a progress bar (true, default), none (false), or drive your own. */
  progress?: boolean | ProgressBar;
}

/** Result of {@link annealedLogZ}. */
export interface AISResult {
  /** The estimate log Z_A + log mean(w) (log-mean-exp of the log weights). */
  logZ: number;
  /** log(mean(w) − 3·std(w)/√M) + log Z_A, or −Infinity when that is ≤ 0. */
  logZLower: number;
  /** log(mean(w) + 3·std(w)/√M) + log Z_A. */
  logZUpper: number;
  /** Delta-method standard error of logZ: std(w) / (√M · mean(w)) (std with M − 1; Infinity for M = 1). */
  logZStd: number;
  /** log w of each run `[M]` (ratio Z_B / Z_A estimates, without log Z_A). */
  logWeights: Float64Array;
  /**
   * Effective sample size (Σw)² / Σw², between 1 and M. When it is a small fraction of M (say under
   * 10 %), a few runs dominate: the empirical variance, hence the band, is unreliable and logZ is
   * probably too low. Lengthen the schedule (or add runs) until the estimate stops rising.
   */
  ess: number;
  /** log Z_A of the base model. */
  logZBase: number;
  /** Number of runs M. */
  runs: number;
  /** Number of intermediate distributions K. */
  nBetas: number;
  /** Wall-clock seconds of the annealing loop. */
  seconds: number;
}

function checkBetas(betas: ArrayLike<number>): Float64Array {
  const b = Float64Array.from(betas);
  if (b.length < 2 || b[0] !== 0 || b[b.length - 1] !== 1) {
    throw new Error(`annealedLogZ: betas must start at 0 and end at 1 with at least 2 values; got ${b.length} values from ${b[0]} to ${b[b.length - 1]}.`);
  }
  for (let k = 1; k < b.length; k++) {
    if (!(b[k] >= b[k - 1])) throw new Error(`annealedLogZ: betas must be non-decreasing numbers; β[${k}] = ${b[k]} after β[${k - 1}] = ${b[k - 1]}.`);
  }
  return b;
}

/**
 * Estimates log Z of `rbm` by annealed importance sampling (see the file comment for the method).
 *
 * Cost: per temperature two matMuls `[M, nV]×[nV, nH+1]` and `[M, nH]×[nH, nV]`, plus float64 work on
 * the `[M, nH]` hidden inputs in JavaScript (the weight increments and the hidden samples are computed
 * there, exactly, from one read-back). Measured for 784-500 with M = 100 on a 2-core machine (wasm,
 * 2 threads): 15 ms per temperature, so the default 14,500 temperatures take about 4 minutes (up to
 * twice that on a busy machine). Time ∝ K · M: try a short schedule first and extrapolate.
 * All tensors are freed; the loop yields to the event loop a few times a second (progress bars).
 */
export async function annealedLogZ(rbm: RBM, opts: AISOptions): Promise<AISResult> {
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const M = opts.runs ?? 100;
  if (!Number.isInteger(M) || M < 1) throw new Error(`annealedLogZ: runs must be an integer ≥ 1, got ${M}.`);
  const schedule = opts.betas ?? SM_N_BETAS;
  const betas = typeof schedule === "number" ? aisBetas(schedule) : checkBetas(schedule);
  const K = betas.length - 1;
  let bA: Float32Array;
  if (opts.baseVisibleBias !== undefined) {
    bA = opts.baseVisibleBias;
    if (bA.length !== nV || !bA.every((z) => Number.isFinite(z))) {
      throw new Error(`annealedLogZ: baseVisibleBias must be ${nV} finite numbers (nVisible), got ${bA.length} values.`);
    }
  } else {
    bA = opts.data !== undefined ? baseRateVisibleBias(opts.data, nV) : new Float32Array(nV);
  }
  const rng = toRng(opts.seed);
  const b = rbm.b.dataSync();
  const c = rbm.c.dataSync();
  let logZBase = nH * Math.LN2;
  for (let i = 0; i < nV; i++) logZBase += softplus64(bA[i]);
  const bMinusBA = Float64Array.from(b, (bi, i) => bi - bA[i]);

  // Only the two matMuls run in TF.js; everything elementwise is done in float64 JavaScript on the
  // read-back products, which is exact (no float32 cancellation in the weight increments) and, for
  // small models, avoids the fixed cost of ~10 tiny TF.js ops per temperature.
  // W is augmented with the column (b − b_A) so that one matMul gives both vW and vᵀ(b − b_A);
  // Wᵀ is transposed once (matMul with a transpose flag is ~10× slower on wasm).
  const Waug = tf.tidy(() => tf.concat([rbm.W, tf.tensor2d(Float32Array.from(bMinusBA), [nV, 1])], 1)) as tf.Tensor2D;
  const WT = tf.transpose(rbm.W) as tf.Tensor2D;
  const logW = new Float64Array(M);
  // Buffers refilled every temperature; a tensor made from one is freed before the buffer is refilled.
  const vBuf = new Float32Array(M * nV);
  const hScaled = new Float32Array(M * nH);
  const biasK = new Float64Array(nV);

  // v_1 ~ p_A: independent pixels with p(v_i = 1) = σ(b_A,i).
  for (let m = 0; m < M; m++) {
    for (let i = 0; i < nV; i++) vBuf[m * nV + i] = rng.uniform() < 1 / (1 + Math.exp(-bA[i])) ? 1 : 0;
  }
  let v = tf.tensor2d(vBuf, [M, nV]);

  const bar = barFor(opts.progress, K, `AIS ${M} runs`, "β");
  const t0 = performance.now();
  let lastYield = t0;
  let ticked = 0;
  try {
    for (let k = 1; k <= K; k++) {
      const beta = betas[k];
      const betaPrev = betas[k - 1];
      const dBeta = beta - betaPrev;
      const last = k === K;
      // [M, nH + 1]: (vW)_j for j < nH, then vᵀ(b − b_A).
      const vWaug: tf.Tensor2D = tf.matMul(v, Waug);
      const X = vWaug.dataSync();
      tf.dispose([vWaug, v]);
      for (let m = 0; m < M; m++) {
        const row = m * (nH + 1);
        let inc = dBeta * X[row + nH]; // (β_k − β_{k−1}) vᵀ(b − b_A)
        for (let j = 0; j < nH; j++) {
          const x = X[row + j] + c[j];
          const a = beta * x;
          // softplus(a) and σ(a) from one exp. In float64 the difference of the two softplus values
          // (large and nearly equal for small steps) keeps its digits.
          const e = Math.exp(-Math.abs(a));
          inc += (a > 0 ? a : 0) + Math.log1p(e) - softplus64(betaPrev * x);
          if (!last) {
            const pH = a >= 0 ? 1 / (1 + e) : e / (1 + e);
            // h_j ~ Bernoulli(σ(β_k x_j)), stored as β_k h_j so that the next matMul gives β_k W h.
            hScaled[m * nH + j] = rng.uniform() < pH ? beta : 0;
          }
        }
        logW[m] += inc;
      }
      if (!last) {
        // v ~ p_k(v | h) = σ((1 − β_k) b_A + β_k (b + W h)).
        for (let i = 0; i < nV; i++) biasK[i] = bA[i] + beta * bMinusBA[i];
        const hWT = tf.tidy(() => tf.matMul(tf.tensor2d(hScaled, [M, nH]), WT));
        const Y = hWT.dataSync();
        hWT.dispose();
        for (let m = 0; m < M; m++) {
          const row = m * nV;
          for (let i = 0; i < nV; i++) {
            vBuf[row + i] = rng.uniform() < 1 / (1 + Math.exp(-(biasK[i] + Y[row + i]))) ? 1 : 0;
          }
        }
        v = tf.tensor2d(vBuf, [M, nV]);
      }
      const now = performance.now();
      if (now - lastYield > 250) {
        bar?.tick(k - ticked);
        ticked = k;
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
  } finally {
    tf.dispose([Waug, WT]);
    if (!v.isDisposed) v.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  bar?.tick(K - ticked);
  bar?.done();
  return summarize(logW, logZBase, K, seconds);
}

/** Turns log weights into the estimate, its ±3σ band and the effective sample size. */
function summarize(logW: Float64Array, logZBase: number, K: number, seconds: number): AISResult {
  const M = logW.length;
  let max = -Infinity;
  for (const lw of logW) max = Math.max(max, lw);
  if (!Number.isFinite(max)) {
    throw new Error(`annealedLogZ: the importance weights are not finite (max log w = ${max}); the model's parameters are too extreme for this schedule.`);
  }
  let s1 = 0;
  let s2 = 0;
  for (const lw of logW) {
    const r = Math.exp(lw - max);
    s1 += r;
    s2 += r * r;
  }
  const mean = s1 / M;
  const std = M > 1 ? Math.sqrt(Math.max(0, (s2 - M * mean * mean) / (M - 1))) : Infinity;
  const se = std / Math.sqrt(M);
  const logZ = logZBase + max + Math.log(mean);
  return {
    logZ,
    logZLower: mean - 3 * se > 0 ? logZBase + max + Math.log(mean - 3 * se) : -Infinity,
    logZUpper: logZBase + max + Math.log(mean + 3 * se),
    logZStd: se / mean,
    logWeights: logW,
    ess: (s1 * s1) / s2,
    logZBase,
    runs: M,
    nBetas: K,
    seconds,
  };
}

/**
 * The schedule option of {@link AISOptions}: explicit betas (checked: 0 = β_0 ≤ … ≤ β_K = 1) or a
 * count K for {@link aisBetas}. For other annealers (lib/bounds.ts) that share the schedule.
 * @returns K + 1 values
 */
export function resolveBetas(schedule: ArrayLike<number> | number = SM_N_BETAS): Float64Array {
  return typeof schedule === "number" ? aisBetas(schedule) : checkBetas(schedule);
}

/**
 * An {@link AISResult} from AIS log weights computed elsewhere (lib/bounds.ts runs several bases in
 * one batch): log-mean-exp, its ±3σ band and the effective sample size, exactly as annealedLogZ.
 * @param logW log w of each run `[M]` (without log Z_A)
 */
export function aisSummary(logW: Float64Array, logZBase: number, nBetas: number, seconds: number): AISResult {
  return summarize(logW, logZBase, nBetas, seconds);
}

/** Result of {@link aisLogLikelihood}: average log p(v) of the data in nats per image. */
export interface AISLogLikelihood {
  /** −mean F(v) − logZ. */
  logLikelihood: number;
  /** −mean F(v) − logZUpper (the pessimistic end of the ±3σ band). */
  lower: number;
  /** −mean F(v) − logZLower (+Infinity when logZLower is −Infinity). */
  upper: number;
  /** mean F(v) over the data. */
  meanFreeEnergy: number;
  /** The AIS estimate used. */
  ais: AISResult;
}

/**
 * Average test log-likelihood (1/n) Σ log p(v) = −mean F(v) − log Z with log Z from AIS, and the band
 * from AIS's ±3σ band. Pass `{ ais }` to reuse an estimate of the same model; otherwise AIS runs
 * with `opts`. Remember that AIS tends to under-estimate log Z, which makes this number optimistic.
 * @param testData `[n, nVisible]`, binary (0/1): binarise grey-level images first
 */
export async function aisLogLikelihood(
  rbm: RBM,
  testData: VisibleData,
  opts: AISOptions | { ais: AISResult },
): Promise<AISLogLikelihood> {
  const what = "aisLogLikelihood";
  assertFiniteRBM(rbm);
  const { nVisible } = rbmSize(rbm);
  const { x } = visibleRows(testData, nVisible, what);
  assertBinary(x, what);
  const ais = "ais" in opts ? opts.ais : await annealedLogZ(rbm, opts);
  const F = meanFreeEnergy(rbm, testData);
  return {
    logLikelihood: -F - ais.logZ,
    lower: -F - ais.logZUpper,
    upper: -F - ais.logZLower,
    meanFreeEnergy: F,
    ais,
  };
}
