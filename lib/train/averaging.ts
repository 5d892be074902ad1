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
