/**
 * A model built to fool AIS: a teaching fixture for chapter 4, where a planted mode behind an energy
 * barrier is missed by AIS from the data base and found by the model-sample base.
 */
import * as tf from "@tensorflow/tfjs";
import { assertFiniteRBM, type RBM, rbmSize } from "../core/rbm";
/** Options for {@link plantMode}. */
export interface PlantModeOptions {
  /** Indices of the visible units of the pattern P (e.g. border pixels, always off in MNIST). */
  pixels: ArrayLike<number>;
  /** Number of extra hidden units. Default 3. */
  units?: number;
  /** Weight w between each extra unit and each pixel of P. Default 2. */
  weight?: number;
  /** Fraction θ of P that must be on before an extra unit turns on: c = −θ·|P|·w. Default 0.3. */
  threshold?: number;
  /** Visible bias of the pixels of P. Default −3. */
  pixelBias?: number;
}

/**
 * A copy of `rbm` with a planted mode: `units` extra hidden units joined with weight w to the
 * pixels P only, hidden bias c = −θ|P|w, and visible bias `pixelBias` on P. An extra unit turns on
 * only when more than θ|P| pixels of P are on, and the pixels (bias −3: 5 % on) turn on only when
 * the units are: v_P = 1 with the units on is a mode of mass ≈ |P|(pixelBias + units·w(1 − θ))
 * nats relative to the rest, behind a barrier no Gibbs chain from data-like states crosses. A chain
 * from uniform noise (half of P on) falls straight in. Used to show AIS from the data base failing.
 * @returns new tensors, `[nVisible, nHidden + units]`
 */
export function plantMode(rbm: RBM, opts: PlantModeOptions): RBM {
  const what = "plantMode";
  assertFiniteRBM(rbm, "plantMode");
  const { nVisible: nV, nHidden: nH } = rbmSize(rbm);
  const units = opts.units ?? 3;
  const w = opts.weight ?? 2;
  const theta = opts.threshold ?? 0.3;
  const pixelBias = opts.pixelBias ?? -3;
  const P = Array.from(opts.pixels);
  if (!Number.isInteger(units) || units < 1) throw new Error(`${what}: units must be an integer ≥ 1, got ${units}.`);
  if (P.length < 1 || P.some((i) => !Number.isInteger(i) || i < 0 || i >= nV) || new Set(P).size !== P.length) {
    throw new Error(`${what}: pixels must be distinct integers in [0, ${nV}), got ${P.length} values.`);
  }
  for (const [name, x] of [
    ["weight", w],
    ["threshold", theta],
    ["pixelBias", pixelBias],
  ] as const) {
    if (!Number.isFinite(x)) throw new Error(`${what}: ${name} must be a finite number, got ${x}.`);
  }
  const W0 = rbm.W.dataSync();
  const nH2 = nH + units;
  const W = new Float32Array(nV * nH2);
  for (let i = 0; i < nV; i++) W.set(W0.subarray(i * nH, (i + 1) * nH), i * nH2);
  for (const i of P) for (let j = nH; j < nH2; j++) W[i * nH2 + j] = w;
  const b = Float32Array.from(rbm.b.dataSync());
  for (const i of P) b[i] = pixelBias;
  const c = new Float32Array(nH2);
  c.set(rbm.c.dataSync());
  c.fill(-theta * P.length * w, nH);
  return {
    W: tf.tensor2d(W, [nV, nH2]),
    b: tf.tensor1d(b),
    c: tf.tensor1d(c),
  };
}
