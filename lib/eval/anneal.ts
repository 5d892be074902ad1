/**
 * The annealing engine of AIS, RAISE and the model's long chains: block Gibbs on the path
 * p_β(v, h) ∝ exp(vᵀ((1 − β) b_A + β b) + β (hᵀc + vᵀWh)) of ais.ts, for many chains at once, each
 * chain with its own base b_A.
 *
 * It is written for the wasm backend: per temperature one matMul up
 * (`[R, nV]×[nV, nH]`, bias fused) and one down (`[R, nH+1+B]×[nH+1+B, nV]`, sigmoid fused, with
 * Wᵀ transposed once and the per-chain visible bias (1 − β) b_A + β b folded into extra rows);
 * everything elementwise (weight increments, hidden and visible samples) runs in float64 with
 * seeded uniforms. With native BLAS in use the products go straight to OpenBLAS on typed arrays
 * and the elementwise halves run in C; otherwise the products are tfjs matMuls read back outside
 * tidy and the halves run in JavaScript, on the same numbers. All chains of all bases share the matMuls.
 *
 * The schedule (Salakhutdinov & Murray's betas), the base-rate models and the summary of log weights
 * into an estimate with its band and effective sample size live here too, so that every annealer
 * reads them from one place.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeAnnealHidden, nativeGemm, nativeSampleVisible } from "../compute/blas";
import { sigmoid64, softplus64 } from "../core/numerics";
import type { Rng, Seed } from "../core/random";
import { type RBM, rbmSize } from "../core/rbm";
import { type VisibleData, visibleRows } from "../io/data";
import type { ProgressBar } from "../view/progress";
/**
 * Block Gibbs on the path p_β(v, h) ∝ exp(vᵀ((1 − β) b_A + β b) + β (hᵀc + vᵀWh)) of ais.ts,
 * for R chains at once, chain r with base b_A of index base[r]. TF.js does two matMuls per step;
 * the caller does the elementwise work on the read-back arrays.
 */
export class TemperedGibbs {
  readonly nV: number;
  readonly nH: number;
  /** Number of bases B. */
  readonly nB: number;
  /** Width of a down-pass row: β h (nH), β (1, multiplies b), (1 − β) at the chain's base (B). */
  readonly hCols: number;
  /** Visible bias b, float64. */
  readonly b: Float64Array;
  /** b − b_A for each base, float64 `[B][nV]`. */
  readonly bMinusBase: Float64Array[];
  private readonly W: tf.Tensor2D;
  private readonly c: tf.Tensor1D;
  /** `[nH + 1 + B, nV]`: Wᵀ, then b, then b_A of each base. */
  private readonly downMatrix: tf.Tensor2D;
  /** Row-major copies of W, c and downMatrix for the native path (read once, on first use). */
  private host?: { W: Float32Array; c: Float32Array; down: Float32Array };
  /** Output buffers of the native path, reused: up's `[rows, nH]`, the down pass's `[rows, nV]`. */
  private upOut = new Float32Array(0);
  private downOut = new Float32Array(0);

  constructor(rbm: RBM, bases: Float32Array[]) {
    const { nVisible, nHidden } = rbmSize(rbm);
    this.nV = nVisible;
    this.nH = nHidden;
    this.nB = bases.length;
    this.hCols = nHidden + 1 + bases.length;
    this.W = rbm.W;
    this.c = rbm.c;
    this.b = Float64Array.from(rbm.b.dataSync());
    this.bMinusBase = bases.map((bA) => this.b.map((bi, i) => bi - bA[i]));
    const rows = tf.tensor2d(Float32Array.from([...this.b, ...bases.flatMap((bA) => Array.from(bA))]), [1 + bases.length, nVisible]);
    // Wᵀ transposed once: a matMul with a transpose flag is ~10× slower on wasm.
    this.downMatrix = tf.tidy(() => tf.concat([tf.transpose(rbm.W), rows], 0)) as tf.Tensor2D;
    rows.dispose();
  }

  private hostCopies(): { W: Float32Array; c: Float32Array; down: Float32Array } {
    this.host ??= {
      W: this.W.dataSync() as Float32Array,
      c: this.c.dataSync() as Float32Array,
      down: this.downMatrix.dataSync() as Float32Array,
    };
    return this.host;
  }

  /**
   * The native path: `act(A·B + bias)` straight on OpenBLAS into a reused buffer, without creating
   * tensors or reading them back (per temperature that bookkeeping cost as much as the products).
   */
  private native(which: "up" | "probs" | "logits", A: Float32Array, rows: number): Float32Array | undefined {
    const up = which === "up";
    const n = up ? this.nH : this.nV;
    let out = up ? this.upOut : this.downOut;
    if (out.length < rows * n) out = new Float32Array(rows * n);
    const h = this.hostCopies();
    const ran = up
      ? nativeGemm(A, rows, this.nV, h.W, n, h.c, "linear", out)
      : nativeGemm(A, rows, this.hCols, h.down, n, null, which === "probs" ? "sigmoid" : "linear", out);
    if (!ran) return undefined;
    if (up) this.upOut = out;
    else this.downOut = out;
    return out.length === rows * n ? out : out.subarray(0, rows * n);
  }

