/**
 * AIS (Salakhutdinov & Murray 2008) for the Gaussian–Bernoulli RBM of core/gaussian.ts, on the
 * annealing engine of anneal.ts (its schedule, its hidden half and its summary of the log weights).
 *
 * The path scales the coupling and the hidden bias, keeping the Gaussian part:
 *   p_β(v, h) ∝ exp(−Σ_i (v_i − b_i)²/(2σ_i²) + β (cᵀh + (v/σ²)ᵀ W h))
 * At β = 0 the units are independent — v ~ N(b, σ²), h uniform — so log Z_0 = Σ_i ½ log(2π σ_i²) +
 * nHidden log 2; at β = 1 it is the model. The unnormalised marginal is
 *   f_β(v) = exp(−Σ_i (v_i − b_i)²/(2σ_i²)) Π_j (1 + exp(β x_j)),   x = c + (v/σ²) W,
 * so each step's log weight is Σ_j softplus(β_k x_j) − softplus(β_{k−1} x_j): exactly the hidden
 * half of the binary engine. Its transition is h ~ σ(β_k x), then v ~ N(b + β_k W h, σ²).
 *
 * RAISE (Burda, Grosse & Salakhutdinov 2015; raise.ts for binary units) runs the same transitions
 * downwards from each test vector, v at β = 1 to the base at β = 0, and gives a stochastic LOWER
 * bound on the log-density of the forward AIS model: with AIS's estimate plus its Markov margin it
 * brackets the test log-likelihood (the trust bracket of eval/trust.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { assertFiniteGaussianRBM, type GaussianRBM, gaussianSize, visibleSigma } from "../core/gaussian";
import { gaussianMeanFreeEnergy } from "../core/gaussian-exact";
import { assertSeed, type Rng, toRng } from "../core/random";
import { barFor, Pacer } from "../view/progress";
import {
  type AISResult,
  type AnnealOptions,
  aisSummary,
  annealHidden,
  checkRuns,
  resolveBetas,
  SAMPLE_HIGH,
  SAMPLE_LOW,
  SAMPLE_NONE,
} from "./anneal";
import { type RAISEOptions, type RAISEResult, raiseRows, raiseSummary } from "./raise";

/**
 * Estimates log Z of a Gaussian–Bernoulli RBM by AIS (see the file comment). M runs (`runs`,
 * default 100) share one matMul up `[M, nV]×[nV, nH]` and one down `[M, nH]×[nH, nV]` per
 * temperature; the rest is float64 JS with seeded draws. The result has the ±3σ band and the
 * effective sample size of the binary AIS (AISResult).
 */
