/**
 * Guaranteed lower bounds on log Z, from states the model is known to put mass on and from mean
 * field.
 *
 * A guaranteed lower bound on log Z ({@link hardLogZLowerBound}): for ANY set S of distinct
 * visible vectors, Z = Σ_v exp(−F(v)) ≥ Σ_{v∈S} exp(−F(v)). With S the distinct states visited
 * by the model's chains plus the training and test data (binary, deduplicated by their bit
 * patterns), log Z ≥ LSE_S(−F), hence the average test log-likelihood is at most
 * −F̄ − LSE_S(−F): a guaranteed UPPER bound (up to float32 rounding of vW, ~1e-4 nats). Alone it
 * is loose for big models (it misses the model's entropy), so the same is done with the distinct
 * HIDDEN states (exp(−G(h)) sums the visible units out exactly), and with mean field
 * ({@link meanFieldLogZLower}: log Z ≥ μᵀb + Σ_j softplus(c_j + μᵀW_j) + H(μ) for any μ), which
 * counts the entropy and is often within a few nats. The largest of the three is the bound; an
 * AIS log Ẑ below it is certainly wrong.
 */
import * as tf from "@tensorflow/tfjs";
import { softplus64 } from "../core/numerics";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";
import { assertBinary, type VisibleData, visibleRows } from "../io/data";
import type { ModelSamples } from "./model-samples";
import { negFreeEnergies, negHiddenFreeEnergies, VisitedStates } from "./states";

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
  assertFiniteRBM(rbm, "meanFieldLogZLower");
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
export function hardLogZLowerBound(
  rbm: RBM,
  opts: { samples?: ModelSamples; data?: VisibleData[]; meanFieldStarts?: number },
): HardLogZBound {
  const what = "hardLogZLowerBound";
  assertFiniteRBM(rbm, "hardLogZLowerBound");
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const samples = opts.samples;
  if (samples !== undefined && (samples.visitedVisible.nUnits !== nV || samples.visitedHidden.nUnits !== nH)) {
    throw new Error(
      `${what}: the samples are of a ${samples.visitedVisible.nUnits}-${samples.visitedHidden.nUnits} RBM, this one is ${nV}-${nH}.`,
    );
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
