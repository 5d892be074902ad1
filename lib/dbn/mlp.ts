/**
 * The multilayer perceptron a DBN unrolls into (Hinton & Salakhutdinov 2006): sigmoid hidden layers
 * with the DBN's recognition weights, a new softmax output layer; its forward pass, the hand-written
 * backprop gradients (with dropout masks), and evaluation.
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "../core/random";
import { initRBM } from "../core/rbm";
import { sigmoidLayer } from "../core/units";
import { assertDataset, type Dataset, dim } from "../io/data";
import { assertDBN, type DBN, gaussianInputMap } from "./model";
/**
 * An inverted-dropout mask: m/(1 − p) with m ~ Bernoulli(1 − p) elementwise, so each entry is 0 with
 * probability p and 1/(1 − p) otherwise, and its mean is 1.
 * @param shape `[batch, n]` @param p drop probability in [0, 1) @returns `[batch, n]`
 */
export function dropoutMask(shape: [number, number], p: number, seed: Seed): tf.Tensor2D {
  if (!(p >= 0 && p < 1)) throw new Error(`dropoutMask: p must be a drop probability in [0, 1), got ${p}.`);
  const u = toRng(seed, "dropoutMask").fillUniform(new Float32Array(shape[0] * shape[1]));
  // [u > p]/(1 − p) on the device: a JS loop over the batch costs more than the two tensor ops.
  return tf.tidy(() => tf.mul(tf.step(tf.sub(tf.tensor2d(u, shape), p)), 1 / (1 - p)) as tf.Tensor2D);
}

/** One dense layer: output = act(x W + b), W `[nIn, nOut]`, b `[nOut]`. */
export interface DenseLayer {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
}

/** A multilayer perceptron: sigmoid hidden layers, then a softmax output layer (the last one). */
export interface MLP {
  layers: DenseLayer[];
}

/** Layer sizes of an MLP, input first, classes last. */
export function mlpSizes(mlp: MLP): number[] {
  return [mlp.layers[0].W.shape[0], ...mlp.layers.map((l) => l.W.shape[1])];
}

/**
 * Throws unless `mlp` holds at least one layer of live tensors W `[nIn, nOut]`, b `[nOut]` that chain.
 * @param what names the caller in the message
 */
export function assertMLP(mlp: MLP, what: string): void {
  const given = mlp as Partial<MLP> | null | undefined;
  if (typeof given !== "object" || given === null || !Array.isArray(given.layers) || given.layers.length === 0) {
    const inner = given && typeof given === "object" && "mlp" in given ? " It looks like a result object: pass its .mlp." : "";
    throw new Error(
      `${what}: expected an MLP { layers: [{ W, b }, …] } (e.g. dbnToMLP or randomMLP), got ${given === null ? "null" : typeof given}.${inner}`,
    );
  }
  given.layers.forEach((l, i) => {
    if (!(l.W instanceof tf.Tensor && l.b instanceof tf.Tensor)) throw new Error(`${what}: MLP layer ${i} needs tensors W and b.`);
    if (l.W.isDisposed || l.b.isDisposed)
      throw new Error(`${what}: the MLP was disposed (layer ${i}); use a live model (cloneMLP before disposing, or load it again).`);
    const prev = i > 0 ? given.layers?.[i - 1].W.shape[1] : l.W.shape[0];
    if (l.W.rank !== 2 || l.b.rank !== 1 || l.b.shape[0] !== l.W.shape[1] || l.W.shape[0] !== prev) {
      throw new Error(`${what}: MLP layer ${i} has W [${l.W.shape}], b [${l.b.shape}]; the layers do not chain.`);
    }
  });
}

/** Frees the MLP's tensors. */
export function disposeMLP(mlp: MLP): void {
  for (const l of mlp.layers) tf.dispose([l.W, l.b]);
}

/** A deep copy (new tensors). */
export function cloneMLP(mlp: MLP): MLP {
  return { layers: mlp.layers.map((l) => ({ W: l.W.clone(), b: l.b.clone() })) };
}

export function outputLayer(nIn: number, nClasses: number, std: number, seed: Seed): DenseLayer {
  const w = toRng(seed, "outputLayer").fillNormal(new Float32Array(nIn * nClasses), 0, std);
  return { W: tf.tensor2d(w, [nIn, nClasses]), b: tf.zeros([nClasses]) as tf.Tensor1D };
}

