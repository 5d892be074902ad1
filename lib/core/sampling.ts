/**
 * Block Gibbs sampling. Because the RBM's conditionals factorise, a whole layer is sampled at once:
 * v → h ~ p(h|v) → v' ~ p(v|h) is one step of a Markov chain whose stationary distribution is p(v, h).
 */
import * as tf from "@tensorflow/tfjs";
import { gibbsBuffers, nativeGibbsAvailable, nativeGibbsSteps } from "../compute/blas";
import { type Rng, type Seed, toRng } from "./random";
import { assertHidden, assertVisible, hiddenProbs, type RBM, rbmArrays, visibleProbs } from "./rbm";
import { sampleBernoulli, sampleSoftmaxGroup, sigmoidLayer } from "./units";
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
  if (nativeGibbsAvailable()) return nativeChain(v0, rbm, opts, rng, every);
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

/**
 * gibbsChain with the steps between records run natively (compute/blas.ts's nativeGibbsSteps): the
 * same generator and products as the tensor steps, so the same chain; one native call per record
 * interval (per step when `onStep` is given), no tensors until the end.
 */
function nativeChain(v0: tf.Tensor2D, rbm: RBM, opts: ChainOptions, rng: Rng, every: number): ChainResult {
  const [B, nV] = v0.shape;
  const params = rbmArrays(rbm);
  const x = gibbsBuffers(v0.dataSync() as Float32Array, B, rbm.c.shape[0]);
  const records: ChainResult["records"] = [];
  let done = 0;
  runNative(
    rng,
    opts.steps,
    opts.onStep !== undefined ? 1 : every,
    (n, state) => nativeGibbsSteps(x, params, B, n, state),
    (step) => {
      for (; done < step; done++) opts.onStep?.(done + 1);
      if (every > 0 && step % every === 0) records.push({ step, values: (opts.recordProbs ? x.vProbs : x.v).slice() });
    },
    "gibbsChain",
  );
  return { v: tf.tensor2d(x.v, [B, nV]), vProbs: tf.tensor2d(x.vProbs, [B, nV]), records };
}

/**
 * Advances a native chain `steps` steps in runs that end on every multiple of `every` (a single run
 * when `every` is 0): each run is one `advance(n, state)` on `rng`'s generator state, followed by
 * `atRunEnd(step)`. `advance` returns false when native BLAS is gone; that stops the chain with an
 * error naming `what`.
 */
export function runNative(
  rng: Rng,
  steps: number,
  every: number,
  advance: (n: number, state: Uint32Array) => boolean,
  atRunEnd: (step: number) => void,
  what: string,
): void {
  const stride = every > 0 ? every : steps;
  for (let step = 0; step < steps; ) {
    const n = Math.min(stride - (step % stride), steps - step);
    let ok = false;
    rng.advanceWith((state) => {
      ok = advance(n, state);
    });
    if (!ok) throw new Error(`${what}: native BLAS was switched off during the run; run the cell again.`);
    step += n;
    atRunEnd(step);
  }
}

// ───────────────────────────── clamped (conditional) chains ─────────────────────────────

/**
 * What a clamped chain holds fixed. Known visible units keep their value at every step; the others
 * are resampled from p(v_i | h). Because the units of a layer are independent given the other layer,
 * block Gibbs with the known units clamped is a Markov chain whose stationary distribution is
 * p(v_unknown, h | v_known): inpainting, and (clamping a DBN's label units) class-conditional dreams.
 */
export interface Clamp {
  /** The known values `[batch, nVisible]` (entries where `known` is 0 are ignored). */
  values: tf.Tensor2D;
  /** 1 where a Bernoulli unit is known, 0 where it is sampled: `[batch, nVisible]`, or `[1, nVisible]` for every row. Undefined: no Bernoulli unit is clamped. */
  known?: tf.Tensor2D;
  /** The softmax group (see {@link ClampedStepOptions.softmaxGroup}) is clamped to its one-hot rows in `values`. Default false. */
  groupKnown?: boolean;
}

/** Options of {@link clampedGibbsStep}. */
export interface ClampedStepOptions {
  /**
   * Inverse temperature β: the chain samples p(v, h)^β / Z(β), i.e. σ(β(vW + c)) and σ(β(hWᵀ + b)).
   * Default 1 (the model itself); β < 1 flattens the distribution (more mixing), β > 1 sharpens it.
   */
  beta?: number;
  /** The last K visible units form one softmax group (a DBN's label units), sampled one-of-K when free. Default 0. */
  softmaxGroup?: number;
  /**
   * Log-odds added to the visible inputs `[batch, nVisible]` (evidence from a noisy observation:
   * p(v | h, y) ∝ p(v | h) p(y | v) for independent pixel noise; see eval/inpaint's denoising).
   */
  evidence?: tf.Tensor2D;
  /** Wᵀ `[nHidden, nVisible]`, when the caller keeps it (saves one transpose per step). */
  WT?: tf.Tensor2D;
}

