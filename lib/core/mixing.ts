/**
 * Exact analysis of block-Gibbs chains on RBMs small enough to enumerate.
 *
 * With 2^nVisible visible states we can write the chain v → h → v' down as a matrix,
 *   T[s][s'] = Σ_h p(h | v = s) p(v = s' | h),
 * whose stationary distribution is p(v) ({@link exactVisibleMarginal}). From it follow the exact
 * distribution after t steps (p_t = p_0 Tᵗ), the exact autocorrelation of a statistic along the
 * chain and the second eigenvalue λ₂ that sets the mixing rate. The sampled side (state indices of
 * chain states, their empirical distribution, equilibrium chains) is here too, so that sampled and
 * exact quantities are compared through the same functions.
 *
 * States are numbered as in {@link allBinaryStates}: in state s, unit i is bit i of s.
 * Distributions are plain arrays over the 2^n states, summed in float64.
 */
import * as tf from "@tensorflow/tfjs";
import { allBinaryStates, MAX_ENUMERATION_BITS } from "./exact";
import { type Seed, toRng } from "./random";
import { assertFiniteRBM, type RBM, rbmSize } from "./rbm";
import { gibbsChain } from "./sampling";

/** Checks that n is a number of units whose 2^n states we agree to list. */
function assertStateBits(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ENUMERATION_BITS) {
    throw new Error(`${what}: n must be an integer in [1, ${MAX_ENUMERATION_BITS}], got ${n}.`);
  }
}

/** Checks that `kernel` is a square matrix over as many states as `p` has entries. */
function assertKernel(kernel: ArrayLike<ArrayLike<number>>, p: ArrayLike<number>, what: string, pName = "p"): void {
  const n = kernel.length;
  if (n === 0) throw new Error(`${what}: kernel is empty.`);
  for (let s = 0; s < n; s++) {
    if (kernel[s].length !== n) {
      throw new Error(`${what}: kernel must be square [${n}][${n}], but row ${s} has ${kernel[s].length} entries.`);
    }
  }
  if (p.length !== n) {
    throw new Error(`${what}: ${pName} has ${p.length} entries but the kernel is over ${n} states.`);
  }
}

/**
 * The exact transition matrix of the visible block-Gibbs chain,
 *   T[s][s'] = Σ_h p(h | v = s) p(v = s' | h),
 * by enumerating both layers (tiny RBMs only). Row s is the distribution of v¹ given v⁰ = s; the
 * conditionals are products of Bernoullis evaluated in log space (log σ(a) = −softplus(−a)), so
 * tiny probabilities do not round to zero. Computed in float32.
 * @param rbm needs nVisible + max(nVisible, nHidden) ≤ {@link MAX_ENUMERATION_BITS} (no matrix
 *   built on the way has more than 2^24 entries)
 * @returns T `[2^nVisible][2^nVisible]`, rows summing to 1
 */
export function gibbsKernel(rbm: RBM): number[][] {
  assertFiniteRBM(rbm, "gibbsKernel");
  const { nVisible, nHidden } = rbmSize(rbm);
  if (nVisible + Math.max(nVisible, nHidden) > MAX_ENUMERATION_BITS) {
    throw new Error(
      `gibbsKernel: rbm is ${nVisible}-${nHidden}, too large to enumerate: the kernel needs ` +
        `nVisible + max(nVisible, nHidden) ≤ ${MAX_ENUMERATION_BITS} (matrices of 2^${nVisible} × 2^${Math.max(nVisible, nHidden)} entries).`,
    );
  }
  const T = tf.tidy(() => {
    const vAll = allBinaryStates(nVisible); // [V, nVisible]
    const hAll = allBinaryStates(nHidden); // [H, nHidden]
    // log p(y | x) for every x (rows of the pre-activations a) and every state y of the other layer.
    const logCond = (a: tf.Tensor, y: tf.Tensor) =>
      tf.neg(
        tf.add(
          tf.matMul(tf.softplus(tf.neg(a)), y, false, true), // units that are on:  −softplus(−a)
          tf.matMul(tf.softplus(a), tf.sub(1, y), false, true), // units that are off: −softplus(a)
        ),
      );
    const pHgivenV = tf.exp(logCond(tf.add(tf.matMul(vAll, rbm.W), rbm.c), hAll)); // [V, H]
    const pVgivenH = tf.exp(logCond(tf.add(tf.matMul(hAll, rbm.W, false, true), rbm.b), vAll)); // [H, V]
    return tf.matMul(pHgivenV, pVgivenH); // [V, V]
  });
  const rows = T.arraySync() as number[][];
  T.dispose();
  return rows;
}

