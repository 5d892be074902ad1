/**
 * Dreams: alternating Gibbs sampling in the top RBM (labels clamped or free), turned into pictures by a
 * down pass through the generative weights. A clamped label is a clamp of the top RBM's softmax group,
 * so a class-conditional dream runs on the same clamped block-Gibbs step as inpainting
 * (core/sampling: clampedGibbsStep).
 */
import * as tf from "@tensorflow/tfjs";
import { gibbsBuffers, nativeGibbsAvailable, nativeGibbsSteps } from "../compute/blas";
import { type Rng, type Seed, toRng } from "../core/random";
import { rbmArrays } from "../core/rbm";
import { type Clamp, clampedGibbsStep, runNative } from "../core/sampling";
import { sampleBernoulli, sampleSoftmaxGroup } from "../core/units";
import { assertDBN, checkLabels, type DBN, oneHotTensor } from "./model";
import { dbnDownPass, dbnUpPass } from "./passes";
/** Options of {@link generateDBN}. */
export interface GenerateOptions {
  /**
   * Class to clamp on the label units: one for every chain, or one per chain (e.g. 0…9). Undefined:
   * the labels are free and sampled (softmax group) at every step. Needs a label-joined DBN.
   */
  labels?: number | ArrayLike<number>;
  /** Number of chains. Default: the number of labels given, else 10. */
  nChains?: number;
  /** Alternating Gibbs steps in the top RBM. Default 1000 (as in the 2006 paper's figures). */
  steps?: number;
  /** Record a picture every this many steps (0 = only the last). Default steps / 10. */
  every?: number;
  /**
   * Start of the chains in layer n_{L−1}: "noise" (default, as in the 2006 paper: an up pass from a
   * random binary image, each pixel on with probability ½, then a sample), "random" (each unit of
   * layer n_{L−1} on with probability ½), or images `[nChains, n₀]` pushed up (probabilities).
   */
  init?: "noise" | "random" | Float32Array;
  /** Seed of the chains. Default 0. */
  seed?: Seed;
}

/** Result of {@link generateDBN}: pictures p(v | x_{L−1}) from the down pass, `[nChains, n₀]` each. */
export interface GenerateResult {
  /** The last pictures, flat `[nChains * n₀]`. */
  images: Float32Array;
  /** The recorded pictures over time, each flat `[nChains * n₀]`. */
  frames: Float32Array[];
  /** Gibbs step of each frame. */
  steps: number[];
  /** Label of each chain at the end (the clamped one, or the last sample). Empty without label units. */
  labels: Int32Array;
}

/**
 * Dreams: runs alternating Gibbs sampling in the top RBM (labels clamped or free), and turns the state
 * of layer n_{L−1} into pictures with a down pass of probabilities through the generative weights.
 * The picture uses p(x_{L−1} | h) of the last step (smoother than a binary sample).
 */
export function generateDBN(dbn: DBN, opts: GenerateOptions = {}): GenerateResult {
  const { K, nChains, perChain, steps, every } = checkGenerateOptions(dbn, opts);
  const rng = toRng(opts.seed ?? 0, "generateDBN");
  const nX = dbn.sizes[dbn.sizes.length - 2];
  const top = dbn.layers[dbn.layers.length - 1];
  const x0 = startStates(dbn, opts.init, nChains, rng);
  // The top RBM's visible layer is [x_{L−1}, y]: clamped labels are a clamp of its softmax group, so
  // a class-conditional dream is the same clamped block-Gibbs chain as inpainting (core/sampling).
  const y0 =
    K === 0
      ? undefined
      : perChain
        ? oneHotTensor(perChain, 0, nChains, K)
        : tf.tidy(() => sampleSoftmaxGroup(tf.fill([nChains, K], 1 / K) as tf.Tensor2D, rng));
  let v: tf.Tensor2D = y0 ? (tf.concat([x0, y0], 1) as tf.Tensor2D) : x0.clone();
  tf.dispose([x0, ...(y0 ? [y0] : [])]);
  if (nativeGibbsAvailable()) {
    const start = v.dataSync() as Float32Array;
    v.dispose();
    return nativeDreams(dbn, start, { K, nChains, clamped: perChain !== undefined, steps, every }, rng);
  }
  const clamp: Clamp | undefined = perChain ? { values: v.clone(), groupKnown: true } : undefined;
  let xProbs: tf.Tensor2D = tf.slice(v, [0, 0], [nChains, nX]);
  const WT = tf.transpose(top.W) as tf.Tensor2D;
  const frames: Float32Array[] = [];
  const frameSteps: number[] = [];
  const picture = (): Float32Array => {
    const img = dbnDownPass(dbn, xProbs);
    const values = img.dataSync().slice() as Float32Array;
    img.dispose();
    return values;
  };
  try {
    for (let step = 1; step <= steps; step++) {
      const s = clampedGibbsStep(v, top, clamp, rng, { softmaxGroup: K, WT });
      tf.dispose([v, xProbs, s.h, s.hProbs]);
      v = s.v;
      xProbs = K > 0 ? tf.slice(s.vProbs, [0, 0], [nChains, nX]) : s.vProbs;
      if (K > 0) s.vProbs.dispose();
      if ((every > 0 && step % every === 0) || step === steps) {
        if (frameSteps[frameSteps.length - 1] !== step) {
          frames.push(picture());
          frameSteps.push(step);
        }
      }
    }
    let labels = new Int32Array(0);
    if (K > 0) {
      const argmax = tf.tidy(() => tf.argMax(tf.slice(v, [0, nX], [nChains, K]), 1));
      labels = Int32Array.from(argmax.dataSync());
      argmax.dispose();
    }
    return { images: frames[frames.length - 1], frames, steps: frameSteps, labels };
  } finally {
    tf.dispose([v, xProbs, WT, ...(clamp ? [clamp.values] : [])]);
  }
}

