/**
 * Long block-Gibbs chains of the model itself, half from data rows and half from uniform noise: the
 * pixel means after burn-in give the model-sample base of AIS and RAISE, and every distinct visible
 * and hidden state visited feeds the guaranteed lower bound on log Z (bounds.ts).
 */

import { dotRow, log1pUnit } from "../core/numerics";
import { type Rng, type Seed, toRng } from "../core/random";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";
import { assertBinary, type VisibleData, visibleRows } from "../io/data";
import { barFor, Pacer, type ProgressBar } from "../view/progress";
import { baseRateVisibleBias, TemperedGibbs } from "./anneal";
import { negFreeEnergies, VisitedStates } from "./states";
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
  assertFiniteRBM(rbm, "sampleModel");
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const { R, steps, burnIn, data } = checkChainOptions(opts, nV);
  const rng = toRng(opts.seed, "sampleModel");
  const g = new TemperedGibbs(rbm, []);
  const s: Chains = {
    g,
    rng,
    R,
    c: Float64Array.from(rbm.c.dataSync()),
    v: startStates(R, nV, data, rng),
    vb: new Float64Array(R),
    hc: new Float64Array(R),
    hAug: new Float32Array(R * g.hCols),
    sums: new Float64Array(nV),
    visitedVisible: new VisitedStates(nV),
    visitedHidden: new VisitedStates(nH),
  };
  for (let r = 0; r < R; r++) {
    s.vb[r] = dotRow(s.v, r, nV, g.b);
    g.setBiasColumns(s.hAug, r, 1, -1); // hAug = [h, 1]: the 1 multiplies b
  }
  const bar = barFor(opts.progress, steps, `model chains ×${R}`, "step");
  const pacer = new Pacer(bar, 250, "sampleModel", "Gibbs steps");
  const t0 = performance.now();
  try {
    for (let step = 1; step <= steps; step++) {
      hiddenHalf(s, g.up(s.v, R));
      visibleHalf(s, g.visibleLogits(s.hAug, R), step > burnIn); // logits a = b + W h
      await pacer.step(step);
    }
    const finalNegF = negFreeEnergies(rbm, s.v);
    for (let r = 0; r < R; r++) s.visitedVisible.add(s.v, r, finalNegF[r]);
  } finally {
    g.dispose();
  }
  pacer.finish(steps);
  const count = R * (steps - burnIn);
  const pixelMeans = s.sums.map((x) => x / count);
  return {
    pixelMeans,
    visibleBias: baseRateVisibleBias(Float32Array.from(pixelMeans), nV),
    visitedVisible: s.visitedVisible,
    visitedHidden: s.visitedHidden,
    final: s.v,
    chains: R,
    steps,
    burnIn,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The chains' options with their defaults, checked; binary data rows when given. */
function checkChainOptions(
  opts: ModelSamplesOptions,
  nV: number,
): { R: number; steps: number; burnIn: number; data?: { x: Float32Array; n: number } } {
  const what = "sampleModel";
  const R = opts.chains ?? 100;
  const steps = opts.steps ?? 1000;
  const burnIn = opts.burnIn ?? Math.floor(steps / 2);
  if (!Number.isInteger(R) || R < 1) throw new Error(`${what}: chains must be an integer ≥ 1, got ${R}.`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${what}: steps must be an integer ≥ 1, got ${steps}.`);
  if (!Number.isInteger(burnIn) || burnIn < 0 || burnIn >= steps) {
    throw new Error(`${what}: burnIn must be an integer in [0, steps) = [0, ${steps}), got ${burnIn}.`);
  }
  if (opts.data === undefined) return { R, steps, burnIn };
  const data = visibleRows(opts.data, nV, what);
  assertBinary(data.x, what);
  return { R, steps, burnIn, data };
}

/** Start states `[R, nV]`: the first half at data rows spread evenly over the data, the rest (all, without data) at uniform noise. */
function startStates(R: number, nV: number, data: { x: Float32Array; n: number } | undefined, rng: Rng): Float32Array {
  const v = new Float32Array(R * nV);
  const fromData = data === undefined ? 0 : Math.ceil(R / 2);
  const nData = data?.n ?? 0;
  for (let r = 0; r < R; r++) {
    const row = Math.floor((r * nData) / Math.max(1, fromData)) % Math.max(1, nData);
    if (r < fromData && data !== undefined) v.set(data.x.subarray(row * nV, (row + 1) * nV), r * nV);
    else for (let i = 0; i < nV; i++) v[r * nV + i] = rng.uniform() < 0.5 ? 1 : 0;
  }
  return v;
}

/** R chains between two half-steps, and what they record. */
interface Chains {
  g: TemperedGibbs;
  rng: Rng;
  R: number;
  /** Hidden bias c, float64. */
  c: Float64Array;
  /** Current visible states `[R, nV]`. */
  v: Float32Array;
  /** vᵀb of each chain's current visible state. */
  vb: Float64Array;
  /** hᵀc of each chain's current hidden state. */
  hc: Float64Array;
  /** Current hidden states with the bias column, `[R, nH + 1]`. */
  hAug: Float32Array;
  /** Σ p(v_i = 1 | h) after burn-in. */
  sums: Float64Array;
  visitedVisible: VisitedStates;
  visitedHidden: VisitedStates;
}

/** The v → h half-step from x = c + vW `[R, nH]`: records −F(v) = vᵀb + Σ_j softplus(x_j) of the current v, then h ~ σ(x) with its hᵀc. */
function hiddenHalf(s: Chains, X: Float32Array): void {
  const nH = s.c.length;
  for (let r = 0; r < s.R; r++) {
    let negF = s.vb[r];
    let hc = 0;
    const xo = r * nH;
    const ho = r * s.g.hCols;
    for (let j = 0; j < nH; j++) {
      const x = X[xo + j];
      const e = Math.exp(-Math.abs(x));
      negF += (x > 0 ? x : 0) + log1pUnit(e);
      if (s.rng.uniform() < (x >= 0 ? 1 / (1 + e) : e / (1 + e))) {
        s.hAug[ho + j] = 1;
        hc += s.c[j];
      } else {
        s.hAug[ho + j] = 0;
      }
    }
    s.visitedVisible.add(s.v, r, negF);
    s.hc[r] = hc;
  }
}

/** The h → v half-step from a = b + Wh `[R, nV]`: records −G(h) = hᵀc + Σ_i softplus(a_i) of the current h, then v ~ σ(a) with its vᵀb. */
function visibleHalf(s: Chains, A: Float32Array, accumulate: boolean): void {
  const nV = s.g.b.length;
  for (let r = 0; r < s.R; r++) {
    let negG = s.hc[r];
    let vb = 0;
    const o = r * nV;
    for (let i = 0; i < nV; i++) {
      const a = A[o + i];
      const e = Math.exp(-Math.abs(a));
      negG += (a > 0 ? a : 0) + log1pUnit(e);
      const p = a >= 0 ? 1 / (1 + e) : e / (1 + e);
      if (accumulate) s.sums[i] += p;
      if (s.rng.uniform() < p) {
        s.v[o + i] = 1;
        vb += s.g.b[i];
      } else {
        s.v[o + i] = 0;
      }
    }
    s.visitedHidden.add(s.hAug, r, negG, s.g.hCols);
    s.vb[r] = vb;
  }
}
