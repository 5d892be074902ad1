/**
 * Exact computations for Gaussian–Bernoulli RBMs with few hidden units (the model of gaussian.ts).
 *
 * The integral over v is Gaussian and the sum over h is finite, so
 *   log Z = log Σ_h exp(−G(h)),   G(h) = −cᵀh − Σ_i a_i (2b_i + a_i) / (2σ_i²) − Σ_i ½ log(2π σ_i²),  a = W h
 * is exact with 2^nHidden terms, whatever nVisible. The states are visited in Gray-code order, so
 * each step adds or subtracts one column of W (O(nVisible) per state). Everything is float64 JS on
 * one read of the parameters: these functions are the truth AIS and the trainers are tested against.
 */

import { assertFiniteGaussianRBM, type GaussianRBM, gaussianSize } from "./gaussian";
import { logSumExp, sigmoid64, softplus64 } from "./numerics";

/** Most hidden units {@link gaussianExactLogZ} enumerates (2^24 states). */
export const MAX_GAUSSIAN_HIDDEN_BITS = 24;

/** The parameters in float64: W row-major `[nV, nH]`, b, c, z = log σ², and 1/σ². */
interface Params64 {
  nV: number;
  nH: number;
  W: Float64Array;
  b: Float64Array;
  c: Float64Array;
  z: Float64Array;
  prec: Float64Array;
}

/** The parameters read once into float64; with `enumerate`, nHidden must be small enough to sum over. */
function params64(m: GaussianRBM, what: string, enumerate = true): Params64 {
  assertFiniteGaussianRBM(m, what);
  const { nVisible: nV, nHidden: nH } = gaussianSize(m);
  if (enumerate && nH > MAX_GAUSSIAN_HIDDEN_BITS) {
    throw new Error(
      `${what}: exact enumeration sums over 2^nHidden hidden states; this model has nHidden = ${nH} > ${MAX_GAUSSIAN_HIDDEN_BITS}. ` +
        `Use AIS (gaussianAnnealedLogZ) for large models.`,
    );
  }
  const z = Float64Array.from(m.logVar.dataSync());
  return {
    nV,
    nH,
    W: Float64Array.from(m.W.dataSync()),
    b: Float64Array.from(m.b.dataSync()),
    c: Float64Array.from(m.c.dataSync()),
    z,
    prec: z.map((zi) => Math.exp(-zi)),
  };
}

/** Calls `visit(h, a, negG)` for every hidden state h (bits), with a = W h and −G(h), in Gray-code order. */
function forEachHidden(p: Params64, visit: (h: Uint8Array, a: Float64Array, negG: number) => void): void {
  const { nV, nH, W, b, c, z, prec } = p;
  let logNorm = 0;
  for (let i = 0; i < nV; i++) logNorm += 0.5 * (z[i] + Math.log(2 * Math.PI));
  const h = new Uint8Array(nH);
  const a = new Float64Array(nV);
  let ch = 0;
  const total = 2 ** nH;
  for (let s = 0; s < total; s++) {
    if (s > 0) {
      // Gray code: state s differs from s − 1 in bit j = number of trailing zeros of s.
      let j = 0;
      while (((s >>> j) & 1) === 0) j++;
      const sign = h[j] === 0 ? 1 : -1;
      h[j] ^= 1;
      ch += sign * c[j];
      for (let i = 0; i < nV; i++) a[i] += sign * W[i * nH + j];
    }
    let quad = 0;
    for (let i = 0; i < nV; i++) quad += a[i] * (2 * b[i] + a[i]) * prec[i];
    visit(h, a, ch + 0.5 * quad + logNorm);
  }
}

/** Exact log Z of a Gaussian–Bernoulli RBM, a sum over the 2^nHidden hidden states (float64). */
export function gaussianExactLogZ(m: GaussianRBM): number {
  const p = params64(m, "gaussianExactLogZ");
  const negG = new Float64Array(2 ** p.nH);
  let k = 0;
  forEachHidden(p, (_h, _a, g) => {
    negG[k++] = g;
  });
  return logSumExp(negG);
}

/** F(v) of row r of x in float64, and (optionally) p(h = 1 | v) into `ph`. */
function freeEnergyRow(p: Params64, x: Float32Array, r: number, ph?: Float64Array): number {
  const { nV, nH, W, b, c, prec } = p;
  const o = r * nV;
  let quad = 0;
  const input = Float64Array.from(c);
  for (let i = 0; i < nV; i++) {
    const v = x[o + i];
    quad += (v - b[i]) * (v - b[i]) * prec[i];
    const vp = v * prec[i];
    if (vp !== 0) for (let j = 0; j < nH; j++) input[j] += vp * W[i * nH + j];
  }
  let sp = 0;
  for (let j = 0; j < nH; j++) {
    sp += softplus64(input[j]);
    if (ph) ph[j] = sigmoid64(input[j]);
  }
  return 0.5 * quad - sp;
}