/** Checks a clamp against the RBM and the batch; throws naming the tensor and the shape wanted. */
export function assertClamp(clamp: Clamp, rbm: RBM, batch: number, what: string): void {
  const nV = rbm.W.shape[0];
  const ok = (t: tf.Tensor, rows: number[]) => t.rank === 2 && rows.includes(t.shape[0]) && t.shape[1] === nV && !t.isDisposed;
  if (!(clamp.values instanceof tf.Tensor) || !ok(clamp.values, [batch])) {
    throw new Error(`${what}: clamp.values must be a live tensor [${batch}, ${nV}] (the known images), got [${clamp.values?.shape}].`);
  }
  if (clamp.known && !ok(clamp.known, [batch, 1])) {
    throw new Error(
      `${what}: clamp.known must be a 0/1 mask [${batch}, ${nV}] or [1, ${nV}] (1 = known pixel), got [${clamp.known.shape}].`,
    );
  }
}

/**
 * One clamped block-Gibbs step v → h → v at inverse temperature β: h ~ p(h | v), then the free
 * visible units from p(v | h) while the known ones keep their values (their `vProbs` entries are
 * the known values too). The random numbers are drawn in the order h, softmax group, Bernoulli
 * units. The caller owns the four returned tensors.
 * @param v `[batch, nVisible]` the current state (its known entries should already hold the values)
 */
export function clampedGibbsStep(v: tf.Tensor2D, rbm: RBM, clamp: Clamp | undefined, seed: Seed, opts: ClampedStepOptions = {}): GibbsStep {
  const rng = toRng(seed, "clampedGibbsStep");
  const beta = opts.beta ?? 1;
  const K = opts.softmaxGroup ?? 0;
  const [B, nV] = v.shape;
  const nX = nV - K;
  return tf.tidy(() => {
    const hProbs = beta === 1 ? sigmoidLayer(v, rbm.W, rbm.c) : tf.sigmoid(tf.mul(tf.add(tf.matMul(v, rbm.W), rbm.c), beta));
    const h = sampleBernoulli(hProbs as tf.Tensor2D, rng);
    const WT = opts.WT ?? (tf.transpose(rbm.W) as tf.Tensor2D);
    let act = tf.fused.matMul({ a: h, b: WT, bias: rbm.b }) as tf.Tensor2D;
    if (beta !== 1) act = tf.mul(act, beta);
    if (opts.evidence) act = tf.add(act, opts.evidence);
    const x = K > 0 ? tf.slice(act, [0, 0], [B, nX]) : act;
    let yProbs: tf.Tensor2D | undefined;
    let y: tf.Tensor2D | undefined;
    if (K > 0) {
      if (clamp?.groupKnown) {
        yProbs = tf.slice(clamp.values, [0, nX], [B, K]);
        y = yProbs;
      } else {
        yProbs = tf.softmax(tf.slice(act, [0, nX], [B, K])) as tf.Tensor2D;
        y = sampleSoftmaxGroup(yProbs, rng);
      }
    }
    let xProbs = tf.sigmoid(x) as tf.Tensor2D;
    let xs = sampleBernoulli(xProbs, rng);
    const known = clamp?.known;
    if (clamp && known) {
      const kx = K > 0 ? tf.slice(known, [0, 0], [known.shape[0], nX]) : known;
      const vx = K > 0 ? tf.slice(clamp.values, [0, 0], [B, nX]) : clamp.values;
      const mix = (t: tf.Tensor2D) => tf.add(t, tf.mul(kx, tf.sub(vx, t))) as tf.Tensor2D; // t + known·(value − t)
      xProbs = mix(xProbs);
      xs = mix(xs);
    }
    const join = (a: tf.Tensor2D, b?: tf.Tensor2D) => (b ? (tf.concat([a, b], 1) as tf.Tensor2D) : a);
    return { hProbs: hProbs as tf.Tensor2D, h, vProbs: join(xProbs, yProbs), v: join(xs, y) };
  });
}

