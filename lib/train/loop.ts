/**
 * The one epoch loop of the library. Every trainer — CD-k / PCD-k ({@link trainRBM}), the
 * label-joined top RBM of a DBN, the up-down algorithm and backprop fine-tuning of the MLP — is a
 * {@link Stepper} (what one update of its model is) run by {@link runEpochs} (everything else):
 *
 *   epochs of seeded mini-batches (the same random stream as drawing them by hand), the per-epoch
 *   schedules the stepper asks for, a health check every `checkEvery` batches (NaN/Inf, or a weight
 *   beyond `maxWeight` → {@link TrainingDivergedError} carrying the last good model), monitors and
 *   the per-epoch history record, the callbacks, progress, handing control back to the event loop,
 *   early stopping, and freeing the training state on any error.
 *
 * A new training method is a new stepper, not a new loop.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../core/random";
import type { RBM } from "../core/rbm";
import { type Batch, batches, type Dataset } from "../io/data";
import { InterruptedError, interrupted } from "../view/interrupt";
import { barFor, Pacer, type ProgressBar, yieldToEventLoop } from "../view/progress";

/** The numbers of one line of a training history: the epoch, its wall time, and named values. */
export interface HistoryRecord {
  /** 0-based epoch index. */
  epoch: number;
  /** Wall time of the epoch's updates, seconds (monitors and validation excluded). */
  seconds: number;
}

/** Thrown when training produces NaN/Inf or exploding weights; carries the last good model. */
export class TrainingDivergedError<M = RBM> extends Error {
  constructor(
    message: string,
    /** The model from the last successful health check (owned by whoever catches the error). */
    readonly lastGood: M,
    readonly epoch: number,
    readonly batch: number,
    /** History up to the last finished epoch. */
    readonly history: HistoryRecord[],
  ) {
    super(message);
    this.name = "TrainingDivergedError";
  }
}

/**
 * Thrown when an interrupt (the notebook's ■) stops training: `partial` is a copy of the model after
 * the last finished batch, owned by whoever takes it; `lastInterrupted()` hands it to the next cell.
 */
export class TrainingInterruptedError<M = RBM> extends InterruptedError<M> {
  constructor(
    message: string,
    partial: M,
    readonly epoch: number,
    readonly batch: number,
    /** History up to the last finished epoch. */
    readonly history: HistoryRecord[],
  ) {
    super(message, partial);
    this.name = "TrainingInterruptedError";
  }
}

/** The model-specific half of a training loop: what one update is, and how to copy its model. */
export interface Stepper<M, R extends HistoryRecord> {
  /** The current model (the stepper's own tensors, not a copy). */
  model(): M;
  /** Tensors checked for NaN/Inf; the largest |value| of `weights` is held against `maxWeight`. */
  health(): { weights: tf.Tensor[]; others: tf.Tensor[] };
  /** A deep copy of a model (for the last good parameters). */
  clone(model: M): M;
  /** Frees a model made by {@link Stepper.clone}. */
  dispose(model: M): void;
  /** Sets up an epoch (learning rate, momentum, …); returns the record fields it fixes. */
  startEpoch?(epoch: number): Partial<R>;
  /** One update on a mini-batch. */
  update(batch: Batch, epoch: number): void;
  /** The record fields measured during the epoch just finished (sums kept on the device), resetting them. */
  endEpoch(epoch: number): Partial<R>;
  /** After the epoch's record: whether to stop here (early stopping). Default: never. */
  stopAfter?(record: R): boolean;
  /** The values shown on the progress bar after an epoch. Default: the record's finite numbers. */
  summary?(record: R): Record<string, number>;
  /** Frees the training state; with `all`, the model too (after an error). */
  free(all: boolean): void;
}

