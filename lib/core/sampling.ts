/**
 * Block Gibbs sampling. Because the RBM's conditionals factorise, a whole layer is sampled at once:
 * v → h ~ p(h|v) → v' ~ p(v|h) is one step of a Markov chain whose stationary distribution is p(v, h).
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "./random";
import { assertHidden, assertVisible, hiddenProbs, type RBM, visibleProbs } from "./rbm";
import { sampleBernoulli } from "./units";
/** One block-Gibbs step v → h → v: the probabilities and the samples of both layers. */
export interface GibbsStep {
  /** p(h = 1 | v) `[batch, nHidden]` */
  hProbs: tf.Tensor2D;
  /** h ~ p(h | v) `[batch, nHidden]` */
  h: tf.Tensor2D;
  /** p(v = 1 | h) `[batch, nVisible]` */
  vProbs: tf.Tensor2D;
  /** v ~ p(v | h) `[batch, nVisible]` */
  v: tf.Tensor2D;
}

/**
 * One step v → h → v. The caller owns (and disposes) the four returned tensors.
 * @param v `[batch, nVisible]`, binary or probabilities
 */
export function gibbsVHV(v: tf.Tensor2D, rbm: RBM, seed: Seed): GibbsStep {
  assertVisible(v, rbm);
  const rng = toRng(seed, "gibbsVHV");
  const hProbs = hiddenProbs(v, rbm);
  const h = sampleBernoulli(hProbs, rng);
  const vProbs = visibleProbs(h, rbm);
  const vNext = sampleBernoulli(vProbs, rng);
  return { hProbs, h, vProbs, v: vNext };
}

/**
 * One step h → v → h. The caller owns the returned tensors.
 * @param h `[batch, nHidden]`
 * @returns vProbs/v `[batch, nVisible]` from p(v|h), hProbs/h `[batch, nHidden]` from p(h|v)
 */
export function gibbsHVH(h: tf.Tensor2D, rbm: RBM, seed: Seed): GibbsStep {
  assertHidden(h, rbm);
  const rng = toRng(seed, "gibbsHVH");
  const vProbs = visibleProbs(h, rbm);
  const v = sampleBernoulli(vProbs, rng);
  const hProbs = hiddenProbs(v, rbm);
  const hNext = sampleBernoulli(hProbs, rng);
  return { hProbs, h: hNext, vProbs, v };
}

/** Options for {@link gibbsChain}. */
export interface ChainOptions {
  /** Number of v → h → v steps. */
  steps: number;
  /** Seed of the chain. */
  seed: Seed;
  /** Record the visible state every this many steps (0 = only the final state). Default 0. */
  every?: number;
  /** Record p(v|h) (smooth pictures) instead of binary samples. Default false. */
  recordProbs?: boolean;
  /** Called after each step with the step number (1-based); may be used for progress. */
  onStep?: (step: number) => void;
}

/** Result of {@link gibbsChain}. */
export interface ChainResult {
  /** Final binary visible state `[batch, nVisible]` (owned by the caller). */
  v: tf.Tensor2D;
  /** Final p(v|h) `[batch, nVisible]` (owned by the caller). */
  vProbs: tf.Tensor2D;
  /** Recorded states as flat arrays, each `[batch * nVisible]` row-major, with their step numbers. */
  records: { step: number; values: Float32Array }[];
}

/**
 * Runs `batch` independent block-Gibbs chains for `steps` steps from `v0` (not disposed).
 * Intermediate tensors are freed as the chain advances.
 * @param v0 `[batch, nVisible]`
 */
export function gibbsChain(v0: tf.Tensor2D, rbm: RBM, opts: ChainOptions): ChainResult {
  assertVisible(v0, rbm, "v0");
  if (!Number.isInteger(opts.steps) || opts.steps < 1) {
    throw new Error(`gibbsChain: steps must be an integer ≥ 1, got ${opts.steps}.`);
  }
  const rng = toRng(opts.seed, "gibbsChain");
  const every = opts.every ?? 0;
  const records: ChainResult["records"] = [];
  let v = v0.clone();
  let vProbs: tf.Tensor2D = v0.clone();
  for (let step = 1; step <= opts.steps; step++) {
    const s = gibbsVHV(v, rbm, rng);
    tf.dispose([v, vProbs, s.hProbs, s.h]);
    v = s.v;
    vProbs = s.vProbs;
    if (every > 0 && step % every === 0) {
      records.push({ step, values: (opts.recordProbs ? vProbs : v).dataSync().slice() as Float32Array });
    }
    opts.onStep?.(step);
  }
  return { v, vProbs, records };
}
