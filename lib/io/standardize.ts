/**
 * Standardising real-valued data for Gaussian visible units: x' = (x − μ) / s, per pixel or with one
 * global μ and s. With σ fixed at 1, the model's p(v|h) = N(b + Wh, 1) only fits data whose spread is
 * about 1 (Hinton's guide §13.2: "it is easiest to first normalise each component of the data to
 * have zero mean and unit variance and then to use noise-free reconstructions, with σ set to 1").
 *
 * A density changes under the map: log p_x(x) = log p_x'(x') − Σ_i log s_i, so a log-likelihood
 * measured on standardised data is turned back into one on pixels with {@link logDensityInPixels}.
 */
import type { Dataset } from "./data";
import { dim } from "./data";

/** How the data were standardised: μ and s per pixel (global mode: all equal). */
export interface Standardizer {
  /** "pixel": μ_i, s_i of each pixel; "global": one μ and s over all pixels. */
  mode: "pixel" | "global";
  /** μ `[nVisible]` */
  mean: Float32Array;
  /** s `[nVisible]`, each ≥ minStd */
  std: Float32Array;
}

/** Options of {@link fitStandardizer}. */
export interface StandardizeOptions {
  /** "pixel" (default) or "global". */
  mode?: "pixel" | "global";
  /**
   * The smallest s used: a pixel that (almost) never changes, such as MNIST's border, would otherwise
   * be divided by ~0 and blow up any rare non-zero value. Default 0.05 (in the data's units, pixels in [0, 1]).
   */
  minStd?: number;
}

/** μ and s of the data's pixels (per pixel or global), s floored at `minStd`. */
export function fitStandardizer(ds: Dataset, opts: StandardizeOptions = {}): Standardizer {
  const mode = opts.mode ?? "pixel";
  const minStd = opts.minStd ?? 0.05;
  if (mode !== "pixel" && mode !== "global")
    throw new Error(`fitStandardizer: mode must be "pixel" or "global", got ${JSON.stringify(mode)}.`);
  if (!(minStd > 0 && Number.isFinite(minStd))) throw new Error(`fitStandardizer: minStd must be a positive number, got ${minStd}.`);
  const d = dim(ds);
  if (!(ds.n >= 2)) throw new Error(`fitStandardizer: ${ds.name} has ${ds.n} rows; a spread needs at least 2.`);
  const s1 = new Float64Array(d);
  const s2 = new Float64Array(d);
  for (let r = 0; r < ds.n; r++) {
    for (let i = 0; i < d; i++) {
      const x = ds.images[r * d + i];
      if (!Number.isFinite(x))
        throw new Error(`fitStandardizer: ${ds.name} holds ${x} at row ${r}, pixel ${i}; every value must be finite.`);
      s1[i] += x;
      s2[i] += x * x;
    }
  }
  const mean = new Float32Array(d);
  const std = new Float32Array(d);
  if (mode === "pixel") {
    for (let i = 0; i < d; i++) {
      mean[i] = s1[i] / ds.n;
      std[i] = Math.max(minStd, Math.sqrt(Math.max(0, s2[i] / ds.n - (s1[i] / ds.n) ** 2)));
    }
  } else {
    const total = ds.n * d;
    const m = s1.reduce((a, x) => a + x, 0) / total;
    const v = s2.reduce((a, x) => a + x, 0) / total - m * m;
    mean.fill(m);
    std.fill(Math.max(minStd, Math.sqrt(Math.max(0, v))));
  }
  return { mode, mean, std };
}

/** (x − μ) / s of every row: a new dataset (labels shared). */
export function applyStandardizer(ds: Dataset, s: Standardizer): Dataset {
  const d = dim(ds);
  if (s.mean.length !== d || s.std.length !== d) {
    throw new Error(
      `applyStandardizer: the standardizer is for ${s.mean.length} pixels but ${ds.name} has ${d}; fit it on data of this size.`,
    );
  }
  const images = new Float32Array(ds.images.length);
  for (let r = 0; r < ds.n; r++) for (let i = 0; i < d; i++) images[r * d + i] = (ds.images[r * d + i] - s.mean[i]) / s.std[i];
  return { ...ds, images, name: `${ds.name}[standardised ${s.mode}]` };
}

/**
 * Fits a standardizer on `train` and applies it to `train` (and to `test`, with the train statistics).
 * @returns the standardised sets and the standardizer (to map samples back to pixels)
 */
export function standardize(
  train: Dataset,
  opts: StandardizeOptions & { test?: Dataset } = {},
): { train: Dataset; test?: Dataset; standardizer: Standardizer } {
  const standardizer = fitStandardizer(train, opts);
  return {
    train: applyStandardizer(train, standardizer),
    test: opts.test ? applyStandardizer(opts.test, standardizer) : undefined,
    standardizer,
  };
}

/** μ + s x' of flat rows `[n, nVisible]`: standardised values (e.g. model samples) back in pixel units. */
export function unstandardize(x: Float32Array, s: Standardizer): Float32Array {
  const d = s.mean.length;
  if (x.length % d !== 0) throw new Error(`unstandardize: ${x.length} values are not rows of ${d} pixels.`);
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = s.mean[k % d] + s.std[k % d] * x[k];
  return out;
}

/**
 * A mean log-density of standardised rows turned into one of the original pixels (nats per image):
 * log p_x(x) = log p_x'(x') − Σ_i log s_i (the Jacobian of x' = (x − μ)/s).
 */
export function logDensityInPixels(logDensityStandardised: number, s: Standardizer): number {
  let logJ = 0;
  for (let i = 0; i < s.std.length; i++) logJ += Math.log(s.std[i]);
  return logDensityStandardised - logJ;
}