  /** x = c + vW for `rows` rows of v `[rows, nV]` → `[rows, nH]`, valid until the next call of up. */
  up(v: Float32Array, rows: number): Float32Array {
    const fast = this.native("up", v, rows);
    if (fast) return fast;
    const vt = tf.tensor2d(v.subarray(0, rows * this.nV), [rows, this.nV]);
    const x = tf.fused.matMul({ a: vt, b: this.W, bias: this.c });
    const out = x.dataSync() as Float32Array; // read outside tidy: tidy walks returned typed arrays slowly
    tf.dispose([vt, x]);
    return out;
  }

  /**
   * p(v = 1 | h) at each chain's β: σ(β (b + W h) + (1 − β) b_A) from rows `[rows, hCols]` → `[rows, nV]`,
   * valid until the next call of visibleProbs or visibleLogits.
   */
  visibleProbs(hAug: Float32Array, rows: number): Float32Array {
    const fast = this.native("probs", hAug, rows);
    if (fast) return fast;
    const ht = tf.tensor2d(hAug.subarray(0, rows * this.hCols), [rows, this.hCols]);
    const p = tf.fused.matMul({ a: ht, b: this.downMatrix, activation: "sigmoid" });
    const out = p.dataSync() as Float32Array;
    tf.dispose([ht, p]);
    return out;
  }

  /** The logits of {@link visibleProbs}: β (b + W h) + (1 − β) b_A `[rows, nV]` (same lifetime). */
  visibleLogits(hAug: Float32Array, rows: number): Float32Array {
    const fast = this.native("logits", hAug, rows);
    if (fast) return fast;
    const ht = tf.tensor2d(hAug.subarray(0, rows * this.hCols), [rows, this.hCols]);
    const a = tf.matMul(ht, this.downMatrix);
    const out = a.dataSync() as Float32Array;
    tf.dispose([ht, a]);
    return out;
  }

  /** Writes the bias columns of row r of hAug for temperature β and base `base`. */
  setBiasColumns(hAug: Float32Array, r: number, beta: number, base: number): void {
    const off = r * this.hCols + this.nH;
    hAug[off] = beta;
    for (let k = 0; k < this.nB; k++) hAug[off + 1 + k] = k === base ? 1 - beta : 0;
  }

  dispose(): void {
    this.downMatrix.dispose();
  }
}

/** Which β the hidden units are sampled at in {@link annealHidden}: none, βHi or βLo. */
export type SampleAt = 0 | 1 | 2;

export const SAMPLE_NONE: SampleAt = 0;

export const SAMPLE_HIGH: SampleAt = 1;

export const SAMPLE_LOW: SampleAt = 2;

/**
 * The hidden half of an annealing step, for rows of x = c + vW `[rows, nH]`:
 *   inc[r] += Σ_j softplus(βHi x_j) − softplus(βLo x_j)   (= log f_hi(v) − log f_lo(v) minus its linear part)
 * computed as log1p(σ(βLo x)·expm1(Δβ x)), which keeps its digits for small steps, and, unless
 * `at` is None, h_j ~ Bernoulli(σ(β x_j)) at β = βHi or βLo, stored as β h_j in hAug.
 * With the native addon in use the same loop runs in C (compute/blas.ts) on the same generator
 * stream: the same uniforms, and the same float64 arithmetic up to the last bit of exp/log1p.
 */
export function annealHidden(
  X: Float32Array,
  rows: number,
  nH: number,
  hCols: number,
  betaHi: number,
  betaLo: number,
  at: SampleAt,
  inc: Float64Array,
  hAug: Float32Array,
  rng: Rng,
): void {
  let ran = false;
  rng.advanceWith((state) => {
    ran = nativeAnnealHidden(X, rows, nH, hCols, betaHi, betaLo, at, inc, hAug, state);
  });
  if (ran) return;
  const dBeta = betaHi - betaLo;
  const betaS = at === SAMPLE_HIGH ? betaHi : betaLo;
  for (let r = 0; r < rows; r++) {
    const xo = r * nH;
    const ho = r * hCols;
    let s = 0;
    for (let j = 0; j < nH; j++) {
      const x = X[xo + j];
      const aLo = betaLo * x;
      const d = dBeta * x;
      let p: number;
      if (d > -1 && d < 1) {
        const e = Math.exp(-Math.abs(aLo));
        const sLo = aLo >= 0 ? 1 / (1 + e) : e / (1 + e); // σ(βLo x)
        // expm1 and log1p by their Taylor series when the argument is below 0.01 (truncation
        // < 1e-16 relative), as it is for almost every unit at S&M's step sizes: 2× faster.
        const em = d > -0.01 && d < 0.01 ? d * (1 + d * (1 / 2 + d * (1 / 6 + d * (1 / 24 + d * (1 / 120 + d / 720))))) : Math.expm1(d);
        const z = sLo * em;
        s +=
          z > -0.01 && z < 0.01
            ? z * (1 - z * (1 / 2 - z * (1 / 3 - z * (1 / 4 - z * (1 / 5 - z * (1 / 6 - z * (1 / 7 - z / 8)))))))
            : Math.log1p(z);
        p = at === SAMPLE_HIGH ? (sLo * (1 + em)) / (1 + z) : sLo; // σ(βHi x) = σ(βLo x) e^d / (1 + z)
      } else {
        s += softplus64(betaHi * x) - softplus64(aLo);
        p = sigmoid64(betaS * x);
      }
      if (at !== SAMPLE_NONE) hAug[ho + j] = rng.uniform() < p ? betaS : 0;
    }
    inc[r] += s;
  }
}

