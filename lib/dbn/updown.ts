/**
 * Generative fine-tuning of a pretrained DBN.
 *
 * 0. For generation, a short persistent-CD polish of the top RBM ({@link tuneTopPCD}) removes the
 *    spurious low-energy regions that CD-1 leaves far from the data, into which dreams fall.
 *
 * 1. The up-down algorithm (contrastive wake-sleep) of Hinton, Osindero & Teh 2006, Appendix B: the
 *    recognition and generative weights of the lower layers are untied; a wake (up) pass with sampled
 *    states trains the generative weights to reconstruct each layer from the one above; the top RBM
 *    does CD-k from the wake states; a sleep (down) pass from the top RBM's negative state trains the
 *    recognition weights to recover each layer from the one below.
 */
import * as tf from "@tensorflow/tfjs";
import { type Rng, type Seed, toRng } from "../core/random";
import { cloneRBM, type RBM } from "../core/rbm";
import { sampleBernoulli, sigmoidLayer } from "../core/units";
import { assertDataset, type Batch, type Dataset, dim, visibleRows } from "../io/data";
import { type EpochRecord, trainRBM } from "../train/cd";
import { divergenceLimits, type HistoryRecord, runEpochs, type Stepper } from "../train/loop";
import type { ProgressBar } from "../view/progress";
import { jointNegativePhase, trainJointRBM } from "./joint";
import { assertBinaryPixels, assertDBN, checkLabels, cloneDBN, type DBN, disposeDBN, untieDBN } from "./model";
import { upPass } from "./passes";
/** Options of {@link tuneTopPCD}. */
export interface TopPCDOptions {
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Learning rate (small: the chains must keep up with the changing model). Default 0.005. */
  learningRate?: number;
  /** Persistent chains. Default 100. */
  nChains?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** Seed of the chains and the batch order. Default 0. */
  seed?: Seed;
  /** Progress bar. Default true. */
  progress?: boolean | ProgressBar;
}

/**
 * A short persistent-CD run (PCD, Tieleman 2008) on the top RBM of a greedily trained DBN, without
 * momentum, sampling the visible units as the generator does. CD-1 starts its negative chains at
 * the data, so it never visits — and never raises the energy of — deep "spurious" modes far from the
 * data, and clamped-label dreams fall into them; persistent chains find those modes and unlearn
 * them. The lower layers are copied unchanged; returns a new DBN.
 */
export async function tuneTopPCD(dbn: DBN, data: Dataset, opts: TopPCDOptions = {}): Promise<{ dbn: DBN; history: EpochRecord[] }> {
  assertDataset(data, "tuneTopPCD");
  assertDBN(dbn, "tuneTopPCD");
  const L = dbn.layers.length;
  const nX = dbn.sizes[L - 1];
  const x = L > 1 ? upPass(dbn, data, { depth: L - 1 }) : data.images;
  const features: Dataset = { images: x, labels: data.labels, n: data.n, rows: 1, cols: nX, name: `${data.name} → x${L - 1}` };
  const o = {
    persistent: true,
    nChains: opts.nChains ?? 100,
    learningRate: opts.learningRate ?? 0.005,
    initialMomentum: 0,
    finalMomentum: 0,
    sampleVisible: true,
    epochs: opts.epochs ?? 1,
    batchSize: opts.batchSize ?? 100,
    seed: opts.seed ?? 0,
    progress: opts.progress,
  };
  const top = dbn.layers[L - 1];
  const result = dbn.nLabels > 0 ? await trainJointRBM(top, features, { ...o, nLabels: dbn.nLabels }) : await trainRBM(top, features, o);
  result.chains?.dispose();
  return {
    dbn: {
      sizes: [...dbn.sizes],
      nLabels: dbn.nLabels,
      layers: [...dbn.layers.slice(0, -1).map(cloneRBM), result.rbm],
      generative: dbn.generative?.map((g) => ({ W: g.W.clone(), b: g.b.clone() })),
    },
    history: result.history,
  };
}

