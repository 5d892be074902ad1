/**
 * Parallel tempering for an RBM (Desjardins, Courville, Bengio, Vincent & Delalleau 2010; Cho,
 * Raiko & Ilin 2010): M groups of n chains, group t sampling the tempered model
 *
 *   p_β(v, h) ∝ exp(vᵀb_A − β E′(v, h)),   E′(v, h) = −vᵀ(b − b_A) − hᵀc − vᵀWh,   1 = β₁ > … > β_M
 *
 * (b_A = 0 gives Desjardins et al.'s exp(−βE); b_A the data's base rate makes the hottest chains
 * draw near-independent pixels with the data's means, the base of AIS). After one block-Gibbs step of
 * every chain at its own β, neighbouring temperatures t, t+1 (the even pairs, then the odd pairs on
 * the next step) propose to exchange their states, accepted with the Metropolis probability
 *
 *   a = min(1, exp((β_t − β_{t+1}) (E′(x_t) − E′(x_{t+1})))),
 *
 * which leaves the product of the tempered distributions invariant: the β = 1 chains sample p(v, h)
 * exactly, while states explored by the hot chains (which cross between modes easily) travel down
 * the ladder. The Gibbs step is written like the CD update (TF.js matMuls with fused bias and
 * sigmoid, JS uniforms), so that tempering rides the same fast path; only the M·n energies are read
 * back for the swaps.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeCDAvailable, nativeTemperingSteps, temperingBuffers } from "../compute/blas";
import { transposeIsFree } from "../compute/ops";
import { type Rng, type Seed, toRng } from "./random";
import { assertFiniteRBM, type RBM, rbmArrays, rbmSize } from "./rbm";
import { runNative } from "./sampling";
import { sampleBernoulli, sigmoidLayer, UniformSource } from "./units";
/** The temperature ladder and its chains' state. The caller owns the tensors (free with {@link disposeTempering}). */
export interface TemperingState {
  /** Inverse temperatures, β[0] = 1 > β[1] > … `[M]`. */
  betas: Float64Array;
  /** Chains per temperature n. */
  n: number;
  /** Hidden states `[M·n, nHidden]`; rows t·n … t·n + n − 1 are at β[t]. */
  h: tf.Tensor2D;
  /** β of each row `[M·n, 1]`. */
  betaCol: tf.Tensor2D;
  /** (1 − β) b_A of each row `[M·n, nVisible]`, or undefined for b_A = 0. */
  baseTerm?: tf.Tensor2D;
  /** b_A `[nVisible]` (zeros when no base was given). */
  base: Float32Array;
  /** Swaps accepted and proposed between β[t] and β[t+1] `[M − 1]`. */
  accepted: Float64Array;
  proposed: Float64Array;
  /** Which pairs propose next: 0 the even pairs (0–1, 2–3, …), 1 the odd. */
  parity: 0 | 1;
}

/** Options of {@link startTempering}. */
export interface TemperingOptions {
  /**
   * Inverse temperatures, strictly decreasing from 1, or their count M for an even ladder from 1 to
   * `betaMin` (Cho et al. 2010 space the ladder evenly). Default 10.
   */
  betas?: ArrayLike<number> | number;
  /** Smallest β of an even ladder. Default 0.5. */
  betaMin?: number;
  /** Chains per temperature n. Default 10. */
  chainsPerTemperature?: number;
  /** Base visible bias b_A `[nVisible]` (e.g. baseRateVisibleBias of the training data). Default zeros. */
  base?: Float32Array;
}

