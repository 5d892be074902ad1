/**
 * Training a Gaussian–Bernoulli RBM (core/gaussian.ts) with CD-k or PCD-k as a {@link Stepper} of the
 * one epoch loop, with σ fixed or learned through z = log σ² (Cho, Ilin & Raiko 2011).
 *
 * One update, for a mini-batch v of B rows, with 1/σ² = e^{−z} and p(h|v) = σ(c + (v/σ²) W):
 *   ΔW_ij ∝ (⟨v_i h_j⟩_data − ⟨v_i h_j⟩_model) / σ_i²
 *   Δb_i  ∝ (⟨v_i⟩_data − ⟨v_i⟩_model) / σ_i²
 *   Δc_j  ∝ ⟨h_j⟩_data − ⟨h_j⟩_model
 *   Δz_i  ∝ (⟨(v_i − b_i)²/2 − v_i (Wh)_i⟩_data − ⟨…⟩_model) e^{−z_i}        (learnSigma only)
 * the model terms from k steps of block Gibbs (h ~ Bernoulli, v ~ N(b + Wh, σ²)) started at the data
 * (CD) or continued from persistent chains (PCD); h enters through p(h|·) (Rao–Blackwellised).
 * Momentum and weight decay as in trainRBM (rbm.m).
 *
 * The known failure modes are checked and stop with one clear error:
 * - σ far from the data's spread with σ fixed (σ = 1 on unstandardised pixels): refused before
 *   training unless `checkScale: false` (chapter 10 shows what then happens);
 * - a learning rate fit for binary units: Gaussian units need one 10–100× smaller (Hinton's guide
 *   §13.2); above `maxLearningRate` (0.01) is refused;
 * - variance collapse with learned σ (a σ_i shrinking to 0 makes the energy and the gradients blow
 *   up), and the explosion that follows it: σ_i < `minSigma` or σ_i > `maxSigma` →
 *   {@link TrainingDivergedError} with the last good model;
 * - exploding weights or NaN: the loop's health check (|W| > maxWeight).
 */
import * as tf from "@tensorflow/tfjs";
import { blockWeights, columnSums, matMulAT } from "../compute/ops";
import { assertFiniteGaussianRBM, cloneGaussianRBM, disposeGaussianRBM, type GaussianRBM, gaussianSize } from "../core/gaussian";
import { withoutUndefined } from "../core/numerics";
import { type Rng, toRng } from "../core/random";
import { sampleBernoulli, sampleGaussian, UniformSource } from "../core/units";
import { assertDataset, type Dataset, dim } from "../io/data";
import { cdSchedule, type EpochRecord, resolveTrainOptions, type TrainOptions } from "./cd";
import { type HistoryRecord, runEpochs, type Stepper, TrainingDivergedError } from "./loop";

