/**
 * The centered RBM (Melchior, Fischer & Wiskott 2016, "How to Center Deep Boltzmann Machines", JMLR 17):
 * the same model family as the plain RBM, written around offsets μ (visible) and λ (hidden):
 *
 *   E(v, h) = −(v − μ)ᵀ W (h − λ) − bᵀ(v − μ) − cᵀ(h − λ)
 *
 * Expanding the product gives a plain RBM with the same W and the biases
 *
 *   b_plain = b − W λ,   c_plain = c − Wᵀ μ                (E differs by the constant −μᵀWλ − bᵀμ − cᵀλ)
 *
 * so a centered RBM IS a plain RBM (same p(v, h)); only the coordinates in which gradient steps are
 * taken differ. The gradient of the log-likelihood in centered coordinates is
 *
 *   ∂/∂W = ⟨(v − μ)(h − λ)ᵀ⟩_data − ⟨(v − μ)(h − λ)ᵀ⟩_model,  ∂/∂b = ⟨v⟩_data − ⟨v⟩_model,  ∂/∂c = ⟨h⟩_data − ⟨h⟩_model
 *
 * which equals the plain gradient mapped by the chain rule (∂W_c = ∂W − μ ∂cᵀ − ∂b λᵀ): the
 * subtraction of the offsets removes the part of the weight gradient that only moves the means,
 * which is what makes the Hessian better conditioned. Moving an offset μ → μ′ (λ → λ′) while
 * keeping the model unchanged needs b ← b + W(λ′ − λ), c ← c + Wᵀ(μ′ − μ) ({@link shiftOffsets}).
 */
import * as tf from "@tensorflow/tfjs";
import { blockWeights, columnSums, matMulAT } from "../compute/ops";
import { assertFiniteRBM, type RBM, rbmSize } from "./rbm";
/** A centered RBM: W `[nVisible, nHidden]`, centered biases b `[nVisible]`, c `[nHidden]`, offsets mu `[nVisible]`, lambda `[nHidden]`. */
export interface CenteredRBM extends RBM {
  /** Visible offset μ `[nVisible]` (Melchior et al.: a sliding average of the data mean). */
  mu: tf.Tensor1D;
  /** Hidden offset λ `[nHidden]` (a sliding average of the positive-phase hidden mean). */
  lambda: tf.Tensor1D;
}

function checkOffsets(rbm: RBM, mu: tf.Tensor1D, lambda: tf.Tensor1D, what: string): void {
  const { nVisible, nHidden } = rbmSize(rbm);
  if (mu.rank !== 1 || mu.shape[0] !== nVisible || lambda.rank !== 1 || lambda.shape[0] !== nHidden) {
    throw new Error(
      `${what}: the offsets must be mu [${nVisible}] (nVisible) and lambda [${nHidden}] (nHidden), got mu [${mu.shape}] and lambda [${lambda.shape}].`,
    );
  }
}

/** The plain RBM with the same distribution: W, b − Wλ, c − Wᵀμ (new tensors). */
export function centeredToPlain(m: CenteredRBM): RBM {
  checkOffsets(m, m.mu, m.lambda, "centeredToPlain");
  return tf.tidy(() => ({
    W: m.W.clone(),
    b: tf.sub(m.b, tf.squeeze(tf.matMul(m.W, tf.reshape(m.lambda, [-1, 1])), [1])) as tf.Tensor1D,
    c: tf.sub(m.c, tf.squeeze(tf.matMul(tf.reshape(m.mu, [1, -1]), m.W), [0])) as tf.Tensor1D,
  }));
}

/**
 * The centered RBM with offsets `mu` `[nVisible]` and `lambda` `[nHidden]` that has the distribution
 * of the plain `rbm`: b = b_plain + Wλ, c = c_plain + Wᵀμ (new tensors; the offsets are copied).
 */
export function plainToCentered(rbm: RBM, mu: tf.Tensor1D, lambda: tf.Tensor1D): CenteredRBM {
  assertFiniteRBM(rbm, "plainToCentered");
  checkOffsets(rbm, mu, lambda, "plainToCentered");
  return tf.tidy(() => ({
    W: rbm.W.clone(),
    b: tf.add(rbm.b, tf.squeeze(tf.matMul(rbm.W, tf.reshape(lambda, [-1, 1])), [1])) as tf.Tensor1D,
    c: tf.add(rbm.c, tf.squeeze(tf.matMul(tf.reshape(mu, [1, -1]), rbm.W), [0])) as tf.Tensor1D,
    mu: mu.clone(),
    lambda: lambda.clone(),
  }));
}

/**
 * Moves the offsets to `mu` and `lambda` and re-parametrises the biases so that p(v, h) does not
 * change: b ← b + W(λ′ − λ), c ← c + Wᵀ(μ′ − μ). Returns a new model (new tensors).
 */
