/**
 * A test log-likelihood you can trust: AIS from two bases, a guaranteed bound and a conservative
 * estimate, so that a number comes with a bracket and a warning when the estimates contradict
 * each other.
 *
 * Why AIS alone can fool you. AIS (ais.ts) estimates Z without bias, so log Ẑ is a stochastic LOWER
 * bound on log Z (Jensen), and the log-likelihood −F̄ − log Ẑ errs on the optimistic side. When the
 * annealing path never reaches a mode of the model, no run ever carries that mode's weight: log Ẑ
 * misses its mass entirely, the runs agree with each other, and the ±3σ band is narrow around a
 * wrong number. Nothing inside one AIS run can reveal this. Four things here can:
 *
 * 1. Two bases (S&M §4 use the first). The *data base* p_A(v) = Π σ(b_A,i) with b_A from the
 *    pixel means of the training data; the *model-sample base* with b_A from the pixel means
 *    of long Gibbs chains of the model itself ({@link sampleModel}: half the chains start at
 *    training rows, half at uniform noise). A mode the chains found is in the second base's
 *    pixel statistics, so its AIS runs start near it. Both are estimated in one batch
 *    ({@link annealedLogZBases}).
 *
 * 2. A guaranteed lower bound on log Z ({@link hardLogZLowerBound}): for ANY set S of distinct
 *    visible vectors, Z = Σ_v exp(−F(v)) ≥ Σ_{v∈S} exp(−F(v)). With S the distinct states visited
 *    by the model's chains plus the training and test data (binary, deduplicated by their bit
 *    patterns), log Z ≥ LSE_S(−F), hence the average test log-likelihood is at most
 *    −F̄ − LSE_S(−F): a guaranteed UPPER bound (up to float32 rounding of vW, ~1e-4 nats). Alone it
 *    is loose for big models (it misses the model's entropy), so the same is done with the distinct
 *    HIDDEN states (exp(−G(h)) sums the visible units out exactly), and with mean field
 *    ({@link meanFieldLogZLower}: log Z ≥ μᵀb + Σ_j softplus(c_j + μᵀW_j) + H(μ) for any μ), which
 *    counts the entropy and is often within a few nats. The largest of the three is the bound; an
 *    AIS log Ẑ below it is certainly wrong.
 *
 * 3. RAISE, reverse annealing (Burda, Grosse & Salakhutdinov 2015): the forward AIS chain
 *    v_0 ~ p_0, v_k ~ T_k(· | v_{k−1}), k = 1 … K, is itself a generative model p_fwd(v_K) that
 *    tends to the RBM as the schedule gets finer. For a test vector v, start at x_K = v and run the
 *    same Gibbs transitions downwards, x_{k−1} ~ T_k(· | x_k) for k = K … 1 (they are reversible
 *    with respect to p_k, so they are their own reverse kernels). The importance weight of this
 *    reverse proposal against the forward model is
 *
 *      w = p_0(x_0) Π_k T_k(x_k | x_{k−1}) / Π_k T_k(x_{k−1} | x_k)
 *        = exp(−F(v)) / Z_0 · exp(−Σ_{k=0}^{K−1} [log f_{k+1}(x_k) − log f_k(x_k)]),
 *
 *    with f_k = p*_k the unnormalised marginals of ais.ts, and E[w] = p_fwd(v) exactly. So
 *    log w is a stochastic LOWER bound on log p_fwd(v). Written as log Z: ℓ_v = −F(v) − log w
 *    = log Z_0 + Σ_k [log f_{k+1}(x_k) − log f_k(x_k)] is a stochastic UPPER bound on the
 *    "log Z" that p_fwd implies at v, erring on the side opposite to AIS: the two sandwich log Z
 *    when p_fwd ≈ p. Caveat: it bounds the log-likelihood of p_fwd, not of the RBM. p_fwd is
 *    usually a blurred version of the RBM that puts less mass on test digits (RAISE is
 *    conservative in practice), but not when its path misses a mode or splits between modes in
 *    the wrong proportions: then p_fwd puts too much mass where the test digits are, and RAISE is
 *    as optimistic as AIS. We take the smaller RAISE value over the two bases, minus 3 standard
 *    errors; when even that contradicts AIS, the bracket's lower end falls back to AIS's band.
 *
 * 4. A diagnosis ({@link trustworthyLogLikelihood}): the AIS estimates of the bases must agree
 *    within their bands, no estimate may fall below the guaranteed bound, and RAISE's
 *    log-likelihood must not be above AIS's (its log Z not below). Otherwise a warning says which
 *    number to trust and why. The rule is always the same: every method here under-estimates
 *    log Z when it misses mass, so the largest credible log Z (the lowest log-likelihood) is the
 *    one to trust.
 *
 * The annealers share one engine, written for the wasm backend: per temperature one matMul up
 * (`[R, nV]×[nV, nH]`, bias fused) and one down (`[R, nH+1+B]×[nH+1+B, nV]`, sigmoid fused, with
 * Wᵀ transposed once and the per-chain visible bias (1 − β) b_A + β b folded into extra rows),
 * read back outside tidy; everything elementwise (weight increments, hidden and visible samples)
 * runs in float64 JavaScript with seeded uniforms. All chains of all bases share the matMuls.
 */
import * as tf from "@tensorflow/tfjs";
import { meanFreeEnergy } from "./metrics";
import { baseRateVisibleBias, AISResult, resolveBetas, aisSummary } from "./ais";
import { ProgressBar, yieldToEventLoop, barFor } from "../view/progress";
import { permutation, VisibleData, visibleRows, assertBinary } from "../io/data";
import { RBM, rbmSize, assertFiniteRBM } from "../core/rbm";
import { Rng, Seed, toRng } from "../core/random";
import { log1pUnit, logSumExp, sigmoid64, softplus64 } from "../core/numerics";
// ---------------------------------------------------------------------------------------------
// The engine: block Gibbs on the annealing path, many chains (each with its own base) at once



/** Ticks a bar and yields to the event loop at most every 250 ms. */
class Pacer {
  private last = performance.now();
  private ticked = 0;
  constructor(private readonly bar: ProgressBar | undefined) {}
  async step(done: number): Promise<void> {
    const now = performance.now();
    if (now - this.last < 250) return;
    this.bar?.tick(done - this.ticked);
    this.ticked = done;
    await yieldToEventLoop();
    this.last = performance.now();
  }
  finish(total: number): void {
    this.bar?.tick(total - this.ticked);
    this.bar?.done();
  }
}

/**
 * Block Gibbs on the path p_β(v, h) ∝ exp(vᵀ((1 − β) b_A + β b) + β (hᵀc + vᵀWh)) of ais.ts,
 * for R chains at once, chain r with base b_A of index base[r]. TF.js does two matMuls per step;
 * the caller does the elementwise work on the read-back arrays.
 */
class TemperedGibbs {
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