/** Options of {@link trainGaussianRBM}: those of trainRBM (without sparsity) plus the Gaussian ones. */
export interface GaussianTrainOptions extends Omit<TrainOptions, "sparsityTarget" | "sparsityCost" | "monitor" | "onEpoch"> {
  /**
   * Learning rate ε, or a schedule. Default 0.001: Gaussian units need rates 10–100× smaller than
   * binary ones (Hinton's guide §13.2; Cho et al. 2011 use 0.001).
   */
  learningRate?: number | ((epoch: number) => number);
  /** Learn z = log σ² of every visible unit (Cho et al. 2011). Default false: σ stays as initialised. */
  learnSigma?: boolean;
  /** Learning rate of z as a fraction of ε. Default 1. */
  sigmaRateFactor?: number;
  /** A σ_i below this is a variance collapse (stops training). Default 0.01 (data standardised to unit variance). */
  minSigma?: number;
  /** A σ_i above this counts as exploding (after a near-collapse 1/σ² gradients throw σ up). Default 100. */
  maxSigma?: number;
  /** Refuse fixed σ when the data's mean variance is over 4× or under ¼ of the model's mean σ². Default true. */
  checkScale?: boolean;
  /** Refuse learning rates above this (a binary-unit rate of 0.1 diverges with Gaussian units). Default 0.01. */
  maxLearningRate?: number;
  /**
   * Sample the negative visible units from N(b + Wh, σ²) (true) or use the mean (false). Default true:
   * with the mean the model term of z sees no visible noise and σ shrinks towards collapse.
   */
  sampleVisible?: boolean;
  /** Monitors computed after each epoch; their values land in the history record. */
  monitor?: (m: GaussianRBM, epoch: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Called after each epoch with the new history record. */
  onEpoch?: (record: GaussianEpochRecord, m: GaussianRBM) => void | Promise<void>;
}

/** One line of the history of {@link trainGaussianRBM}. */
export interface GaussianEpochRecord extends EpochRecord {
  /** Smallest σ_i after the epoch. */
  sigmaMin: number;
  /** Mean σ_i after the epoch. */
  sigmaMean: number;
}

/** Result of {@link trainGaussianRBM}: the trained model (new tensors), the history, PCD's chains. */
export interface GaussianTrainResult {
  rbm: GaussianRBM;
  history: GaussianEpochRecord[];
  /** PCD chains' final hidden state `[nChains, nHidden]` (PCD only; owned by the caller). */
  chains?: tf.Tensor2D;
}

interface GState {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
  c: tf.Tensor1D;
  logVar: tf.Tensor1D;
  dW: tf.Tensor2D;
  db: tf.Tensor1D;
  dc: tf.Tensor1D;
  dz: tf.Tensor1D;
  chains?: tf.Tensor2D;
  errSum: tf.Scalar;
}

type Resolved = ReturnType<typeof resolveTrainOptions> &
  Required<Pick<GaussianTrainOptions, "learnSigma" | "sigmaRateFactor" | "minSigma" | "maxSigma" | "checkScale" | "maxLearningRate">>;

const WHAT = "trainGaussianRBM";

function resolve(opts: GaussianTrainOptions, data: Dataset, m: GaussianRBM): Resolved {
  const extra = {
    learnSigma: false,
    sigmaRateFactor: 1,
    minSigma: 0.01,
    maxSigma: 100,
    checkScale: true,
    maxLearningRate: 0.01,
    ...withoutUndefined(opts),
  };
  const base = resolveTrainOptions(
    { learningRate: 0.001, sampleVisible: true, ...withoutUndefined({ ...opts, monitor: undefined, onEpoch: undefined }) },
    data.n,
    WHAT,
  );
  const o: Resolved = { ...base, ...extra, learningRate: base.learningRate, sampleVisible: base.sampleVisible } as Resolved;
  const bad = (msg: string): never => {
    throw new Error(`${WHAT}: ${msg}`);
  };
  if (!(o.minSigma > 0)) bad(`minSigma must be a positive number (the σ that counts as a variance collapse), got ${o.minSigma}.`);
  if (!(o.maxSigma > o.minSigma)) bad(`maxSigma must be a number above minSigma = ${o.minSigma}, got ${o.maxSigma}.`);
  if (!(o.sigmaRateFactor >= 0 && Number.isFinite(o.sigmaRateFactor)))
    bad(`sigmaRateFactor must be a number ≥ 0, got ${o.sigmaRateFactor}.`);
  if (!(o.maxLearningRate > 0)) bad(`maxLearningRate must be positive, got ${o.maxLearningRate}.`);
  const lr0 = typeof o.learningRate === "number" ? o.learningRate : o.learningRate(0);
  if (lr0 > o.maxLearningRate) {
    bad(
      `learningRate ${lr0} is above maxLearningRate = ${o.maxLearningRate}. Gaussian visible units need rates 10–100× smaller than ` +
        `binary ones (Hinton's guide §13.2): try 0.001, or raise maxLearningRate if you know it is stable.`,
    );
  }
  if (!o.learnSigma && o.checkScale) checkScale(data, m);
  return o;
}

/** Refuses fixed σ when the data's spread is far from the model's (σ = 1 on pixels in [0, 1]). */
function checkScale(data: Dataset, m: GaussianRBM): void {
  const d = dim(data);
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let r = 0; r < data.n; r++) {
    for (let i = 0; i < d; i++) {
      const x = data.images[r * d + i];
      mean[i] += x;
      sq[i] += x * x;
    }
  }
  let dataVar = 0;
  for (let i = 0; i < d; i++) dataVar += (sq[i] / data.n - (mean[i] / data.n) ** 2) / d;
  const modelVar = tf.tidy(() => tf.mean(tf.exp(m.logVar)).dataSync()[0]);
  const ratio = dataVar / modelVar;
  if (ratio > 4 || ratio < 0.25) {
    throw new Error(
      `${WHAT}: the data's mean variance per unit is ${dataVar.toPrecision(3)} but the model's fixed σ² averages ${modelVar.toPrecision(3)} ` +
        `(ratio ${ratio.toPrecision(2)}): with σ fixed, p(v|h) would add noise on the wrong scale. Standardise the data ` +
        `(standardize(ds)) so that σ = 1 fits, set sigma to the data's spread, or learn it (learnSigma: true). ` +
        `To train anyway (e.g. to see the failure), pass checkScale: false.`,
    );
  }
}

