/**
 * CD-k / PCD-k with the whole update in one native call (native/blas/cd.c), for trainRBM.
 *
 * Why: on the wasm backend with native OpenBLAS, a CD-1 784-500 batch of the tensor update
 * (lib/train/cd.ts's cdUpdate) runs ~25 tfjs kernels, and the allocations, concats, element-wise
 * passes and JS bookkeeping between its five SGEMMs cost about a third of the batch
 * (`npm run bench -- --sections=profile`). Here the parameters, their momentum increments and the
 * persistent chains live in Float32Arrays for the whole run and each batch is one call that does
 * the same arithmetic in the same order, with the same OpenBLAS products and the same generator,
 * so a seed gives the same model as the tensor update with native BLAS on (bit for bit; the epoch
 * error sum is accumulated in float64 instead of float32). Tensors are made only when someone asks
 * for the model (health checks, monitors, callbacks, the result).
 *
 * Used when {@link fusedCDApplies}: native BLAS active, an addon with the fused step, no sparsity
 * target (whose running mean stays on the tensor path), and `RBM_FUSED` not "0". Centered PCD
 * (trainCenteredRBM without tempering) runs the same way with `centered` offsets.
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CDStepShape,
  cdScratchLength,
  centeredScratchLength,
  nativeCDAvailable,
  nativeCDStep,
  nativeCenteredStep,
  type TemperingBuffers,
} from "../compute/blas";
import type { Rng } from "../core/random";
import { cloneRBM, disposeRBM, type RBM } from "../core/rbm";
import type { Batch } from "../io/data";
import type { EpochRecord, ResolvedTrainOptions } from "./cd";
import type { Stepper } from "./loop";

/** Whether trainRBM runs its updates through {@link FusedCD} for these options. */
export function fusedCDApplies(o: Pick<ResolvedTrainOptions, "sparsityTarget">): boolean {
  return o.sparsityTarget === undefined && nativeCDAvailable();
}

/** The training state of the fused CD stepper: parameters, increments, chains and scratch as typed arrays. */
export class FusedCD {
  readonly W: Float32Array;
  readonly b: Float32Array;
  readonly c: Float32Array;
  readonly dW: Float32Array;
  readonly db: Float32Array;
  readonly dc: Float32Array;
  /** PCD: the persistent hidden states `[nChains, nHidden]`. */
  readonly chains: Float32Array | null;
  /** Σ (v − ṽ)² since the last {@link FusedCD.takeErrSum} (CD only). */
  private errSum = 0;
  /** Rows whose reconstructed label flipped since the last {@link FusedCD.takeFlipSum} (CD with a label group). */
  private flipSum = 0;
  private readonly scratch: Float32Array;
  private readonly nVisible: number;
  private readonly nHidden: number;
  private readonly nChains: number;
  private view: RBM | undefined;
  /** Parallel tempering's state (centered trainer with a ladder): its β = 1 rows are the negative phase. */
  readonly tempering: TemperingBuffers | undefined;
  /** Centered PCD: the offsets μ `[nVisible]`, λ `[nHidden]` (moved in place) and the sliding factor ν. */
  readonly centered: { mu: Float32Array; lambda: Float32Array; slidingFactor: number } | undefined;

  /**
   * @param rbm the starting model (copied; not modified)
   * @param o the resolved options (k, persistent, sampleVisible, weightDecay, batchSize)
   * @param chains PCD's starting hidden states `[nChains, nHidden]` (copied), undefined for CD
   * @param centered centered PCD's starting offsets (copied) and sliding factor; needs `chains`
   * @param tempering centered PCD's tempering state (it holds the chains)
   * @param nLabels the last nLabels visible units are one softmax group (the label-joined top RBM of
   *   a DBN, lib/dbn/joint.ts; plain CD / PCD only). Default 0.
   */
  constructor(
    rbm: RBM,
    private readonly o: Pick<ResolvedTrainOptions, "k" | "persistent" | "sampleVisible" | "weightDecay" | "batchSize">,
    chains?: Float32Array,
    centered?: { mu: Float32Array; lambda: Float32Array; slidingFactor: number },
    tempering?: TemperingBuffers,
    readonly nLabels = 0,
  ) {
    [this.nVisible, this.nHidden] = rbm.W.shape;
    this.W = Float32Array.from(rbm.W.dataSync());
    this.b = Float32Array.from(rbm.b.dataSync());
    this.c = Float32Array.from(rbm.c.dataSync());
    this.dW = new Float32Array(this.W.length);
    this.db = new Float32Array(this.b.length);
    this.dc = new Float32Array(this.c.length);
    if (o.persistent && chains === undefined && tempering === undefined)
      throw new Error("FusedCD: persistent CD needs the starting chains.");
    this.chains = chains === undefined ? null : Float32Array.from(chains);
    this.tempering = tempering;
    // With tempering the negative phase is its β = 1 rows: n chains of the M·n it holds.
    this.nChains = tempering
      ? tempering.h.length / tempering.betas.length / this.nHidden
      : this.chains === null
        ? o.batchSize
        : this.chains.length / this.nHidden;
    if (nLabels > 0 && centered) throw new Error("FusedCD: a label group is for plain CD / PCD, not for the centered step.");
    if (tempering && !centered)
      throw new Error("FusedCD: tempering runs inside the centered step; give the offsets (zeros for plain PCD).");
    this.centered = centered && {
      mu: Float32Array.from(centered.mu),
      lambda: Float32Array.from(centered.lambda),
      slidingFactor: centered.slidingFactor,
    };
    if (this.centered && this.chains === null && tempering === undefined)
      throw new Error("FusedCD: centered PCD needs the starting chains (or a tempering state, which holds them).");
    const size = { B: o.batchSize, nVisible: this.nVisible, nHidden: this.nHidden, nNeg: this.nChains };
    this.scratch = new Float32Array(this.centered ? centeredScratchLength(size) : cdScratchLength(size));
  }

