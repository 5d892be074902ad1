/**
 * The variational lower bound of a two-level model, exactly, for tiny models (chapter 6).
 */
import * as tf from "@tensorflow/tfjs";
import { allBinaryStates, exactLogZ } from "../core/exact";
import { type GaussianRBM, gaussianHiddenInput } from "../core/gaussian";
import { freeEnergy, type RBM } from "../core/rbm";
/** Result of {@link exactDBNBound}. */
export interface DBNBound {
  /** The bound per row (nats). */
  bound: Float64Array;
  /** Means over rows of its three parts: E_q[log p(h)], E_q[log p(v|h)] and the entropy H(q). */
  logPrior: number;
  logLikelihood: number;
  entropy: number;
  /** Mean of the bound. */
  mean: number;
}

/**
 * The variational lower bound of a two-level model, exactly (tiny models: the lower RBM may have at
 * most 16 hidden units, which are enumerated):
 *
 *   log p(v) ≥ Σ_h q(h|v) [log p(h) + log p(v|h)] + H(q(·|v)),   q(h|v) = Π_j p_lower(h_j = 1 | v)
 *
 * with p(v|h) the lower RBM's conditional and p(h) = exp(−F_prior(h)) / Z_prior the marginal of
 * the `prior` RBM over its visible layer (which is h). With `prior = transposeRBM(lower)` the bound
 * equals the lower RBM's log p(v), since q is then its exact posterior.
 *
 * A Gaussian–Bernoulli `lower` (a DBN's Gaussian first layer, on standardised v) gives the bound on
 * the density: p(v|h) = N(b + W h, σ²) and q(h_j = 1 | v) = σ(c + (v/σ²) W)_j.
 * @param v `[n, nVisible]` @returns per-row bound and the means of its parts
 */
export function exactDBNBound(lower: RBM | GaussianRBM, prior: RBM, v: tf.Tensor2D): DBNBound {
  const [nV, nH] = lower.W.shape;
  if (nH > 16)
    throw new Error(`exactDBNBound: the lower RBM has ${nH} hidden units; the exact bound enumerates 2^nHidden states, so use at most 16.`);
  if (prior.W.shape[0] !== nH)
    throw new Error(
      `exactDBNBound: the prior RBM has ${prior.W.shape[0]} visible units but the lower RBM has ${nH} hidden units; they must match.`,
    );
  if (v.rank !== 2 || v.shape[1] !== nV) throw new Error(`exactDBNBound: v has shape [${v.shape}], expected [n, ${nV}].`);
  const logZ = exactLogZ(prior);
  const parts = tf.tidy(() => {
    const H = allBinaryStates(nH); // [S, nH]
    const logPrior = tf.sub(tf.neg(freeEnergy(H, prior)), logZ); // [S]
    const A = tf.add(tf.matMul(H, tf.transpose(lower.W)), lower.b); // [S, nV]
    let logPvh: tf.Tensor2D;
    let pre: tf.Tensor2D;
    if ("logVar" in lower) {
      // log N(v; a, σ²) = −½ Σ_i (v_i − a_i)²/σ_i² − ½ Σ_i log(2π σ_i²), expanded over the rows and states → [n, S]
      const prec = tf.exp(tf.neg(lower.logVar));
      const vv = tf.reshape(tf.sum(tf.mul(tf.square(v), prec), 1), [-1, 1]);
      const aa = tf.reshape(tf.sum(tf.mul(tf.square(A), prec), 1), [1, -1]);
      const cross = tf.matMul(tf.mul(v, prec), tf.transpose(A));
      const logNorm = tf.mul(tf.sum(tf.add(lower.logVar, Math.log(2 * Math.PI))), 0.5);
      logPvh = tf.sub(tf.sub(cross, tf.mul(tf.add(vv, aa), 0.5)), logNorm) as tf.Tensor2D;
      pre = gaussianHiddenInput(v, lower);
    } else {
      // log p(v|h) = Σ_i v_i a_i − softplus(a_i)  → [n, S]
      logPvh = tf.sub(tf.matMul(v, tf.transpose(A)), tf.sum(tf.softplus(A), 1)) as tf.Tensor2D;
      pre = tf.add(tf.matMul(v, lower.W), lower.c) as tf.Tensor2D; // [n, nH]
    }
    // log q(h|v) = Σ_j h_j log σ(pre_j) + (1 − h_j) log σ(−pre_j)  → [n, S]
    const logQ = tf.add(tf.matMul(tf.logSigmoid(pre), tf.transpose(H)), tf.matMul(tf.logSigmoid(tf.neg(pre)), tf.transpose(tf.sub(1, H))));
    const q = tf.exp(logQ);
    return [tf.sum(tf.mul(q, logPrior), 1), tf.sum(tf.mul(q, logPvh), 1), tf.neg(tf.sum(tf.mul(q, logQ), 1))];
  });
  const [a, b, c] = parts.map((t) => Float64Array.from(t.dataSync()));
  tf.dispose(parts);
  const bound = a.map((x, i) => x + b[i] + c[i]);
  const mean = (x: Float64Array) => x.reduce((s, y) => s + y, 0) / x.length;
  return { bound, logPrior: mean(a), logLikelihood: mean(b), entropy: mean(c), mean: mean(bound) };
}
