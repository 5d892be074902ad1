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
 * 3. RAISE, reverse annealing (raise.ts): a stochastic bound on the other side of AIS.
 *
 * 4. A diagnosis ({@link trustworthyLogLikelihood}): the AIS estimates of the bases must agree
 *    within their bands, no estimate may fall below the guaranteed bound, and RAISE's
 *    log-likelihood must not be above AIS's (its log Z not below). Otherwise a warning says which
 *    number to trust and why. The rule is always the same: every method here under-estimates
 *    log Z when it misses mass, so the largest credible log Z (the lowest log-likelihood) is the
 *    one to trust.
 */

import { type Seed, toRng } from "../core/random";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";
import { assertBinary, type VisibleData, visibleRows } from "../io/data";
import { annealedLogZBases } from "./ais";
import { type AISBase, type AISResult, baseRateVisibleBias, checkRuns, resolveBetas } from "./anneal";
import { type HardLogZBound, hardLogZLowerBound } from "./bounds";
import { meanFreeEnergy } from "./metrics";
import { type ModelSamples, sampleModel } from "./model-samples";
import { type RAISEResult, raiseLogZ } from "./raise";
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
  assertFiniteRBM(rbm, "trustworthyLogLikelihood");
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
  const rng = toRng(opts.seed, "trustworthyLogLikelihood");
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
        `missed probability mass (${cause}). AIS overestimates log Z by t nats with probability at most e^−t, while a missed mode lowers every run, so trust the larger log Z: ` +
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