/** Options of {@link upDownFineTune}. */
export interface UpDownOptions {
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** Learning rate ε of every weight and bias. Default 0.01 (small: the model is already good). */
  learningRate?: number;
  /** Gibbs steps in the top RBM per update (the paper used 3, then 6, then 10). Default 3. */
  topK?: number;
  /** Seed for the batch order and every sample. Default 0. */
  seed?: Seed;
  /** Progress bar. Default true. */
  progress?: boolean | ProgressBar;
  /** Stop when a weight exceeds ±maxWeight (diverging training). Default 1e3, as {@link TrainOptions}. */
  maxWeight?: number;
  /** Check for NaN/Inf and exploding weights every this many batches. Default 50. */
  checkEvery?: number;
  /** Called after each epoch. */
  onEpoch?: (record: UpDownRecord, dbn: DBN) => void | Promise<void>;
}

/** One epoch of {@link upDownFineTune}. */
export interface UpDownRecord extends HistoryRecord {
  /** Mean over rows of Σ_i (v_i − p(v_i | wake h₁))²: how well the generative weights reconstruct the data. */
  wakeRecon: number;
  /** Fraction of rows whose top-RBM negative label differs from the true one (labelled DBNs; else NaN). */
  labelFlips: number;
}

/**
 * The up-down algorithm (Hinton, Osindero & Teh 2006, Appendix B) for a few epochs. Returns a new,
 * untied DBN (the input is not modified). Uses `data.labels` when the top RBM has label units.
 *
 * Per mini-batch, with s₀ = v and the wake states s_{l+1} ~ σ(s_l R_l + r_l):
 *   generative  G_l += ε s_{l+1}ᵀ (s_l − σ(s_{l+1} G_l + g_l)) / B     (wake: predict each layer from above)
 *   top RBM     CD-k from p(h | s_{L−1}, y), labels sampled one-of-K (as in pretraining)
 *   recognition R_l += ε d_lᵀ (d_{l+1} − σ(d_l R_l + r_l)) / B          (sleep: d_{L−1} = top RBM's negative
 *               state, d_l ~ σ(d_{l+1} G_l + g_l), d₀ = the probabilities)
 */
export async function upDownFineTune(dbn: DBN, data: Dataset, opts: UpDownOptions = {}): Promise<{ dbn: DBN; history: UpDownRecord[] }> {
  assertDataset(data, "upDownFineTune");
  assertDBN(dbn, "upDownFineTune");
  assertBinaryPixels(
    dbn,
    "upDownFineTune",
    "Its wake-sleep steps learn Bernoulli generative weights; fine-tune a Gaussian DBN with dbnToMLP and fineTuneMLP.",
  );
  const epochs = opts.epochs ?? 1;
  const B = opts.batchSize ?? 100;
  const lr = opts.learningRate ?? 0.01;
  const topK = opts.topK ?? 3;
  for (const [name, v] of [
    ["epochs", epochs],
    ["batchSize", B],
    ["topK", topK],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`upDownFineTune: ${name} must be a positive integer, got ${v}.`);
  }
  if (!(lr > 0 && Number.isFinite(lr))) throw new Error(`upDownFineTune: learningRate must be a positive number, got ${lr}.`);
  if (B > data.n) throw new Error(`upDownFineTune: batchSize ${B} is larger than the data (${data.n} rows).`);
  const d0 = dbn.sizes[0];
  if (dim(data) !== d0)
    throw new Error(`upDownFineTune: the data have ${dim(data)} values per row but the DBN's first layer has ${d0} units.`);
  visibleRows(data, d0, `upDownFineTune: data ${data.name}`); // n × d0 values, all in [0, 1]
  const limits = divergenceLimits(opts, "upDownFineTune");
  const K = dbn.nLabels;
  if (K > 0) checkLabels(data.labels, data.n, K, `upDownFineTune: data ${data.name}`);
  const rng = toRng(opts.seed ?? 0, "upDownFineTune");
  const model = untieDBN(dbn);
  let recon = tf.scalar(0);
  let flips = tf.scalar(0);
  const stepper: Stepper<DBN, UpDownRecord> = {
    model: () => model,
    health: () => ({
      weights: [...model.layers.map((l) => l.W), ...(model.generative ?? []).map((g) => g.W)],
      others: [...model.layers.flatMap((l) => [l.b, l.c]), ...(model.generative ?? []).map((g) => g.b)],
    }),
    clone: cloneDBN,
    dispose: disposeDBN,
    update: (batch) => {
      ({ recon, flips } = upDownUpdate(model, batch, lr, topK, rng, recon, flips));
    },
    endEpoch: () => {
      const measured = { wakeRecon: recon.dataSync()[0] / data.n, labelFlips: K > 0 ? flips.dataSync()[0] / data.n : NaN };
      tf.dispose([recon, flips]);
      recon = tf.scalar(0);
      flips = tf.scalar(0);
      return measured;
    },
    summary: (r) => ({ wakeRecon: Number(r.wakeRecon.toPrecision(4)) }),
    free: (all) => {
      tf.dispose([recon, flips]);
      if (all) disposeDBN(model);
    },
  };
  const history = await runEpochs(stepper, data, {
    epochs,
    batchSize: B,
    shuffle: rng,
    oneHot: K > 0 ? K : undefined,
    ...limits,
    progress: opts.progress,
    label: "up-down",
    what: "upDownFineTune",
    onEpoch: opts.onEpoch,
  });
  return { dbn: model, history };
}

