/**
 * Up and down passes of a DBN: bottom-up recognition probabilities and top-down generative probabilities.
 */
import * as tf from "@tensorflow/tfjs";
import { sigmoidLayer } from "../core/units";
import { type Dataset, visibleRows } from "../io/data";
import { assertDBN, checkLabels, type DBN, gaussianInputMap, oneHotTensor } from "./model";
/** The deepest layer reachable without labels: n_{L−1} when the top RBM has label units, else n_L. */
export function defaultDepth(dbn: DBN): number {
  return dbn.nLabels > 0 ? dbn.sizes.length - 2 : dbn.sizes.length - 1;
}

export function checkDepth(dbn: DBN, depth: number, hasLabels: boolean, what: string): void {
  const L = dbn.sizes.length - 1;
  if (!Number.isInteger(depth) || depth < 0 || depth > L) throw new Error(`${what}: depth must be an integer in [0, ${L}], got ${depth}.`);
  if (depth === L && dbn.nLabels > 0 && !hasLabels) {
    throw new Error(
      `${what}: the top layer (depth ${L}) of this DBN also listens to its ${dbn.nLabels} label units; pass labels, or use depth ${L - 1}.`,
    );
  }
}

/**
 * Bottom-up probabilities: x₀ = v, x_{l+1} = σ(x_l W_l + c_l), up to layer `depth` (the recognition
 * weights, mean-field: probabilities are propagated, not samples). For the top layer of a
 * label-joined DBN pass one-hot `labels` `[batch, nLabels]`. With Gaussian pixels the first step is
 * the Gaussian layer's x₁ = σ(c + (u/σ²) W₀), u = (v − μ)/s the standardised pixels.
 * @param v `[batch, n₀]` @returns `[batch, n_depth]`
 * @param depthOrDefault how many layers to go up; default {@link defaultDepth} (read after the DBN is checked)
 */
export function dbnUpPass(dbn: DBN, v: tf.Tensor2D, depthOrDefault?: number, labels?: tf.Tensor2D): tf.Tensor2D {
  assertDBN(dbn, "dbnUpPass");
  const depth = depthOrDefault ?? defaultDepth(dbn);
  checkDepth(dbn, depth, labels !== undefined, "dbnUpPass");
  if (v.rank !== 2 || v.shape[1] !== dbn.sizes[0])
    throw new Error(
      `dbnUpPass: v has shape [${v.shape}] but the DBN's first layer has ${dbn.sizes[0]} units: pass [batch, ${dbn.sizes[0]}].`,
    );
  const L = dbn.sizes.length - 1;
  const input = dbn.gaussian && depth > 0 ? gaussianInputMap(dbn.gaussian) : undefined;
  return tf.tidy(() => {
    let x: tf.Tensor2D = input ? (tf.add(tf.mul(v, input.scale), input.shift) as tf.Tensor2D) : v;
    for (let l = 0; l < depth; l++) {
      const rbm = dbn.layers[l];
      if (l === L - 1 && dbn.nLabels > 0) {
        if (!labels || labels.shape[0] !== v.shape[0] || labels.shape[1] !== dbn.nLabels) {
          throw new Error(`dbnUpPass: labels must be one-hot [${v.shape[0]}, ${dbn.nLabels}].`);
        }
        x = tf.concat([x, labels], 1);
      }
      x = sigmoidLayer(x, rbm.W, rbm.c);
    }
    return x.clone();
  });
}

/**
 * Top-down probabilities from layer `from` (default n_{L−1}) to the pixels: x_l = σ(x_{l+1} G_l + g_l),
 * with the untied generative weights when present, else the tied ones (Wᵀ, explicitly transposed).
 * With Gaussian pixels the last step gives the mean of p(v | x₁) in pixel units, μ + s ⊙ (x₁ G₀ + g₀)
 * (not clipped to [0, 1]).
 * @param x `[batch, n_from]` @returns `[batch, n₀]`
 */
export function dbnDownPass(dbn: DBN, x: tf.Tensor2D, from = dbn.sizes.length - 2): tf.Tensor2D {
  if (!Number.isInteger(from) || from < 0 || from > dbn.sizes.length - 2) {
    throw new Error(`dbnDownPass: from must be an integer in [0, ${dbn.sizes.length - 2}] (the lower layers), got ${from}.`);
  }
  if (x.rank !== 2 || x.shape[1] !== dbn.sizes[from])
    throw new Error(`dbnDownPass: x has shape [${x.shape}] but layer ${from} has ${dbn.sizes[from]} units.`);
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    for (let l = from - 1; l >= 0; l--) {
      const g = dbn.generative?.[l];
      const [W, b] = g ? [g.W, g.b] : [tf.transpose(dbn.layers[l].W) as tf.Tensor2D, dbn.layers[l].b];
      if (l === 0 && dbn.gaussian) {
        const { mean, std } = dbn.gaussian;
        h = tf.add(tf.mul(tf.fused.matMul({ a: h, b: W, bias: b }), std), mean) as tf.Tensor2D;
      } else {
        h = sigmoidLayer(h, W, b);
      }
    }
    return h.clone();
  });
}

/** Options of {@link upPass}. */
export interface UpPassOptions {
  /** Layer to stop at (0 = the input). Default n_{L−1} for a label-joined DBN, else n_L. */
  depth?: number;
  /** Class labels `[n]`, needed for the top layer of a label-joined DBN. */
  labels?: ArrayLike<number>;
  /** Rows per batch. Default 1000. */
  batchSize?: number;
}

/**
 * {@link dbnUpPass} over a whole data set in batches, returned as flat rows.
 * @param data `[n, n₀]` as a Dataset or flat rows @returns `[n, n_depth]` row-major
 */
export function upPass(dbn: DBN, data: Dataset | Float32Array, opts: UpPassOptions = {}): Float32Array {
  assertDBN(dbn, "upPass");
  const depth = opts.depth ?? defaultDepth(dbn);
  checkDepth(dbn, depth, opts.labels !== undefined, "upPass");
  const { x, n } = visibleRows(data, dbn.sizes[0], "upPass");
  if (opts.labels) checkLabels(opts.labels, n, dbn.nLabels, "upPass");
  const B = opts.batchSize ?? 1000;
  const d0 = dbn.sizes[0];
  const out = new Float32Array(n * dbn.sizes[depth]);
  for (let start = 0; start < n; start += B) {
    const size = Math.min(B, n - start);
    const probs = tf.tidy(() => {
      const v = tf.tensor2d(x.subarray(start * d0, (start + size) * d0), [size, d0]);
      const y = opts.labels ? oneHotTensor(opts.labels, start, size, dbn.nLabels) : undefined;
      return dbnUpPass(dbn, v, depth, y);
    });
    out.set(probs.dataSync(), start * dbn.sizes[depth]);
    probs.dispose();
  }
  return out;
}
