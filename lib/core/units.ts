/**
 * Logistic units and their samples: the one place where a layer's probabilities are computed from
 * the layer below (σ(x A + bias), with the bias and sigmoid fused into the matMul) and where
 * Bernoulli and softmax-group states are drawn. Everything that samples binary states — Gibbs
 * chains, CD/PCD training, the label-joined RBM, generation, up-down, dropout masks — draws its
 * uniforms here, from the seeded JS generator.
 *
 * Why JS uniforms rather than tf.randomUniform: the same stream on every backend, and ~13× cheaper
 * on wasm. Why step(p − u) for [u < p]: the same numbers as cast(less(u, p)) at a tenth of the cost
 * on wasm (no bool tensor, no cast).
 */
import * as tf from "@tensorflow/tfjs";
import { nativeBernoulli } from "../compute/blas";
import { transposeIsFree } from "../compute/ops";
import { type Rng, type Seed, toRng } from "./random";
/**
 * σ(x A + bias): the probabilities of a layer of logistic units given the layer below, the bias and
 * the sigmoid fused into the matMul.
 * @param x `[batch, nIn]` @param A `[nIn, nOut]` @param bias `[nOut]` @returns `[batch, nOut]`
 */
export function sigmoidLayer(x: tf.Tensor2D, A: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: A, bias, activation: "sigmoid" }) as tf.Tensor2D;
}

/**
 * σ(x · Aᵀ + bias): a logistic layer driven through the transpose of `A` (the visible layer of an
 * RBM whose `W` is `[nVisible, nHidden]`), bias and sigmoid fused into the matMul.
 * @param x `[batch, k]` @param A `[nOut, k]` @param bias `[nOut]` @returns `[batch, nOut]`
 */
export function sigmoidLayerAT(x: tf.Tensor2D, A: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() =>
    transposeIsFree()
      ? (tf.fused.matMul({ a: x, b: A, transposeB: true, bias, activation: "sigmoid" }) as tf.Tensor2D)
      : (tf.fused.matMul({ a: x, b: tf.transpose(A), bias, activation: "sigmoid" }) as tf.Tensor2D),
  );
}

/**
 * Uniforms from a seeded generator, with one reusable buffer per tensor size (a training loop draws
 * the same shapes every batch). The stream is that of the generator: wrapping it changes no number.
 */
export class UniformSource {
  private readonly buffers = new Map<number, Float32Array>();
  constructor(readonly rng: Rng) {}

  /** A fresh tensor of U[0, 1) values with `shape` (caller disposes). */
  tensor(shape: number[]): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    let buf = this.buffers.get(n);
    if (!buf) {
      buf = new Float32Array(n);
      this.buffers.set(n, buf);
    }
    return tf.tensor(this.rng.fillUniform(buf), shape);
  }
}

/** U[0, 1) values of `shape` from `seed` (a number, a generator to continue, or a {@link UniformSource}). */
export function uniformTensor(shape: number[], seed: Seed | UniformSource): tf.Tensor {
  if (seed instanceof UniformSource) return seed.tensor(shape);
  return tf.tensor(toRng(seed, "uniformTensor").fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);
}

/**
 * Independent Bernoulli draws: 1 where u < p, u ~ U[0, 1) from the seeded generator. Where the
 * native kernel is in use (wasm with the OpenBLAS addon, compute/blas.ts) the uniforms are drawn
 * and compared in C from the same generator state — the same stream, so the same samples — without
 * a uniform tensor or the sub/step kernels; elsewhere in JS as step(p − u).
 * @param p probabilities, any shape @returns same shape, float32 0/1
 */
export function sampleBernoulli<T extends tf.Tensor>(p: T, seed: Seed | UniformSource): T {
  const source = seed instanceof UniformSource ? seed : new UniformSource(toRng(seed, "sampleBernoulli"));
  let native: T | undefined;
  source.rng.advanceWith((state) => {
    native = nativeBernoulli(p, state);
  });
  return native ?? (tf.tidy(() => tf.step(tf.sub(p, source.tensor(p.shape)))) as T);
}

/**
 * One draw per row from a softmax group: a one-hot row with a 1 at k with probability p_k. Uses one
 * uniform u per row: k = #{j : Σ_{i≤j} p_i ≤ u} (the inverse of the cumulative distribution).
 * @param p `[batch, K]` rows summing to 1 @returns `[batch, K]` one-hot, float32
 */
export function sampleSoftmaxGroup(p: tf.Tensor2D, seed: Seed | UniformSource): tf.Tensor2D {
  return tf.tidy(() => {
    const K = p.shape[1];
    const u = uniformTensor([p.shape[0], 1], seed);
    const k = tf.minimum(tf.sum(tf.cast(tf.lessEqual(tf.cumsum(p, 1), u), "int32"), 1), tf.scalar(K - 1, "int32"));
    return tf.cast(tf.oneHot(k as tf.Tensor1D, K), "float32") as tf.Tensor2D;
  });
}

/**
 * Gaussian draws mean + std · ε, ε ~ N(0, 1) from the seeded JS generator (Box–Muller), so that the
 * same seed gives the same numbers on every backend.
 * @param mean any shape @param std broadcastable to `mean` (e.g. `[nVisible]` for rows `[batch, nVisible]`)
 * @returns same shape as `mean`
 */
export function sampleGaussian<T extends tf.Tensor>(mean: T, std: tf.Tensor, seed: Seed | UniformSource): T {
  const rng = seed instanceof UniformSource ? seed.rng : toRng(seed, "sampleGaussian");
  const eps = rng.fillNormal(new Float32Array(mean.size));
  return tf.tidy(() => tf.add(mean, tf.mul(tf.tensor(eps, mean.shape), std))) as T;
}