/**
 * One up-down update of `model` (in place: its tensors are replaced and the old ones freed) on a
 * mini-batch, adding the batch's squared wake-reconstruction error and label flips to the running
 * sums (returned as new scalars; the old ones are freed). The steps are those of
 * {@link upDownFineTune}'s comment, in one tidy.
 */
function upDownUpdate(
  model: DBN,
  batch: Batch,
  lr: number,
  topK: number,
  rng: Rng,
  recon: tf.Scalar,
  flips: tf.Scalar,
): { recon: tf.Scalar; flips: tf.Scalar } {
  const L = model.layers.length;
  const K = model.nLabels;
  const d0 = model.sizes[0];
  const size = batch.size;
  const step = tf.tidy(() => {
    const eps = lr / size;
    const v = tf.tensor2d(batch.v, [size, d0]);
    const y = K > 0 ? tf.tensor2d(batch.y, [size, K]) : undefined;
    const gen = model.generative ?? [];
    // Wake (up) pass with sampled states s_0 = v, s_{l+1} ~ σ(s_l R_l + r_l).
    const s: tf.Tensor2D[] = [v];
    for (let l = 0; l < L - 1; l++) s.push(sampleBernoulli(sigmoidLayer(s[l], model.layers[l].W, model.layers[l].c), rng));
    // Top RBM: CD-k from the wake states.
    const top = model.layers[L - 1];
    const vTop = y ? (tf.concat([s[L - 1], y], 1) as tf.Tensor2D) : s[L - 1];
    const posTop = sigmoidLayer(vTop, top.W, top.c);
    const WT = tf.transpose(top.W) as tf.Tensor2D;
    const { negVis, negHidProbs } = jointNegativePhase(sampleBernoulli(posTop, rng), top, WT, K, topK, true, rng);
    const newTop = topCDStep(top, vTop, posTop, negVis, negHidProbs, eps);
    // Sleep (down) pass from the top RBM's negative state of x_{L−1}: d_l ~ σ(d_{l+1} G_l + g_l), d_0 the probabilities.
    const nX = model.sizes[L - 1];
    const d: tf.Tensor2D[] = new Array<tf.Tensor2D>(L);
    d[L - 1] = K > 0 ? tf.slice(negVis, [0, 0], [size, nX]) : negVis;
    for (let l = L - 2; l >= 0; l--) {
      const p = sigmoidLayer(d[l + 1], gen[l].W, gen[l].b);
      d[l] = l === 0 ? p : sampleBernoulli(p, rng);
    }
    // Generative weights predict each wake layer from the one above; recognition weights recover
    // each sleep layer from the one below.
    const newGen = gen.map((g, l) => deltaRule(g.W, g.b, s[l + 1], s[l], eps));
    const newRec = model.layers.slice(0, L - 1).map((rbm, l) => deltaRule(rbm.W, rbm.c, d[l], d[l + 1], eps));
    const batchRecon = L > 1 ? tf.sum(tf.square(newGen[0].err)) : tf.scalar(0);
    const batchFlips = y
      ? tf.sum(tf.cast(tf.notEqual(tf.argMax(tf.slice(negVis, [0, nX], [size, K]), 1), tf.argMax(y, 1)), "float32"))
      : tf.scalar(0);
    return {
      top: { W: newTop.W, b: newTop.b, c: newTop.c },
      gen: newGen.map((u) => ({ W: u.W, b: u.bias })),
      rec: newRec.map((u) => ({ W: u.W, c: u.bias })),
      recon: tf.add(recon, batchRecon) as tf.Scalar,
      flips: tf.add(flips, batchFlips) as tf.Scalar,
    };
  });
  // Swap in the new parameters, free the old ones.
  const top = model.layers[L - 1];
  tf.dispose([top.W, top.b, top.c, recon, flips]);
  model.layers[L - 1] = { ...step.top };
  for (let l = 0; l < L - 1; l++) {
    const g = (model.generative ?? [])[l];
    tf.dispose([g.W, g.b, model.layers[l].W, model.layers[l].c]);
    (model.generative ?? [])[l] = step.gen[l];
    model.layers[l] = { W: step.rec[l].W, b: model.layers[l].b, c: step.rec[l].c };
  }
  return { recon: step.recon, flips: step.flips };
}

