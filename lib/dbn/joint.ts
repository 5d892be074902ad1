/**
 * The label-joined top RBM of a DBN: its negative phase (labels sampled as one softmax group) and its
 * CD-k / PCD-k trainer, a stepper of the one training loop (train/loop.ts) — on the fused native step
 * with a label group where it applies (train/cd-native.ts), else the tensor update below.
 */
import * as tf from "@tensorflow/tfjs";
import { blockWeights, columnSums, matMulAT } from "../compute/ops";
import { type Rng, toRng } from "../core/random";
import { assertFiniteRBM, type RBM } from "../core/rbm";
import { sampleBernoulli, sampleSoftmaxGroup, sigmoidLayer } from "../core/units";
import { assertDataset, type Dataset, dim, visibleRows } from "../io/data";
import {
  type CDState,
  cdLoop,
  cdModelOf,
  cdSchedule,
  type EpochRecord,
  resolveTrainOptions,
  startCDState,
  type TrainOptions,
  type TrainResult,
} from "../train/cd";
import { FusedCD, fusedCDApplies, fusedRBMStepper } from "../train/cd-native";
import { runEpochs, type Stepper } from "../train/loop";
import { assertLabelCount, checkLabels } from "./model";
/**
 * The negative phase of the label-joined top RBM, k Gibbs steps from hidden states `h`:
 * x̃ = σ(h W_xᵀ + b_x) (sampled when `sampleX`), ỹ ~ softmax(h W_yᵀ + b_y) sampled one-of-K, then
 * p(h | [x̃, ỹ]). Shared by the pretraining CD loop and the up-down algorithm.
 * @param h `[B, n_L]` @param WT the top RBM's Wᵀ `[n_L, n_{L−1} + K]`
 * @returns the last visible state `[B, n_{L−1} + K]` and p(h | it) `[B, n_L]`
 */
export function jointNegativePhase(
  h: tf.Tensor2D,
  top: RBM,
  WT: tf.Tensor2D,
  nLabels: number,
  k: number,
  sampleX: boolean,
  rng: Rng,
): { negVis: tf.Tensor2D; negHidProbs: tf.Tensor2D } {
  const B = h.shape[0];
  const nV = top.W.shape[0];
  const nX = nV - nLabels;
  let states = h;
  let negVis = h;
  let negHidProbs = h;
  for (let step = 0; step < k; step++) {
    if (step > 0) states = sampleBernoulli(negHidProbs, rng);
    const act = tf.fused.matMul({ a: states, b: WT, bias: top.b }) as tf.Tensor2D;
    let x: tf.Tensor2D = tf.sigmoid(nLabels > 0 ? tf.slice(act, [0, 0], [B, nX]) : act);
    if (sampleX) x = sampleBernoulli(x, rng);
    negVis = nLabels > 0 ? tf.concat([x, sampleSoftmaxGroup(tf.softmax(tf.slice(act, [0, nX], [B, nLabels])) as tf.Tensor2D, rng)], 1) : x;
    negHidProbs = sigmoidLayer(negVis, top.W, top.c);
  }
  return { negVis, negHidProbs };
}

/** Options of {@link trainJointRBM}: those of {@link trainRBM} (no sparsity penalty) plus the label count. */
export interface JointTrainOptions extends TrainOptions {
  /** Number of label units (the last visible units of the RBM). */
  nLabels: number;
}

/** One epoch record of {@link trainJointRBM}: {@link EpochRecord} plus the label reconstruction rate. */
export interface JointEpochRecord extends EpochRecord {
  /** Fraction of training rows whose one-step reconstructed label ỹ differs from the true label. */
  labelFlips: number;
}

/** trainJointRBM's state: {@link CDState} plus the count of reconstructed labels that flipped. */
export interface JointState extends CDState {
  flipSum: tf.Scalar;
}