/** Options of {@link clampedGibbsChain}. */
export interface ClampedChainOptions extends Omit<ClampedStepOptions, "WT"> {
  /** Number of v → h → v steps. */
  steps: number;
  /** Seed of the chain. */
  seed: Seed;
  /** Steps left out of {@link ClampedChainResult.meanProbs} (the chain forgetting its start). Default ⌊steps / 2⌋. */
  burnIn?: number;
  /** Record the visible state every this many steps (0 = none). Default 0. */
  every?: number;
  /** Record p(v|h) instead of binary samples. Default false. */
  recordProbs?: boolean;
}

/** Result of {@link clampedGibbsChain}; the tensors are the caller's. */
export interface ClampedChainResult extends ChainResult {
  /**
   * The average of p(v | h) over the steps after burn-in `[batch, nVisible]`: for a free unit the
   * Rao-Blackwellised estimate of its conditional marginal p(v_i = 1 | v_known), for a known unit its value.
   */
  meanProbs: tf.Tensor2D;
}

/**
 * Runs `batch` clamped block-Gibbs chains (see {@link Clamp}) for `steps` steps from `v0` (not
 * disposed; its known entries are replaced by the clamped values first). With a clamp the chain
 * samples p(v_free | v_known); without one it is {@link gibbsChain} at inverse temperature β.
 * @param v0 `[batch, nVisible]`: the start of the free units (e.g. noise, or a test digit)
 */
export function clampedGibbsChain(v0: tf.Tensor2D, rbm: RBM, clamp: Clamp | undefined, opts: ClampedChainOptions): ClampedChainResult {
  assertVisible(v0, rbm, "v0");
  if (clamp) assertClamp(clamp, rbm, v0.shape[0], "clampedGibbsChain");
  if (!Number.isInteger(opts.steps) || opts.steps < 1) {
    throw new Error(`clampedGibbsChain: steps must be an integer ≥ 1, got ${opts.steps}.`);
  }
  const burnIn = opts.burnIn ?? Math.floor(opts.steps / 2);
  if (!Number.isInteger(burnIn) || burnIn < 0 || burnIn >= opts.steps) {
    throw new Error(`clampedGibbsChain: burnIn must be an integer in [0, steps − 1] = [0, ${opts.steps - 1}], got ${burnIn}.`);
  }
  if (opts.beta !== undefined && !(Number.isFinite(opts.beta) && opts.beta >= 0)) {
    throw new Error(`clampedGibbsChain: beta (inverse temperature) must be a finite number ≥ 0, got ${opts.beta}.`);
  }
  const rng = toRng(opts.seed, "clampedGibbsChain");
  const every = opts.every ?? 0;
  const records: ChainResult["records"] = [];
  const WT = tf.transpose(rbm.W) as tf.Tensor2D;
  let v = applyClamp(v0, clamp, opts.softmaxGroup ?? 0);
  let vProbs = v.clone();
  let sum = tf.zerosLike(v0) as tf.Tensor2D;
  try {
    for (let step = 1; step <= opts.steps; step++) {
      const s = clampedGibbsStep(v, rbm, clamp, rng, { ...opts, WT });
      tf.dispose([v, vProbs, s.hProbs, s.h]);
      v = s.v;
      vProbs = s.vProbs;
      if (step > burnIn) {
        const next = tf.add(sum, vProbs) as tf.Tensor2D;
        sum.dispose();
        sum = next;
      }
      if (every > 0 && step % every === 0) {
        records.push({ step, values: (opts.recordProbs ? vProbs : v).dataSync().slice() as Float32Array });
      }
    }
    const meanProbs = tf.tidy(() => tf.div(sum, opts.steps - burnIn)) as tf.Tensor2D;
    return { v, vProbs, meanProbs, records };
  } finally {
    tf.dispose([WT, sum]);
  }
}

/** `v` with the known entries of `clamp` put in (a new tensor): known·value + (1 − known)·v, and the clamped softmax group. */
export function applyClamp(v: tf.Tensor2D, clamp: Clamp | undefined, softmaxGroup = 0): tf.Tensor2D {
  return tf.tidy(() => {
    let out: tf.Tensor2D = clamp?.known ? tf.add(v, tf.mul(clamp.known, tf.sub(clamp.values, v))) : v.clone();
    if (clamp?.groupKnown && softmaxGroup > 0) {
      const [B, nV] = v.shape;
      const nX = nV - softmaxGroup;
      out = tf.concat([tf.slice(out, [0, 0], [B, nX]), tf.slice(clamp.values, [0, nX], [B, softmaxGroup])], 1);
    }
    return out;
  });
}