export function shiftOffsets(m: CenteredRBM, mu: tf.Tensor1D, lambda: tf.Tensor1D): CenteredRBM {
  checkOffsets(m, mu, lambda, "shiftOffsets");
  return tf.tidy(() => ({
    W: m.W.clone(),
    b: tf.add(m.b, tf.squeeze(tf.matMul(m.W, tf.reshape(tf.sub(lambda, m.lambda), [-1, 1])), [1])) as tf.Tensor1D,
    c: tf.add(m.c, tf.squeeze(tf.matMul(tf.reshape(tf.sub(mu, m.mu), [1, -1]), m.W), [0])) as tf.Tensor1D,
    mu: mu.clone(),
    lambda: lambda.clone(),
  }));
}

/** Frees the tensors of a centered RBM. */
export function disposeCentered(m: CenteredRBM): void {
  tf.dispose([m.W, m.b, m.c, m.mu, m.lambda]);
}

/**
 * Centered energy E(v, h) = −(v − μ)ᵀW(h − λ) − bᵀ(v − μ) − cᵀ(h − λ) per row.
 * @param v `[batch, nVisible]` @param h `[batch, nHidden]` @returns `[batch]`
 */
export function centeredEnergy(v: tf.Tensor2D, h: tf.Tensor2D, m: CenteredRBM): tf.Tensor1D {
  const { nVisible, nHidden } = rbmSize(m);
  if (v.rank !== 2 || v.shape[1] !== nVisible || h.rank !== 2 || h.shape[1] !== nHidden || v.shape[0] !== h.shape[0]) {
    throw new Error(
      `centeredEnergy: v must be [batch, ${nVisible}] and h [batch, ${nHidden}] with one batch size; got v [${v.shape}], h [${h.shape}].`,
    );
  }
  return tf.tidy(() => {
    const dv = tf.sub(v, m.mu);
    const dh = tf.sub(h, m.lambda);
    const quad = tf.sum(tf.mul(tf.matMul(dv, m.W), dh), 1);
    return tf.neg(tf.addN([quad, tf.sum(tf.mul(dv, m.b), 1), tf.sum(tf.mul(dh, m.c), 1)])) as tf.Tensor1D;
  });
}

/** One phase of a gradient: visible rows, their hidden statistics and the weight of each row. */
export interface Phase {
  /** Visible rows `[n, nVisible]`. */
  v: tf.Tensor2D;
  /** Hidden statistics of the rows `[n, nHidden]`, usually p(h = 1 | v). */
  h: tf.Tensor2D;
  /** One weight for every row (e.g. ε / n) or a weight per row `[n]` (e.g. exact probabilities). */
  weight: number | tf.Tensor1D;
}

/**
 * The centered gradient Σ_pos w (v − μ)(h − λ)ᵀ − Σ_neg w (v − μ)(h − λ)ᵀ for W `[nVisible, nHidden]`,
 * Σ_pos w v − Σ_neg w v for b, Σ_pos w h − Σ_neg w h for c, as ONE matMul of the stacked phases
 * (`[nV, nPos + nNeg] × [nPos + nNeg, nH]`). With weights 1/n per phase this is the log-likelihood
 * gradient in centered coordinates; with ε/n it is an SGD step. Offsets of zeros give the plain gradient.
 */
export function centeredGradient(
  pos: Phase,
  neg: Phase,
  mu: tf.Tensor1D,
  lambda: tf.Tensor1D,
): { dW: tf.Tensor2D; db: tf.Tensor1D; dc: tf.Tensor1D } {
  return tf.tidy(() => {
    const col = (p: Phase, sign: number) =>
      typeof p.weight === "number" ? tf.scalar(sign * p.weight) : tf.mul(tf.reshape(p.weight, [-1, 1]), sign);
    const wPos = col(pos, 1);
    const wNeg = col(neg, -1);
    const dv = tf.sub(tf.concat([pos.v, neg.v], 0), mu) as tf.Tensor2D;
    const hw = tf.concat([tf.mul(tf.sub(pos.h, lambda), wPos), tf.mul(tf.sub(neg.h, lambda), wNeg)], 0) as tf.Tensor2D;
    const dW = matMulAT(dv, hw);
    if (typeof pos.weight === "number" && typeof neg.weight === "number") {
      // One weight per phase: weighted column sums of the stacks, as one product each (the sums
      // lib/train/cd-native.ts's fused step computes with the same OpenBLAS call).
      const w = blockWeights([pos.v.shape[0], neg.v.shape[0]], [pos.weight, -neg.weight]);
      const db = columnSums(tf.concat([pos.v, neg.v], 0) as tf.Tensor2D, w);
      const dc = columnSums(tf.concat([pos.h, neg.h], 0) as tf.Tensor2D, w);
      return { dW, db, dc };
    }
    const db = tf.add(tf.sum(tf.mul(pos.v, wPos), 0), tf.sum(tf.mul(neg.v, wNeg), 0)) as tf.Tensor1D;
    const dc = tf.add(tf.sum(tf.mul(pos.h, wPos), 0), tf.sum(tf.mul(neg.h, wNeg), 0)) as tf.Tensor1D;
    return { dW, db, dc };
  });
}