/**
 * One step of the exact chain for a whole distribution: (p T)(s') = Σ_s p(s) T[s][s'].
 * Works for any row vector p (signed ones too, as in {@link secondEigenvalue}).
 * @param p `[S]` @param kernel `[S][S]`, e.g. from {@link gibbsKernel} @returns p T `[S]`
 */
export function stepDistribution(p: ArrayLike<number>, kernel: ArrayLike<ArrayLike<number>>): Float64Array {
  assertKernel(kernel, p, "stepDistribution");
  const next = new Float64Array(p.length);
  for (let s = 0; s < p.length; s++) {
    if (p[s] === 0) continue;
    const row = kernel[s];
    for (let s2 = 0; s2 < p.length; s2++) next[s2] += p[s] * row[s2];
  }
  return next;
}

/**
 * The exact distributions after 1, 2, …, `steps` steps of the chain: p_t = p_0 Tᵗ.
 * @param p0 starting distribution `[S]` (a point mass δ_s for chains that all start in state s)
 * @param kernel `[S][S]` @param steps integer ≥ 1
 * @returns `steps` arrays `[S]`; element t − 1 is p_t
 */
export function evolveDistribution(p0: ArrayLike<number>, kernel: ArrayLike<ArrayLike<number>>, steps: number): Float64Array[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`evolveDistribution: steps must be an integer ≥ 1, got ${steps}.`);
  assertKernel(kernel, p0, "evolveDistribution", "p0");
  const out: Float64Array[] = [];
  let p: ArrayLike<number> = p0;
  for (let t = 1; t <= steps; t++) {
    const next = stepDistribution(p, kernel);
    out.push(next);
    p = next;
  }
  return out;
}

/**
 * Each row's binary state as an index s = Σ_i v_i 2^i (values > 0.5 count as 1).
 * @param values `[batch * n]` row-major, e.g. a record of {@link gibbsChain}
 * @param n units per row, 1 … {@link MAX_ENUMERATION_BITS}
 * @returns `[batch]` state indices in [0, 2^n)
 */
export function stateIndices(values: ArrayLike<number>, n: number): Int32Array {
  assertStateBits(n, "stateIndices");
  if (values.length % n !== 0) {
    throw new Error(`stateIndices: values has ${values.length} entries, not a whole number of rows of n = ${n}.`);
  }
  const out = new Int32Array(values.length / n);
  for (let r = 0; r < out.length; r++) for (let i = 0; i < n; i++) if (values[r * n + i] > 0.5) out[r] |= 1 << i;
  return out;
}

/**
 * The binary vectors of the given state indices, the inverse of {@link stateIndices}.
 * The caller owns (and disposes) the returned tensor.
 * @param states `[batch]` indices in [0, 2^n) @param n units per row
 * @returns v `[batch, n]` float32 0/1, unit i of row r = bit i of states[r]
 */
export function stateVectors(states: ArrayLike<number>, n: number): tf.Tensor2D {
  assertStateBits(n, "stateVectors");
  assertStates(states, n, "stateVectors");
  return tf.tensor2d(
    Float32Array.from({ length: states.length * n }, (_, k) => (states[Math.floor(k / n)] >> (k % n)) & 1),
    [states.length, n],
  );
}

