/**
 * Exact computations for tiny RBMs, by enumerating every state of the smaller layer.
 *
 * They are the ground truth every estimator in the course is checked against:
 *   log Z = log Σ_v exp(−F(v)) = log Σ_h exp(−G(h))     (G = hidden free energy)
 * so enumerating 2^min(nVisible, nHidden) states suffices. Sums are done in float64 with log-sum-exp.
 */
import * as tf from "@tensorflow/tfjs";
import { logSumExp } from "./numerics";
import { assertFiniteRBM, assertVisible, freeEnergy, hiddenFreeEnergy, hiddenProbs, type RBM, rbmSize } from "./rbm";
/** Largest layer we agree to enumerate (2^24 states ≈ 16.7 million rows, evaluated in chunks). */
export const MAX_ENUMERATION_BITS = 24;

/**
 * All 2^n binary vectors, row r holding the bits of r (bit j of r is column j).
 * @returns `[2^n, n]` float32
 */
export function allBinaryStates(n: number, start = 0, count = 2 ** n): tf.Tensor2D {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ENUMERATION_BITS) {
    throw new Error(`allBinaryStates: n must be an integer in [1, ${MAX_ENUMERATION_BITS}], got ${n}.`);
  }
  const out = new Float32Array(count * n);
  for (let r = 0; r < count; r++) {
    const s = start + r;
    for (let j = 0; j < n; j++) out[r * n + j] = (s >>> j) & 1;
  }
  return tf.tensor2d(out, [count, n]);
}