/** Options of {@link dbnToMLP} and {@link randomMLP}. */
export interface MLPInitOptions {
  /** Classes of the softmax output. Default 10. */
  nClasses?: number;
  /** Standard deviation of the new output weights (N(0, std²), zero bias). Default 0.01. */
  outputStd?: number;
  /** Seed of the output weights (and, for randomMLP, of the hidden weights). Default 0. */
  seed?: Seed;
}

/**
 * Unrolls a DBN into an MLP n₀ → n₁ → … → n_L → nClasses: hidden layer l is σ(x W_l + c_l) with the
 * DBN's recognition weights (for a label-joined top RBM, only the rows of W that come from x_{L−1});
 * the softmax output layer is new. With Gaussian pixels the first layer's standardisation and 1/σ²
 * are folded into its weights and bias (W_i ← W_i /(s_i σ_i²), c ← c − Σ_i μ_i W_i /(s_i σ_i²)), so the
 * MLP reads pixels like the DBN. New tensors: the DBN is not modified.
 */
export function dbnToMLP(dbn: DBN, opts: MLPInitOptions = {}): MLP {
  assertDBN(dbn, "dbnToMLP");
  const L = dbn.layers.length;
  const hidden = dbn.layers.map((rbm, l) => {
    const W = l === L - 1 && dbn.nLabels > 0 ? tf.slice(rbm.W, [0, 0], [dbn.sizes[L - 1], dbn.sizes[L]]) : rbm.W.clone();
    if (l === 0 && dbn.gaussian) {
      // The Gaussian layer's input u/σ² = v ⊙ scale + shift folded into the weights: the MLP reads pixels.
      const { scale, shift } = gaussianInputMap(dbn.gaussian);
      const n0 = dbn.sizes[0];
      const folded = tf.tidy(() => ({
        W: tf.mul(W, tf.tensor2d(scale, [n0, 1])) as tf.Tensor2D,
        b: tf.add(rbm.c, tf.reshape(tf.matMul(tf.tensor2d(shift, [1, n0]), W), [W.shape[1]])) as tf.Tensor1D,
      }));
      W.dispose();
      return folded;
    }
    return { W, b: rbm.c.clone() };
  });
  return { layers: [...hidden, outputLayer(dbn.sizes[L], opts.nClasses ?? 10, opts.outputStd ?? 0.01, opts.seed ?? 0)] };
}

/**
 * The same architecture with random weights, for comparison: hidden layers with Glorot/Xavier
 * uniform weights U(±√(6/(n_in + n_out))) and zero biases (the usual initialisation for sigmoid
 * networks trained by backprop), the output layer as in {@link dbnToMLP}.
 * @param sizes hidden architecture, input first, e.g. `[784, 500, 500, 2000]`
 */
export function randomMLP(sizes: number[], opts: MLPInitOptions = {}): MLP {
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(
      `randomMLP: sizes must be at least two positive integers, input first, e.g. [784, 500, 500, 2000]; got ${JSON.stringify(sizes)}.`,
    );
  }
  const rng = toRng(opts.seed ?? 0, "randomMLP");
  const outSeed = rng.nextUint32();
  const hidden = sizes.slice(0, -1).map((nIn, l) => {
    const rbm = initRBM(nIn, sizes[l + 1], { method: "xavier", seed: rng.nextUint32() });
    rbm.b.dispose();
    return { W: rbm.W, b: rbm.c };
  });
  return { layers: [...hidden, outputLayer(sizes[sizes.length - 1], opts.nClasses ?? 10, opts.outputStd ?? 0.01, outSeed)] };
}

/**
 * Forward pass. acts[l] is the input of layer l (x first, then the hidden activations) after its
 * optional mask `masks[l]` (dropout), sigs[l] the same before the mask; logits `[batch, nClasses]`.
 */