/** One CD-k / PCD-k update on v `[B, nVisible]`; returns the new state (old tensors freed). */
function gaussianUpdate(s: GState, v: tf.Tensor2D, o: Resolved, noise: UniformSource, lr: number, momentum: number): GState {
  const B = v.shape[0];
  const next = tf.tidy(() => {
    const prec = tf.exp(tf.neg(s.logVar));
    const sd = tf.exp(tf.mul(s.logVar, 0.5));
    const WT = tf.transpose(s.W) as tf.Tensor2D;
    const hidProbs = (x: tf.Tensor2D) =>
      tf.fused.matMul({ a: tf.mul(x, prec) as tf.Tensor2D, b: s.W, bias: s.c, activation: "sigmoid" }) as tf.Tensor2D;
    const posHidProbs = hidProbs(v);
    let negHidStates = s.chains ?? sampleBernoulli(posHidProbs, noise);
    let negVis: tf.Tensor2D = v;
    let negHidProbs = posHidProbs;
    const nNeg = negHidStates.shape[0];
    for (let step = 0; step < o.k; step++) {
      const mean = tf.fused.matMul({ a: negHidStates, b: WT, bias: s.b }) as tf.Tensor2D;
      negVis = o.sampleVisible ? sampleGaussian(mean, sd, noise) : mean;
      negHidProbs = hidProbs(negVis);
      if (o.persistent || step < o.k - 1) negHidStates = sampleBernoulli(negHidProbs, noise);
    }
    // ε(⟨vhᵀ⟩_data − ⟨vhᵀ⟩_model)/σ² as one matMul of the stacked phases, rows scaled by 1/σ².
    // The products and column sums as in train/cd.ts (compute/ops.ts: no explicit transposes where matMul reads them).
    const stackedV = tf.concat([v, negVis], 0) as tf.Tensor2D;
    const stackedH = tf.concat([tf.mul(posHidProbs, lr / B), tf.mul(negHidProbs, -lr / nNeg)], 0) as tf.Tensor2D;
    let stepW: tf.Tensor = tf.mul(matMulAT(stackedV, stackedH), tf.expandDims(prec, 1));
    if (o.weightDecay > 0) stepW = tf.sub(stepW, tf.mul(s.W, lr * o.weightDecay));
    let stepB: tf.Tensor = tf.mul(columnSums(stackedV, blockWeights([B, nNeg], [lr / B, -lr / nNeg])), prec);
    let stepC: tf.Tensor = columnSums(stackedH);
    let stepZ: tf.Tensor = tf.zerosLike(s.logVar);
    if (o.learnSigma) {
      // (v − b)²/2 − v ∘ (W p(h|v)) per row, averaged: the derivative of −E with respect to z, times σ².
      const term = (x: tf.Tensor2D, ph: tf.Tensor2D) =>
        tf.mean(tf.sub(tf.mul(tf.square(tf.sub(x, s.b)), 0.5), tf.mul(x, tf.matMul(ph, WT))), 0);
      stepZ = tf.mul(tf.mul(tf.sub(term(v, posHidProbs), term(negVis, negHidProbs)), prec), lr * o.sigmaRateFactor);
    }
    if (momentum > 0) {
      stepW = tf.add(tf.mul(s.dW, momentum), stepW);
      stepB = tf.add(tf.mul(s.db, momentum), stepB);
      stepC = tf.add(tf.mul(s.dc, momentum), stepC);
      stepZ = tf.add(tf.mul(s.dz, momentum), stepZ);
    }
    const err = o.persistent ? s.errSum : tf.add(s.errSum, tf.sum(tf.squaredDifference(v, negVis)));
    return {
      W: tf.add(s.W, stepW) as tf.Tensor2D,
      b: tf.add(s.b, stepB) as tf.Tensor1D,
      c: tf.add(s.c, stepC) as tf.Tensor1D,
      logVar: tf.add(s.logVar, stepZ) as tf.Tensor1D,
      dW: stepW as tf.Tensor2D,
      db: stepB as tf.Tensor1D,
      dc: stepC as tf.Tensor1D,
      dz: stepZ as tf.Tensor1D,
      errSum: err as tf.Scalar,
      chains: o.persistent ? negHidStates : undefined,
    };
  });
  disposeGState(s, next);
  return next;
}

