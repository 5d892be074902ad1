/**
 * Classification with the generative model itself: an up pass, then the exact label posterior of the
 * label-joined top RBM from free energies.
 */
import * as tf from "@tensorflow/tfjs";
import { type Dataset, visibleRows } from "../io/data";
import { assertDBN, checkLabels, type DBN, splitTop } from "./model";
import { dbnUpPass } from "./passes";
/**
 * log p(y = k | x) for a label-joined top RBM, exactly: with a one-hot y the free energy is
 * F(x, e_k) = −x·b_x − b_{y,k} − Σ_j softplus(c_j + (x W_x)_j + W_{y,kj}), and
 * p(y = k | x) = exp(−F(x, e_k)) / Σ_k' exp(−F(x, e_k')) (the x·b_x term cancels).
 * @param x `[batch, n_{L−1}]` the layer below the top @returns `[batch, nLabels]` log-probabilities
 */
export function labelLogProbs(dbn: DBN, x: tf.Tensor2D): tf.Tensor2D {
  if (dbn.nLabels === 0)
    throw new Error("labelLogProbs: this DBN has no label units; pretrain it with labels: true (or use a classifier on its features).");
  const nX = dbn.sizes[dbn.sizes.length - 2];
  if (x.rank !== 2 || x.shape[1] !== nX)
    throw new Error(`labelLogProbs: x has shape [${x.shape}] but the top RBM's feature part has ${nX} units.`);
  const top = dbn.layers[dbn.layers.length - 1];
  return tf.tidy(() => {
    const { Wx, Wy } = splitTop(dbn);
    const by = tf.slice(top.b, [nX], [dbn.nLabels]);
    const base = tf.add(tf.matMul(x, Wx), top.c); // [B, n_L]
    // [B, 1, n_L] + [1, K, n_L] → softplus summed over the hidden units → [B, K]
    const negF = tf.add(tf.sum(tf.softplus(tf.add(tf.expandDims(base, 1), tf.expandDims(Wy, 0))), 2), by);
    return tf.logSoftmax(negF) as tf.Tensor2D;
  });
}

/** Result of {@link classifyDBN}. */
export interface DBNClassification {
  /** argmax_k p(y = k | v) `[n]`. */
  predicted: Int32Array;
  /** Mean over rows of log p(y = true label | v) (nats), when the data carry labels. */
  meanLogProb: number;
  /** Fraction of rows misclassified, when the data carry labels. */
  error: number;
}

/**
 * Classifies with the generative model itself: an up pass to x_{L−1} (probabilities), then the exact
 * label posterior of the top RBM ({@link labelLogProbs}). Needs a label-joined DBN.
 */
export function classifyDBN(dbn: DBN, data: Dataset, opts: { batchSize?: number } = {}): DBNClassification {
  assertDBN(dbn, "classifyDBN");
  if (dbn.nLabels === 0) throw new Error("classifyDBN: this DBN has no label units; pretrain it with labels: true.");
  const { x, n } = visibleRows(data, dbn.sizes[0], "classifyDBN");
  checkLabels(data.labels, n, dbn.nLabels, `classifyDBN: ${data.name}`);
  const B = opts.batchSize ?? 250;
  const d0 = dbn.sizes[0];
  const predicted = new Int32Array(n);
  let logProb = 0;
  let wrong = 0;
  for (let start = 0; start < n; start += B) {
    const size = Math.min(B, n - start);
    const lp = tf.tidy(() => labelLogProbs(dbn, dbnUpPass(dbn, tf.tensor2d(x.subarray(start * d0, (start + size) * d0), [size, d0]))));
    const values = lp.dataSync();
    lp.dispose();
    for (let r = 0; r < size; r++) {
      let best = 0;
      for (let k = 1; k < dbn.nLabels; k++) if (values[r * dbn.nLabels + k] > values[r * dbn.nLabels + best]) best = k;
      predicted[start + r] = best;
      const y = data.labels[start + r];
      logProb += values[r * dbn.nLabels + y];
      if (best !== y) wrong++;
    }
  }
  return { predicted, meanLogProb: logProb / n, error: wrong / n };
}