/** What {@link runEpochs} needs besides the stepper; trainers fill it from their own options. */
export interface LoopOptions<M, R extends HistoryRecord> {
  /** Passes over the data. */
  epochs: number;
  /** Mini-batch size B. */
  batchSize: number;
  /** Shuffle with this generator each epoch (undefined: the data's own order). */
  shuffle?: Rng;
  /** Give the batches one-hot labels with this many classes. */
  oneHot?: number;
  /** Check the model's health every this many batches (and after the last batch of each epoch). */
  checkEvery: number;
  /** A weight beyond ±maxWeight counts as divergence. */
  maxWeight: number;
  /** Progress bar: true (default) a new one, false none, or a bar to drive. */
  progress?: boolean | ProgressBar;
  /** Label of the progress bar, e.g. "CD-1". */
  label: string;
  /** Who trains, for error messages, e.g. "trainRBM". */
  what: string;
  /** Called after every batch (keep it cheap). */
  onBatch?: (info: { epoch: number; batch: number; nBatches: number }) => void;
  /** Monitor values computed after each epoch and stored in its record (not part of `seconds`). */
  monitor?: (model: M, epoch: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Called after each epoch with its record and the current model. */
  onEpoch?: (record: R, model: M) => void | Promise<void>;
}

/**
 * Runs `stepper` over `data` for `o.epochs` epochs (see the file comment) and returns the history.
 * On any error the stepper's state is freed (its model too); a divergence is reported as a
 * {@link TrainingDivergedError} holding a copy of the model from the last good health check, an
 * interrupt as a {@link TrainingInterruptedError} holding a copy of the model after the last batch.
 */
export async function runEpochs<M, R extends HistoryRecord>(stepper: Stepper<M, R>, data: Dataset, o: LoopOptions<M, R>): Promise<R[]> {
  const nBatches = Math.ceil(data.n / o.batchSize);
  const history: R[] = [];
  const bar = barFor(o.progress, o.epochs * nBatches, o.label, "batch");
  const pacer = new Pacer(bar, 200, o.what, "batches");
  let lastGood: M | undefined = stepper.clone(stepper.model());
  let done = 0;
  const at = { epoch: 0, batch: -1 };
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      at.epoch = epoch;
      const fixed = stepper.startEpoch?.(epoch) ?? {};
      const t0 = performance.now();
      for (const batch of batches(data, o.batchSize, { seed: o.shuffle, oneHot: o.oneHot, reuseBuffers: true })) {
        stepper.update(batch, epoch);
        const index = batch.index;
        if ((index + 1) % o.checkEvery === 0 || index === nBatches - 1) {
          const why = checkHealth(stepper.health(), o.maxWeight);
          if (why) {
            const good = lastGood as M;
            lastGood = undefined; // owned by the error from here on
            throw new TrainingDivergedError<M>(
              `${o.what}: training diverged at epoch ${epoch}, batch ${index}: ${why}. The last good parameters are kept ` +
                `(error.lastGood). Lower the learning rate (e.g. ÷10), add weight decay, or use a smaller k/momentum.`,
              good,
              epoch,
              index,
              history,
            );
          }
          if (lastGood !== undefined) stepper.dispose(lastGood);
          lastGood = stepper.clone(stepper.model());
        }
        o.onBatch?.({ epoch, batch: index, nBatches });
        at.batch = index;
        done++;
        await pacer.step(done, { epoch: epoch + 1 });
      }
      const seconds = (performance.now() - t0) / 1000;
      const measured = stepper.endEpoch(epoch);
      const model = stepper.model();
      const monitors = o.monitor ? await o.monitor(model, epoch) : {};
      const record = { epoch, seconds, ...fixed, ...measured, ...monitors } as unknown as R;
      history.push(record);
      pacer.update(done, { epoch: epoch + 1, ...(stepper.summary ?? finiteValues)(record) });
      const stop = stepper.stopAfter?.(record) ?? false;
      await o.onEpoch?.(record, model);
      await yieldToEventLoop();
      if (stop) break;
    }
  } catch (e) {
    if (e instanceof InterruptedError && !(e instanceof TrainingInterruptedError)) {
      const partial = stepper.clone(stepper.model());
      stepper.free(true);
      throw interrupted(
        new TrainingInterruptedError<M>(
          `${o.what}: interrupted (■) in epoch ${at.epoch}, after batch ${at.batch}. The model as it was after that batch is kept: ` +
            "in the next cell, rbmlib.lastInterrupted().partial (dispose it when done).",
          partial,
          at.epoch,
          at.batch,
          history,
        ),
      );
    }
    stepper.free(true);
    throw e;
  } finally {
    bar?.done();
    if (lastGood !== undefined) stepper.dispose(lastGood);
  }
  stepper.free(false);
  return history;
}