function assertStates(states: ArrayLike<number>, n: number, what: string): void {
  const nStates = 2 ** n;
  for (let k = 0; k < states.length; k++) {
    const s = states[k];
    if (!Number.isInteger(s) || s < 0 || s >= nStates) {
      throw new Error(`${what}: states[${k}] = ${s} is not a state index in [0, ${nStates}) for n = ${n}.`);
    }
  }
}

/**
 * The empirical distribution of sampled states: the fraction of `states` equal to each s.
 * @param states `[N]` state indices in [0, 2^n), N ≥ 1 @param n units per state
 * @returns q `[2^n]`, summing to 1
 */
export function empiricalDistribution(states: ArrayLike<number>, n: number): Float64Array {
  assertStateBits(n, "empiricalDistribution");
  if (states.length === 0) throw new Error("empiricalDistribution: states is empty.");
  assertStates(states, n, "empiricalDistribution");
  const q = new Float64Array(2 ** n);
  for (let k = 0; k < states.length; k++) q[states[k]] += 1 / states.length;
  return q;
}

/**
 * `count` independent draws of a state index from the distribution p, by inverse CDF (one uniform
 * each, in order).
 * @param p `[S]` probabilities summing to 1 @param count integer ≥ 0
 * @param seed a number starts a new stream; an {@link Rng} is continued
 * @returns `[count]` indices in [0, S)
 */
export function sampleStates(p: ArrayLike<number>, count: number, seed: Seed): Int32Array {
  if (p.length === 0) throw new Error("sampleStates: p is empty.");
  if (!Number.isInteger(count) || count < 0) throw new Error(`sampleStates: count must be an integer ≥ 0, got ${count}.`);
  const rng = toRng(seed, "sampleStates");
  const out = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    let u = rng.uniform();
    let s = 0;
    while (s < p.length - 1 && u >= p[s]) u -= p[s++];
    out[k] = s;
  }
  return out;
}

/**
 * Total variation distance TV(p, q) = ½ Σ_s |p(s) − q(s)| = max_A |p(A) − q(A)|: 0 for identical
 * distributions, 1 for distributions that share no state.
 * @param p `[S]` @param q `[S]`
 */
export function tvDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new Error(`tvDistance: p has ${p.length} entries but q has ${q.length}.`);
  let d = 0;
  for (let s = 0; s < p.length; s++) d += Math.abs(p[s] - q[s]);
  return d / 2;
}

/**
 * The second-largest eigenvalue λ₂ of the kernel, by power iteration on zero-sum row vectors
 * (the component along the stationary distribution, eigenvalue 1, is removed after every step).
 * TV(p_t, p) ∝ λ₂ᵗ for large t, so 1/(1 − λ₂) is the relaxation time. For a block-Gibbs kernel
 * p(v) T(v'|v) is symmetric positive semi-definite, so all eigenvalues are real and in [0, 1] and the
 * largest magnitude found here is λ₂. The start vector is fixed: the result is deterministic.
 * @param kernel `[S][S]` @param p its stationary distribution `[S]`
 * @param iterations power-iteration steps, default 3000 (needs more when λ₂ and λ₃ are close)
 */
export function secondEigenvalue(kernel: ArrayLike<ArrayLike<number>>, p: ArrayLike<number>, iterations = 3000): number {
  assertKernel(kernel, p, "secondEigenvalue");
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new Error(`secondEigenvalue: iterations must be an integer ≥ 1, got ${iterations}.`);
  }
  const n = p.length;
  let x: Float64Array = Float64Array.from({ length: n }, (_, s) => Math.sin(12.9898 * (s + 1)));
  let ratio = 0;
  for (let k = 0; k < iterations; k++) {
    const y = stepDistribution(x, kernel);
    const mass = y.reduce((a, b) => a + b, 0);
    for (let s = 0; s < n; s++) y[s] -= mass * p[s]; // keep x orthogonal to the eigenvalue 1
    const norm = Math.hypot(...y);
    ratio = norm / Math.hypot(...x);
    x = y.map((v) => v / norm);
  }
  return ratio;
}

