import { Seed, toRng } from "../core/random";
import { VisibleData, visibleRows, assertBinary } from "../io/data";
import { ProgressBar, barFor, Pacer } from "../view/progress";
import { VisitedStates, negFreeEnergies } from "./bounds";
import { RBM, assertFiniteRBM, rbmSize } from "../core/rbm";
import { TemperedGibbs, dotRow, baseRateVisibleBias } from "./anneal";
import { log1pUnit } from "../core/numerics";
/**
 * Long block-Gibbs chains of the model itself, half from data rows and half from uniform noise: the
 * pixel means after burn-in give the model-sample base of AIS and RAISE, and every distinct visible
 * and hidden state visited feeds the guaranteed lower bound on log Z (bounds.ts).
 */
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
