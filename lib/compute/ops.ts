/**
 * Products and sums written for the matMul path that is active: where matMul reads a transposed
 * operand for free (native OpenBLAS under wasm, tfjs-node, the cpu backend) they pass transpose
 * flags and do column sums as a `[1, R] · [R, n]` product; on the stock wasm kernels, where a
 * transposed operand makes a matMul ~10× slower and `tf.sum(x, 0)` is cheap by comparison, they
 * transpose explicitly and sum with `tf.sum`.
 *
 * Why: in a CD-1 batch on native OpenBLAS the two transposes (Wᵀ for the visible layer, the stacked
 * [v; ṽ]ᵀ of the weight update) and five column sums cost about as much as the five SGEMMs
 * themselves once those run on OpenBLAS's AVX-512 kernels (bench/cd1.ts --sections=profile).
 */

import * as tf from "@tensorflow/tfjs";
import { nativeBlasEnabled } from "./blas";

/** Whether the active backend's matMul reads transposed operands at no extra cost. */
export function transposeIsFree(): boolean {
  return tf.getBackend() !== "wasm" || nativeBlasEnabled();
}

/**
 * aᵀ · b without materialising aᵀ where the backend allows.
 * @param a `[R, m]` @param b `[R, n]` @returns `[m, n]`
 */
export function matMulAT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => (transposeIsFree() ? tf.matMul(a, b, true, false) : tf.matMul(tf.transpose(a), b)) as tf.Tensor2D);
}

/**
 * Weighted column sums Σ_r w_r · x[r, :] (all weights 1 when `w` is omitted).
 * @param x `[R, n]` @param w `R` weights @returns `[n]`
 */
export function columnSums(x: tf.Tensor2D, w?: ArrayLike<number>): tf.Tensor1D {
  const R = x.shape[0];
  if (w !== undefined && w.length !== R) throw new Error(`columnSums: ${w.length} weights for ${R} rows; give one weight per row.`);
  return tf.tidy(() => {
    if (transposeIsFree()) {
      const row = w === undefined ? tf.ones([1, R]) : tf.tensor2d(Float32Array.from(w), [1, R]);
      return tf.reshape(tf.matMul(row as tf.Tensor2D, x), [x.shape[1]]) as tf.Tensor1D;
    }
    return (w === undefined ? tf.sum(x, 0) : tf.sum(tf.mul(x, tf.tensor2d(Float32Array.from(w), [R, 1])), 0)) as tf.Tensor1D;
  });
}

/**
 * The weights of {@link columnSums} for a stack of row blocks: `rows[i]` rows weighted `scale[i]`
 * each (e.g. `+ε/B` for a data batch and `−ε/n` for the negative particles below it).
 */
export function blockWeights(rows: readonly number[], scale: readonly number[]): Float32Array {
  if (rows.length !== scale.length) throw new Error(`blockWeights: ${rows.length} block sizes but ${scale.length} scales.`);
  const w = new Float32Array(rows.reduce((a, r) => a + r, 0));
  let at = 0;
  rows.forEach((r, i) => {
    w.fill(scale[i], at, at + r);
    at += r;
  });
  return w;
}