/** Mean and variance of f(s) under p. */
function moments(p: ArrayLike<number>, f: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let s = 0; s < p.length; s++) mean = mean + p[s] * f[s];
  let variance = 0;
  for (let s = 0; s < p.length; s++) variance = variance + p[s] * (f[s] - mean) ** 2;
  return { mean, variance };
}

function assertStatistic(f: ArrayLike<number>, p: ArrayLike<number>, what: string): { mean: number; variance: number } {
  if (f.length !== p.length) throw new Error(`${what}: f has ${f.length} entries but stationary has ${p.length}.`);
  // Constant on the states of positive probability (compared exactly: a rounding-level variance is still 0).
  let first = -1;
  let constant = true;
  for (let s = 0; s < p.length && constant; s++) {
    if (!(p[s] > 0)) continue;
    if (first < 0) first = s;
    else if (f[s] !== f[first]) constant = false;
  }
  if (constant) throw new Error(`${what}: f is constant on the states where stationary > 0, so ρ(τ) is undefined.`);
  return moments(p, f);
}

function assertMaxLag(maxLag: number, what: string): void {
  if (!Number.isInteger(maxLag) || maxLag < 0) throw new Error(`${what}: maxLag must be an integer ≥ 0, got ${maxLag}.`);
}

/** Options for {@link exactAutocorrelation}. */
export interface ExactAutocorrelationOptions {
  /** Transition matrix `[S][S]`, e.g. from {@link gibbsKernel}. */
  kernel: ArrayLike<ArrayLike<number>>;
  /** Its stationary distribution `[S]`, e.g. {@link exactVisibleMarginal}(rbm).probs. */
  stationary: ArrayLike<number>;
  /** The statistic f(s) of each state `[S]`; must not be constant where stationary > 0. */
  f: ArrayLike<number>;
  /** Return ρ(τ) for τ = 0 … maxLag. */
  maxLag: number;
  /** τ_int keeps summing past maxLag until |ρ(τ)| < tolerance. Default 1e-4. */
  tolerance?: number;
  /** …but not past this lag. Default 100000. */
  lagLimit?: number;
}

/** Result of {@link exactAutocorrelation}. */
export interface ExactAutocorrelation {
  /** ρ(τ) for τ = 0 … maxLag (ρ(0) = 1). */
  rho: number[];
  /** Integrated autocorrelation time τ_int = 1 + 2 Σ_{τ≥1} ρ(τ). */
  tauInt: number;
  /** False if ρ was still above the tolerance at lagLimit (τ_int is then truncated). */
  converged: boolean;
}

/**
 * The exact autocorrelation of a statistic f along the stationary chain,
 *   ρ(τ) = (Σ_s p(s) f(s) (T^τ f)(s) − μ²) / σ²,   μ, σ² the mean and variance of f under p,
 * and the integrated autocorrelation time τ_int (L steps of one chain carry about as much
 * information as L / τ_int independent samples).
 */
export function exactAutocorrelation(opts: ExactAutocorrelationOptions): ExactAutocorrelation {
  const what = "exactAutocorrelation";
  const { kernel, stationary: p, f, maxLag } = opts;
  const tolerance = opts.tolerance ?? 1e-4;
  const lagLimit = opts.lagLimit ?? 100000;
  assertKernel(kernel, p, what, "stationary");
  assertMaxLag(maxLag, what);
  if (!Number.isInteger(lagLimit) || lagLimit < maxLag)
    throw new Error(`${what}: lagLimit must be an integer ≥ maxLag = ${maxLag}, got ${lagLimit}.`);
  const { mean, variance } = assertStatistic(f, p, what);
  const n = p.length;
  const rho: number[] = [];
  let g = Float64Array.from(f); // g = T^τ f, a column vector
  let tauInt = 1;
  let converged = false;
  for (let lag = 0; lag <= lagLimit; lag++) {
    let pfg = 0;
    for (let s = 0; s < n; s++) pfg = pfg + p[s] * f[s] * g[s];
    const r = (pfg - mean * mean) / variance;
    if (lag <= maxLag) rho.push(r);
    if (lag > 0) tauInt += 2 * r;
    if (lag >= maxLag && Math.abs(r) < tolerance) {
      converged = true;
      break;
    }
    const prev = g;
    g = Float64Array.from({ length: n }, (_, s) => {
      const row = kernel[s];
      let a = 0;
      for (let s2 = 0; s2 < n; s2++) a = a + row[s2] * prev[s2];
      return a;
    });
  }
  return { rho, tauInt, converged };
}