/** The ladder of {@link TemperingOptions}: explicit betas checked, or M evenly spaced from 1 to betaMin. */
export function temperatureLadder(betas: ArrayLike<number> | number = 10, betaMin = 0.5): Float64Array {
  if (typeof betas === "number") {
    if (!Number.isInteger(betas) || betas < 1)
      throw new Error(`temperatureLadder: the number of temperatures must be an integer ≥ 1, got ${betas}.`);
    if (!(betaMin > 0 && betaMin < 1)) throw new Error(`temperatureLadder: betaMin must be in (0, 1), got ${betaMin}.`);
    return Float64Array.from({ length: betas }, (_, t) => (betas === 1 ? 1 : 1 - ((1 - betaMin) * t) / (betas - 1)));
  }
  const b = Float64Array.from(betas);
  if (b.length < 1 || b[0] !== 1 || b.some((x, t) => !(x > 0) || (t > 0 && !(x < b[t - 1])))) {
    throw new Error(`temperatureLadder: betas must start at 1 and decrease strictly, staying > 0; got [${Array.from(b).join(", ")}].`);
  }
  return b;
}

/**
 * Sets up the ladder with every chain's hidden state `h0` `[n, nHidden]` copied to each temperature
 * (PCD's start: hidden samples of training rows). `h0` is not disposed.
 */
export function startTempering(rbm: RBM, h0: tf.Tensor2D, opts: TemperingOptions = {}): TemperingState {
  const { nVisible, nHidden } = rbmSize(rbm);
  const betas = temperatureLadder(opts.betas, opts.betaMin);
  const n = opts.chainsPerTemperature ?? h0.shape[0];
  if (h0.rank !== 2 || h0.shape[1] !== nHidden || h0.shape[0] !== n) {
    throw new Error(`startTempering: h0 must be [${n}, ${nHidden}] (chainsPerTemperature, nHidden), got [${h0.shape}].`);
  }
  const base = opts.base ?? new Float32Array(nVisible);
  if (base.length !== nVisible || !base.every(Number.isFinite)) {
    throw new Error(`startTempering: base must hold ${nVisible} finite visible biases (nVisible), got ${base.length} values.`);
  }
  const M = betas.length;
  const rowBetas = Float32Array.from({ length: M * n }, (_, r) => betas[Math.floor(r / n)]);
  const hasBase = base.some((x) => x !== 0);
  return {
    betas,
    n,
    h: tf.tidy(() => tf.tile(h0, [M, 1])) as tf.Tensor2D,
    betaCol: tf.tensor2d(rowBetas, [M * n, 1]),
    baseTerm: hasBase
      ? (tf.tidy(() => tf.mul(tf.sub(1, tf.tensor2d(rowBetas, [M * n, 1])), tf.tensor2d(base, [1, nVisible]))) as tf.Tensor2D)
      : undefined,
    base,
    accepted: new Float64Array(M - 1),
    proposed: new Float64Array(M - 1),
    parity: 0,
  };
}

/** Frees the tensors of a tempering state. */
export function disposeTempering(s: TemperingState): void {
  tf.dispose([s.h, s.betaCol, s.baseTerm].filter((t): t is tf.Tensor2D => t !== undefined));
}

/** The β = 1 chains after one {@link temperingStep}, before the swap: their visible sample and p(h | v). Owned by the caller. */
export interface ColdChains {
  /** v ~ p(v | h) `[n, nVisible]`. */
  v: tf.Tensor2D;
  /** p(h = 1 | v) `[n, nHidden]`. */
  hProbs: tf.Tensor2D;
}

/**
 * One step of parallel tempering: h → v → h block Gibbs at every chain's β, then one round of
 * neighbour swaps (even or odd pairs, alternating). Updates `s` in place (its old `h` is freed) and
 * returns the β = 1 chains' visible sample and p(h|v) from the Gibbs step (the states that were at
 * β = 1 when they were drawn).
 * @param WT Wᵀ `[nHidden, nVisible]`, transposed once by the caller, for the stock wasm kernels (where
 *   a transposed matMul is slow); undefined reads W with a transpose flag (pass undefined where
 *   compute/ops's transposeIsFree() holds)
 */