export async function gaussianAnnealedLogZ(m: GaussianRBM, opts: AnnealOptions): Promise<AISResult> {
  const what = "gaussianAnnealedLogZ";
  assertFiniteGaussianRBM(m, what);
  assertSeed(opts.seed, what);
  const { nVisible: nV, nHidden: nH } = gaussianSize(m);
  const M = checkRuns(opts.runs ?? 100, what);
  const betas = resolveBetas(opts.betas);
  const K = betas.length - 1;
  const rng = toRng(opts.seed, what);
  const b = m.b.dataSync();
  const path = new GaussianPath(m, M);
  const { sd } = path;
  const v = new Float32Array(M * nV);
  for (let r = 0; r < M; r++) for (let i = 0; i < nV; i++) v[r * nV + i] = b[i] + sd[i] * rng.normal();
  const hAug = new Float32Array(M * nH);
  const logW = new Float64Array(M);
  const inc = new Float64Array(M);
  const bar = barFor(opts.progress, K, `Gaussian AIS × ${M} runs`, "β");
  const pacer = new Pacer(bar, 250, what, "temperatures");
  const t0 = performance.now();
  try {
    for (let k = 1; k <= K; k++) {
      const last = k === K;
      const X = path.up(v);
      inc.fill(0);
      annealHidden(X, M, nH, nH, betas[k], betas[k - 1], last ? SAMPLE_NONE : SAMPLE_HIGH, inc, hAug, rng);
      for (let r = 0; r < M; r++) logW[r] += inc[r];
      if (!last) {
        path.sampleVisible(hAug, v, rng);
      }
      await pacer.step(k);
    }
  } finally {
    path.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  pacer.finish(K);
  return aisSummary(logW, baseLogZ(sd, nH), K, seconds);
}

/** log Z_0 = Σ_i ½ log(2π σ_i²) + nHidden log 2 of the path's base (v ~ N(b, σ²), h uniform). */
function baseLogZ(sd: Float32Array, nH: number): number {
  let logZ0 = nH * Math.LN2;
  for (let i = 0; i < sd.length; i++) logZ0 += Math.log(sd[i]) + 0.5 * Math.log(2 * Math.PI);
  return logZ0;
}

/**
 * RAISE for a Gaussian–Bernoulli RBM (see the file comment): each of `vectors` test rows (a seeded
 * subset; default all) is annealed from the model down to the base with `runs` reverse runs (default
 * 1), accumulating S = Σ_k [log f_{k+1}(x_k) − log f_k(x_k)]. The result's `logLikelihood` is the
 * conservative mean test log-density −mean F − mean ℓ_v over all rows, and `lower` that less 3
 * standard errors; `base` is "gaussian".
 * @param x row-major `[n, nVisible]`, in the units the model was trained on
 */
export async function gaussianRaiseLogLikelihood(m: GaussianRBM, x: Float32Array, opts: RAISEOptions): Promise<RAISEResult> {
  const what = "gaussianRaiseLogLikelihood";
  assertFiniteGaussianRBM(m, what);
  assertSeed(opts.seed, what);
  const { nVisible: nV, nHidden: nH } = gaussianSize(m);
  if (x.length === 0 || x.length % nV !== 0) throw new Error(`${what}: x holds ${x.length} values, not rows of nVisible = ${nV}.`);
  const n = x.length / nV;
  if (!x.every((z) => Number.isFinite(z))) throw new Error(`${what}: x holds NaN or ±Infinity; every value must be finite.`);
  const runs = checkRuns(opts.runs ?? 1, what);
  const betas = resolveBetas(opts.betas);
  const K = betas.length - 1;
  const rng = toRng(opts.seed, what);
  const rows = raiseRows(n, opts.vectors, rng, what);
  const R = rows.length * runs;
  const path = new GaussianPath(m, R);
  const v = new Float32Array(R * nV);
  for (let r = 0; r < R; r++) {
    const t = rows[Math.floor(r / runs)];
    v.set(x.subarray(t * nV, (t + 1) * nV), r * nV);
  }
  const hAug = new Float32Array(R * nH);
  const S = new Float64Array(R);
  const noInc = new Float64Array(R);
  const bar = barFor(opts.progress, K + 1, `Gaussian RAISE × ${rows.length} vectors${runs > 1 ? ` × ${runs}` : ""}`, "β");
  const pacer = new Pacer(bar, 250, what, "temperatures");
  const t0 = performance.now();
  try {
    // x_K = v; x_{K−1} ~ T_K(· | v) at β = 1.
    annealHidden(path.up(v), R, nH, nH, 1, 1, SAMPLE_HIGH, noInc, hAug, rng);
    path.sampleVisible(hAug, v, rng);
    for (let k = K - 1; k >= 0; k--) {
      // State x_k: S += log f_{k+1}(x_k) − log f_k(x_k); then (k ≥ 1) x_{k−1} ~ T_k(· | x_k) at β_k.
      annealHidden(path.up(v), R, nH, nH, betas[k + 1], betas[k], k >= 1 ? SAMPLE_LOW : SAMPLE_NONE, S, hAug, rng);
      if (k >= 1) path.sampleVisible(hAug, v, rng);
      await pacer.step(K + 1 - k);
    }
  } finally {
    path.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  pacer.finish(K + 1);
  const meanF = gaussianMeanFreeEnergy(m, x);
  return { ...raiseSummary(S, runs, baseLogZ(path.sd, nH), meanF), base: "gaussian", rows, nBetas: K, seconds };
}

/**
 * The two products of a step on the Gaussian path for R chains, shared by AIS and RAISE: the hidden
 * input c + v (W/σ²) (1/σ² folded into W once) and a visible draw v ~ N(b + W hAug, σ²), where hAug
 * holds β h of the temperature the hidden units were drawn at. Dispose when done.
 */
class GaussianPath {
  /** σ_i of every visible unit. */
  readonly sd: Float32Array;
  private readonly Wp: tf.Tensor2D;
  private readonly WT: tf.Tensor2D;

  constructor(
    private readonly m: GaussianRBM,
    private readonly R: number,
  ) {
    this.sd = visibleSigma(m);
    this.Wp = tf.tidy(() => tf.mul(m.W, tf.expandDims(tf.exp(tf.neg(m.logVar)), 1))) as tf.Tensor2D;
    this.WT = tf.transpose(m.W) as tf.Tensor2D;
  }

  /** x = c + v (W/σ²) `[R, nH]` (a fresh array). */
  up(v: Float32Array): Float32Array {
    return affineRows(v, this.R, this.m.W.shape[0], this.Wp, this.m.c);
  }

  /** v ← a draw from N(b + W hAug, σ²), the normals from `rng`. */
  sampleVisible(hAug: Float32Array, v: Float32Array, rng: Rng): void {
    const nV = this.m.W.shape[0];
    const mean = affineRows(hAug, this.R, this.m.W.shape[1], this.WT, this.m.b);
    for (let q = 0; q < this.R * nV; q++) v[q] = mean[q] + this.sd[q % nV] * rng.normal();
  }

  dispose(): void {
    tf.dispose([this.Wp, this.WT]);
  }
}

/** x A + bias for `rows` rows of x (row-major, `[rows, nIn]`) → `[rows, nOut]` (a fresh array): the up pass c + v (W/σ²) and the down pass b + h Wᵀ. */
function affineRows(x: Float32Array, rows: number, nIn: number, A: tf.Tensor2D, bias: tf.Tensor1D): Float32Array {
  const xt = tf.tensor2d(x, [rows, nIn]);
  const y = tf.fused.matMul({ a: xt, b: A, bias });
  const out = y.dataSync() as Float32Array;
  tf.dispose([xt, y]);
  return out;
}

/** Result of {@link gaussianAisLogLikelihood}: mean log-density of the rows (nats per image). */
export interface GaussianAISLogLikelihood {
  /** −mean F(v) − logZ. */
  logLikelihood: number;
  /** −mean F(v) − logZUpper (the pessimistic end of the ±3σ band). */
  lower: number;
  /** −mean F(v) − logZLower. */
  upper: number;
  /** mean F(v). */
  meanFreeEnergy: number;
  ais: AISResult;
}

/**
 * Mean log-density (1/n) Σ log p(v) = −mean F(v) − log Z of real-valued rows, log Z by AIS (or pass
 * `{ ais }` to reuse an estimate of the same model). As for binary units, AIS tends to under-estimate
 * log Z, which makes this number optimistic; check it against the exact value on a model with few
 * hidden units (gaussianExactLogZ).
 * @param x row-major `[n, nVisible]`, in the units the model was trained on
 */
export async function gaussianAisLogLikelihood(
  m: GaussianRBM,
  x: Float32Array,
  opts: AnnealOptions | { ais: AISResult },
): Promise<GaussianAISLogLikelihood> {
  const ais = "ais" in opts ? opts.ais : await gaussianAnnealedLogZ(m, opts);
  const F = gaussianMeanFreeEnergy(m, x);
  return { logLikelihood: -F - ais.logZ, lower: -F - ais.logZUpper, upper: -F - ais.logZLower, meanFreeEnergy: F, ais };
}
