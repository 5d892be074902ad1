/**
 * Discriminative fine-tuning by backpropagation: the unrolled DBN (mlp.ts) trained on the
 * cross-entropy with momentum or Adam, optional dropout and a frozen warm-up, early stopping on a
 * validation split. The gradients are written out by hand (explicit transposes keep every matMul on
 * the fast path of the wasm backend); the loop is the one training loop (train/loop.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { type Rng, type Seed, toRng } from "../core/random";
import { assertDataset, type Batch, type Dataset, dim, visibleRows } from "../io/data";
import { ExponentialAverage } from "../train/averaging";
import { divergenceLimits, type HistoryRecord, rateAt, runEpochs, type Stepper } from "../train/loop";
import type { ProgressBar } from "../view/progress";
import { assertMLP, cloneMLP, type DenseLayer, disposeMLP, dropoutMask, evaluateMLP, type MLP, mlpGradients } from "./mlp";
import { checkLabels } from "./model";

/** Options of {@link fineTuneMLP}. */
export interface FineTuneOptions {
  /** Maximum passes over the data. Default 30. */
  epochs?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** "momentum" (SGD with momentum, default) or "adam". */
  optimizer?: "momentum" | "adam";
  /**
   * Step size, or a schedule epoch → step size (momentum only). Default 0.03 for momentum (0.1
   * diverges in the first epoch for a 2000-unit top layer), 1e-3 for adam.
   * With momentum the update is Δ ← μΔ + ε_t ∇, θ ← θ − Δ (a schedule scales the gradient).
   */
  learningRate?: number | ((epoch: number) => number);
  /** Momentum μ. Default 0.9. */
  momentum?: number;
  /** L2 penalty λ on the weights (not the biases): the gradient gets + λW. Default 0. */
  weightDecay?: number;
  /**
   * Dropout (Srivastava, Hinton et al. 2014) during training: each input pixel is zeroed with
   * probability `inputDropout`, each hidden unit with probability `hiddenDropout`, afresh for every
   * row of every batch; the survivors are scaled by 1/(1 − p) ("inverted dropout"), so the expected
   * input of every unit is unchanged and the trained weights are used as they are at test time.
   * The pretrained weights need no rescaling for the same reason. Defaults 0 (no dropout);
   * 0.2 / 0.5 are the paper's values for MNIST. The masks come from `seed`.
   */
  inputDropout?: number;
  /** See {@link FineTuneOptions.inputDropout}. Default 0. */
  hiddenDropout?: number;
  /**
   * Iterate averaging: an exponential moving average θ̄ ← αθ̄ + (1 − α)θ of all weights and biases
   * after every update, with α = `averageDecay` (0.999 ≈ the last 1,000 updates, under 2 epochs of
   * 55,000 images). When on, the validation error, early stopping and the returned model are the
   * average's; the record's `valErrorIterate` keeps the plain iterate's. Default 0 (off). See
   * {@link ExponentialAverage}.
   */
  averageDecay?: number;
  /**
   * Max-norm constraint (Srivastava et al. 2014, §5.1): after every update the incoming weight vector
   * of each hidden unit (a column of W) is scaled back onto the ball ‖w‖₂ ≤ maxNorm if it left it;
   * the output layer is not constrained. It bounds the weights however large the step, which is what
   * lets dropout nets train at high rates. Default Infinity (none); the paper used 3–4 for random
   * starts, and a pretrained layer's columns may already be longer (check before choosing).
   */
  maxNorm?: number;
  /** Held-out labelled data for early stopping; without it every epoch runs and the last model is kept. */
  validation?: Dataset;
  /** Stop after this many epochs without a better validation error. Default 5. */
  patience?: number;
  /**
   * Train only the (new) output layer for the first this many epochs, so that its random start does
   * not send large gradients into the pretrained layers (Hinton & Salakhutdinov's backpropclassify.m
   * does this for 6 epochs). Default 0.
   */
  freezeEpochs?: number;
  /** Seed of the batch order. Default 0. */
  seed?: Seed;
  /** Stop when a weight exceeds ±maxWeight (diverging training). Default 1e3, as {@link TrainOptions}. */
  maxWeight?: number;
  /** Check for NaN/Inf and exploding weights every this many batches. Default 50. */
  checkEvery?: number;
  /** Progress bar. Default true. */
  progress?: boolean | ProgressBar;
  /** Called after each epoch (e.g. to plot). */
  onEpoch?: (record: FineTuneRecord, mlp: MLP) => void | Promise<void>;
}

