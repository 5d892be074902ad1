/**
 * Distinct binary states and their free energies: the visited sets behind the guaranteed lower
 * bound on log Z (bounds.ts), filled by the model's long chains (model-samples.ts) and the data.
 *
 *   −F(v) = vᵀb + Σ_j softplus(c_j + (vW)_j),   −G(h) = hᵀc + Σ_i softplus(b_i + (Wh)_i)
 *
 * in float64 but for the float32 matMul.
 */
import * as tf from "@tensorflow/tfjs";
import { dotRow, logSumExp, softplus64 } from "../core/numerics";
import { type RBM, rbmSize } from "../core/rbm";
/**
 * Distinct binary vectors (visible or hidden) with their log-weights −F(v) or −G(h), deduplicated
 * by their exact bit patterns (16 bits per character of a Map key: a hash without collisions).
 */
export class VisitedStates {
  private readonly logWeight = new Map<string, number>();

  /** @param nUnits length of each vector */
  constructor(readonly nUnits: number) {}

  /** Number of distinct vectors. */
  get size(): number {
    return this.logWeight.size;
  }

  /**
   * Adds row `r` of x `[*, stride]` (its first nUnits values, binary) with its log-weight; a vector
   * seen before is ignored.
   * @returns whether the vector was new
   */
  add(x: Float32Array, r: number, logWeight: number, stride = this.nUnits): boolean {
    const key = bitKey(x, r * stride, this.nUnits);
    if (this.logWeight.has(key)) return false;
    this.logWeight.set(key, logWeight);
    return true;
  }

  /** log Σ exp(log-weight) over the distinct vectors (−Infinity when empty): a lower bound on log Z. */
  logSumExp(): number {
    return logSumExp(Array.from(this.logWeight.values()));
  }

  /** The largest log-weight seen (−Infinity when empty). */
  max(): number {
    let m = -Infinity;
    for (const x of this.logWeight.values()) if (x > m) m = x;
    return m;
  }

  /** A copy (to add more states without changing this set). */
  clone(): VisitedStates {
    const out = new VisitedStates(this.nUnits);
    for (const [k, x] of this.logWeight) out.logWeight.set(k, x);
    return out;
  }
}

/** The bits of x[off … off + n) packed 16 per UTF-16 code unit. */
function bitKey(x: Float32Array, off: number, n: number): string {
  const codes: number[] = [];
  for (let i = 0; i < n; i += 16) {
    let w = 0;
    const end = Math.min(16, n - i);
    for (let k = 0; k < end; k++) if (x[off + i + k] !== 0) w |= 1 << k;
    codes.push(w);
  }
  return String.fromCharCode(...codes);
}

/**
 * −F(v) = vᵀb + Σ_j softplus(c_j + (vW)_j) for binary rows, in float64 but for the float32 matMul.
 * @param v rows `[n, nVisible]` @returns `[n]`
 */
export function negFreeEnergies(rbm: RBM, v: Float32Array, batchSize = 1000): Float64Array {
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  return dualNegFreeEnergies(v, nV, nH, rbm.W, Float64Array.from(rbm.b.dataSync()), Float64Array.from(rbm.c.dataSync()), batchSize);
}

/**
 * −G(h) = hᵀc + Σ_i softplus(b_i + (Wh)_i) for binary hidden rows: the visible units summed out
 * exactly (exp(−G(h)) = Σ_v exp(−E(v, h))), in float64 but for the float32 matMul.
 * @param h rows `[n, nHidden]` @returns `[n]`
 */
export function negHiddenFreeEnergies(rbm: RBM, h: Float32Array, batchSize = 1000): Float64Array {
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const WT = tf.transpose(rbm.W) as tf.Tensor2D; // once: a transposed-operand matMul is ~10× slower on wasm
  try {
    return dualNegFreeEnergies(h, nH, nV, WT, Float64Array.from(rbm.c.dataSync()), Float64Array.from(rbm.b.dataSync()), batchSize);
  } finally {
    WT.dispose();
  }
}

/** Σ_a x_a own_a + Σ_o softplus(other_o + (x A)_o) for rows x `[n, nIn]`, A `[nIn, nOut]`. */
function dualNegFreeEnergies(
  x: Float32Array,
  nIn: number,
  nOut: number,
  A: tf.Tensor2D,
  own: Float64Array,
  other: Float64Array,
  batchSize: number,
): Float64Array {
  const n = x.length / nIn;
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const rows = x.subarray(start * nIn, (start + size) * nIn);
    const xt = tf.tensor2d(rows, [size, nIn]);
    const xA = tf.matMul(xt, A);
    const Y = xA.dataSync();
    tf.dispose([xt, xA]);
    for (let r = 0; r < size; r++) {
      let s = dotRow(rows, r, nIn, own);
      for (let o = 0; o < nOut; o++) s += softplus64(Y[r * nOut + o] + other[o]);
      out[start + r] = s;
    }
  }
  return out;
}