/** Options for {@link sampledAutocorrelation}. */
export interface SampledAutocorrelationOptions {
  /** The RBM whose visible chain is run. */
  rbm: RBM;
  /** Its exact p(v) `[2^nVisible]`: the chains start from exact draws of it, and its mean and variance of f are used. */
  stationary: ArrayLike<number>;
  /** The statistic f(s) of each visible state `[2^nVisible]`; must not be constant where stationary > 0. */
  f: ArrayLike<number>;
  /** Estimate ρ(τ) for τ = 0 … maxLag. */
  maxLag: number;
  /** Number of independent chains. */
  nChains: number;
  /** Gibbs steps per chain, ≥ maxLag. Default 2 · maxLag (at least 1). */
  steps?: number;
  /** Seed of the starting draws and then of the chains (one stream, in that order). */
  seed: Seed;
}

/**
 * The autocorrelation of f estimated from `nChains` block-Gibbs chains started at equilibrium
 * (v⁰ drawn exactly from p, so there is no burn-in), averaging (f(v^t) − μ)(f(v^(t+τ)) − μ) / σ² over
 * all chains and all t with the exact μ and σ². Compare with {@link exactAutocorrelation}.
 * @returns ρ̂(τ) for τ = 0 … maxLag
 */
export function sampledAutocorrelation(opts: SampledAutocorrelationOptions): number[] {
  const what = "sampledAutocorrelation";
  const { rbm, stationary: p, f, maxLag, nChains } = opts;
  const { nVisible } = rbmSize(rbm);
  assertStateBits(nVisible, `${what}: rbm.nVisible`);
  if (p.length !== 2 ** nVisible) {
    throw new Error(`${what}: stationary has ${p.length} entries but the rbm has 2^${nVisible} = ${2 ** nVisible} visible states.`);
  }
  assertMaxLag(maxLag, what);
  if (!Number.isInteger(nChains) || nChains < 1) throw new Error(`${what}: nChains must be an integer ≥ 1, got ${nChains}.`);
  const steps = opts.steps ?? Math.max(1, 2 * maxLag);
  if (!Number.isInteger(steps) || steps < Math.max(1, maxLag)) {
    throw new Error(`${what}: steps must be an integer ≥ max(1, maxLag = ${maxLag}), got ${steps}.`);
  }
  const { mean, variance } = assertStatistic(f, p, what);
  const rng = toRng(opts.seed, "sampledAutocorrelation");
  const s0 = sampleStates(p, nChains, rng);
  const v0 = stateVectors(s0, nVisible);
  let fs: number[][];
  try {
    const r = gibbsChain(v0, rbm, { steps, seed: rng, every: 1 });
    tf.dispose([r.v, r.vProbs]);
    fs = [s0, ...r.records.map((rec) => stateIndices(rec.values, nVisible))].map((states) => Array.from(states, (s) => f[s]));
  } finally {
    v0.dispose();
  }
  return Array.from({ length: maxLag + 1 }, (_, lag) => {
    let sum = 0;
    let count = 0;
    for (let t = 0; t + lag < fs.length; t++) {
      for (let c = 0; c < nChains; c++) {
        sum += (fs[t][c] - mean) * (fs[t + lag][c] - mean);
        count++;
      }
    }
    return sum / count / variance;
  });
}