  /**
   * One update on the batch `v` `[B, nVisible]` with rate `lr` and momentum `momentum`, drawing from `rng`.
   * @throws when the fused step became unavailable mid-run (native BLAS switched off)
   */
  update(v: Float32Array, B: number, rng: Rng, lr: number, momentum: number): void {
    const shape: CDStepShape = {
      B,
      nVisible: this.nVisible,
      nHidden: this.nHidden,
      nNeg: this.o.persistent ? this.nChains : B,
      k: this.o.k,
      persistent: this.o.persistent,
      sampleVisible: this.o.sampleVisible,
      nLabels: this.nLabels,
    };
    let err: number | undefined;
    const cen = this.centered;
    if (cen !== undefined) {
      const chains = this.chains;
      rng.advanceWith((state) => {
        const hyper = { lr, momentum, weightDecay: this.o.weightDecay, slidingFactor: cen.slidingFactor };
        err = nativeCenteredStep(v.subarray(0, B * this.nVisible), this, cen, chains, this.scratch, state, shape, hyper, this.tempering)
          ? 0
          : undefined;
      });
    } else
      rng.advanceWith((state) => {
        const out = nativeCDStep(v.subarray(0, B * this.nVisible), this, this.chains, this.scratch, state, shape, {
          lr,
          momentum,
          weightDecay: this.o.weightDecay,
        });
        err = out?.err;
        this.flipSum += out?.flips ?? 0;
      });
    if (err === undefined) throw new Error("trainRBM: native BLAS was switched off during training; restart the training cell.");
    this.errSum += err;
    this.invalidate();
  }

  /** The error sum of the epoch so far, reset to 0. */
  takeErrSum(): number {
    const e = this.errSum;
    this.errSum = 0;
    return e;
  }

  /** CD with a label group: the rows of the epoch so far whose reconstructed label flipped, reset to 0. */
  takeFlipSum(): number {
    const f = this.flipSum;
    this.flipSum = 0;
    return f;
  }

  /** The current model as tensors, owned by this state and replaced after the next update (copy to keep). */
  model(): RBM {
    this.view ??= {
      W: tf.tensor2d(this.W, [this.nVisible, this.nHidden]),
      b: tf.tensor1d(this.b),
      c: tf.tensor1d(this.c),
    };
    return this.view;
  }

  /** A new model of the current parameters, owned by the caller. */
  takeModel(): RBM {
    return { W: tf.tensor2d(this.W, [this.nVisible, this.nHidden]), b: tf.tensor1d(this.b), c: tf.tensor1d(this.c) };
  }

  /** PCD's chains as a new tensor `[nChains, nHidden]` owned by the caller (undefined for CD). */
  takeChains(): tf.Tensor2D | undefined {
    return this.chains === null ? undefined : tf.tensor2d(this.chains, [this.nChains, this.nHidden]);
  }

  /** Frees the tensors handed out by {@link FusedCD.model}. */
  invalidate(): void {
    if (this.view !== undefined) tf.dispose([this.view.W, this.view.b, this.view.c]);
    this.view = undefined;
  }
}

/**
 * The stepper of a fused CD-type trainer (trainRBM, centered trainCenteredRBM, the label-joined
 * trainJointRBM): its model and health from {@link FusedCD.model}, one {@link FusedCD.update} per
 * batch at the schedule's current rate and momentum, and the epoch's reconstruction error (NaN with
 * persistent chains). With a label group (`fused.nLabels` = K) each batch row is the features and the
 * one-hot label `[x, y]` (the loop's `batch.y`), and the epoch also reports `labelFlips`, the share of
 * rows whose one-step reconstructed label differs from theirs (NaN with persistent chains).
 */
export function fusedRBMStepper<R extends EpochRecord = EpochRecord>(
  fused: FusedCD,
  rates: { lr: number; momentum: number; startEpoch: (epoch: number) => Partial<R> },
  persistent: boolean,
  nData: number,
  rng: Rng,
): Stepper<RBM, R> {
  const K = fused.nLabels;
  const nX = fused.W.length / fused.c.length - K;
  let joined = new Float32Array(0);
  /** The batch as rows [x, y] when there is a label group, else its own rows. */
  const rows = (batch: Batch): Float32Array => {
    if (K === 0) return batch.v;
    if (joined.length < batch.size * (nX + K)) joined = new Float32Array(batch.size * (nX + K));
    for (let r = 0; r < batch.size; r++) {
      joined.set(batch.v.subarray(r * nX, (r + 1) * nX), r * (nX + K));
      joined.set(batch.y.subarray(r * K, (r + 1) * K), r * (nX + K) + nX);
    }
    return joined;
  };
  return {
    model: () => fused.model(),
    health: () => {
      const m = fused.model();
      return { weights: [m.W], others: [m.b, m.c] };
    },
    clone: cloneRBM,
    dispose: disposeRBM,
    startEpoch: rates.startEpoch,
    update: (batch) => fused.update(rows(batch), batch.size, rng, rates.lr, rates.momentum),
    endEpoch: () => {
      const errSum = fused.takeErrSum();
      const flips = fused.takeFlipSum();
      const record: Partial<EpochRecord & { labelFlips: number }> = { trainRecon: persistent ? NaN : errSum / nData };
      if (K > 0) record.labelFlips = persistent ? NaN : flips / nData;
      return record as Partial<R>;
    },
    free: () => fused.invalidate(),
  };
}