/** The divergence-check defaults of every trainer: a health check every 50 batches, |W| > 1e3 counts as divergence. */
export const DIVERGENCE_DEFAULTS = { checkEvery: 50, maxWeight: 1e3 } as const;

/**
 * The divergence-check settings a trainer passes to {@link runEpochs}, with their defaults, checked:
 * `checkEvery` a positive integer and `maxWeight` a positive number (NaN would switch the check off silently).
 * @param what names the trainer in the message
 */
export function divergenceLimits(o: { checkEvery?: number; maxWeight?: number }, what: string): { checkEvery: number; maxWeight: number } {
  if (o.checkEvery !== undefined && !(Number.isInteger(o.checkEvery) && o.checkEvery >= 1)) {
    throw new Error(
      `${what}: checkEvery must be a positive integer (batches between divergence checks), got ${o.checkEvery}; ${DIVERGENCE_DEFAULTS.checkEvery} is the default.`,
    );
  }
  if (o.maxWeight !== undefined && !(o.maxWeight > 0)) {
    throw new Error(
      `${what}: maxWeight must be a positive number (the |W| that counts as divergence), got ${o.maxWeight}; 1e3 is the default.`,
    );
  }
  return { checkEvery: o.checkEvery ?? DIVERGENCE_DEFAULTS.checkEvery, maxWeight: o.maxWeight ?? DIVERGENCE_DEFAULTS.maxWeight };
}

/** Learning rate of an epoch under a number-or-schedule option; throws if a schedule returns a non-positive rate. */
export function rateAt(lr: number | ((epoch: number) => number), epoch: number, what: string): number {
  const r = typeof lr === "number" ? lr : lr(epoch);
  if (!(r > 0 && Number.isFinite(r)))
    throw new Error(`${what}: the learning-rate schedule returned ${r} at epoch ${epoch}; it must be positive.`);
  return r;
}

/** Problems found in the model's tensors, or undefined when they are fine (one sync read of two scalars). */
function checkHealth(t: { weights: tf.Tensor[]; others: tf.Tensor[] }, maxWeight: number): string | undefined {
  const [finite, maxAbs] = tf.tidy(() => [
    tf.all(tf.stack([...t.weights, ...t.others].map((x) => tf.all(tf.isFinite(x))))),
    tf.max(tf.stack(t.weights.map((w) => tf.max(tf.abs(w))))),
  ]);
  const ok = finite.dataSync()[0] === 1;
  const m = maxAbs.dataSync()[0];
  tf.dispose([finite, maxAbs]);
  if (!ok) return "the parameters became NaN or Inf";
  if (m > maxWeight) return `|W| reached ${m.toPrecision(3)} (limit maxWeight = ${maxWeight})`;
  return undefined;
}

/** The finite numbers of a record other than its bookkeeping fields, to 4 digits (the bar's default summary). */
function finiteValues(r: HistoryRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, val] of Object.entries(r)) {
    if (["epoch", "seconds", "learningRate", "momentum"].includes(key) || typeof val !== "number" || !Number.isFinite(val)) continue;
    out[key] = Number(val.toPrecision(4));
  }
  return out;
}
