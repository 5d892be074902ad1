/**
 * Scalar numerics in float64, written so that they cannot overflow: the estimators (AIS, RAISE, the
 * bounds, pseudo-likelihood) do their elementwise work in JavaScript on read-back products, and a
 * sum of softplus values is only as good as each term.
 */

/** Stable softplus log(1 + eˣ) in float64. */
export function softplus64(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** log σ(x) = −softplus(−x), stable in float64. */
export function logSigmoid64(x: number): number {
  return -softplus64(-x);
}

/** σ(a) = 1 / (1 + e⁻ᵃ) in float64, never forming e of a large positive number. */
export function sigmoid64(a: number): number {
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}

/**
 * log(1 + e) for e in [0, 1]: by its series below 0.01 (truncation < 1e-17; saturated units, the
 * common case, cost no logarithm), else Math.log1p.
 */
export function log1pUnit(e: number): number {
  return e < 0.01 ? e * (1 - e * (1 / 2 - e * (1 / 3 - e * (1 / 4 - e * (1 / 5 - e * (1 / 6 - e * (1 / 7 - e / 8))))))) : Math.log1p(e);
}

/** log Σ exp(x_i), stable, in float64. */
export function logSumExp(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > m) m = x[i];
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i] - m);
  return m + Math.log(s);
}

/**
 * The options a caller actually set: `{ ...defaults, ...withoutUndefined(opts) }` fills in the
 * defaults even where the caller passed `undefined` explicitly (as `{ seed: opts.seed }` does).
 */
export function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Min and max of `count` values at `start + j*step`, ignoring NaN. */
export function extent(data: ArrayLike<number>, start: number, step: number, count: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0, k = start; j < count; j++, k += step) {
    const v = data[k];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Σ_i v_i w_i for row r of v (v binary or not). */
export function dotRow(v: Float32Array, r: number, nV: number, w: Float64Array): number {
  let s = 0;
  const o = r * nV;
  for (let i = 0; i < nV; i++) if (v[o + i] !== 0) s += v[o + i] * w[i];
  return s;
}