/**
 * generateDBN's chain with the top-RBM steps between frames run natively (compute/blas.ts's
 * nativeGibbsSteps with the label group: the clamped step's draws in the same order and distribution), the frames
 * drawn with the same down pass. `start` `[nChains, n_{L−1} + K]` is the chains' first state.
 */
function nativeDreams(
  dbn: DBN,
  start: Float32Array,
  o: { K: number; nChains: number; clamped: boolean; steps: number; every: number },
  rng: Rng,
): GenerateResult {
  const top = dbn.layers[dbn.layers.length - 1];
  const [nV, nH] = top.W.shape;
  const nX = nV - o.K;
  const B = o.nChains;
  const params = rbmArrays(top);
  const x = gibbsBuffers(start, B, nH);
  const frames: Float32Array[] = [];
  const frameSteps: number[] = [];
  const group = { K: o.K, clamped: o.clamped };
  // Runs end on every frame (and at the last step, which always gets one).
  runNative(
    rng,
    o.steps,
    o.every,
    (n, state) => nativeGibbsSteps(x, params, B, n, state, group),
    (step) => {
      if (!((o.every > 0 && step % o.every === 0) || step === o.steps)) return;
      const xProbs = new Float32Array(B * nX);
      for (let r = 0; r < B; r++) xProbs.set(x.vProbs.subarray(r * nV, r * nV + nX), r * nX);
      const img = tf.tidy(() => dbnDownPass(dbn, tf.tensor2d(xProbs, [B, nX])));
      frames.push(img.dataSync().slice() as Float32Array);
      img.dispose();
      frameSteps.push(step);
    },
    "generateDBN",
  );
  const labels = new Int32Array(o.K > 0 ? B : 0);
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let j = 1; j < o.K; j++) if (x.v[r * nV + nX + j] > x.v[r * nV + nX + best]) best = j;
    labels[r] = best;
  }
  return { images: frames[frames.length - 1], frames, steps: frameSteps, labels };
}

/** The options of {@link generateDBN} with their defaults, checked (one clear error each). */
function checkGenerateOptions(
  dbn: DBN,
  opts: GenerateOptions,
): { K: number; nChains: number; perChain?: number[]; steps: number; every: number } {
  assertDBN(dbn, "generateDBN");
  const K = dbn.nLabels;
  const clamp = opts.labels === undefined ? undefined : typeof opts.labels === "number" ? [opts.labels] : Array.from(opts.labels);
  if (clamp && K === 0)
    throw new Error("generateDBN: this DBN has no label units to clamp; pretrain it with labels: true, or drop opts.labels.");
  const nChains = opts.nChains ?? (clamp && clamp.length > 1 ? clamp.length : 10);
  if (!Number.isInteger(nChains) || nChains < 1) throw new Error(`generateDBN: nChains must be a positive integer, got ${nChains}.`);
  if (clamp && clamp.length !== 1 && clamp.length !== nChains)
    throw new Error(`generateDBN: ${clamp.length} labels for ${nChains} chains; give one label, or one per chain.`);
  const perChain = clamp ? Array.from({ length: nChains }, (_, i) => clamp[clamp.length === 1 ? 0 : i]) : undefined;
  if (perChain) checkLabels(perChain, nChains, K, "generateDBN");
  const steps = opts.steps ?? 1000;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`generateDBN: steps must be an integer ≥ 1, got ${steps}.`);
  const every = opts.every ?? Math.max(1, Math.floor(steps / 10));
  if (!Number.isInteger(every) || every < 0) throw new Error(`generateDBN: every must be an integer ≥ 0, got ${every}.`);
  return { K, nChains, perChain, steps, every };
}

/** The chains' start in layer n_{L−1} `[nChains, n_{L−1}]` (see {@link GenerateOptions.init}). */
function startStates(dbn: DBN, init: GenerateOptions["init"], nChains: number, rng: Rng): tf.Tensor2D {
  const nX = dbn.sizes[dbn.sizes.length - 2];
  if (init === "random") return tf.tidy(() => sampleBernoulli(tf.fill([nChains, nX], 0.5) as tf.Tensor2D, rng));
  if (init === undefined || init === "noise") {
    // The 2006 paper: an up pass from a random binary image, each pixel on with probability ½.
    return tf.tidy(() => {
      const noise = sampleBernoulli(tf.fill([nChains, dbn.sizes[0]], 0.5) as tf.Tensor2D, rng);
      return sampleBernoulli(dbnUpPass(dbn, noise, dbn.sizes.length - 2), rng);
    });
  }
  const d0 = dbn.sizes[0];
  if (!(init instanceof Float32Array) || init.length !== nChains * d0) {
    throw new Error(`generateDBN: init must be "random" or images [nChains, ${d0}] = ${nChains * d0} values.`);
  }
  return tf.tidy(() => dbnUpPass(dbn, tf.tensor2d(init, [nChains, d0]), dbn.sizes.length - 2));
}
