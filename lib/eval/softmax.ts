/**
 * A softmax (multinomial logistic regression) classifier, to measure how useful features are:
 * p(y = k | x) = softmax(x A + a)_k, trained by mini-batch Adam on the mean cross-entropy.
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "../core/random";
import { permutation } from "../io/data";
/** Softmax classifier parameters: A `[nFeatures, nClasses]`, a `[nClasses]`. */
export interface Softmax {
  A: tf.Tensor2D;
  a: tf.Tensor1D;
}

/** Options of {@link trainSoftmax}. */
export interface SoftmaxOptions {
  /** Passes over the data. Default 10. */
  epochs?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** Adam step size. Default 1e-2. */
  learningRate?: number;
  /** L2 penalty on A. Default 1e-4. */
  weightDecay?: number;
  /** Number of classes. Default 10. */
  classes?: number;
  /** Seed for the batch order. Default 0. */
  seed?: Seed;
}

/**
 * Trains a softmax classifier on features `x` (flat `[n, d]`) and integer labels `[n]`.
 * @returns the parameters (owned by the caller) and the mean training loss per epoch
 */
export function trainSoftmax(
  x: Float32Array,
  labels: Uint8Array,
  d: number,
  opts: SoftmaxOptions = {},
): { model: Softmax; losses: number[] } {
  const n = labels.length;
  if (x.length !== n * d) throw new Error(`trainSoftmax: features hold ${x.length} values, expected n × d = ${n} × ${d}.`);
  const classes = opts.classes ?? 10;
  const epochs = opts.epochs ?? 10;
  const B = opts.batchSize ?? 100;
  const wd = opts.weightDecay ?? 1e-4;
  for (let i = 0; i < n; i++) {
    if (labels[i] >= classes) throw new Error(`trainSoftmax: label ${labels[i]} at row ${i} is outside [0, ${classes}).`);
  }
  const rng = toRng(opts.seed ?? 0, "trainSoftmax");
  // Created inside tidy so that the zero tensors the variables are initialised from are freed.
  const A = tf.tidy(() => tf.variable(tf.zeros([d, classes])));
  const a = tf.tidy(() => tf.variable(tf.zeros([classes])));
  const optimizer = tf.train.adam(opts.learningRate ?? 1e-2);
  const losses: number[] = [];
  const xb = new Float32Array(B * d);
  const yb = new Int32Array(B);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = permutation(n, rng);
    let total = 0;
    for (let start = 0; start < n; start += B) {
      const size = Math.min(B, n - start);
      for (let r = 0; r < size; r++) {
        const i = order[start + r];
        xb.set(x.subarray(i * d, (i + 1) * d), r * d);
        yb[r] = labels[i];
      }
      const loss = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const logits = tf.add(tf.matMul(tf.tensor2d(xb.subarray(0, size * d), [size, d]), A), a);
            const y = tf.oneHot(tf.tensor1d(yb.subarray(0, size), "int32"), classes);
            const ce = tf.losses.softmaxCrossEntropy(y, logits);
            return tf.add(ce, tf.mul(wd, tf.sum(tf.square(A)))) as tf.Scalar;
          }),
        true,
      );
      if (!loss) throw new Error("trainSoftmax: the optimizer returned no loss.");
      total += loss.dataSync()[0] * size;
      loss.dispose();
    }
    losses.push(total / n);
  }
  optimizer.dispose();
  const model = { A: A.clone() as tf.Tensor2D, a: a.clone() as tf.Tensor1D };
  tf.dispose([A, a]);
  return { model, losses };
}

/** Predicted classes (argmax of the logits) for features `[n, d]`. */
export function predictSoftmax(model: Softmax, x: Float32Array, d: number): Int32Array {
  // dataSync outside tidy: tidy walks a returned typed array element by element (slow).
  const classes = tf.tidy(() => tf.argMax(tf.add(tf.matMul(tf.tensor2d(x, [x.length / d, d]), model.A), model.a), 1));
  const out = classes.dataSync() as Int32Array;
  classes.dispose();
  return out;
}

/** Fraction of `predicted` equal to `labels`. */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) ok++;
  return ok / labels.length;
}
