/**
 * RAISE, reverse annealing (Burda, Grosse & Salakhutdinov 2015): the forward AIS chain
 * v_0 ~ p_0, v_k ~ T_k(· | v_{k−1}), k = 1 … K, is itself a generative model p_fwd(v_K) that
 * tends to the RBM as the schedule gets finer. For a test vector v, start at x_K = v and run the
 * same Gibbs transitions downwards, x_{k−1} ~ T_k(· | x_k) for k = K … 1 (they are reversible
 * with respect to p_k, so they are their own reverse kernels). The importance weight of this
 * reverse proposal against the forward model is
 *
 *      w = p_0(x_0) Π_k T_k(x_k | x_{k−1}) / Π_k T_k(x_{k−1} | x_k)
 *        = exp(−F(v)) / Z_0 · exp(−Σ_{k=0}^{K−1} [log f_{k+1}(x_k) − log f_k(x_k)]),
 *
 * with f_k = p*_k the unnormalised marginals of ais.ts, and E[w] = p_fwd(v) exactly. So
 * log w is a stochastic LOWER bound on log p_fwd(v). Written as log Z: ℓ_v = −F(v) − log w
 * = log Z_0 + Σ_k [log f_{k+1}(x_k) − log f_k(x_k)] is a stochastic UPPER bound on the
 * "log Z" that p_fwd implies at v, erring on the side opposite to AIS: the two sandwich log Z
 * when p_fwd ≈ p. Caveat: it bounds the log-likelihood of p_fwd, not of the RBM. p_fwd is
 * usually a blurred version of the RBM that puts less mass on test digits (RAISE is
 * conservative in practice), but not when its path misses a mode or splits between modes in
 * the wrong proportions: then p_fwd puts too much mass where the test digits are, and RAISE is
 * as optimistic as AIS. We take the smaller RAISE value over the two bases, minus 3 standard
 * errors; when even that contradicts AIS, the bracket's lower end falls back to AIS's band.
 */

import { logSumExp } from "../core/numerics";
import { type Rng, toRng } from "../core/random";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";
import { assertBinary, permutation, type VisibleData, visibleRows } from "../io/data";
import { barFor, Pacer } from "../view/progress";
import {
  type AISBase,
  type AnnealOptions,
  annealHidden,
  baseLogZ,
  checkBases,
  checkRuns,
  resolveBetas,
  SAMPLE_HIGH,
  SAMPLE_LOW,
  SAMPLE_NONE,
  sampleVisible,
  TemperedGibbs,
} from "./anneal";
import { meanFreeEnergy } from "./metrics";
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
  assertFiniteRBM(rbm, "raiseLogZ");
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const { x, n } = visibleRows(testData, nV, what);
  assertBinary(x, what);
  checkBases(bases, nV, what);
  const runs = checkRuns(opts.runs ?? 1, what);
  const betas = resolveBetas(opts.betas);
  const K = betas.length - 1;
  const B = bases.length;
  const rng = toRng(opts.seed, "raiseLogZ");
  const rows = raiseRows(n, opts.vectors, rng, what);
  const nVec = rows.length;
  const R = B * nVec * runs;
  const g = new TemperedGibbs(
    rbm,
    bases.map((b) => b.visibleBias),
  );
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
  const pacer = new Pacer(bar, 250, "raiseLogZ", "temperatures");
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
    const slice = S.subarray(b * nVec * runs, (b + 1) * nVec * runs);
    return { ...raiseSummary(slice, runs, baseLogZ(base.visibleBias, nH), meanF), base: base.name, rows, nBetas: K, seconds };
  });
}

/**
 * The test rows RAISE anneals: all n of them, or a seeded random subset of `vectors` rows (drawn from
 * a fork of `rng`, so the annealing's own stream does not depend on the subset).
 * @throws when `vectors` is not an integer in [1, n]
 */
export function raiseRows(n: number, vectors: number | undefined, rng: Rng, what: string): Uint32Array {
  const nVec = vectors ?? n;
  if (!Number.isInteger(nVec) || nVec < 1 || nVec > n)
    throw new Error(`${what}: vectors must be an integer in [1, ${n}] (the test rows), got ${nVec}.`);
  return nVec === n ? Uint32Array.from({ length: n }, (_, i) => i) : permutation(n, rng.fork()).slice(0, nVec);
}

/**
 * One base's RAISE numbers from the reverse runs' sums S `[nVec · runs]` (vector-major):
 * ℓ_v = log Z_0 − log mean_r exp(−S_r) per vector, their mean and its standard error, and the
 * test log-likelihood −F̄ − mean ℓ. (log p̂_fwd(v) = −F(v) − log Z_0 + log mean_r exp(−S_r), so in
 * ℓ_v = −F(v) − log p̂_fwd(v) the free energy cancels.)
 */
export function raiseSummary(
  S: Float64Array,
  runs: number,
  logZBase: number,
  meanF: number,
): Pick<RAISEResult, "logZ" | "logZStd" | "perVector" | "logLikelihood" | "lower" | "logZBase" | "runs"> {
  const nVec = S.length / runs;
  const perVector = new Float64Array(nVec);
  for (let t = 0; t < nVec; t++) {
    const negS = Array.from(S.subarray(t * runs, (t + 1) * runs), (x) => -x);
    perVector[t] = logZBase - (logSumExp(negS) - Math.log(runs));
  }
  let mean = 0;
  for (const l of perVector) mean += l / nVec;
  let ss = 0;
  for (const l of perVector) ss += (l - mean) ** 2;
  const logZStd = nVec > 1 ? Math.sqrt(ss / (nVec - 1) / nVec) : Infinity;
  return { logZ: mean, logZStd, perVector, logLikelihood: -meanF - mean, lower: -meanF - mean - 3 * logZStd, logZBase, runs };
}