function disposeGState(s: GState, keep?: GState): void {
  const kept = new Set<tf.Tensor | undefined>(keep ? Object.values(keep) : []);
  tf.dispose(Object.values(s).filter((t): t is tf.Tensor => t !== undefined && !kept.has(t)));
}

/** Hidden states of persistent chains started from random training rows (Tieleman's PCD). */
function startChains(m: GaussianRBM, data: Dataset, nChains: number, rng: Rng, noise: UniformSource): tf.Tensor2D {
  const d = dim(data);
  const start = new Float32Array(nChains * d);
  for (let r = 0; r < nChains; r++) {
    const i = rng.int(data.n);
    start.set(data.images.subarray(i * d, (i + 1) * d), r * d);
  }
  return tf.tidy(() => {
    const v = tf.mul(tf.tensor2d(start, [nChains, d]), tf.exp(tf.neg(m.logVar))) as tf.Tensor2D;
    return sampleBernoulli(tf.fused.matMul({ a: v, b: m.W, bias: m.c, activation: "sigmoid" }) as tf.Tensor2D, noise);
  });
}

/** Checks the model and that the data are finite rows of its width; returns nVisible. */
function checkModelAndData(m: GaussianRBM, data: Dataset): number {
  assertFiniteGaussianRBM(m, WHAT);
  assertDataset(data, WHAT);
  const { nVisible } = gaussianSize(m);
  if (dim(data) !== nVisible)
    throw new Error(`${WHAT}: the data has ${dim(data)} values per row but the model has nVisible = ${nVisible}.`);
  const badIndex = data.images.findIndex((x) => !Number.isFinite(x));
  if (badIndex >= 0)
    throw new Error(`${WHAT}: data ${data.name} holds ${data.images[badIndex]} at flat index ${badIndex}; every value must be finite.`);
  return nVisible;
}

/** Copies of the parameters, zero momentum increments, a zero error sum. */
function startGState(m: GaussianRBM): GState {
  return {
    ...cloneGaussianRBM(m),
    dW: tf.zerosLike(m.W),
    db: tf.zerosLike(m.b),
    dc: tf.zerosLike(m.c),
    dz: tf.zerosLike(m.logVar),
    errSum: tf.scalar(0),
  };
}

/**
 * Trains a Gaussian–Bernoulli RBM on real-valued `data` (e.g. standardised pixels) with CD-k or
 * PCD-k on the one epoch loop (see the file comment and {@link GaussianTrainOptions}). The input
 * model is left untouched; the result holds new tensors.
 * @param data rows `[n, nVisible]` of finite real values as a {@link Dataset}
 */