/** The top RBM after one CD step from its statistics: W += ε([v; ṽ]ᵀ[p(h|v); −p(h|ṽ)]), b += ε Σ(v − ṽ), c += ε Σ(p(h|v) − p(h|ṽ)). */
function topCDStep(top: RBM, v: tf.Tensor2D, posProbs: tf.Tensor2D, negVis: tf.Tensor2D, negProbs: tf.Tensor2D, eps: number): RBM {
  const stackedV = tf.transpose(tf.concat([v, negVis], 0)) as tf.Tensor2D;
  const stackedH = tf.concat([posProbs, tf.neg(negProbs)], 0) as tf.Tensor2D;
  return {
    W: tf.add(top.W, tf.mul(tf.matMul(stackedV, stackedH), eps)) as tf.Tensor2D,
    b: tf.add(top.b, tf.mul(tf.sum(tf.sub(v, negVis), 0), eps)) as tf.Tensor1D,
    c: tf.add(top.c, tf.mul(tf.sum(tf.sub(posProbs, negProbs), 0), eps)) as tf.Tensor1D,
  };
}

/**
 * The wake-sleep delta rule, predicting `target` from `x` through σ(x W + bias):
 * W += ε xᵀ(target − σ(x W + bias)), bias += ε Σ_rows (target − σ(x W + bias)). Also returns the error.
 */
function deltaRule(
  W: tf.Tensor2D,
  bias: tf.Tensor1D,
  x: tf.Tensor2D,
  target: tf.Tensor2D,
  eps: number,
): { W: tf.Tensor2D; bias: tf.Tensor1D; err: tf.Tensor2D } {
  const err = tf.sub(target, sigmoidLayer(x, W, bias)) as tf.Tensor2D;
  return {
    W: tf.add(W, tf.mul(tf.matMul(tf.transpose(x) as tf.Tensor2D, err), eps)) as tf.Tensor2D,
    bias: tf.add(bias, tf.mul(tf.sum(err, 0), eps)) as tf.Tensor1D,
    err,
  };
}
