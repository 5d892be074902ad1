/**
 * The exact expected CD-k update of a tiny RBM, for measuring the bias of contrastive divergence
 * against the exact log-likelihood gradient ({@link exactLogLikelihoodGradient}).
 *
 * CD-k (Hinton 2002) starts a block-Gibbs chain at each training vector v_n and stops after k full
 * steps, v_n = v⁰ → h⁰ → v¹ → … → vᵏ. Its update is
 *   ΔW ∝ v_n p(h=1 | v_n)ᵀ − vᵏ p(h=1 | vᵏ)ᵀ,  Δb ∝ v_n − vᵏ,  Δc ∝ p(h=1 | v_n) − p(h=1 | vᵏ),
 * a random quantity through vᵏ. Its expectation over the chain is a sum over the 2^nVisible
 * visible states weighted by the k-step distribution δ_{v_n} Tᵏ of the exact kernel T
 * ({@link gibbsKernel}). As k → ∞, δ Tᵏ → p(v) and the expected update becomes the exact gradient.
 * This is CD with *sampled* visible states vᵏ; the library's trainer uses p(v | h) for the
 * reconstruction instead (less noise, a slightly different estimator).
 */
import * as tf from "@tensorflow/tfjs";
import { allBinaryStates } from "./exact";
import { evolveDistribution, gibbsKernel, stateIndices } from "./mixing";
import { assertVisible, hiddenProbs, type RBM, rbmSize } from "./rbm";

/** An update of (W, b, c) in float64: `dW` `[nVisible * nHidden]` row-major, `db` `[nVisible]`, `dc` `[nHidden]`. */
export interface ParameterUpdate {
  dW: Float64Array;
  db: Float64Array;
  dc: Float64Array;
}

/**
 * The expected CD-k updates for k = 1 … maxK, averaged over the data rows, computed exactly by
 * enumerating the visible states (see the module comment). Entry k − 1 is CD-k.
 * @param v data `[N, nVisible]` of 0/1 values
 * @param rbm a model small enough for {@link gibbsKernel}
 * @param maxK the largest k (an integer ≥ 1)
 * @throws Error when v is not binary, maxK is not a positive integer, or the model is too large
 */
export function exactCDUpdates(v: tf.Tensor2D, rbm: RBM, maxK: number): ParameterUpdate[] {
  assertVisible(v, rbm, "exactCDUpdates: v");
  if (!Number.isInteger(maxK) || maxK < 1) throw new Error(`exactCDUpdates: maxK must be a positive integer, got ${maxK}.`);
  const { nVisible, nHidden } = rbmSize(rbm);
  const values = v.dataSync();
  if (values.some((x) => x !== 0 && x !== 1))
    throw new Error("exactCDUpdates: v must hold 0/1 values (binary data), as CD-k's chain states do.");
  const kernel = gibbsKernel(rbm);
  const nStates = kernel.length;
  const [stateBits, stateHid, dataHid] = tf.tidy(() => {
    const all = allBinaryStates(nVisible);
    return [all.dataSync(), hiddenProbs(all, rbm).dataSync(), hiddenProbs(v, rbm).dataSync()];
  });
  const N = v.shape[0];
  // The data's distribution over visible states, and after t = 1 … maxK steps of the chain.
  const p0 = new Float64Array(nStates);
  for (const s of stateIndices(values, nVisible)) p0[s] += 1 / N;
  const pk = evolveDistribution(p0, kernel, maxK);
  // Positive phase, the same for every k: (1/N) Σ_n v_n p(h | v_n)ᵀ.
  const pos: ParameterUpdate = { dW: new Float64Array(nVisible * nHidden), db: new Float64Array(nVisible), dc: new Float64Array(nHidden) };
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < nVisible; i++) {
      const vi = values[n * nVisible + i];
      pos.db[i] += vi / N;
      for (let j = 0; j < nHidden; j++) pos.dW[i * nHidden + j] += (vi * dataHid[n * nHidden + j]) / N;
    }
    for (let j = 0; j < nHidden; j++) pos.dc[j] += dataHid[n * nHidden + j] / N;
  }
  return pk.map((p) => {
    const u: ParameterUpdate = { dW: Float64Array.from(pos.dW), db: Float64Array.from(pos.db), dc: Float64Array.from(pos.dc) };
    for (let s = 0; s < nStates; s++) {
      if (p[s] === 0) continue;
      for (let i = 0; i < nVisible; i++) {
        const vi = stateBits[s * nVisible + i];
        u.db[i] -= p[s] * vi;
        if (vi !== 0) for (let j = 0; j < nHidden; j++) u.dW[i * nHidden + j] -= p[s] * stateHid[s * nHidden + j];
      }
      for (let j = 0; j < nHidden; j++) u.dc[j] -= p[s] * stateHid[s * nHidden + j];
    }
    return u;
  });
}

/** Euclidean norm of all three parts of an update together. */
export function updateNorm(u: ParameterUpdate): number {
  let s = 0;
  for (const part of [u.dW, u.db, u.dc]) for (const x of part) s += x * x;
  return Math.sqrt(s);
}

/**
 * How far an update is from a reference (e.g. CD-k from the exact gradient): the relative error
 * ‖u − ref‖ / ‖ref‖ and the cosine of the angle between them, over W, b and c together.
 * @throws Error when the two have different shapes
 */
export function compareUpdates(u: ParameterUpdate, ref: ParameterUpdate): { relativeError: number; cosine: number } {
  let [dot, uu, rr, dd] = [0, 0, 0, 0];
  for (const key of ["dW", "db", "dc"] as const) {
    const [a, b] = [u[key], ref[key]];
    if (a.length !== b.length)
      throw new Error(`compareUpdates: ${key} has ${a.length} entries in one update and ${b.length} in the other.`);
    for (let i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      uu += a[i] * a[i];
      rr += b[i] * b[i];
      dd += (a[i] - b[i]) ** 2;
    }
  }
  return { relativeError: Math.sqrt(dd / rr), cosine: dot / Math.sqrt(uu * rr) };
}
