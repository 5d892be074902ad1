/**
 * Training an RBM with contrastive divergence (CD-k, Hinton 2002) or persistent CD (PCD, Tieleman 2008).
 *
 * One update, for a mini-batch v of B rows (rbm.m's names):
 *   posPhase:  p(h|v) = σ(vW + c)                         ⟨v hᵀ⟩_data ≈ vᵀ p(h|v) / B
 *   negPhase:  k steps of block Gibbs from h ~ p(h|v) (CD) or from the persistent chains (PCD)
 *              giving ṽ and p(h|ṽ)                          ⟨v hᵀ⟩_model ≈ ṽᵀ p(h|ṽ) / nChains
 *   ΔW ← μ ΔW + ε (⟨vhᵀ⟩_data − ⟨vhᵀ⟩_model − λ W),  W ← W + ΔW   (b, c alike, without decay)
 *
 * The hot loop is written for the wasm backend: batches come from typed-array views (slicing a big
 * tensor copies it on wasm), uniforms come from the seeded JS generator (tf.randomUniform is ~13×
 * slower), W is transposed explicitly once per batch (matMul with a transpose flag leaves XNNPACK),
 * the sigmoid and bias are fused into the matMul, and ∂W is one matMul of the stacked phases.
 */
import * as tf from "@tensorflow/tfjs";
import { blockWeights, columnSums, matMulAT } from "../compute/ops";
import { withoutUndefined } from "../core/numerics";
import { assertSeed, type Rng, type Seed, toRng } from "../core/random";
import { assertFiniteRBM, cloneRBM, disposeRBM, type RBM, rbmSize } from "../core/rbm";
import { sampleBernoulli, sigmoidLayer, sigmoidLayerAT, UniformSource } from "../core/units";
import { assertDataset, type Dataset, dim, visibleRows } from "../io/data";
import type { ProgressBar } from "../view/progress";
import { FusedCD, fusedCDApplies, fusedRBMStepper } from "./cd-native";
import { DIVERGENCE_DEFAULTS, divergenceLimits, type HistoryRecord, type LoopOptions, rateAt, runEpochs, type Stepper } from "./loop";
/** Hyperparameters of {@link trainRBM}; defaults follow Hinton's practical guide and rbm.m. */
export interface TrainOptions {
  /** Gibbs steps in the negative phase (CD-k / PCD-k). Default 1. */
  k?: number;
  /** Persistent chains (PCD) instead of restarting from the data (CD). Default false. */
  persistent?: boolean;
  /** Number of persistent chains (PCD only). Default: the batch size. */
  nChains?: number;
  /** Learning rate ε, or a schedule epoch (0-based) → ε. Default 0.1 (rbm.m epsilonw). */
  learningRate?: number | ((epoch: number) => number);
  /** Momentum μ before `momentumSwitchEpoch`. Default 0.5 (rbm.m initialmomentum). */
  initialMomentum?: number;
  /** Momentum μ from `momentumSwitchEpoch` on. Default 0.9 (rbm.m finalmomentum). */
  finalMomentum?: number;
  /** Epoch (0-based) at which the momentum switches. Default 5 (rbm.m: after 5 epochs). */
  momentumSwitchEpoch?: number;
  /** L2 weight decay λ on W. Default 2e-4 (rbm.m weightcost). */
  weightDecay?: number;
  /** Mini-batch size B. Default 100 (rbm.m). */
  batchSize?: number;
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Target mean activation of the hidden units (guide §11); undefined = no sparsity penalty. */
  sparsityTarget?: number;
  /** Strength of the sparsity penalty on the hidden biases. Default 0.1 when a target is set. */
  sparsityCost?: number;
  /**
   * Sample the negative visible units (true, as the seeds' numpy code) or use p(v|h) (false, rbm.m
   * and guide §3: less sampling noise). The hidden statistics always use probabilities.
   * Default: false for CD; true for PCD, whose persistent chains must be real Markov chains of the
   * model (a mean-field visible step would make them deterministic and biased).
   */
  sampleVisible?: boolean;
  /** Shuffle the data each epoch. Default true. */
  shuffle?: boolean;
  /** Seed for shuffling and sampling. Default 0. */
  seed?: Seed;
  /** Stop when |W| exceeds this (diverging training). Default 1e3. */
  maxWeight?: number;
  /** Check for NaN/Inf and exploding weights every this many batches. Default 50. */
  checkEvery?: number;
  /** Show a progress bar (notebook or terminal). Default true. */
  progress?: boolean | ProgressBar;
  /** Called after every batch (keep it cheap). */
  onBatch?: (info: { epoch: number; batch: number; nBatches: number }) => void;
  /**
   * Computes monitors (reconstruction error, pseudo-likelihood, …) after each epoch; their values
   * land in the history record. Not included in the epoch's `seconds`.
   */
  monitor?: (rbm: RBM, epoch: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Called after each epoch with the new history record (e.g. to save a checkpoint or plot). */
  onEpoch?: (record: EpochRecord, rbm: RBM) => void | Promise<void>;
}

/** One line of the training history. */
export interface EpochRecord extends HistoryRecord {
  /** Learning rate used. */
  learningRate: number;
  /** Momentum used. */
  momentum: number;
  /** Mean over training images of Σ_i (v_i − ṽ_i)², ṽ the negative-phase visible state (as rbm.m's errsum / n). */
  trainRecon: number;
  /** Monitor values from `opts.monitor`. */
  [monitor: string]: number;
}

/** Result of {@link trainRBM}: the trained model (new tensors; the input RBM is not modified) and the history. */
export interface TrainResult {
  rbm: RBM;
  history: EpochRecord[];
  /** PCD chains' final hidden state `[nChains, nHidden]` (PCD only; owned by the caller). */
  chains?: tf.Tensor2D;
}

/** The fully resolved options (all defaults filled in). */
export type ResolvedTrainOptions = Required<
  Omit<TrainOptions, "sparsityTarget" | "onBatch" | "monitor" | "onEpoch" | "progress" | "seed" | "nChains">
> &
  Pick<TrainOptions, "sparsityTarget" | "onBatch" | "monitor" | "onEpoch" | "progress" | "nChains"> & { seed: Seed };

/**
 * Fills in defaults and validates hyperparameters against the data; throws one clear error per problem.
 * @param what names the trainer in the messages (CD-type trainers share these options)
 */
export function resolveTrainOptions(opts: TrainOptions, nData: number, what = "trainRBM"): ResolvedTrainOptions {
  const o: ResolvedTrainOptions = {
    k: 1,
    persistent: false,
    learningRate: 0.1,
    initialMomentum: 0.5,
    finalMomentum: 0.9,
    momentumSwitchEpoch: 5,
    weightDecay: 2e-4,
    batchSize: 100,
    epochs: 1,
    sparsityCost: 0.1,
    sampleVisible: opts.persistent === true,
    shuffle: true,
    seed: 0,
    ...DIVERGENCE_DEFAULTS,
    ...withoutUndefined(opts),
  };
  const bad = (msg: string) => {
    throw new Error(`${what}: ${msg}`);
  };
  if (!Number.isInteger(o.k) || o.k < 1) bad(`k must be an integer ≥ 1 (Gibbs steps), got ${o.k}.`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1) bad(`epochs must be an integer ≥ 1, got ${o.epochs}.`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) bad(`batchSize must be a positive integer, got ${o.batchSize}.`);
  if (o.batchSize > nData) bad(`batchSize ${o.batchSize} is larger than the data (${nData} rows); use at most ${nData}.`);
  if (typeof o.learningRate === "number" && !(o.learningRate > 0 && Number.isFinite(o.learningRate))) {
    bad(`learningRate must be a positive number, got ${o.learningRate}; 0.1 (rbm.m) or 0.01 are typical.`);
  }
  for (const name of ["initialMomentum", "finalMomentum"] as const) {
    if (!(o[name] >= 0 && o[name] < 1)) bad(`${name} must be in [0, 1), got ${o[name]}.`);
  }
  if (!(o.weightDecay >= 0)) bad(`weightDecay must be ≥ 0, got ${o.weightDecay}.`);
  if (o.sparsityTarget !== undefined && !(o.sparsityTarget > 0 && o.sparsityTarget < 1)) {
    bad(`sparsityTarget must be in (0, 1), got ${o.sparsityTarget}.`);
  }
  if (o.nChains !== undefined && (!Number.isInteger(o.nChains) || o.nChains < 1))
    bad(`nChains must be a positive integer, got ${o.nChains}.`);
  if (o.nChains !== undefined && !o.persistent) bad(`nChains only applies to persistent CD; set persistent: true or drop nChains.`);
  if (!Number.isInteger(o.momentumSwitchEpoch) || o.momentumSwitchEpoch < 0) {
    bad(`momentumSwitchEpoch must be an integer ≥ 0 (an epoch, 0-based), got ${o.momentumSwitchEpoch}.`);
  }
  if (!(o.sparsityCost >= 0 && Number.isFinite(o.sparsityCost)))
    bad(`sparsityCost must be a number ≥ 0, got ${o.sparsityCost}; 0.1 is typical.`);
  divergenceLimits(o, what);
  assertSeed(o.seed, what);
  return o;
}

/** What every CD-type training loop carries: parameters, their momentum increments, the PCD chains and the epoch's error sum. */
export interface CDState {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
  c: tf.Tensor1D;
  dW: tf.Tensor2D;
  db: tf.Tensor1D;
  dc: tf.Tensor1D;
  /** PCD: hidden state of the persistent chains `[nChains, nHidden]`. */
  chains?: tf.Tensor2D;
  /** Σ over the epoch of squared reconstruction errors (kept on the device). */
  errSum: tf.Scalar;
}

/** The state a CD-type trainer starts from: copies of the parameters, zero momentum increments, a zero error sum. */
export function startCDState(rbm: RBM): CDState {
  return {
    W: rbm.W.clone(),
    b: rbm.b.clone(),
    c: rbm.c.clone(),
    dW: tf.zerosLike(rbm.W),
    db: tf.zerosLike(rbm.b),
    dc: tf.zerosLike(rbm.c),
    errSum: tf.scalar(0),
  };
}

/** trainRBM's state: {@link CDState} plus the sparsity statistics. */
interface State extends CDState {
  /** Running mean activation of the hidden units (sparsity). */
  q: tf.Tensor1D;
}

/** One CD-k / PCD-k update on the batch `v` `[B, nVisible]`. Returns the new state (old tensors freed). */
function cdUpdate(s: State, v: tf.Tensor2D, o: ResolvedTrainOptions, noise: UniformSource, lr: number, momentum: number): State {
  const B = v.shape[0];
  const next = tf.tidy(() => {
    // Positive phase: hidden probabilities driven by the data.
    const posHidProbs = sigmoidLayer(v, s.W, s.c);
    // Negative phase: k Gibbs steps from a sample of p(h|v) (CD) or from the persistent chains (PCD).
    let negHidStates = s.chains ?? sampleBernoulli(posHidProbs, noise);
    let negVis: tf.Tensor2D = v;
    let negHidProbs: tf.Tensor2D = posHidProbs;
    const nNeg = negHidStates.shape[0];
    for (let step = 0; step < o.k; step++) {
      const negVisProbs = sigmoidLayerAT(negHidStates, s.W, s.b);
      negVis = o.sampleVisible ? sampleBernoulli(negVisProbs, noise) : negVisProbs;
      negHidProbs = sigmoidLayer(negVis, s.W, s.c);
      if (o.persistent || step < o.k - 1) negHidStates = sampleBernoulli(negHidProbs, noise);
    }
    // ε(⟨vhᵀ⟩_data − ⟨vhᵀ⟩_model) as ONE matMul: [v; ṽ]ᵀ · [ε p(h|v)/B; −ε p(h|ṽ)/nNeg].
    // Folding ε into the small [2B, nH] factor saves a pass over the [nV, nH] matrix.
    const stackedV = tf.concat([v, negVis], 0) as tf.Tensor2D;
    const stackedH = tf.concat([tf.mul(posHidProbs, lr / B), tf.mul(negHidProbs, -lr / nNeg)], 0) as tf.Tensor2D;
    let stepW: tf.Tensor = matMulAT(stackedV, stackedH);
    if (o.weightDecay > 0) stepW = tf.sub(stepW, tf.mul(s.W, lr * o.weightDecay));
    // ε(Σv/B − Σṽ/nNeg) and ε(Σp(h|v)/B − Σp(h|ṽ)/nNeg): column sums of the same two stacks.
    let stepB: tf.Tensor = columnSums(stackedV, blockWeights([B, nNeg], [lr / B, -lr / nNeg]));
    let stepC: tf.Tensor = columnSums(stackedH);
    let q = s.q;
    if (o.sparsityTarget !== undefined) {
      // Guide §11: q is a running mean of the hidden activations; push it towards the target.
      q = tf.add(tf.mul(s.q, 0.9), tf.mul(tf.mean(posHidProbs, 0), 0.1));
      stepC = tf.add(stepC, tf.mul(tf.sub(o.sparsityTarget, q), lr * o.sparsityCost));
    }
    if (momentum > 0) {
      stepW = tf.add(tf.mul(s.dW, momentum), stepW);
      stepB = tf.add(tf.mul(s.db, momentum), stepB);
      stepC = tf.add(tf.mul(s.dc, momentum), stepC);
    }
    const dW = stepW as tf.Tensor2D;
    const db = stepB as tf.Tensor1D;
    const dc = stepC as tf.Tensor1D;
    // rbm.m's errsum compares the data with the (first) reconstruction; for CD-1 that is ṽ.
    const err = o.persistent ? s.errSum : tf.add(s.errSum, tf.sum(tf.squaredDifference(v, negVis)));
    return {
      W: tf.add(s.W, dW) as tf.Tensor2D,
      b: tf.add(s.b, db) as tf.Tensor1D,
      c: tf.add(s.c, dc) as tf.Tensor1D,
      dW,
      db,
      dc,
      q: q as tf.Tensor1D,
      errSum: err as tf.Scalar,
      chains: o.persistent ? negHidStates : undefined,
    };
  });
  disposeState(s, next);
  return next;
}

/** Frees the tensors of `s` that `keep` does not reuse (q and errSum can carry over unchanged). */
function disposeState(s: State, keep?: State): void {
  const kept = new Set<tf.Tensor | undefined>(keep ? Object.values(keep) : []);
  tf.dispose(Object.values(s).filter((t): t is tf.Tensor => t !== undefined && !kept.has(t)));
}

/**
 * Trains an RBM on `data` with CD-k or PCD-k (see {@link TrainOptions}).
 * The input `rbm` is left untouched; the result holds new tensors.
 * Hyperparameters, data range and sizes are validated before any work starts.
 * @param data images in [0, 1], `[n, nVisible]` as a {@link Dataset}
 */
export async function trainRBM(rbm: RBM, data: Dataset, opts: TrainOptions = {}): Promise<TrainResult> {
  assertFiniteRBM(rbm, "trainRBM");
  assertDataset(data, "trainRBM");
  const o = resolveTrainOptions(opts, data.n);
  const { nVisible, nHidden } = rbmSize(rbm);
  if (dim(data) !== nVisible) {
    throw new Error(`trainRBM: the data has ${dim(data)} values per row but the RBM has nVisible = ${nVisible}; they must match.`);
  }
  visibleRows(data, nVisible, `trainRBM: data ${data.name}`); // n × nVisible values, all in [0, 1]
  const rng = toRng(o.seed, "trainRBM");
  const noise = new UniformSource(rng);
  let s: State = { ...startCDState(rbm), q: tf.fill([nHidden], o.sparsityTarget ?? 0) as tf.Tensor1D };
  if (o.persistent) {
    // Chains start from the hidden states of random training rows, as in Tieleman's PCD.
    const nChains = o.nChains ?? o.batchSize;
    const start = new Float32Array(nChains * nVisible);
    for (let r = 0; r < nChains; r++) {
      const i = rng.int(data.n);
      start.set(data.images.subarray(i * nVisible, (i + 1) * nVisible), r * nVisible);
    }
    s.chains = tf.tidy(() => {
      const p = sigmoidLayer(tf.tensor2d(start, [nChains, nVisible]), s.W, s.c);
      return sampleBernoulli(p, noise);
    });
  }
  const rates = cdSchedule(o);
  const label = `${o.persistent ? "PCD" : "CD"}-${o.k}`;
  const loop = cdLoop<EpochRecord>(o, rng, label, "trainRBM");
  if (fusedCDApplies(o)) {
    // The same update in one native call per batch (lib/train/cd-native.ts), from the same state.
    const fused = new FusedCD(rbm, o, s.chains?.dataSync() as Float32Array | undefined);
    disposeState(s);
    const history = await runEpochs(fusedRBMStepper(fused, rates, o.persistent, data.n, rng), data, loop);
    return { rbm: fused.takeModel(), history, chains: fused.takeChains() };
  }
  const stepper: Stepper<RBM, EpochRecord> = {
    ...cdModelOf(() => s),
    startEpoch: rates.startEpoch,
    update: (batch) => {
      const v = tf.tensor2d(batch.v, [batch.size, nVisible]);
      s = cdUpdate(s, v, o, noise, rates.lr, rates.momentum);
      v.dispose();
    },
    endEpoch: () => {
      const errSum = s.errSum.dataSync()[0];
      s.errSum.dispose();
      s.errSum = tf.scalar(0);
      // With persistent chains the negative state is not a reconstruction of the batch: NaN.
      return { trainRecon: o.persistent ? NaN : errSum / data.n };
    },
    free: (all) => (all ? disposeState(s) : tf.dispose([s.dW, s.db, s.dc, s.q, s.errSum])),
  };
  const history = await runEpochs(stepper, data, loop);
  return { rbm: { W: s.W, b: s.b, c: s.c }, history, chains: s.chains };
}

/** The loop settings of a CD-type trainer (trainRBM, the label-joined trainJointRBM) from its resolved options. */
export function cdLoop<R extends EpochRecord>(
  o: ResolvedTrainOptions,
  rng: Rng,
  label: string,
  what: string,
  oneHot?: number,
): LoopOptions<RBM, R> {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    shuffle: o.shuffle ? rng : undefined,
    oneHot,
    checkEvery: o.checkEvery,
    maxWeight: o.maxWeight,
    progress: o.progress,
    label,
    what,
    onBatch: o.onBatch,
    monitor: o.monitor,
    onEpoch: o.onEpoch as LoopOptions<RBM, R>["onEpoch"],
  };
}

/**
 * The per-epoch schedule of a CD-type trainer — the learning rate and the momentum switch of rbm.m —
 * as the stepper's `startEpoch` and the current values it sets (read them in `update`).
 */
export function cdSchedule(
  o: ResolvedTrainOptions,
  what = "trainRBM",
): { lr: number; momentum: number; startEpoch: (epoch: number) => Partial<EpochRecord> } {
  const rates = {
    lr: 0,
    momentum: 0,
    startEpoch: (epoch: number) => {
      rates.lr = rateAt(o.learningRate, epoch, what);
      rates.momentum = epoch < o.momentumSwitchEpoch ? o.initialMomentum : o.finalMomentum;
      return { learningRate: rates.lr, momentum: rates.momentum };
    },
  };
  return rates;
}

/** The model half of a CD-type stepper: the RBM held in the training state `s()`, its health and copies. */
export function cdModelOf(s: () => CDState): Pick<Stepper<RBM, EpochRecord>, "model" | "health" | "clone" | "dispose"> {
  return {
    model: () => ({ W: s().W, b: s().b, c: s().c }),
    health: () => ({ weights: [s().W], others: [s().b, s().c] }),
    clone: cloneRBM,
    dispose: disposeRBM,
  };
}
