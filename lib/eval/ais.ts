import { dotRow, sigmoid64 } from "../core/numerics";
import { assertSeed, type Seed, toRng } from "../core/random";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";
import { assertBinary, type VisibleData, visibleRows } from "../io/data";
import { barFor, Pacer, type ProgressBar } from "../view/progress";
import {
  type AISBase,
  type AISResult,
  type AnnealOptions,
  aisBetas,
  aisSummary,
  annealHidden,
  baseLogZ,
  baseRateVisibleBias,
  checkBases,
  checkRuns,
  resolveBetas,
  SAMPLE_HIGH,
  SAMPLE_NONE,
  sampleVisible,
  TemperedGibbs,
} from "./anneal";
import { meanFreeEnergy } from "./metrics";

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

/**
 * Estimates log Z of `rbm` by annealed importance sampling (see the file comment for the method)
 * from one base-rate model: {@link annealedLogZBases} with a single base.
 *
 * Cost: per temperature one matMul up `[M, nV]×[nV, nH]` and one down `[M, nH+2]×[nH+2, nV]` on
 * TF.js, and float64 work on the read-back `[M, nH]` hidden inputs in JavaScript (the weight
 * increments and the hidden samples). Time ∝ K · M: try a short schedule first and extrapolate;
 * `npm run bench` measures it on your machine. All tensors are freed; the loop yields to the event
 * loop a few times a second (progress bars).
 */
export async function annealedLogZ(rbm: RBM, opts: AISOptions): Promise<AISResult> {
  assertFiniteRBM(rbm, "annealedLogZ");
  assertSeed(opts.seed, "annealedLogZ");
  const { nVisible: nV } = rbmSize(rbm);
  let bA: Float32Array;
  if (opts.baseVisibleBias !== undefined) {
    bA = opts.baseVisibleBias;
    if (bA.length !== nV || !bA.every((z) => Number.isFinite(z))) {
      throw new Error(`annealedLogZ: baseVisibleBias must be ${nV} finite numbers (nVisible), got ${bA.length} values.`);
    }
  } else {
    bA = opts.data !== undefined ? baseRateVisibleBias(opts.data, nV) : new Float32Array(nV);
  }
  const [result] = await annealedLogZBases(rbm, [{ name: "base", visibleBias: bA }], {
    seed: opts.seed,
    runs: opts.runs,
    betas: opts.betas,
    progress: opts.progress,
  });
  return result;
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
export async function aisLogLikelihood(rbm: RBM, testData: VisibleData, opts: AISOptions | { ais: AISResult }): Promise<AISLogLikelihood> {
  const what = "aisLogLikelihood";
  assertFiniteRBM(rbm, "aisLogLikelihood");
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

/**
 * AIS (Salakhutdinov & Murray 2008, exactly as {@link annealedLogZ}) from several base-rate models
 * at once: M runs per base share every matMul. Returns one {@link AISResult} per base, in order;
 * `seconds` is the shared wall time of the batch.
 */
export async function annealedLogZBases(rbm: RBM, bases: AISBase[], opts: AnnealOptions): Promise<AISResult[]> {
  const what = "annealedLogZBases";
  assertFiniteRBM(rbm, "annealedLogZBases");
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  checkBases(bases, nV, what);
  const M = checkRuns(opts.runs ?? 100, what);
  const betas = resolveBetas(opts.betas);
  const K = betas.length - 1;
  const B = bases.length;
  const R = B * M;
  const rng = toRng(opts.seed, "annealedLogZBases");
  const g = new TemperedGibbs(
    rbm,
    bases.map((x) => x.visibleBias),
  );
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
  const pacer = new Pacer(bar, 250, "annealedLogZBases", "temperatures");
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