/** Copies a tensor's values into a float64 array and frees the tensor. */
function readAndDispose(t: tf.Tensor): Float64Array {
  const out = Float64Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** Evaluates f on all 2^n states of an n-bit layer in chunks, returning the values in state order. */
function mapStates(n: number, f: (states: tf.Tensor2D) => tf.Tensor1D): Float64Array {
  const total = 2 ** n;
  const chunk = Math.max(1, Math.min(total, Math.floor(2 ** 22 / n)));
  const out = new Float64Array(total);
  for (let start = 0; start < total; start += chunk) {
    const count = Math.min(chunk, total - start);
    const vals = tf.tidy(() => f(allBinaryStates(n, start, count)));
    out.set(vals.dataSync(), start);
    vals.dispose();
  }
  return out;
}

function checkEnumerable(rbm: RBM, what: string): { nVisible: number; nHidden: number } {
  assertFiniteRBM(rbm, "checkEnumerable");
  const size = rbmSize(rbm);
  if (Math.min(size.nVisible, size.nHidden) > MAX_ENUMERATION_BITS) {
    throw new Error(
      `${what}: exact enumeration needs a layer of at most ${MAX_ENUMERATION_BITS} units, ` +
        `this RBM is ${size.nVisible}-${size.nHidden}. Use AIS (annealedLogZ) for large models.`,
    );
  }
  return size;
}

/** Exact log partition function log Z, enumerating the smaller layer. */
export function exactLogZ(rbm: RBM): number {
  const { nVisible, nHidden } = checkEnumerable(rbm, "exactLogZ");
  const negF =
    nHidden <= nVisible
      ? mapStates(nHidden, (h) => tf.neg(hiddenFreeEnergy(h, rbm)))
      : mapStates(nVisible, (v) => tf.neg(freeEnergy(v, rbm)));
  return logSumExp(negF);
}

/**
 * Exact log p(v) = −F(v) − log Z for each row.
 * @param v `[batch, nVisible]` @param logZ pass a precomputed {@link exactLogZ} to save work
 * @returns per-row log-probabilities (nats)
 */
export function exactLogProb(v: tf.Tensor2D, rbm: RBM, logZ: number = exactLogZ(rbm)): Float64Array {
  assertVisible(v, rbm);
  const f = freeEnergy(v, rbm);
  const out = Float64Array.from(f.dataSync(), (x) => -x - logZ);
  f.dispose();
  return out;
}

/** The full distribution over one layer: states in binary order and their exact probabilities. */
export interface ExactMarginal {
  /** Number of units in the layer. */
  n: number;
  /** p(state r) where bit j of r is unit j; length 2^n. */
  probs: Float64Array;
  /** log Z of the model. */
  logZ: number;
}

/** The exact distribution over one n-bit layer from the negative free energy of each of its states. */
function layerMarginal(rbm: RBM, n: number, what: string, negFreeEnergy: (states: tf.Tensor2D) => tf.Tensor1D): ExactMarginal {
  if (n > MAX_ENUMERATION_BITS) throw new Error(`${what} = ${n} > ${MAX_ENUMERATION_BITS}.`);
  assertFiniteRBM(rbm, "layerMarginal");
  const negF = mapStates(n, negFreeEnergy);
  const logZ = logSumExp(negF);
  return { n, probs: negF.map((x) => Math.exp(x - logZ)), logZ };
}

/** Exact marginal p(v) over all 2^nVisible visible states (nVisible ≤ 24). */
export function exactVisibleMarginal(rbm: RBM): ExactMarginal {
  return layerMarginal(rbm, rbmSize(rbm).nVisible, "exactVisibleMarginal: nVisible", (v) => tf.neg(freeEnergy(v, rbm)));
}

/** Exact marginal p(h) over all 2^nHidden hidden states (nHidden ≤ 24). */
export function exactHiddenMarginal(rbm: RBM): ExactMarginal {
  return layerMarginal(rbm, rbmSize(rbm).nHidden, "exactHiddenMarginal: nHidden", (h) => tf.neg(hiddenFreeEnergy(h, rbm)));
}

/**
 * Exact model expectations ⟨v_i h_j⟩, ⟨v_i⟩, ⟨h_j⟩ under p(v, h), enumerating the visible layer
 * (⟨v hᵀ⟩ = Σ_v p(v) v p(h=1|v)ᵀ). Needs nVisible ≤ 24.
 * @returns vh `[nVisible * nHidden]` row-major, v `[nVisible]`, h `[nHidden]`
 */
export function exactModelExpectations(rbm: RBM): { vh: Float64Array; v: Float64Array; h: Float64Array } {
  const { nVisible } = rbmSize(rbm);
  const { probs } = exactVisibleMarginal(rbm);
  const [vh, v, h] = tf.tidy(() => {
    const states = allBinaryStates(nVisible);
    const p = tf.tensor1d(Float32Array.from(probs)).reshape([-1, 1]);
    const ph = hiddenProbs(states, rbm);
    const weighted = tf.mul(states, p);
    return [tf.matMul(weighted, ph, true, false), tf.sum(weighted, 0), tf.sum(tf.mul(ph, p), 0)];
  });
  return { vh: readAndDispose(vh), v: readAndDispose(v), h: readAndDispose(h) };
}

/**
 * The exact gradient of the average log-likelihood (1/N) Σ_n log p(v_n) with respect to W, b, c:
 *   ∂/∂W = ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model,  ∂/∂b = ⟨v⟩_data − ⟨v⟩_model,  ∂/∂c = ⟨h⟩_data − ⟨h⟩_model
 * where the data term uses p(h|v_n). CD-k approximates the model term with k Gibbs steps.
 * @param v `[N, nVisible]`
 */
export function exactLogLikelihoodGradient(v: tf.Tensor2D, rbm: RBM): { dW: Float64Array; db: Float64Array; dc: Float64Array } {
  assertVisible(v, rbm);
  const model = exactModelExpectations(rbm);
  const n = v.shape[0];
  const [vh, vMean, hMean] = tf.tidy(() => {
    const ph = hiddenProbs(v, rbm);
    return [tf.div(tf.matMul(v, ph, true, false), n), tf.mean(v, 0), tf.mean(ph, 0)];
  });
  const data = { vh: readAndDispose(vh), v: readAndDispose(vMean), h: readAndDispose(hMean) };
  return {
    dW: model.vh.map((m, i) => data.vh[i] - m),
    db: model.v.map((m, i) => data.v[i] - m),
    dc: model.h.map((m, i) => data.h[i] - m),
  };
}