  /** x = c + vW for `rows` rows of v `[rows, nV]` → `[rows, nH]` (a fresh array). */
  up(v: Float32Array, rows: number): Float32Array {
    const vt = tf.tensor2d(v.subarray(0, rows * this.nV), [rows, this.nV]);
    const x = tf.fused.matMul({ a: vt, b: this.W, bias: this.c });
    const out = x.dataSync() as Float32Array; // read outside tidy: tidy walks returned typed arrays slowly
    tf.dispose([vt, x]);
    return out;
  }

  /** p(v = 1 | h) at each chain's β: σ(β (b + W h) + (1 − β) b_A) from rows `[rows, hCols]` → `[rows, nV]`. */
  visibleProbs(hAug: Float32Array, rows: number): Float32Array {
    const ht = tf.tensor2d(hAug.subarray(0, rows * this.hCols), [rows, this.hCols]);
    const p = tf.fused.matMul({ a: ht, b: this.downMatrix, activation: "sigmoid" });
    const out = p.dataSync() as Float32Array;
    tf.dispose([ht, p]);
    return out;
  }

  /** The logits of {@link visibleProbs}: β (b + W h) + (1 − β) b_A `[rows, nV]`. */
  visibleLogits(hAug: Float32Array, rows: number): Float32Array {
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
type SampleAt = 0 | 1 | 2;
const SAMPLE_NONE: SampleAt = 0;
const SAMPLE_HIGH: SampleAt = 1;
const SAMPLE_LOW: SampleAt = 2;

/**
 * The hidden half of an annealing step, for rows of x = c + vW `[rows, nH]`:
 *   inc[r] += Σ_j softplus(βHi x_j) − softplus(βLo x_j)   (= log f_hi(v) − log f_lo(v) minus its linear part)
 * computed as log1p(σ(βLo x)·expm1(Δβ x)), which keeps its digits for small steps, and, unless
 * `at` is None, h_j ~ Bernoulli(σ(β x_j)) at β = βHi or βLo, stored as β h_j in hAug.
 */
function annealHidden(
  X: Float32Array, rows: number, nH: number, hCols: number,
  betaHi: number, betaLo: number, at: SampleAt, inc: Float64Array, hAug: Float32Array, rng: Rng,
): void {
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
        s += z > -0.01 && z < 0.01 ? z * (1 - z * (1 / 2 - z * (1 / 3 - z * (1 / 4 - z * (1 / 5 - z * (1 / 6 - z * (1 / 7 - z / 8))))))) : Math.log1p(z);
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
function sampleVisible(P: Float32Array, rows: number, nV: number, v: Float32Array, coef: Float64Array[], acc: Float64Array, rng: Rng): void {
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

/** Σ_i v_i w_i for row r of v (v binary or not). */
function dotRow(v: Float32Array, r: number, nV: number, w: Float64Array): number {
  let s = 0;
  const o = r * nV;
  for (let i = 0; i < nV; i++) if (v[o + i] !== 0) s += v[o + i] * w[i];
  return s;
}

/** log Z_A = Σ_i softplus(b_A,i) + nHidden · log 2 of a base-rate model. */
function baseLogZ(bA: Float32Array, nHidden: number): number {
  let s = nHidden * Math.LN2;
  for (let i = 0; i < bA.length; i++) s += softplus64(bA[i]);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Distinct visited states and the guaranteed lower bound on log Z

/**
 * Distinct binary vectors (visible or hidden) with their log-weights −F(v) or −G(h), deduplicated
 * by their exact bit patterns (16 bits per character of a Map key: a hash without collisions).
 */
export class VisitedStates {
  private readonly logWeight = new Map<string, number>();

  /** @param nUnits length of each vector */
  constructor(readonly nUnits: number) {}

  /** Number of distinct vectors. */
  get size(): number {
    return this.logWeight.size;
  }

  /**
   * Adds row `r` of x `[*, stride]` (its first nUnits values, binary) with its log-weight; a vector
   * seen before is ignored.
   * @returns whether the vector was new
   */
  add(x: Float32Array, r: number, logWeight: number, stride = this.nUnits): boolean {
    const key = bitKey(x, r * stride, this.nUnits);
    if (this.logWeight.has(key)) return false;
    this.logWeight.set(key, logWeight);
    return true;
  }

  /** log Σ exp(log-weight) over the distinct vectors (−Infinity when empty): a lower bound on log Z. */
  logSumExp(): number {
    return logSumExp(Array.from(this.logWeight.values()));
  }

  /** The largest log-weight seen (−Infinity when empty). */
  max(): number {
    let m = -Infinity;
    for (const x of this.logWeight.values()) if (x > m) m = x;
    return m;
  }

  /** A copy (to add more states without changing this set). */
  clone(): VisitedStates {
    const out = new VisitedStates(this.nUnits);
    for (const [k, x] of this.logWeight) out.logWeight.set(k, x);
    return out;
  }
}

/** The bits of x[off … off + n) packed 16 per UTF-16 code unit. */
function bitKey(x: Float32Array, off: number, n: number): string {
  const codes: number[] = [];
  for (let i = 0; i < n; i += 16) {
    let w = 0;
    const end = Math.min(16, n - i);
    for (let k = 0; k < end; k++) if (x[off + i + k] !== 0) w |= 1 << k;
    codes.push(w);
  }
  return String.fromCharCode(...codes);
}

/**
 * −F(v) = vᵀb + Σ_j softplus(c_j + (vW)_j) for binary rows, in float64 but for the float32 matMul.
 * @param v rows `[n, nVisible]` @returns `[n]`
 */
export function negFreeEnergies(rbm: RBM, v: Float32Array, batchSize = 1000): Float64Array {
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  return dualNegFreeEnergies(v, nV, nH, rbm.W, Float64Array.from(rbm.b.dataSync()), Float64Array.from(rbm.c.dataSync()), batchSize);
}

/**
 * −G(h) = hᵀc + Σ_i softplus(b_i + (Wh)_i) for binary hidden rows: the visible units summed out
 * exactly (exp(−G(h)) = Σ_v exp(−E(v, h))), in float64 but for the float32 matMul.
 * @param h rows `[n, nHidden]` @returns `[n]`
 */
export function negHiddenFreeEnergies(rbm: RBM, h: Float32Array, batchSize = 1000): Float64Array {
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const WT = tf.transpose(rbm.W) as tf.Tensor2D; // once: a transposed-operand matMul is ~10× slower on wasm
  try {
    return dualNegFreeEnergies(h, nH, nV, WT, Float64Array.from(rbm.c.dataSync()), Float64Array.from(rbm.b.dataSync()), batchSize);
  } finally {
    WT.dispose();
  }
}

/** Σ_a x_a own_a + Σ_o softplus(other_o + (x A)_o) for rows x `[n, nIn]`, A `[nIn, nOut]`. */
function dualNegFreeEnergies(
  x: Float32Array, nIn: number, nOut: number, A: tf.Tensor2D, own: Float64Array, other: Float64Array, batchSize: number,
): Float64Array {
  const n = x.length / nIn;
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const rows = x.subarray(start * nIn, (start + size) * nIn);
    const xt = tf.tensor2d(rows, [size, nIn]);
    const xA = tf.matMul(xt, A);
    const Y = xA.dataSync();
    tf.dispose([xt, xA]);
    for (let r = 0; r < size; r++) {
      let s = dotRow(rows, r, nIn, own);
      for (let o = 0; o < nOut; o++) s += softplus64(Y[r * nOut + o] + other[o]);
      out[start + r] = s;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Long Gibbs chains of the model: the model-sample base and visited states

/** Options for {@link sampleModel}. */
export interface ModelSamplesOptions {
  /** Seed of the chains. */
  seed: Seed;
  /** Number of chains. Default 100. */
  chains?: number;
  /** Gibbs steps v → h → v per chain. Default 1,000. */
  steps?: number;
  /** Steps left out of the pixel means (every state counts for the visited sets). Default steps / 2. */
  burnIn?: number;
  /**
   * Binary rows `[n, nVisible]`: the first half of the chains start at rows of it (spread evenly
   * over the rows), the other half at uniform noise p(v_i = 1) = 0.5. Without data every chain
   * starts at noise.
   */
  data?: VisibleData;
  /** Show a progress bar (true, default), none (false), or drive your own. */
  progress?: boolean | ProgressBar;
}

/** Result of {@link sampleModel}. */
export interface ModelSamples {
  /** Mean of p(v_i = 1 | h) over chains and steps after burn-in `[nVisible]`. */
  pixelMeans: Float64Array;
  /** The model-sample base: b_A,i = log(p̄_i / (1 − p̄_i)) of pixelMeans, clamped as baseRateVisibleBias `[nVisible]`. */
  visibleBias: Float32Array;
  /** Every distinct visible state of every chain (starts and ends included) with its −F(v). */
  visitedVisible: VisitedStates;
  /** Every distinct hidden state sampled by every chain with its −G(h). */
  visitedHidden: VisitedStates;
  /** Final binary visible states `[chains, nVisible]`. */
  final: Float32Array;
  /** Number of chains, steps and burn-in used. */
  chains: number;
  steps: number;
  burnIn: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/**
 * Runs long block-Gibbs chains of the model itself, half from data rows and half from noise (see
 * {@link ModelSamplesOptions}), records every distinct visible state with −F(v) and every distinct
 * hidden state with −G(h), and averages p(v|h) after burn-in. Chains from noise find modes that
 * chains from the data cannot reach. Cost per step about one AIS temperature with `chains` runs.
 * Frees every tensor it makes.
 */
export async function sampleModel(rbm: RBM, opts: ModelSamplesOptions): Promise<ModelSamples> {
  const what = "sampleModel";
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const R = opts.chains ?? 100;
  const steps = opts.steps ?? 1000;
  const burnIn = opts.burnIn ?? Math.floor(steps / 2);
  if (!Number.isInteger(R) || R < 1) throw new Error(`${what}: chains must be an integer ≥ 1, got ${R}.`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${what}: steps must be an integer ≥ 1, got ${steps}.`);
  if (!Number.isInteger(burnIn) || burnIn < 0 || burnIn >= steps) {
    throw new Error(`${what}: burnIn must be an integer in [0, steps) = [0, ${steps}), got ${burnIn}.`);
  }
  let data: Float32Array | undefined;
  let nData = 0;
  if (opts.data !== undefined) {
    const d = visibleRows(opts.data, nV, what);
    assertBinary(d.x, what);
    data = d.x;
    nData = d.n;
  }
  const rng = toRng(opts.seed);
  const g = new TemperedGibbs(rbm, []);
  const c = Float64Array.from(rbm.c.dataSync());
  const v = new Float32Array(R * nV);
  const vb = new Float64Array(R); // vᵀb of each chain's current visible state
  const hc = new Float64Array(R); // hᵀc of its current hidden state
  const fromData = data === undefined ? 0 : Math.ceil(R / 2);
  for (let r = 0; r < R; r++) {
    const row = Math.floor((r * nData) / Math.max(1, fromData)) % Math.max(1, nData);
    if (r < fromData && data !== undefined) v.set(data.subarray(row * nV, (row + 1) * nV), r * nV);
    else for (let i = 0; i < nV; i++) v[r * nV + i] = rng.uniform() < 0.5 ? 1 : 0;
    vb[r] = dotRow(v, r, nV, g.b);
  }
  const hCols = g.hCols; // nH + 1: h, then 1 (multiplies b)
  const hAug = new Float32Array(R * hCols);
  for (let r = 0; r < R; r++) g.setBiasColumns(hAug, r, 1, -1);
  const sums = new Float64Array(nV);
  const visitedVisible = new VisitedStates(nV);
  const visitedHidden = new VisitedStates(nH);
  const bar = barFor(opts.progress, steps, `model chains ×${R}`, "step");
  const pacer = new Pacer(bar);
  const t0 = performance.now();
  try {
    for (let step = 1; step <= steps; step++) {
      const X = g.up(v, R);
      for (let r = 0; r < R; r++) {
        // −F(v) = vᵀb + Σ_j softplus(x_j) of the current state; h ~ σ(x) with its hᵀc.
        let negF = vb[r];
        let hcr = 0;
        const xo = r * nH;
        const ho = r * hCols;
        for (let j = 0; j < nH; j++) {
          const x = X[xo + j];
          const e = Math.exp(-Math.abs(x));
          negF += (x > 0 ? x : 0) + log1pUnit(e);
          if (rng.uniform() < (x >= 0 ? 1 / (1 + e) : e / (1 + e))) {
            hAug[ho + j] = 1;
            hcr += c[j];
          } else {
            hAug[ho + j] = 0;
          }
        }
        visitedVisible.add(v, r, negF);
        hc[r] = hcr;
      }
      const A = g.visibleLogits(hAug, R); // a = b + W h
      const accumulate = step > burnIn;
      for (let r = 0; r < R; r++) {
        // −G(h) = hᵀc + Σ_i softplus(a_i); v ~ σ(a) with its vᵀb.
        let negG = hc[r];
        let vbNew = 0;
        const o = r * nV;
        for (let i = 0; i < nV; i++) {
          const a = A[o + i];
          const e = Math.exp(-Math.abs(a));
          negG += (a > 0 ? a : 0) + log1pUnit(e);
          const p = a >= 0 ? 1 / (1 + e) : e / (1 + e);
          if (accumulate) sums[i] += p;
          if (rng.uniform() < p) {
            v[o + i] = 1;
            vbNew += g.b[i];
          } else {
            v[o + i] = 0;
          }
        }
        visitedHidden.add(hAug, r, negG, hCols);
        vb[r] = vbNew;
      }
      await pacer.step(step);
    }
    const finalNegF = negFreeEnergies(rbm, v);
    for (let r = 0; r < R; r++) visitedVisible.add(v, r, finalNegF[r]);
  } finally {
    g.dispose();
  }
  pacer.finish(steps);
  const count = R * (steps - burnIn);
  const pixelMeans = sums.map((s) => s / count);
  return {
    pixelMeans,
    visibleBias: baseRateVisibleBias(Float32Array.from(pixelMeans), nV),
    visitedVisible,
    visitedHidden,
    final: v,
    chains: R,
    steps,
    burnIn,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Result of {@link meanFieldLogZLower}. */
export interface MeanFieldBound {
  /** max over the starts of f(μ) = μᵀb + Σ_j softplus(c_j + (μᵀW)_j) + H(μ): log Z ≥ this, always. */
  logZLower: number;
  /** The best μ `[nVisible]`. */
  mu: Float32Array;
  /** Fixed-point iterations run from each start. */
  iterations: number;
}

/**
 * The naive mean-field (variational) lower bound on log Z. For any factorised q(v) = Π_i Bernoulli(μ_i),
 *
 *   log Z ≥ E_q[−F(v)] + H(q)                                       (Gibbs' inequality)
 *         ≥ μᵀb + Σ_j softplus(c_j + (μᵀW)_j) + H(μ)                 (Jensen: softplus is convex)
 *
 * with H(μ) = −Σ_i [μ_i log μ_i + (1 − μ_i) log(1 − μ_i)]. Every μ gives a guaranteed bound; the
 * fixed-point iteration ν = σ(c + μW), μ = σ(b + Wν) maximises the joint mean-field objective one
 * layer at a time, so the bound rises monotonically towards a local optimum. It is run from each
 * row of `starts` (data rows, chain states) and the best value is kept. The bound is tight when
 * the model is nearly a product of independent pixels around one mode, loose when it has many.
 * @param starts rows `[n, nVisible]` in [0, 1]
 */
export function meanFieldLogZLower(rbm: RBM, starts: Float32Array, opts: { iterations?: number } = {}): MeanFieldBound {
  const what = "meanFieldLogZLower";
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const { x, n } = visibleRows(starts, nV, what);
  const iterations = opts.iterations ?? 50;
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`${what}: iterations must be an integer ≥ 0, got ${iterations}.`);
  const b = Float64Array.from(rbm.b.dataSync());
  const c = Float64Array.from(rbm.c.dataSync());
  const WT = tf.transpose(rbm.W) as tf.Tensor2D; // once: a transposed-operand matMul is ~10× slower on wasm
  let mu = tf.tensor2d(x, [n, nV]);
  let best = -Infinity;
  let bestMu = new Float32Array(nV);
  const evaluate = () => {
    const xt = tf.matMul(mu, rbm.W);
    const X = xt.dataSync();
    const M = mu.dataSync() as Float32Array;
    xt.dispose();
    for (let r = 0; r < n; r++) {
      let f = 0;
      for (let i = 0; i < nV; i++) {
        const m = M[r * nV + i];
        f += m * b[i];
        if (m > 0 && m < 1) f -= m * Math.log(m) + (1 - m) * Math.log1p(-m);
      }
      for (let j = 0; j < nH; j++) f += softplus64(X[r * nH + j] + c[j]);
      if (f > best) {
        best = f;
        bestMu = M.slice(r * nV, (r + 1) * nV);
      }
    }
  };
  try {
    evaluate();
    for (let it = 0; it < iterations; it++) {
      const next = tf.tidy(() => {
        const nu = tf.fused.matMul({ a: mu, b: rbm.W, bias: rbm.c, activation: "sigmoid" });
        return tf.fused.matMul({ a: nu, b: WT, bias: rbm.b, activation: "sigmoid" }) as tf.Tensor2D;
      });
      mu.dispose();
      mu = next;
    }
    if (iterations > 0) evaluate();
  } finally {
    tf.dispose([mu, WT]);
  }
  return { logZLower: best, mu: bestMu, iterations };
}

/** Result of {@link hardLogZLowerBound}. */
export interface HardLogZBound {
  /** max of the three bounds below: log Z ≥ this, always. */
  logZLower: number;
  /** log Σ_{v∈S_v} exp(−F(v)) over the distinct visible states S_v (chains, data). */
  visibleLogZLower: number;
  /** log Σ_{h∈S_h} exp(−G(h)) over the distinct hidden states S_h (chains, and the most probable h of each data row). */
  hiddenLogZLower: number;
  /** The mean-field bound ({@link meanFieldLogZLower}) from the data rows, the chains' final states and their pixel means. */
  meanFieldLogZLower: number;
  /** |S_v| and |S_h|. */
  distinctVisible: number;
  distinctHidden: number;
  /** max_{v∈S_v} −F(v): the most probable visible vector found (log p(v) = this − log Z). */
  maxNegF: number;
}

/**
 * A guaranteed lower bound on log Z: from states the model is known to put mass on, and from
 * mean field.
 * Z = Σ_v exp(−F(v)) = Σ_h exp(−G(h)) are sums of positive terms, so the sum over ANY set of distinct
 * states is a lower bound (duplicates would over-count and are removed):
 *   visible: log-sum-exp of −F(v) over the distinct visible vectors of the chains (`samples`) and
 *            the rows of `data` (binary) — the bound the chapter explains;
 *   hidden:  log-sum-exp of −G(h) over the distinct hidden vectors of the chains and the most
 *            probable h (p(h_j = 1|v) > 0.5) of each data row. −G(h) sums the visible units out
 *            exactly, so each term carries a whole cloud of visible vectors: for models with
 *            few hidden units, or sharp hidden posteriors, this one is far tighter;
 *   mean field: {@link meanFieldLogZLower} started from up to `meanFieldStarts` data rows (default
 *            100, spread over the data), the chains' final states and their pixel means: it
 *            counts the entropy the two sums miss, and is often within a few nats of log Z.
 * The result is the largest. −F and −G are float64 but for the float32 products (~1e-4 nats).
 */
export function hardLogZLowerBound(rbm: RBM, opts: { samples?: ModelSamples; data?: VisibleData[]; meanFieldStarts?: number }): HardLogZBound {
  const what = "hardLogZLowerBound";
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const samples = opts.samples;
  if (samples !== undefined && (samples.visitedVisible.nUnits !== nV || samples.visitedHidden.nUnits !== nH)) {
    throw new Error(`${what}: the samples are of a ${samples.visitedVisible.nUnits}-${samples.visitedHidden.nUnits} RBM, this one is ${nV}-${nH}.`);
  }
  const Sv = samples !== undefined ? samples.visitedVisible.clone() : new VisitedStates(nV);
  const Sh = samples !== undefined ? samples.visitedHidden.clone() : new VisitedStates(nH);
  const nStarts = opts.meanFieldStarts ?? 100;
  if (!Number.isInteger(nStarts) || nStarts < 0) throw new Error(`${what}: meanFieldStarts must be an integer ≥ 0, got ${nStarts}.`);
  const starts: Float32Array[] = [];
  if (samples !== undefined) starts.push(samples.final, Float32Array.from(samples.pixelMeans));
  const datasets = (opts.data ?? []).map((d) => visibleRows(d, nV, what));
  const nData = datasets.reduce((s, d) => s + d.n, 0);
  for (const { x, n } of datasets) {
    // Up to nStarts rows in all, spread evenly over each set in proportion to its size.
    const take = Math.min(n, Math.round((nStarts * n) / Math.max(1, nData)));
    for (let k = 0; k < take; k++) {
      const r = Math.floor((k * n) / take);
      starts.push(x.subarray(r * nV, (r + 1) * nV));
    }
  }
  let meanField = -Infinity;
  if (starts.length > 0) {
    const rows = new Float32Array(starts.reduce((s, a) => s + a.length, 0));
    let off = 0;
    for (const a of starts) {
      rows.set(a, off);
      off += a.length;
    }
    meanField = meanFieldLogZLower(rbm, rows).logZLower;
  }
  for (const { x, n } of datasets) {
    assertBinary(x, what);
    const negF = negFreeEnergies(rbm, x);
    for (let r = 0; r < n; r++) Sv.add(x, r, negF[r]);
    const hMode = mostProbableHidden(rbm, x);
    const negG = negHiddenFreeEnergies(rbm, hMode);
    for (let r = 0; r < n; r++) Sh.add(hMode, r, negG[r]);
  }
  if (Sv.size === 0) throw new Error(`${what}: no states: pass samples (sampleModel) or data.`);
  const visibleLogZLower = Sv.logSumExp();
  const hiddenLogZLower = Sh.logSumExp();
  return {
    logZLower: Math.max(visibleLogZLower, hiddenLogZLower, meanField),
    visibleLogZLower,
    hiddenLogZLower,
    meanFieldLogZLower: meanField,
    distinctVisible: Sv.size,
    distinctHidden: Sh.size,
    maxNegF: Sv.max(),
  };
}

/** h_j = 1 where p(h_j = 1 | v) > 0.5, i.e. c_j + (vW)_j > 0. @param v `[n, nVisible]` @returns `[n, nHidden]` */
function mostProbableHidden(rbm: RBM, v: Float32Array): Float32Array {
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const n = v.length / nV;
  const out = new Float32Array(n * nH);
  for (let start = 0; start < n; start += 1000) {
    const size = Math.min(1000, n - start);
    const vt = tf.tensor2d(v.subarray(start * nV, (start + size) * nV), [size, nV]);
    const x = tf.fused.matMul({ a: vt, b: rbm.W, bias: rbm.c });
    const X = x.dataSync();
    tf.dispose([vt, x]);
    for (let k = 0; k < size * nH; k++) out[start * nH + k] = X[k] > 0 ? 1 : 0;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// AIS from several bases in one batch

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

function checkBases(bases: AISBase[], nV: number, what: string): void {
  if (bases.length < 1) throw new Error(`${what}: give at least one base.`);
  for (const base of bases) {
    if (base.visibleBias.length !== nV || !base.visibleBias.every((z) => Number.isFinite(z))) {
      throw new Error(`${what}: base "${base.name}" must have ${nV} finite visible biases (nVisible), got ${base.visibleBias.length} values.`);
    }
  }
}

function checkRuns(runs: number, what: string): number {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`${what}: runs must be an integer ≥ 1, got ${runs}.`);
  return runs;
}

/**
 * AIS (Salakhutdinov & Murray 2008, exactly as {@link annealedLogZ}) from several base-rate models
 * at once: M runs per base share every matMul. Returns one {@link AISResult} per base, in order;
 * `seconds` is the shared wall time of the batch.
 */
export async function annealedLogZBases(rbm: RBM, bases: AISBase[], opts: AnnealOptions): Promise<AISResult[]> {
  const what = "annealedLogZBases";
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  checkBases(bases, nV, what);
  const M = checkRuns(opts.runs ?? 100, what);
  const betas = resolveBetas(opts.betas);
  const K = betas.length - 1;
  const B = bases.length;
  const R = B * M;
  const rng = toRng(opts.seed);
  const g = new TemperedGibbs(rbm, bases.map((x) => x.visibleBias));
  const baseOf = Int32Array.from({ length: R }, (_, r) => Math.floor(r / M));
  const coef = Array.from(baseOf, (k) => g.bMinusBase[k]);
  const v = new Float32Array(R * nV);
  const lin = new Float64Array(R); // vᵀ(b − b_A) of the current states
  // v_1 ~ p_A: independent pixels with p(v_i = 1) = σ(b_A,i).
  for (let r = 0; r < R; r++) {
    const bA = bases[baseOf[r]].visibleBias;
    for (let i = 0; i < nV; i++) v[r * nV + i] = rng.uniform() < sigmoid64(bA[i]) ? 1 : 0;
    lin[r] = dotRow(v, r, nV, coef[r]);
  }
  const hAug = new Float32Array(R * g.hCols);
  const logW = new Float64Array(R);
  const inc = new Float64Array(R);
  const bar = barFor(opts.progress, K, `AIS ${B} base${B > 1 ? "s" : ""} × ${M} runs`, "β");
  const pacer = new Pacer(bar);
  const t0 = performance.now();
  try {
    for (let k = 1; k <= K; k++) {
      const beta = betas[k];
      const dBeta = beta - betas[k - 1];
      const last = k === K;
      const X = g.up(v, R);
      // log w += log p*_k(v) − log p*_{k−1}(v) = Δβ vᵀ(b − b_A) + Σ_j [softplus(β_k x_j) − softplus(β_{k−1} x_j)],
      // then (k < K) h ~ p_k(h | v).
      for (let r = 0; r < R; r++) inc[r] = dBeta * lin[r];
      annealHidden(X, R, nH, g.hCols, beta, betas[k - 1], last ? SAMPLE_NONE : SAMPLE_HIGH, inc, hAug, rng);
      for (let r = 0; r < R; r++) logW[r] += inc[r];
      if (!last) {
        // v ~ p_k(v | h) = σ((1 − β_k) b_A + β_k (b + W h)).
        for (let r = 0; r < R; r++) g.setBiasColumns(hAug, r, beta, baseOf[r]);
        sampleVisible(g.visibleProbs(hAug, R), R, nV, v, coef, lin, rng);
      }
      await pacer.step(k);
    }
  } finally {
    g.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  pacer.finish(K);
  return bases.map((base, k) => aisSummary(logW.slice(k * M, (k + 1) * M), baseLogZ(base.visibleBias, nH), K, seconds));
}

// ---------------------------------------------------------------------------------------------
// RAISE: reverse annealing from the test vectors

/** Options for {@link raiseLogZ}. */
export interface RAISEOptions extends AnnealOptions {
  /**
   * Number of test vectors to anneal, a seeded random subset (default: all). The log-likelihood
   * still uses the free energy of every test vector (only log Z is estimated from the subset).
   */
  vectors?: number;
}

/** Result of {@link raiseLogZ} for one base. */
export interface RAISEResult {
  /** The base annealed to. */
  base: string;
  /**
   * mean over the annealed test vectors of ℓ_v = −F(v) − log p̂_fwd(v) (the "log Z" RAISE's estimate
   * implies at v): a stochastic UPPER bound on log Z when the forward model p_fwd equals the RBM.
   */
  logZ: number;
  /** Standard error of logZ: std(ℓ_v) / √n (Infinity for one vector). */
  logZStd: number;
  /** ℓ_v of each annealed vector `[n]`. */
  perVector: Float64Array;
  /** Their rows in the test data `[n]`. */
  rows: Uint32Array;
  /** −mean F(test) − logZ over ALL test rows: RAISE's (conservative) average test log-likelihood. */
  logLikelihood: number;
  /** logLikelihood − 3·logZStd. */
  lower: number;
  /** log Z_0 of the base. */
  logZBase: number;
  /** Reverse runs per vector. */
  runs: number;
  /** Number of intermediate distributions K. */
  nBetas: number;
  /** Shared wall time of the batch, seconds. */
  seconds: number;
}

/**
 * RAISE (Burda, Grosse & Salakhutdinov 2015) for binary RBMs, from one or several bases at once:
 * each test vector v is annealed from the model (β = 1) down to the base (β = 0) with the same
 * transitions as AIS, accumulating S = Σ_{k=0}^{K−1} [log f_{k+1}(x_k) − log f_k(x_k)]; then
 * p̂_fwd(v) = exp(−F(v) − log Z_0 − S) is an unbiased estimate of p_fwd(v), so its log is a
 * stochastic lower bound on log p_fwd(v) (see the file comment). With `runs` reverse runs per
 * vector, p̂ is their mean. Reported per vector as ℓ_v = −F(v) − log p̂_fwd(v), RAISE's "log Z".
 * @param testData `[n, nVisible]`, binary
 */
export async function raiseLogZ(rbm: RBM, testData: VisibleData, bases: AISBase[], opts: RAISEOptions): Promise<RAISEResult[]> {
  const what = "raiseLogZ";
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const { x, n } = visibleRows(testData, nV, what);
  assertBinary(x, what);
  checkBases(bases, nV, what);
  const runs = checkRuns(opts.runs ?? 1, what);
  const nVec = opts.vectors ?? n;
  if (!Number.isInteger(nVec) || nVec < 1 || nVec > n) throw new Error(`${what}: vectors must be an integer in [1, ${n}] (the test rows), got ${nVec}.`);
  const betas = resolveBetas(opts.betas);
  const K = betas.length - 1;
  const B = bases.length;
  const rng = toRng(opts.seed);
  const rows = nVec === n ? Uint32Array.from({ length: n }, (_, i) => i) : permutation(n, rng.fork()).slice(0, nVec);
  const R = B * nVec * runs;
  const g = new TemperedGibbs(rbm, bases.map((b) => b.visibleBias));
  // Chain r: base ⌊r / (nVec·runs)⌋, vector ⌊r / runs⌋ mod nVec.
  const baseOf = Int32Array.from({ length: R }, (_, r) => Math.floor(r / (nVec * runs)));
  const coef = Array.from(baseOf, (k) => g.bMinusBase[k]);
  const v = new Float32Array(R * nV);
  const lin = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const t = rows[Math.floor(r / runs) % nVec];
    v.set(x.subarray(t * nV, (t + 1) * nV), r * nV);
  }
  const hAug = new Float32Array(R * g.hCols);
  const S = new Float64Array(R);
  const noInc = new Float64Array(R);
  const bar = barFor(opts.progress, K + 1, `RAISE ${B} base${B > 1 ? "s" : ""} × ${nVec} vectors${runs > 1 ? ` × ${runs}` : ""}`, "β");
  const pacer = new Pacer(bar);
  const t0 = performance.now();
  try {
    // x_K = v; x_{K−1} ~ T_K(· | v) at β = 1.
    annealHidden(g.up(v, R), R, nH, g.hCols, 1, 1, SAMPLE_HIGH, noInc, hAug, rng);
    for (let r = 0; r < R; r++) g.setBiasColumns(hAug, r, 1, baseOf[r]);
    sampleVisible(g.visibleProbs(hAug, R), R, nV, v, coef, lin, rng);
    for (let k = K - 1; k >= 0; k--) {
      // State x_k: S += log f_{k+1}(x_k) − log f_k(x_k); then (k ≥ 1) x_{k−1} ~ T_k(· | x_k) at β_k.
      const betaHi = betas[k + 1];
      const betaLo = betas[k];
      const X = g.up(v, R);
      for (let r = 0; r < R; r++) S[r] += (betaHi - betaLo) * lin[r];
      annealHidden(X, R, nH, g.hCols, betaHi, betaLo, k >= 1 ? SAMPLE_LOW : SAMPLE_NONE, S, hAug, rng);
      if (k >= 1) {
        for (let r = 0; r < R; r++) g.setBiasColumns(hAug, r, betaLo, baseOf[r]);
        sampleVisible(g.visibleProbs(hAug, R), R, nV, v, coef, lin, rng);
      }
      await pacer.step(K + 1 - k);
    }
  } finally {
    g.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  pacer.finish(K + 1);
  const meanF = meanFreeEnergy(rbm, testData);
  return bases.map((base, b) => {
    const logZBase = baseLogZ(base.visibleBias, nH);
    const perVector = new Float64Array(nVec);
    for (let t = 0; t < nVec; t++) {
      // log p̂_fwd(v) = −F(v) − log Z_0 + log mean_r exp(−S_r), so ℓ_v = −F(v) − log p̂_fwd(v)
      // = log Z_0 − log mean_r exp(−S_r): −F(v) cancels.
      const o = (b * nVec + t) * runs;
      const negS = Array.from(S.subarray(o, o + runs), (s) => -s);
      perVector[t] = logZBase - (logSumExp(negS) - Math.log(runs));
    }
    let mean = 0;
    for (const l of perVector) mean += l / nVec;
    let ss = 0;
    for (const l of perVector) ss += (l - mean) ** 2;
    const logZStd = nVec > 1 ? Math.sqrt(ss / (nVec - 1) / nVec) : Infinity;
    return {
      base: base.name,
      logZ: mean,
      logZStd,
      perVector,
      rows,
      logLikelihood: -meanF - mean,
      lower: -meanF - mean - 3 * logZStd,
      logZBase,
      runs,
      nBetas: K,
      seconds,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// A model built to fool AIS

/** Options for {@link plantMode}. */
export interface PlantModeOptions {
  /** Indices of the visible units of the pattern P (e.g. border pixels, always off in MNIST). */
  pixels: ArrayLike<number>;
  /** Number of extra hidden units. Default 3. */
  units?: number;
  /** Weight w between each extra unit and each pixel of P. Default 2. */
  weight?: number;
  /** Fraction θ of P that must be on before an extra unit turns on: c = −θ·|P|·w. Default 0.3. */
  threshold?: number;
  /** Visible bias of the pixels of P. Default −3. */
  pixelBias?: number;
}

/**
 * A copy of `rbm` with a planted mode: `units` extra hidden units joined with weight w to the
 * pixels P only, hidden bias c = −θ|P|w, and visible bias `pixelBias` on P. An extra unit turns on
 * only when more than θ|P| pixels of P are on, and the pixels (bias −3: 5 % on) turn on only when
 * the units are: v_P = 1 with the units on is a mode of mass ≈ |P|(pixelBias + units·w(1 − θ))
 * nats relative to the rest, behind a barrier no Gibbs chain from data-like states crosses. A chain
 * from uniform noise (half of P on) falls straight in. Used to show AIS from the data base failing.
 * @returns new tensors, `[nVisible, nHidden + units]`
 */
export function plantMode(rbm: RBM, opts: PlantModeOptions): RBM {
  const what = "plantMode";
  assertFiniteRBM(rbm);
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const units = opts.units ?? 3;
  const w = opts.weight ?? 2;
  const theta = opts.threshold ?? 0.3;
  const pixelBias = opts.pixelBias ?? -3;
  const P = Array.from(opts.pixels);
  if (!Number.isInteger(units) || units < 1) throw new Error(`${what}: units must be an integer ≥ 1, got ${units}.`);
  if (P.length < 1 || P.some((i) => !Number.isInteger(i) || i < 0 || i >= nV) || new Set(P).size !== P.length) {
    throw new Error(`${what}: pixels must be distinct integers in [0, ${nV}), got ${P.length} values.`);
  }
  for (const [name, x] of [["weight", w], ["threshold", theta], ["pixelBias", pixelBias]] as const) {
    if (!Number.isFinite(x)) throw new Error(`${what}: ${name} must be a finite number, got ${x}.`);
  }
  const W0 = rbm.W.dataSync();
  const nH2 = nH + units;
  const W = new Float32Array(nV * nH2);
  for (let i = 0; i < nV; i++) W.set(W0.subarray(i * nH, (i + 1) * nH), i * nH2);
  for (const i of P) for (let j = nH; j < nH2; j++) W[i * nH2 + j] = w;
  const b = Float32Array.from(rbm.b.dataSync());
  for (const i of P) b[i] = pixelBias;
  const c = new Float32Array(nH2);
  c.set(rbm.c.dataSync());
  c.fill(-theta * P.length * w, nH);
  return {
    W: tf.tensor2d(W, [nV, nH2]),
    b: tf.tensor1d(b),
    c: tf.tensor1d(c),
  };
}

// ---------------------------------------------------------------------------------------------
// Putting it together: estimates, bracket, warning

/** The two AIS/RAISE bases of {@link trustworthyLogLikelihood}. */
export type BaseName = "data" | "samples";

/** Options for {@link trustworthyLogLikelihood}; defaults follow Salakhutdinov & Murray (2008). */
export interface TrustOptions {
  /** Binary training rows `[n, nVisible]`: the data base rate, the start of half the chains, states for the bound. */
  trainData: VisibleData;
  /** Seed of chains, AIS and RAISE. */
  seed: Seed;
  /** AIS runs per base. Default 100. */
  runs?: number;
  /** Schedule of AIS and RAISE: betas or their count K. Default 14,500. */
  betas?: ArrayLike<number> | number;
  /** Model chains for the sample base and the bound. Default 100. */
  chains?: number;
  /** Gibbs steps per chain. Default 1,000. */
  chainSteps?: number;
  /** Test vectors RAISE anneals per base (a seeded random subset). Default min(n, runs): the cost of AIS. */
  raiseVectors?: number;
  /** Reverse runs per RAISE vector. Default 1. */
  raiseRuns?: number;
  /**
   * Smallest disagreement (nats) between estimates that is reported, on top of their ±3σ bands:
   * below it the numbers agree for every purpose (our tests hold estimates to 0.1 nats). Default 0.1.
   */
  tolerance?: number;
  /** Show progress bars. Default true. */
  progress?: boolean;
}

/** The estimates from one base. */
export interface BaseEstimate {
  base: BaseName;
  /** b_A `[nVisible]`. */
  visibleBias: Float32Array;
  /** AIS from this base. */
  ais: AISResult;
  /** −F̄ − ais.logZ: AIS's average test log-likelihood (optimistic when the path misses mass). */
  logLikelihood: number;
  /** −F̄ − ais.logZUpper and −F̄ − ais.logZLower: the ±3σ band. */
  lower: number;
  upper: number;
  /** RAISE from this base (conservative side). */
  raise: RAISEResult;
}

/** Result of {@link trustworthyLogLikelihood} (nats; log-likelihoods are averages over the test rows). */
export interface TrustworthyLogLikelihood {
  /** Per base, in the order data, samples. */
  estimates: BaseEstimate[];
  /**
   * The base to trust: if the AIS estimates disagree, the one with the larger log Z (AIS errs low);
   * if they agree, the one with the narrower band.
   */
  trusted: BaseName;
  /** max(trusted AIS log Z, hardLogZLower). */
  logZ: number;
  /** −F̄ − logZ: the point estimate. */
  logLikelihood: number;
  /**
   * Guaranteed: log Z ≥ hardLogZLower, the largest of log-sum-exp of −F over the distinct visible
   * states visited (chains, training and test rows), of −G over the distinct hidden states, and
   * the mean-field bound (details in `hard`).
   */
  hardLogZLower: number;
  /** Guaranteed: average test log-likelihood ≤ hardUpper = −F̄ − hardLogZLower. */
  hardUpper: number;
  /** min over bases of RAISE's log-likelihood − 3σ: the conservative end. */
  raiseLower: number;
  /** [lower, upper] = [min(raiseLower, the trusted AIS band's lower end), hardUpper]. */
  bracket: [number, number];
  /** All warnings joined by newlines, or undefined when the estimates agree. */
  warning?: string;
  /** The warnings one by one. */
  warnings: string[];
  /** F̄: mean free energy of the test rows. */
  meanFreeEnergy: number;
  /** Number of test rows. */
  n: number;
  /** The model's chains (states, pixel means, the sample base). */
  samples: ModelSamples;
  /** The guaranteed bound's parts: visible states, hidden states, mean field, and the counts. */
  hard: HardLogZBound;
  /** Wall-clock seconds of each phase. */
  seconds: { chains: number; ais: number; raise: number; total: number };
}

const fmt = (x: number, d = 2) => x.toFixed(d);

/**
 * A test log-likelihood with a bracket and a diagnosis (see the file comment): model chains →
 * the model-sample base and the visited states; AIS from the data base and from the model-sample
 * base; RAISE from both; the guaranteed bound from chains + training + test rows. A warning names
 * the estimate to trust whenever the estimates disagree by more than their ±3σ bands (and
 * `tolerance`), an estimate contradicts the guaranteed bound, RAISE sits above AIS, or few AIS runs
 * carry the weight.
 *
 * Cost ≈ (chains · chainSteps + 2 · runs · K + 2 · raiseVectors · K) chain-steps; with the
 * defaults for 784-500 that is 4.3 million: see bench/ais.ts for the time on your machine.
 * @param testData `[n, nVisible]`, binary
 */
export async function trustworthyLogLikelihood(rbm: RBM, testData: VisibleData, opts: TrustOptions): Promise<TrustworthyLogLikelihood> {
  const what = "trustworthyLogLikelihood";
  assertFiniteRBM(rbm);
  const { nVisible: nV } = rbmSize(rbm);
  const test = visibleRows(testData, nV, `${what} (testData)`);
  assertBinary(test.x, `${what} (testData)`);
  const train = visibleRows(opts.trainData, nV, `${what} (trainData)`);
  assertBinary(train.x, `${what} (trainData)`);
  const runs = checkRuns(opts.runs ?? 100, what);
  const betas = resolveBetas(opts.betas);
  const tolerance = opts.tolerance ?? 0.1;
  if (!(tolerance >= 0)) throw new Error(`${what}: tolerance must be ≥ 0 nats, got ${tolerance}.`);
  const raiseVectors = opts.raiseVectors ?? Math.min(test.n, runs);
  const progress = opts.progress ?? true;
  const t0 = performance.now();
  const rng = toRng(opts.seed);
  const [chainSeed, aisSeed, raiseSeed] = [rng.fork(), rng.fork(), rng.fork()];

  const samples = await sampleModel(rbm, { seed: chainSeed, chains: opts.chains, steps: opts.chainSteps, data: train.x, progress });
  const bases: AISBase[] = [
    { name: "data", visibleBias: baseRateVisibleBias(train.x, nV) },
    { name: "samples", visibleBias: samples.visibleBias },
  ];
  const ais = await annealedLogZBases(rbm, bases, { seed: aisSeed, runs, betas, progress });
  const raise = await raiseLogZ(rbm, test.x, bases, { seed: raiseSeed, runs: opts.raiseRuns ?? 1, betas, vectors: raiseVectors, progress });
  const hard = hardLogZLowerBound(rbm, { samples, data: [train.x, test.x] });

  const meanF = meanFreeEnergy(rbm, test.x);
  const names: BaseName[] = ["data", "samples"];
  const estimates: BaseEstimate[] = names.map((base, k) => ({
    base,
    visibleBias: bases[k].visibleBias,
    ais: ais[k],
    logLikelihood: -meanF - ais[k].logZ,
    lower: -meanF - ais[k].logZUpper,
    upper: -meanF - ais[k].logZLower,
    raise: raise[k],
  }));
  const best = trustedEstimate(estimates, tolerance);
  const logZ = Math.max(best.ais.logZ, hard.logZLower);
  const hardUpper = -meanF - hard.logZLower;
  const raiseLower = Math.min(...estimates.map((e) => e.raise.lower));
  const lower = Math.min(raiseLower, best.lower);
  const warnings = diagnose(estimates, best, hard, meanF, tolerance, runs);
  return {
    estimates,
    trusted: best.base,
    logZ,
    logLikelihood: -meanF - logZ,
    hardLogZLower: hard.logZLower,
    hardUpper,
    raiseLower,
    bracket: [lower, hardUpper],
    warning: warnings.length > 0 ? warnings.join("\n") : undefined,
    warnings,
    meanFreeEnergy: meanF,
    n: test.n,
    samples,
    hard,
    seconds: { chains: samples.seconds, ais: ais[0].seconds, raise: raise[0].seconds, total: (performance.now() - t0) / 1000 },
  };
}

/**
 * The base to trust: when the AIS estimates disagree beyond their bands (and `tolerance`), the one
 * with the larger log Z (AIS misses mass, it does not invent it); when they agree, the one with the
 * narrower band (taking the larger of two agreeing estimates would bias log Z upwards).
 */
function trustedEstimate(est: BaseEstimate[], tolerance: number): BaseEstimate {
  const [a, b] = est;
  const gap = Math.abs(a.ais.logZ - b.ais.logZ);
  const band = 3 * Math.hypot(a.ais.logZStd, b.ais.logZStd);
  if (!(gap <= Math.max(band, tolerance))) return a.ais.logZ >= b.ais.logZ ? a : b;
  return a.ais.logZStd <= b.ais.logZStd ? a : b;
}

/** The warnings of {@link trustworthyLogLikelihood}: which estimates contradict which, and what to trust. */
function diagnose(est: BaseEstimate[], best: BaseEstimate, hard: HardLogZBound, meanF: number, tolerance: number, runs: number): string[] {
  const out: string[] = [];
  const name = (e: BaseEstimate) => (e.base === "data" ? "data-base AIS" : "model-sample-base AIS");
  // 1. The bases disagree beyond their bands: the lower one missed mass.
  const low = est[0] === best ? est[1] : est[0];
  const gap = best.ais.logZ - low.ais.logZ;
  const band = 3 * Math.hypot(best.ais.logZStd, low.ais.logZStd);
  if (Number.isFinite(band) && gap > Math.max(band, tolerance)) {
    const cause = gap > 10 ? "a mode its runs never reached" : "a mode, or a schedule too short to follow the model";
    out.push(
      `${name(low)} puts the test log-likelihood ${fmt(gap)} nats ABOVE ${name(best)} (log Z ${fmt(low.ais.logZ)} vs ` +
        `${fmt(best.ais.logZ)}, bands ±${fmt(3 * low.ais.logZStd)} and ±${fmt(3 * best.ais.logZStd)}): the ${low.base} path ` +
        `missed probability mass (${cause}). AIS can only miss mass, never invent it, so trust the larger log Z: ` +
        `${name(best)}, ${fmt(-meanF - best.ais.logZ)} nats rather than ${fmt(low.logLikelihood)}.`,
    );
  }
  // 2. An estimate below the guaranteed lower bound on log Z is certainly wrong.
  for (const e of est) {
    if (e.ais.logZUpper < hard.logZLower - tolerance) {
      out.push(
        `${name(e)} (log Z ≤ ${fmt(e.ais.logZUpper)} with its band) is below the GUARANTEED lower bound log Z ≥ ` +
          `${fmt(hard.logZLower)} (from the ${hard.distinctVisible} visible and ${hard.distinctHidden} hidden states the ` +
          `model visits, and mean field): it is certainly too low, and ` +
          `its log-likelihood ${fmt(e.logLikelihood)} certainly too high (the truth is ≤ ${fmt(-meanF - hard.logZLower)}).`,
      );
    }
  }
  // 3. RAISE should err on the other side of AIS; below it, its reverse chains missed the mass too.
  for (const e of est) {
    const sep = 3 * Math.hypot(e.raise.logZStd, best.ais.logZStd);
    if (Number.isFinite(sep) && e.raise.logZ < best.ais.logZ - Math.max(sep, tolerance)) {
      out.push(
        `RAISE from the ${e.base} base implies log Z ${fmt(e.raise.logZ)}, below ${name(best)}'s ${fmt(best.ais.logZ)}: ` +
          `its forward model p_fwd puts too much mass where the test data are (its path splits between modes in the ` +
          `wrong proportions, or misses one), so it is not conservative here: the bracket's lower end falls back ` +
          `to the band of ${name(best)}.`,
      );
    }
  }
  // 4. Few runs carry the weight: the band is not to be believed.
  if (best.ais.ess < 0.1 * runs) {
    out.push(
      `${name(best)}: only ${fmt(best.ais.ess, 1)} of ${runs} runs carry the weight (ESS), so its ±3σ band is ` +
        `unreliable and log Z probably still too low: lengthen the schedule until the estimate stops rising.`,
    );
  }
  return out;
}