export async function trainGaussianRBM(m: GaussianRBM, data: Dataset, opts: GaussianTrainOptions = {}): Promise<GaussianTrainResult> {
  const nVisible = checkModelAndData(m, data);
  const o = resolve(opts, data, m);
  const rng = toRng(o.seed, WHAT);
  const noise = new UniformSource(rng);
  let s: GState = startGState(m);
  if (o.persistent) s.chains = startChains(m, data, o.nChains ?? o.batchSize, rng, noise);
  const rates = cdSchedule(o, WHAT);
  const history: HistoryRecord[] = [];
  const model = (): GaussianRBM => ({ W: s.W, b: s.b, c: s.c, logVar: s.logVar });
  const nBatches = Math.ceil(data.n / o.batchSize);
  // The model at the last passing σ check (learned σ only), for the error of a collapse.
  let good: GaussianRBM | undefined = o.learnSigma ? cloneGaussianRBM(m) : undefined;
  const freeGood = () => {
    if (good) disposeGaussianRBM(good);
    good = undefined;
  };
  const stepper: Stepper<GaussianRBM, GaussianEpochRecord> = {
    model,
    health: () => ({ weights: [s.W], others: [s.b, s.c, s.logVar] }),
    clone: cloneGaussianRBM,
    dispose: disposeGaussianRBM,
    startEpoch: rates.startEpoch,
    update: (batch, epoch) => {
      const v = tf.tensor2d(batch.v, [batch.size, nVisible]);
      s = gaussianUpdate(s, v, o, noise, rates.lr, rates.momentum);
      v.dispose();
      // With learned σ, the loop's cadence of health checks also checks σ for a collapse or an explosion.
      if (o.learnSigma && ((batch.index + 1) % o.checkEvery === 0 || batch.index === nBatches - 1)) {
        const why = sigmaProblem(s, o);
        if (why) {
          const kept = good as GaussianRBM;
          good = undefined; // owned by the error from here on
          throw new TrainingDivergedError<GaussianRBM>(why, kept, epoch, batch.index, [...history]);
        }
        if (good) disposeGaussianRBM(good);
        good = cloneGaussianRBM(model());
      }
    },
    endEpoch: () => {
      const errSum = s.errSum.dataSync()[0];
      s.errSum.dispose();
      s.errSum = tf.scalar(0);
      const sigma = tf.tidy(() => tf.exp(tf.mul(s.logVar, 0.5)));
      const [sigmaMin, sigmaMean] = tf.tidy(() => [tf.min(sigma).dataSync()[0], tf.mean(sigma).dataSync()[0]]);
      sigma.dispose();
      return { trainRecon: o.persistent ? NaN : errSum / data.n, sigmaMin, sigmaMean };
    },
    free: (all) => {
      freeGood();
      if (all) disposeGState(s);
      else tf.dispose([s.dW, s.db, s.dc, s.dz, s.errSum]);
    },
  };
  const records = await runEpochs(stepper, data, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    shuffle: o.shuffle ? rng : undefined,
    checkEvery: o.checkEvery,
    maxWeight: o.maxWeight,
    progress: o.progress,
    label: `Gaussian ${o.persistent ? "PCD" : "CD"}-${o.k}`,
    what: WHAT,
    onBatch: o.onBatch,
    monitor: opts.monitor,
    onEpoch: async (record, cur) => {
      history.push(record); // for the error of a variance collapse
      await opts.onEpoch?.(record, cur);
    },
  });
  return { rbm: model(), history: records, chains: s.chains };
}

function sigmaMessage(sigmaMin: number, sigmaMax: number, o: Resolved): string {
  const fix = `Lower the learning rate (or sigmaRateFactor), drop constant pixels or standardise with a floor on the spread, or fix σ (learnSigma: false).`;
  if (sigmaMin < o.minSigma) {
    return (
      `${WHAT}: variance collapse — a visible σ fell to ${sigmaMin.toPrecision(3)} (limit minSigma = ${o.minSigma}). With learned σ a unit ` +
      `whose data barely vary (e.g. an always-black border pixel) drives its σ towards 0 and its 1/σ² gradients up. ${fix}`
    );
  }
  return (
    `${WHAT}: exploding variance — a visible σ rose to ${sigmaMax.toPrecision(3)} (limit maxSigma = ${o.maxSigma}). Near a collapse the ` +
    `1/σ² factors make the steps of log σ² huge and σ overshoots. ${fix}`
  );
}

/** Why σ is out of [minSigma, maxSigma] after an update, or undefined (NaN passes: the loop's health check reports it). */
function sigmaProblem(s: GState, o: Resolved): string | undefined {
  const [zMin, zMax] = tf.tidy(() => [tf.min(s.logVar).dataSync()[0], tf.max(s.logVar).dataSync()[0]]);
  const sigmaMin = Math.exp(zMin / 2);
  const sigmaMax = Math.exp(zMax / 2);
  return sigmaMin < o.minSigma || sigmaMax > o.maxSigma ? sigmaMessage(sigmaMin, sigmaMax, o) : undefined;
}