function checkRows(x: Float32Array, nV: number, what: string): number {
  if (x.length === 0 || x.length % nV !== 0) {
    throw new Error(`${what}: the data hold ${x.length} values, not a whole number of rows of nVisible = ${nV}.`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${what}: value ${x[i]} at flat index ${i} is not a finite number.`);
  }
  return x.length / nV;
}

/**
 * Exact mean log-density (1/n) Σ log p(v) = −mean F(v) − log Z, in nats per image, of real-valued
 * rows in the units the model was trained on (standardised data: see gaussianLogLikelihoodInPixels).
 * @param x row-major `[n, nVisible]` @param logZ pass a precomputed {@link gaussianExactLogZ} to save work
 */
export function gaussianExactLogLikelihood(m: GaussianRBM, x: Float32Array, logZ: number = gaussianExactLogZ(m)): number {
  const p = params64(m, "gaussianExactLogLikelihood");
  const n = checkRows(x, p.nV, "gaussianExactLogLikelihood");
  return -gaussianMeanFreeEnergy64(p, x, n) - logZ;
}

function gaussianMeanFreeEnergy64(p: Params64, x: Float32Array, n: number): number {
  let s = 0;
  for (let r = 0; r < n; r++) s += freeEnergyRow(p, x, r);
  return s / n;
}

/** Mean free energy (1/n) Σ F(v) in float64 (for AIS log-likelihoods). @param x row-major `[n, nVisible]` */
export function gaussianMeanFreeEnergy(m: GaussianRBM, x: Float32Array): number {
  const p = params64(m, "gaussianMeanFreeEnergy", false);
  return gaussianMeanFreeEnergy64(p, x, checkRows(x, p.nV, "gaussianMeanFreeEnergy"));
}

/** A gradient of the mean log-likelihood with respect to every parameter (row-major, float64). */
export interface GaussianGradient {
  /** `[nVisible, nHidden]` */
  dW: Float64Array;
  /** `[nVisible]` */
  db: Float64Array;
  /** `[nHidden]` */
  dc: Float64Array;
  /** With respect to z = log σ², `[nVisible]`. */
  dLogVar: Float64Array;
}

/**
 * The exact gradient of (1/n) Σ log p(v) — the data term ⟨−∂E/∂θ⟩ over the rows (h summed out
 * through p(h|v)) minus the model term, a sum over all hidden states with the Gaussian moments
 * E[v|h] = b + Wh, E[(v − b)²|h] = σ² + (Wh)²:
 *   ∂/∂W_ij = ⟨v_i h_j⟩/σ_i²,  ∂/∂b_i = ⟨v_i − b_i⟩/σ_i²,  ∂/∂c_j = ⟨h_j⟩,
 *   ∂/∂z_i = ⟨(v_i − b_i)²/2 − v_i (Wh)_i⟩ e^{−z_i}   (each: data minus model).
 * @param x row-major `[n, nVisible]`
 */
export function gaussianExactGradient(m: GaussianRBM, x: Float32Array): GaussianGradient {
  const p = params64(m, "gaussianExactGradient");
  const { nV, nH, W, b, prec } = p;
  const n = checkRows(x, nV, "gaussianExactGradient");
  const g: GaussianGradient = {
    dW: new Float64Array(nV * nH),
    db: new Float64Array(nV),
    dc: new Float64Array(nH),
    dLogVar: new Float64Array(nV),
  };
  const ph = new Float64Array(nH);
  for (let r = 0; r < n; r++) {
    freeEnergyRow(p, x, r, ph);
    for (let i = 0; i < nV; i++) {
      const v = x[r * nV + i];
      let wh = 0;
      for (let j = 0; j < nH; j++) {
        g.dW[i * nH + j] += (v * ph[j] * prec[i]) / n;
        wh += W[i * nH + j] * ph[j];
      }
      g.db[i] += ((v - b[i]) * prec[i]) / n;
      g.dLogVar[i] += (((v - b[i]) ** 2 / 2 - v * wh) * prec[i]) / n;
    }
    for (let j = 0; j < nH; j++) g.dc[j] += ph[j] / n;
  }
  const logZ = gaussianExactLogZ(m);
  forEachHidden(p, (h, a, negG) => {
    const q = Math.exp(negG - logZ);
    for (let i = 0; i < nV; i++) {
      const mu = b[i] + a[i];
      for (let j = 0; j < nH; j++) if (h[j]) g.dW[i * nH + j] -= q * mu * prec[i];
      g.db[i] -= q * a[i] * prec[i];
      g.dLogVar[i] -= q * (0.5 - ((a[i] * a[i]) / 2 + b[i] * a[i]) * prec[i]);
    }
    for (let j = 0; j < nH; j++) if (h[j]) g.dc[j] -= q;
  });
  return g;
}