/** One epoch of {@link fineTuneMLP}. */
export interface FineTuneRecord extends HistoryRecord {
  /** Step size used in this epoch. */
  learningRate: number;
  /** Mean cross-entropy over the epoch's batches (each measured before its update). */
  trainLoss: number;
  /** Fraction of training rows misclassified during the epoch (before each update). */
  trainError: number;
  /** Validation cross-entropy after the epoch (NaN without validation data). */
  valLoss: number;
  /** Validation error after the epoch (NaN without validation data); of the average with `averageDecay`. */
  valError: number;
  /** With `averageDecay`: the validation error of the plain (not averaged) iterate; NaN otherwise. */
  valErrorIterate: number;
  [key: string]: number;
}

/** Result of {@link fineTuneMLP}. */
export interface FineTuneResult {
  /** The model of the best validation epoch (or the last one without validation data); new tensors. */
  mlp: MLP;
  /** One record per epoch run. */
  history: FineTuneRecord[];
  /** Epoch whose parameters are returned. */
  bestEpoch: number;
  /** Whether early stopping ended the training before `epochs`. */
  stoppedEarly: boolean;
}

/**
 * Trains an MLP by backprop on the mean cross-entropy (+ λ/2 Σ‖W‖²): mini-batches from typed-array
 * views, hand-written gradients with explicit transposes, a TensorFlow.js optimizer, and early
 * stopping on `validation`. The input MLP is not modified.
 */