/**
 * Trains an RBM whose visible vector is [x, onehot(y)] — features `data.images` `[n, nVisible − K]`
 * and labels `data.labels` — with CD-k, sampling the K label units as ONE softmax group in the
 * negative phase (Hinton, Osindero & Teh 2006). Same hyperparameters and defaults as
 * {@link trainRBM} (learning rate, momentum schedule, weight decay, batch size, k, persistent chains,
 * seed, callbacks); the sparsity penalty is not supported here. The input RBM is not modified.
 * With `persistent`, the chains start from the hidden states of random training rows (as trainRBM).
 */
export async function trainJointRBM(
  rbm: RBM,
  data: Dataset,
  opts: JointTrainOptions,
): Promise<TrainResult & { history: JointEpochRecord[] }> {
  assertDataset(data, "trainJointRBM");
  const o = resolveTrainOptions(opts, data.n);
  const K = opts.nLabels;
  if (o.sparsityTarget !== undefined)
    throw new Error("trainJointRBM: the sparsity penalty is not supported for the label-joined RBM; drop sparsityTarget.");
  assertLabelCount(K, "trainJointRBM");
  if (K < 2) throw new Error("trainJointRBM: nLabels must be ≥ 2; for an RBM without labels use trainRBM.");
  assertFiniteRBM(rbm, "trainJointRBM");
  const nV = rbm.W.shape[0];
  const nX = nV - K;
  if (dim(data) !== nX) {
    throw new Error(
      `trainJointRBM: the data have ${dim(data)} values per row but the RBM has ${nV} visible units = ${nX} features + ${K} labels; they must match.`,
    );
  }
  checkLabels(data.labels, data.n, K, `trainJointRBM: ${data.name}`);
  visibleRows(data, nX, `trainJointRBM: data ${data.name}`); // n × nX values, all in [0, 1]
  const rng = toRng(o.seed, "trainJointRBM");
  let s: JointState = { ...startCDState(rbm), flipSum: tf.scalar(0) };
  if (o.persistent) {
    const nChains = o.nChains ?? o.batchSize;
    const x0 = new Float32Array(nChains * nX);
    const y0 = new Float32Array(nChains * K);
    for (let r = 0; r < nChains; r++) {
      const i = rng.int(data.n);
      x0.set(data.images.subarray(i * nX, (i + 1) * nX), r * nX);
      y0[r * K + data.labels[i]] = 1;
    }
    s.chains = tf.tidy(() =>
      sampleBernoulli(
        sigmoidLayer(tf.concat([tf.tensor2d(x0, [nChains, nX]), tf.tensor2d(y0, [nChains, K])], 1) as tf.Tensor2D, s.W, s.c),
        rng,
      ),
    );
  }
  const rates = cdSchedule(o);
  const loop = cdLoop<JointEpochRecord>(o, rng, `CD-${o.k} (top RBM + ${K} labels)`, "trainJointRBM", K);
  if (fusedCDApplies(o)) {
    // The same update in one native call per batch (native/blas/cd.c with a label group), from the same state.
    const fused = new FusedCD(rbm, o, s.chains?.dataSync() as Float32Array | undefined, undefined, undefined, K);
    tf.dispose([s.W, s.b, s.c, s.dW, s.db, s.dc, s.errSum, s.flipSum, ...(s.chains ? [s.chains] : [])]);
    const history = await runEpochs(fusedRBMStepper<JointEpochRecord>(fused, rates, o.persistent, data.n, rng), data, loop);
    return { rbm: fused.takeModel(), history, chains: fused.takeChains() };
  }
  const stepper: Stepper<RBM, JointEpochRecord> = {
    ...cdModelOf(() => s),
    startEpoch: rates.startEpoch,
    update: (batch) => {
      s = jointCdUpdate(s, batch.v, batch.y, batch.size, K, o, rates.lr, rates.momentum, rng);
    },
    endEpoch: () => {
      const errSum = s.errSum.dataSync()[0];
      const flips = s.flipSum.dataSync()[0];
      tf.dispose([s.errSum, s.flipSum]);
      s.errSum = tf.scalar(0);
      s.flipSum = tf.scalar(0);
      // With persistent chains the negative state is not a reconstruction of the batch: NaN.
      return { trainRecon: o.persistent ? NaN : errSum / data.n, labelFlips: o.persistent ? NaN : flips / data.n };
    },
    free: (all) => tf.dispose([s.dW, s.db, s.dc, s.errSum, s.flipSum, ...(all ? [s.W, s.b, s.c, ...(s.chains ? [s.chains] : [])] : [])]),
  };
  const history = await runEpochs(stepper, data, loop);
  return { rbm: { W: s.W, b: s.b, c: s.c }, history, chains: s.chains };
}