export function forward(
  layers: DenseLayer[],
  x: tf.Tensor2D,
  masks: (tf.Tensor2D | undefined)[] = [],
): { acts: tf.Tensor2D[]; sigs: tf.Tensor2D[]; logits: tf.Tensor2D } {
  const L = layers.length;
  const acts: tf.Tensor2D[] = [];
  const sigs: tf.Tensor2D[] = [];
  let a: tf.Tensor2D = x;
  for (let l = 0; l < L; l++) {
    sigs.push(a);
    const m = masks[l];
    acts.push(m ? (tf.mul(a, m) as tf.Tensor2D) : a);
    if (l < L - 1) a = sigmoidLayer(acts[l], layers[l].W, layers[l].b);
  }
  const logits = tf.fused.matMul({ a: acts[L - 1], b: layers[L - 1].W, bias: layers[L - 1].b }) as tf.Tensor2D;
  return { acts, sigs, logits };
}

/**
 * Class probabilities p(y | x) = softmax(MLP(x)).
 * @param x `[batch, n₀]` @returns `[batch, nClasses]`
 */
export function mlpProbs(mlp: MLP, x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || x.shape[1] !== mlp.layers[0].W.shape[0])
    throw new Error(`mlpProbs: x has shape [${x.shape}] but the MLP takes [batch, ${mlp.layers[0].W.shape[0]}].`);
  return tf.tidy(() => tf.softmax(forward(mlp.layers, x).logits) as tf.Tensor2D);
}

/** Result of {@link evaluateMLP}. */
export interface Evaluation {
  /** Fraction misclassified. */
  error: number;
  /** Mean cross-entropy −log p(true label | x) (nats). */
  loss: number;
  /** argmax predictions `[n]`. */
  predicted: Int32Array;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** Test error, mean cross-entropy, predictions and confusion matrix of an MLP on a labelled data set. */
export function evaluateMLP(mlp: MLP, data: Dataset, opts: { batchSize?: number } = {}): Evaluation {
  assertMLP(mlp, "evaluateMLP");
  assertDataset(data, "evaluateMLP");
  const d0 = mlp.layers[0].W.shape[0];
  if (dim(data) !== d0) throw new Error(`evaluateMLP: ${data.name} has ${dim(data)} values per row but the MLP takes ${d0}.`);
  const nClasses = mlp.layers[mlp.layers.length - 1].W.shape[1];
  const B = opts.batchSize ?? 1000;
  const predicted = new Int32Array(data.n);
  let loss = 0;
  for (let start = 0; start < data.n; start += B) {
    const size = Math.min(B, data.n - start);
    const logp = tf.tidy(() =>
      tf.logSoftmax(forward(mlp.layers, tf.tensor2d(data.images.subarray(start * d0, (start + size) * d0), [size, d0])).logits),
    );
    const values = logp.dataSync();
    logp.dispose();
    for (let r = 0; r < size; r++) {
      let best = 0;
      for (let k = 1; k < nClasses; k++) if (values[r * nClasses + k] > values[r * nClasses + best]) best = k;
      predicted[start + r] = best;
      const y = data.labels[start + r];
      if (y >= nClasses) throw new Error(`evaluateMLP: label ${y} at row ${start + r} is outside [0, ${nClasses}).`);
      loss -= values[r * nClasses + y];
    }
  }
  const confusion = confusionMatrix(predicted, data.labels, nClasses);
  let wrong = 0;
  for (let i = 0; i < data.n; i++) if (predicted[i] !== data.labels[i]) wrong++;
  return { error: wrong / data.n, loss: loss / data.n, predicted, confusion };
}

/** confusion[true][predicted] counts for class indices in [0, nClasses). */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, nClasses = 10): number[][] {
  if (predicted.length !== labels.length) throw new Error(`confusionMatrix: ${predicted.length} predictions for ${labels.length} labels.`);
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const [t, p] = [labels[i], predicted[i]];
    if (!(t >= 0 && t < nClasses && p >= 0 && p < nClasses))
      throw new Error(`confusionMatrix: class ${t} / ${p} at ${i} is outside [0, ${nClasses}).`);
    m[t][p]++;
  }
  return m;
}