/**
 * The visible half: v_i ~ Bernoulli(P_i) for rows of P `[rows, nV]`, written into v, and
 * acc[r] = Σ_i v_i coef[r]_i (the linear part of the next weight increment, or vᵀb), in float64.
 */
export function sampleVisible(
  P: Float32Array,
  rows: number,
  nV: number,
  v: Float32Array,
  coef: Float64Array[],
  acc: Float64Array,
  rng: Rng,
): void {
  let ran = false;
  rng.advanceWith((state) => {
    ran = nativeSampleVisible(P, rows, nV, v, coef, acc, state);
  });
  if (ran) return;
  for (let r = 0; r < rows; r++) {
    const o = r * nV;
    const w = coef[r];
    let s = 0;
    for (let i = 0; i < nV; i++) {
      if (rng.uniform() < P[o + i]) {
        v[o + i] = 1;
        s += w[i];
      } else {
        v[o + i] = 0;
      }
    }
    acc[r] = s;
  }
}

/** log Z_A = Σ_i softplus(b_A,i) + nHidden · log 2 of a base-rate model. */
export function baseLogZ(bA: Float32Array, nHidden: number): number {
  let s = nHidden * Math.LN2;
  for (let i = 0; i < bA.length; i++) s += softplus64(bA[i]);
  return s;
}

/** A base-rate model for AIS or RAISE: its name and visible bias b_A `[nVisible]`. */
export interface AISBase {
  name: string;
  visibleBias: Float32Array;
}

/** Options for {@link annealedLogZBases} and {@link raiseLogZ}. */
export interface AnnealOptions {
  /** Seed of all the runs. */
  seed: Seed;
  /** AIS: runs M per base (default 100). RAISE: reverse runs per test vector (default 1). */
  runs?: number;
  /** Explicit betas 0 = β_0 ≤ … ≤ β_K = 1 or a count K for aisBetas. Default 14,500 (S&M). */
  betas?: ArrayLike<number> | number;
  /** Show a progress bar (true, default), none (false), or drive your own. */
  progress?: boolean | ProgressBar;
}

export function checkBases(bases: AISBase[], nV: number, what: string): void {
  if (bases.length < 1) throw new Error(`${what}: give at least one base.`);
  for (const base of bases) {
    if (base.visibleBias.length !== nV || !base.visibleBias.every((z) => Number.isFinite(z))) {
      throw new Error(
        `${what}: base "${base.name}" must have ${nV} finite visible biases (nVisible), got ${base.visibleBias.length} values.`,
      );
    }
  }
}

export function checkRuns(runs: number, what: string): number {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`${what}: runs must be an integer ≥ 1, got ${runs}.`);
  return runs;
}

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
  if (!Number.isInteger(K) || K < 1)
    throw new Error(`aisBetas: the number of intermediate distributions must be an integer ≥ 1, got ${K}.`);
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

export function checkBetas(betas: ArrayLike<number>): Float64Array {
  const b = Float64Array.from(betas);
  if (b.length < 2 || b[0] !== 0 || b[b.length - 1] !== 1) {
    throw new Error(
      `annealedLogZ: betas must start at 0 and end at 1 with at least 2 values; got ${b.length} values from ${b[0]} to ${b[b.length - 1]}.`,
    );
  }
  for (let k = 1; k < b.length; k++) {
    if (!(b[k] >= b[k - 1]))
      throw new Error(`annealedLogZ: betas must be non-decreasing numbers; β[${k}] = ${b[k]} after β[${k - 1}] = ${b[k - 1]}.`);
  }
  return b;
}

/**
 * The schedule option of {@link AISOptions}: explicit betas (checked: 0 = β_0 ≤ … ≤ β_K = 1) or a
 * count K for {@link aisBetas}. For the annealers (AIS, RAISE) that share the schedule.
 * @returns K + 1 values
 */
export function resolveBetas(schedule: ArrayLike<number> | number = SM_N_BETAS): Float64Array {
  return typeof schedule === "number" ? aisBetas(schedule) : checkBetas(schedule);
}

/**
 * An {@link AISResult} from the log weights of AIS runs `[M]` (without log Z_A): log-mean-exp, its
 * ±3σ band and the effective sample size.
 */
export function aisSummary(logW: Float64Array, logZBase: number, K: number, seconds: number): AISResult {
  const M = logW.length;
  let max = -Infinity;
  for (const lw of logW) max = Math.max(max, lw);
  if (!Number.isFinite(max)) {
    throw new Error(
      `annealedLogZ: the importance weights are not finite (max log w = ${max}); the model's parameters are too extreme for this schedule.`,
    );
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