export async function fineTuneMLP(mlp: MLP, train: Dataset, opts: FineTuneOptions = {}): Promise<FineTuneResult> {
  const { epochs, B, kind, lr0, mu, wd, patience, freezeEpochs, pIn, pHid, nClasses, limits, bad, averageDecay, maxNorm } = resolveFineTune(
    mlp,
    train,
    opts,
  );
  const baseRate = rateAt(lr0, 0, "fineTuneMLP");
  const rng = toRng(opts.seed ?? 0, "fineTuneMLP");
  const vars = mlp.layers.map((l) => ({ W: tf.variable(l.W, true), b: tf.variable(l.b, true) })); // share the data until the first update
  const optimizer = kind === "adam" ? tf.train.adam(baseRate) : tf.train.momentum(baseRate, mu);
  const current = (): MLP => ({ layers: vars.map((v) => ({ W: v.W as tf.Tensor2D, b: v.b as tf.Tensor1D })) });
  const ema = averageDecay > 0 ? new ExponentialAverage(averageDecay) : undefined;
  // The model that is validated and kept: the average when averaging, else the iterate.
  const delivered = (): MLP => {
    if (ema === undefined || ema.count === 0) return current();
    const xs = ema.values();
    return { layers: vars.map((_, l) => ({ W: xs[2 * l] as tf.Tensor2D, b: xs[2 * l + 1] as tf.Tensor1D })) };
  };
  const hasValidation = opts.validation !== undefined;
  const keeper = new BestEpoch(hasValidation, patience, epochs);
  let step: BackpropStep = { scale: 1, fromLayer: 0, inputDropout: pIn, hiddenDropout: pHid, weightDecay: wd };
  let sums = { loss: tf.scalar(0), wrong: tf.scalar(0) };
  const stepper: Stepper<MLP, FineTuneRecord> = {
    model: current,
    health: () => ({ weights: vars.map((v) => v.W), others: vars.map((v) => v.b) }),
    clone: cloneMLP,
    dispose: disposeMLP,
    startEpoch: (epoch) => {
      const lr = rateAt(lr0, epoch, "fineTuneMLP");
      // Schedules scale the gradient (momentum form Δ ← μΔ + ε_t ∇); warm-up epochs train the output layer only.
      step = { ...step, scale: lr / baseRate, fromLayer: epoch < freezeEpochs ? vars.length - 1 : 0 };
      return { learningRate: lr };
    },
    update: (batch) => {
      sums = backpropStep(vars, optimizer, batch, step, rng, sums);
      if (maxNorm < Infinity) applyMaxNorm(vars.slice(0, -1), maxNorm);
      ema?.update(vars.flatMap((v) => [v.W, v.b]));
    },
    endEpoch: (epoch) => {
      const trainLoss = sums.loss.dataSync()[0] / train.n;
      const trainError = sums.wrong.dataSync()[0] / train.n;
      tf.dispose([sums.loss, sums.wrong]);
      sums = { loss: tf.scalar(0), wrong: tf.scalar(0) };
      if (!Number.isFinite(trainLoss))
        bad(`the loss became ${trainLoss} in epoch ${epoch}: training diverged; lower the learning rate (e.g. ÷10).`);
      const val = opts.validation ? evaluateMLP(delivered(), opts.validation) : undefined;
      const valIterate = opts.validation && ema ? evaluateMLP(current(), opts.validation) : undefined;
      return {
        trainLoss,
        trainError,
        valLoss: val ? val.loss : NaN,
        valError: val ? val.error : NaN,
        valErrorIterate: valIterate ? valIterate.error : NaN,
      };
    },
    summary: (r) => ({
      loss: Number(r.trainLoss.toPrecision(4)),
      ...(hasValidation ? { valError: Number(r.valError.toPrecision(3)) } : {}),
    }),
    stopAfter: (r) => keeper.observe(r, delivered()),
    free: () => tf.dispose([sums.loss, sums.wrong]),
  };
  let history: FineTuneRecord[];
  try {
    history = await runEpochs(stepper, train, {
      epochs,
      batchSize: B,
      shuffle: rng,
      oneHot: nClasses,
      ...limits,
      progress: opts.progress,
      label: "backprop",
      what: "fineTuneMLP",
      onEpoch: opts.onEpoch,
    });
  } catch (e) {
    keeper.dispose();
    throw e;
  } finally {
    optimizer.dispose();
    ema?.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose() forgets the learning-rate scalar of its SGD base class.
    if (kind === "momentum") (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
    for (const v of vars) tf.dispose([v.W, v.b]);
  }
  return { mlp: keeper.best as MLP, history, bestEpoch: keeper.bestEpoch, stoppedEarly: keeper.stoppedEarly };
}

/**
 * Early stopping for {@link fineTuneMLP}: keeps a copy of the model of the best validation epoch
 * (lowest error, ties broken by the loss; without validation data, the last epoch) and says when
 * `patience` epochs have passed without a better one.
 */
class BestEpoch {
  best: MLP | undefined;
  bestEpoch = -1;
  stoppedEarly = false;
  private bestVal = Infinity;
  private bestValLoss = Infinity;

  constructor(
    private readonly hasValidation: boolean,
    private readonly patience: number,
    private readonly epochs: number,
  ) {}

  /** Takes the epoch's record and current model; returns whether to stop training. */
  observe(r: FineTuneRecord, model: MLP): boolean {
    if (!this.hasValidation || r.valError < this.bestVal || (r.valError === this.bestVal && r.valLoss < this.bestValLoss)) {
      this.dispose();
      this.best = cloneMLP(model);
      this.bestEpoch = r.epoch;
      this.bestVal = r.valError;
      this.bestValLoss = r.valLoss;
    }
    this.stoppedEarly = this.hasValidation && r.epoch - this.bestEpoch >= this.patience && r.epoch < this.epochs - 1;
    return this.stoppedEarly;
  }

  /** Frees the kept model (after an error). */
  dispose(): void {
    if (this.best) disposeMLP(this.best);
    this.best = undefined;
  }
}

/** The options of {@link fineTuneMLP} with their defaults, checked against the model and the data (one clear error each). */
function resolveFineTune(mlp: MLP, train: Dataset, opts: FineTuneOptions) {
  assertMLP(mlp, "fineTuneMLP");
  assertDataset(train, "fineTuneMLP");
  if (opts.validation !== undefined) assertDataset(opts.validation, "fineTuneMLP: validation");
  const epochs = opts.epochs ?? 30;
  const B = opts.batchSize ?? 100;
  const kind = opts.optimizer ?? "momentum";
  const lr0 = opts.learningRate ?? (kind === "adam" ? 1e-3 : 0.03);
  const mu = opts.momentum ?? 0.9;
  const wd = opts.weightDecay ?? 0;
  const patience = opts.patience ?? 5;
  const freezeEpochs = opts.freezeEpochs ?? 0;
  const pIn = opts.inputDropout ?? 0;
  const pHid = opts.hiddenDropout ?? 0;
  const averageDecay = opts.averageDecay ?? 0;
  const maxNorm = opts.maxNorm ?? Infinity;
  const bad = (msg: string): never => {
    throw new Error(`fineTuneMLP: ${msg}`);
  };
  if (!(pIn >= 0 && pIn < 1)) bad(`inputDropout must be a probability in [0, 1), got ${pIn}.`);
  if (!(pHid >= 0 && pHid < 1)) bad(`hiddenDropout must be a probability in [0, 1), got ${pHid}.`);
  if (!Number.isInteger(epochs) || epochs < 1) bad(`epochs must be a positive integer, got ${epochs}.`);
  if (!Number.isInteger(B) || B < 1) bad(`batchSize must be a positive integer, got ${B}.`);
  if (B > train.n) bad(`batchSize ${B} is larger than the training data (${train.n} rows).`);
  if (kind !== "momentum" && kind !== "adam") bad(`optimizer must be "momentum" or "adam", got ${JSON.stringify(kind)}.`);
  if (typeof lr0 === "number" && !(lr0 > 0 && Number.isFinite(lr0))) bad(`learningRate must be a positive number, got ${lr0}.`);
  if (typeof lr0 === "function" && kind === "adam")
    bad('a learning-rate schedule needs optimizer "momentum" (Adam adapts its own step sizes).');
  if (!(mu >= 0 && mu < 1)) bad(`momentum must be in [0, 1), got ${mu}.`);
  if (!(wd >= 0)) bad(`weightDecay must be ≥ 0, got ${wd}.`);
  if (!(averageDecay >= 0 && averageDecay < 1))
    bad(`averageDecay must be in [0, 1) (0 = no averaging, 0.999 ≈ the last 1,000 updates), got ${averageDecay}.`);
  if (!(maxNorm > 0)) bad(`maxNorm must be a positive number (Infinity = no constraint), got ${maxNorm}.`);
  if (!Number.isInteger(patience) || patience < 1) bad(`patience must be a positive integer, got ${patience}.`);
  if (!Number.isInteger(freezeEpochs) || freezeEpochs < 0) bad(`freezeEpochs must be an integer ≥ 0, got ${freezeEpochs}.`);
  const d0 = mlp.layers[0].W.shape[0];
  const nClasses = mlp.layers[mlp.layers.length - 1].W.shape[1];
  const limits = divergenceLimits(opts, "fineTuneMLP");
  for (const [role, ds] of [["train", train], ...(opts.validation ? [["validation", opts.validation] as const] : [])] as const) {
    if (dim(ds) !== d0) bad(`${ds.name} has ${dim(ds)} values per row but the MLP takes ${d0}.`);
    visibleRows(ds, d0, `fineTuneMLP: ${role} data ${ds.name}`); // n × d0 values, all in [0, 1] (NaN named here, not as a divergence)
    checkLabels(ds.labels, ds.n, nClasses, `fineTuneMLP: ${role} data ${ds.name}`);
  }
  return { epochs, B, kind, lr0, mu, wd, patience, freezeEpochs, pIn, pHid, nClasses, limits, bad, averageDecay, maxNorm };
}

/** The per-epoch settings of one backprop step of {@link fineTuneMLP}. */
interface BackpropStep {
  /** Multiplies every gradient: ε_t / ε_0 under a learning-rate schedule. */
  scale: number;
  /** Layers below this are frozen (zero gradients). */
  fromLayer: number;
  inputDropout: number;
  hiddenDropout: number;
  weightDecay: number;
}

/**
 * One backprop update of the MLP's variables on a mini-batch: dropout masks drawn from `rng`, the
 * hand-written gradients of {@link mlpGradients}, weight decay, one optimizer step. Returns the
 * running sums of the loss and of the misclassified rows with this batch added (the old ones freed).
 */
function backpropStep(
  vars: { W: tf.Variable; b: tf.Variable }[],
  optimizer: tf.Optimizer,
  batch: Batch,
  o: BackpropStep,
  rng: Rng,
  sums: { loss: tf.Scalar; wrong: tf.Scalar },
): { loss: tf.Scalar; wrong: tf.Scalar } {
  const size = batch.size;
  const d0 = (vars[0].W as tf.Tensor2D).shape[0];
  const nClasses = (vars[vars.length - 1].W as tf.Tensor2D).shape[1];
  const out = tf.tidy(() => {
    const x = tf.tensor2d(batch.v, [size, d0]);
    const y = tf.tensor2d(batch.y, [size, nClasses]);
    const layers: DenseLayer[] = vars.map((v) => ({ W: v.W as tf.Tensor2D, b: v.b as tf.Tensor1D }));
    const masks = layers.map((l, i) => {
      const p = i === 0 ? o.inputDropout : o.hiddenDropout;
      return p > 0 ? dropoutMask([size, l.W.shape[0]], p, rng) : undefined;
    });
    const g = mlpGradients({ layers }, x, y, { masks, scale: o.scale, fromLayer: o.fromLayer });
    const grads: { name: string; tensor: tf.Tensor }[] = [];
    for (let l = 0; l < layers.length; l++) {
      // Frozen layers (warm-up) get zero gradients, which keep the optimizer's per-variable state aligned.
      let gW: tf.Tensor = g.dW[l] ?? tf.zerosLike(layers[l].W);
      if (o.weightDecay > 0 && g.dW[l]) gW = tf.add(gW, tf.mul(layers[l].W, o.weightDecay * o.scale));
      grads.push({ name: vars[l].W.name, tensor: gW }, { name: vars[l].b.name, tensor: g.db[l] ?? tf.zerosLike(layers[l].b) });
    }
    optimizer.applyGradients(grads);
    return { loss: tf.add(sums.loss, g.loss) as tf.Scalar, wrong: tf.add(sums.wrong, g.wrong) as tf.Scalar };
  });
  tf.dispose([sums.loss, sums.wrong]);
  return out;
}

/**
 * Scales each column W[:, j] (the incoming weights of unit j) of every given layer back onto the
 * ball ‖W[:, j]‖₂ ≤ c, leaving shorter columns unchanged: W ← W · min(1, c / ‖W[:, j]‖).
 */
function applyMaxNorm(vars: { W: tf.Variable }[], c: number): void {
  for (const v of vars)
    tf.tidy(() => {
      const norms = tf.sqrt(tf.sum(tf.square(v.W), 0));
      const scale = tf.minimum(1, tf.div(c, tf.maximum(norms, 1e-12)));
      v.W.assign(tf.mul(v.W, scale));
    });
}