/** Result of {@link mlpGradients}. */
export interface MLPGradients {
  /** Cross-entropy −Σ_rows log p(y | x) summed over the batch (of the dropped-out network when masks are given). */
  loss: tf.Scalar;
  /** Number of rows whose arg-max class is wrong. */
  wrong: tf.Scalar;
  /** scale · ∂(loss / batch)/∂W_l, `[n_l, n_{l+1}]` per layer; `undefined` below `fromLayer`. */
  dW: (tf.Tensor2D | undefined)[];
  /** scale · ∂(loss / batch)/∂b_l, `[n_{l+1}]` per layer; `undefined` below `fromLayer`. */
  db: (tf.Tensor1D | undefined)[];
}

/**
 * The mean cross-entropy of a batch and its gradient by backpropagation, written out by hand:
 * with a_0 = x ⊙ m_0, a_l = σ(a_{l−1} W_{l−1} + b_{l−1}) ⊙ m_l and logits a_L W_L + b_L,
 *
 *   δ_L = (softmax − y)/B,  ∂W_l = a_lᵀ δ_l,  ∂b_l = Σ_rows δ_l,  δ_{l−1} = (δ_l W_lᵀ) ⊙ m_l ⊙ σ_l(1 − σ_l).
 *
 * @param x `[batch, n₀]` inputs
 * @param y `[batch, nClasses]` one-hot targets
 * @param opts.masks per layer l, an optional `[batch, n_l]` multiplier of that layer's input
 *   (dropout: m/(1 − p) with m ~ Bernoulli(1 − p)); `undefined` entries mean no mask
 * @param opts.scale multiplies every gradient (a learning-rate schedule); default 1
 * @param opts.fromLayer gradients only for layers ≥ this (the others are frozen); default 0
 */
export function mlpGradients(
  mlp: MLP,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  opts: { masks?: (tf.Tensor2D | undefined)[]; scale?: number; fromLayer?: number } = {},
): MLPGradients {
  const layers = mlp.layers;
  const L = layers.length;
  const B = x.shape[0];
  const nClasses = layers[L - 1].W.shape[1];
  if (x.rank !== 2 || x.shape[1] !== layers[0].W.shape[0])
    throw new Error(`mlpGradients: x has shape [${x.shape}] but the MLP takes [batch, ${layers[0].W.shape[0]}].`);
  if (y.rank !== 2 || y.shape[0] !== B || y.shape[1] !== nClasses)
    throw new Error(`mlpGradients: y has shape [${y.shape}] but must be one-hot [${B}, ${nClasses}].`);
  const masks = opts.masks ?? [];
  masks.forEach((m, l) => {
    if (m && (m.shape[0] !== B || m.shape[1] !== layers[l].W.shape[0]))
      throw new Error(`mlpGradients: mask ${l} has shape [${m.shape}] but layer ${l}'s input is [${B}, ${layers[l].W.shape[0]}].`);
  });
  const scale = opts.scale ?? 1;
  const fromLayer = opts.fromLayer ?? 0;
  return tf.tidy(() => {
    const { acts, sigs, logits } = forward(layers, x, masks);
    const logp = tf.logSoftmax(logits);
    const loss = tf.neg(tf.sum(tf.mul(y, logp))) as tf.Scalar;
    const wrong = tf.sum(tf.cast(tf.notEqual(tf.argMax(logits, 1), tf.argMax(y, 1)), "float32")) as tf.Scalar;
    const dW: (tf.Tensor2D | undefined)[] = new Array(L).fill(undefined);
    const db: (tf.Tensor1D | undefined)[] = new Array(L).fill(undefined);
    let delta = tf.mul(tf.sub(tf.exp(logp), y), scale / B) as tf.Tensor2D;
    for (let l = L - 1; l >= fromLayer; l--) {
      dW[l] = tf.matMul(tf.transpose(acts[l]) as tf.Tensor2D, delta) as tf.Tensor2D;
      db[l] = tf.sum(delta, 0) as tf.Tensor1D;
      // acts[l] = σ ⊙ m, so ∂acts[l]/∂z = m ⊙ σ(1 − σ) = acts[l] ⊙ (1 − sigs[l]).
      if (l > fromLayer)
        delta = tf.mul(tf.matMul(delta, tf.transpose(layers[l].W) as tf.Tensor2D), tf.mul(acts[l], tf.sub(1, sigs[l]))) as tf.Tensor2D;
    }
    return { loss, wrong, dW, db };
  });
}