export function temperingStep(rbm: RBM, WT: tf.Tensor2D | undefined, s: TemperingState, noise: UniformSource): ColdChains {
  const { n } = s;
  const { energies, hNew, coldV, coldH } = tf.tidy(() => {
    const hW = WT ? tf.matMul(s.h, WT) : tf.matMul(s.h, rbm.W, false, true);
    const down = tf.mul(tf.add(hW, rbm.b), s.betaCol);
    const v = sampleBernoulli(tf.sigmoid(s.baseTerm ? tf.add(down, s.baseTerm) : down), noise) as tf.Tensor2D;
    const x = tf.fused.matMul({ a: v, b: rbm.W, bias: rbm.c }) as tf.Tensor2D;
    const hProbs = tf.sigmoid(tf.mul(x, s.betaCol)) as tf.Tensor2D;
    const h = sampleBernoulli(hProbs, noise);
    // −E′(x) = vᵀ(b − b_A) + hᵀ(c + Wᵀv), one value per chain.
    const bMinusBase = tf.sub(rbm.b, tf.tensor1d(s.base));
    const negE = tf.add(tf.sum(tf.mul(v, bMinusBase), 1), tf.sum(tf.mul(h, x), 1));
    const coldV = tf.slice(v, [0, 0], [n, -1]) as tf.Tensor2D;
    const coldH = tf.slice(hProbs, [0, 0], [n, -1]) as tf.Tensor2D;
    return { energies: negE, hNew: h, coldV, coldH };
  });
  const negE = energies.dataSync();
  energies.dispose();
  const order = swapOrder(s, negE, noise.rng);
  s.h.dispose();
  if (order) {
    const idx = tf.tensor1d(order, "int32");
    s.h = tf.gather(hNew, idx) as tf.Tensor2D;
    tf.dispose([idx, hNew]);
  } else {
    s.h = hNew;
  }
  return { v: coldV as tf.Tensor2D, hProbs: coldH as tf.Tensor2D };
}

/**
 * The swap round: for each proposed pair (t, t+1) and each replica r, accept with probability
 * min(1, exp((β_t − β_{t+1})(E′_t − E′_{t+1}))) given −E′ per row. Counts into s.accepted/s.proposed,
 * flips the parity. Returns the new row order (row i takes the state of row order[i]), or undefined
 * when nothing moved.
 */
export function swapOrder(s: TemperingState, negE: ArrayLike<number>, rng: Rng): Int32Array | undefined {
  const M = s.betas.length;
  const { n } = s;
  const order = Int32Array.from({ length: M * n }, (_, i) => i);
  let moved = false;
  for (let t = s.parity; t + 1 < M; t += 2) {
    const dBeta = s.betas[t] - s.betas[t + 1];
    for (let r = 0; r < n; r++) {
      const i = t * n + r;
      const j = i + n;
      // log a = (β_t − β_{t+1})(E′_i − E′_j) = (β_t − β_{t+1})(negE_j − negE_i)
      const logA = dBeta * (negE[j] - negE[i]);
      s.proposed[t]++;
      if (logA >= 0 || rng.uniform() < Math.exp(logA)) {
        s.accepted[t]++;
        order[i] = j;
        order[j] = i;
        moved = true;
      }
    }
  }
  s.parity = s.parity === 0 ? 1 : 0;
  return moved ? order : undefined;
}

/** Swap acceptance rate between β[t] and β[t+1] `[M − 1]` (NaN before any proposal). */
export function swapRates(s: Pick<TemperingState, "accepted" | "proposed">): number[] {
  return Array.from(s.accepted, (a, t) => a / s.proposed[t]);
}

/** Options for {@link parallelTempering}. */
export interface ParallelTemperingOptions extends TemperingOptions {
  /** Steps (Gibbs sweep + swap round). */
  steps: number;
  /** Seed of the sampler. */
  seed: Seed;
  /** Record the β = 1 visible samples every this many steps (0 = only the last). Default 0. */
  every?: number;
  /** Starting visible rows `[n, nVisible]` of the chains (e.g. training digits); default uniform noise. */
  v0?: tf.Tensor2D;
}

/** Result of {@link parallelTempering}. */
export interface ParallelTemperingResult {
  /** β = 1 visible samples `[n, nVisible]` of the last step (owned by the caller). */
  v: tf.Tensor2D;
  /** Recorded β = 1 visible samples, each `[n * nVisible]` row-major, with their step numbers. */
  records: { step: number; values: Float32Array }[];
  /** The ladder. */
  betas: Float64Array;
  /** Swap acceptance between neighbours `[M − 1]`. */
  swapRates: number[];
  /** Wall-clock seconds. */
  seconds: number;
}

