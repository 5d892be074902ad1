/**
 * Iterate averaging (Polyak & Juditsky 1992; for RBMs, Swersky, Chen, Marlin & de Freitas 2010,
 * "A tutorial on stochastic approximation algorithms for training RBMs and DBNs"): the stochastic
 * gradient of PCD jitters the parameters around the path the exact gradient would take, and the
 * mean of the iterates θ̄ = (1/T) Σ_t θ_t has the jitter averaged out. Because p(v) depends on the
 * plain parameters (W, b, c) only, the mean is taken there, whatever coordinates the trainer
 * stepped in (a centered RBM converts to plain exactly, lib/core/centered.ts).
 *
 * Use it from a trainer's `onEpoch` (one snapshot per epoch; the epochs of the late, small-rate
 * part of training are the ones worth averaging):
 *
 *   const avg = new RBMAverage();
 *   await trainCenteredRBM(rbm0, data, { onEpoch: (rec, rbm) => { if (rec.epoch >= 50) avg.add(rbm); } });
 *   const rbmBar = avg.mean(); // new tensors
 */
import * as tf from "@tensorflow/tfjs";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";

/** A running mean of RBM parameters, kept in float64 on the host so no tensors are held between snapshots. */
export class RBMAverage {
  private sum?: { W: Float64Array; b: Float64Array; c: Float64Array; nVisible: number; nHidden: number };
  /** Number of snapshots added so far. */
  count = 0;

  /**
   * Adds one snapshot of `rbm` (W `[nVisible, nHidden]`, b `[nVisible]`, c `[nHidden]`); the tensors are read, not kept.
   * @throws when its size differs from the earlier snapshots', or it holds NaN/Inf
   */
  add(rbm: RBM): void {
    assertFiniteRBM(rbm, "RBMAverage.add");
    const { nVisible, nHidden } = rbmSize(rbm);
    if (this.sum === undefined)
      this.sum = {
        W: new Float64Array(nVisible * nHidden),
        b: new Float64Array(nVisible),
        c: new Float64Array(nHidden),
        nVisible,
        nHidden,
      };
    else if (this.sum.nVisible !== nVisible || this.sum.nHidden !== nHidden)
      throw new Error(
        `RBMAverage.add: the snapshot is ${nVisible}×${nHidden} but the earlier ones were ${this.sum.nVisible}×${this.sum.nHidden}; ` +
          "average one model's iterates only (a new RBMAverage per training run).",
      );
    const s = this.sum;
    for (const [acc, t] of [
      [s.W, rbm.W],
      [s.b, rbm.b],
      [s.c, rbm.c],
    ] as const) {
      const x = t.dataSync();
      for (let i = 0; i < x.length; i++) acc[i] += x[i];
    }
    this.count++;
  }

  /**
   * The mean of the snapshots as a new RBM (tensors owned by the caller).
   * @throws before the first {@link RBMAverage.add}
   */
  mean(): RBM {
    const s = this.sum;
    if (s === undefined || this.count === 0)
      throw new Error("RBMAverage.mean: no snapshot was added; call add(rbm) (e.g. in onEpoch) first.");
    const scaled = (acc: Float64Array) => Float32Array.from(acc, (x) => x / this.count);
    return {
      W: tf.tensor2d(scaled(s.W), [s.nVisible, s.nHidden]),
      b: tf.tensor1d(scaled(s.b)),
      c: tf.tensor1d(scaled(s.c)),
    };
  }
}

/**
 * An exponential moving average of a list of tensors, kept on the device and updated after every
 * optimizer step: θ̄ ← α θ̄ + (1 − α) θ, starting from θ̄ = θ at the first update (so it needs no bias
 * correction). With α = 1 − 1/T it averages over roughly the last T updates: the iterate averaging
 * of Polyak & Juditsky 1992 with a finite memory, which keeps following a network whose parameters
 * are still moving (Swersky et al. 2010 use the same form for RBMs).
 *
 *   const avg = new ExponentialAverage(0.999);
 *   avg.update([W0, b0, W1, b1]);   // after each step; the tensors are read, not kept
 *   const [W0bar, b0bar] = avg.values(); // owned by the average: clone to keep past dispose()
 */
export class ExponentialAverage {
  private avg: tf.Tensor[] | undefined;
  /** Number of updates so far. */
  count = 0;

  /**
   * @param decay α in [0, 1): the weight of the old average at each update
   * @throws when `decay` is not in [0, 1)
   */
  constructor(readonly decay: number) {
    if (!(decay >= 0 && decay < 1))
      throw new Error(`ExponentialAverage: decay must be in [0, 1) (e.g. 0.999 to average over about 1,000 updates), got ${decay}.`);
  }

  /**
   * Folds the current values into the average.
   * @param xs the same tensors (count and shapes) at every call
   * @throws when their count or shapes differ from the first call's
   */
  update(xs: tf.Tensor[]): void {
    if (this.avg === undefined) {
      this.avg = xs.map((x) => tf.keep(x.clone()));
      this.count = 1;
      return;
    }
    const old = this.avg;
    if (xs.length !== old.length || xs.some((x, i) => !tf.util.arraysEqual(x.shape, old[i].shape)))
      throw new Error(
        `ExponentialAverage.update: got ${xs.length} tensors [${xs.map((x) => `[${x.shape}]`).join(", ")}] but the average holds ` +
          `${old.length} [${old.map((x) => `[${x.shape}]`).join(", ")}]; average one model's parameters only (a new ExponentialAverage per run).`,
      );
    const a = this.decay;
    this.avg = tf.tidy(() => xs.map((x, i) => tf.keep(tf.add(tf.mul(old[i], a), tf.mul(x, 1 - a)))));
    tf.dispose(old);
    this.count++;
  }

  /**
   * The current averages, in the order given to {@link ExponentialAverage.update}; owned by this object.
   * @throws before the first update
   */
  values(): tf.Tensor[] {
    if (this.avg === undefined) throw new Error("ExponentialAverage.values: no update yet; call update(tensors) after a step first.");
    return this.avg;
  }

  /** Frees the averages. */
  dispose(): void {
    if (this.avg) tf.dispose(this.avg);
    this.avg = undefined;
    this.count = 0;
  }
}