/** One CD-k / PCD-k update of the label-joined RBM on features x `[B, nX]` and one-hot labels y `[B, K]`. */
function jointCdUpdate(
  s: JointState,
  x: Float32Array,
  y: Float32Array,
  B: number,
  K: number,
  o: { k: number; sampleVisible: boolean; weightDecay: number; persistent: boolean },
  lr: number,
  momentum: number,
  rng: Rng,
): JointState {
  const weightDecay = o.weightDecay;
  const next = tf.tidy(() => {
    const nX = x.length / B;
    const yT = tf.tensor2d(y, [B, K]);
    const v = tf.concat([tf.tensor2d(x, [B, nX]), yT], 1) as tf.Tensor2D;
    const top: RBM = { W: s.W, b: s.b, c: s.c };
    // Positive phase: p(h | x, y) driven by the data.
    const posHidProbs = sigmoidLayer(v, s.W, s.c);
    // Negative phase: k Gibbs steps from h ~ p(h | x, y) (CD) or from the persistent chains (PCD);
    // the labels are sampled one-of-K.
    const start = s.chains ?? sampleBernoulli(posHidProbs, rng);
    const { negVis, negHidProbs } = jointNegativePhase(start, top, tf.transpose(s.W) as tf.Tensor2D, K, o.k, o.sampleVisible, rng);
    const nNeg = start.shape[0];
    // ε(⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model) as one matMul of the stacked phases (as in train/cd.ts).
    const stackedV = tf.concat([v, negVis], 0) as tf.Tensor2D;
    const stackedH = tf.concat([tf.mul(posHidProbs, lr / B), tf.mul(negHidProbs, -lr / nNeg)], 0) as tf.Tensor2D;
    let stepW: tf.Tensor = matMulAT(stackedV, stackedH);
    if (weightDecay > 0) stepW = tf.sub(stepW, tf.mul(s.W, lr * weightDecay));
    let stepB: tf.Tensor = columnSums(stackedV, blockWeights([B, nNeg], [lr / B, -lr / nNeg]));
    let stepC: tf.Tensor = columnSums(stackedH);
    if (momentum > 0) {
      stepW = tf.add(tf.mul(s.dW, momentum), stepW);
      stepB = tf.add(tf.mul(s.db, momentum), stepB);
      stepC = tf.add(tf.mul(s.dc, momentum), stepC);
    }
    const persistent = s.chains !== undefined;
    const flips = persistent
      ? tf.scalar(0)
      : tf.sum(tf.cast(tf.notEqual(tf.argMax(tf.slice(negVis, [0, nX], [B, K]), 1), tf.argMax(yT, 1)), "float32"));
    const err = persistent ? tf.scalar(0) : tf.sum(tf.squaredDifference(tf.slice(v, [0, 0], [B, nX]), tf.slice(negVis, [0, 0], [B, nX])));
    return {
      W: tf.add(s.W, stepW) as tf.Tensor2D,
      b: tf.add(s.b, stepB) as tf.Tensor1D,
      c: tf.add(s.c, stepC) as tf.Tensor1D,
      dW: stepW as tf.Tensor2D,
      db: stepB as tf.Tensor1D,
      dc: stepC as tf.Tensor1D,
      errSum: tf.add(s.errSum, err) as tf.Scalar,
      flipSum: tf.add(s.flipSum, flips) as tf.Scalar,
      chains: persistent ? sampleBernoulli(negHidProbs, rng) : undefined,
    };
  });
  tf.dispose([s.W, s.b, s.c, s.dW, s.db, s.dc, s.errSum, s.flipSum, ...(s.chains ? [s.chains] : [])]);
  return next;
}