/**
 * Samples `rbm` with parallel tempering (see the file comment): n chains at each of M temperatures,
 * `steps` Gibbs sweeps with a swap round after each. Frees every tensor it makes except the result's `v`.
 */
export function parallelTempering(rbm: RBM, opts: ParallelTemperingOptions): ParallelTemperingResult {
  assertFiniteRBM(rbm, "parallelTempering");
  const { nVisible } = rbmSize(rbm);
  if (!Number.isInteger(opts.steps) || opts.steps < 1)
    throw new Error(`parallelTempering: steps must be an integer ≥ 1, got ${opts.steps}.`);
  const noise = new UniformSource(toRng(opts.seed, "parallelTempering"));
  const n = opts.v0?.shape[0] ?? opts.chainsPerTemperature ?? 10;
  if (opts.v0 && (opts.v0.rank !== 2 || opts.v0.shape[1] !== nVisible)) {
    throw new Error(`parallelTempering: v0 must be [chains, ${nVisible}], got [${opts.v0.shape}].`);
  }
  const t0 = performance.now();
  const h0 = tf.tidy(() => {
    const v0 = opts.v0 ?? sampleBernoulli(tf.fill([n, nVisible], 0.5) as tf.Tensor2D, noise);
    return sampleBernoulli(sigmoidLayer(v0, rbm.W, rbm.c), noise);
  });
  const s = startTempering(rbm, h0, { ...opts, chainsPerTemperature: n });
  if (nativeCDAvailable()) {
    const h0Data = h0.dataSync() as Float32Array;
    h0.dispose();
    disposeTempering(s);
    return nativeParallelTempering(rbm, opts, s, h0Data, noise.rng, t0);
  }
  h0.dispose();
  const WT = transposeIsFree() ? undefined : (tf.transpose(rbm.W) as tf.Tensor2D);
  const every = opts.every ?? 0;
  const records: ParallelTemperingResult["records"] = [];
  let last: tf.Tensor2D | undefined;
  try {
    for (let step = 1; step <= opts.steps; step++) {
      const cold = temperingStep(rbm, WT, s, noise);
      cold.hProbs.dispose();
      last?.dispose();
      last = cold.v;
      if (every > 0 && step % every === 0) records.push({ step, values: last.dataSync().slice() as Float32Array });
    }
  } finally {
    WT?.dispose();
    disposeTempering(s);
  }
  return { v: last as tf.Tensor2D, records, betas: s.betas, swapRates: swapRates(s), seconds: (performance.now() - t0) / 1000 };
}

/**
 * parallelTempering's steps run natively between records (compute/blas.ts's nativeTemperingSteps),
 * from the ladder, base and start that startTempering checked; `s` holds only those (its tensors are freed).
 */
function nativeParallelTempering(
  rbm: RBM,
  opts: ParallelTemperingOptions,
  s: TemperingState,
  h0: Float32Array,
  rng: Rng,
  t0: number,
): ParallelTemperingResult {
  const { nVisible, nHidden } = rbmSize(rbm);
  const { n, betas } = s;
  const pt = temperingBuffers(betas, n, nVisible, nHidden, h0, s.base);
  const params = rbmArrays(rbm);
  const every = opts.every ?? 0;
  const records: ParallelTemperingResult["records"] = [];
  runNative(
    rng,
    opts.steps,
    every,
    (k, state) => nativeTemperingSteps(pt, params, k, state),
    (step) => {
      if (every > 0 && step % every === 0) records.push({ step, values: pt.v.slice(0, n * nVisible) });
    },
    "parallelTempering",
  );
  return {
    v: tf.tensor2d(pt.v.slice(0, n * nVisible), [n, nVisible]),
    records,
    betas,
    swapRates: swapRates(pt),
    seconds: (performance.now() - t0) / 1000,
  };
}
