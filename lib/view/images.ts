/**
 * Image grids (filters, digits, samples) as PNG: tiles of h×w pixels, scaled per tile, globally or
 * not at all, shown inline in a notebook or saved to a file.
 */
import type { Tensor2D } from "@tensorflow/tfjs";
import { extent } from "../core/numerics";
import { writePictureFile } from "../io/durable";
import { displayBundle, inNotebook } from "./display";
import { encodePng } from "./png";
/** n images of h×w pixels: flat `[n*h*w]`, rows `number[n][h*w]`, or a tensor `[n, h*w]`. */
export type Images = ArrayLike<number> | number[][] | Tensor2D;

/** How pixel values become gray levels. */
export type GridScale = "tile" | "global" | "none";

/** Options of {@link imageGrid}. */
export interface GridOptions {
  /** Image height h in pixels. */
  height: number;
  /** Image width w in pixels. */
  width: number;
  /** Tiles per row; default ceil(sqrt(n)). */
  cols?: number;
  /** Background pixels between tiles (before zoom); default 1. */
  padding?: number;
  /** "tile": min-max scale each tile (default, good for filters); "global": one min-max for all
   * tiles (compares magnitudes); "none": values are already in [0,1], clipped. Black = low. */
  scale?: GridScale;
  /** Integer nearest-neighbour upscaling factor; default 1. */
  zoom?: number;
  /** Gray level of the padding in [0,1]; default 1 (white). */
  background?: number;
  /** Images are the COLUMNS of a `[h*w, n]` matrix, e.g. RBM weights W `[nVisible, nHidden]`. */
  columns?: boolean;
}

/** An 8-bit grayscale picture, row-major `[height*width]`. */
export interface GrayImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

function isTensor(x: Images): x is Tensor2D {
  return typeof (x as Tensor2D).dataSync === "function";
}

/** Flatten any {@link Images} input; returns the values and the image count n. */
function flatten(images: Images, hw: number, columns: boolean): { data: ArrayLike<number>; n: number } {
  if (isTensor(images)) {
    const [r, c] = images.shape;
    if ((columns ? r : c) !== hw) throw new Error(`imageGrid: tensor shape [${r}, ${c}] does not hold images of ${hw} pixels`);
    return { data: images.dataSync(), n: columns ? c : r };
  }
  const first = images.length > 0 ? (images as ArrayLike<number | number[]>)[0] : undefined;
  if (Array.isArray(first)) {
    const rows = images as number[][];
    if (columns) throw new Error("imageGrid: `columns` needs a flat array or a tensor");
    const data = new Float32Array(rows.length * hw);
    rows.forEach((row, i) => {
      if (row.length !== hw) throw new Error(`imageGrid: image ${i} has ${row.length} values, expected ${hw}`);
      data.set(row, i * hw);
    });
    return { data, n: rows.length };
  }
  const flat = images as ArrayLike<number>;
  if (flat.length % hw !== 0) throw new Error(`imageGrid: ${flat.length} values is not a multiple of ${hw}`);
  return { data: flat, n: flat.length / hw };
}

/**
 * Tile n images of h×w into one grayscale picture, `cols` per row, row-major tiles.
 * Runs in O(pixels): 500 tiles of 28×28 take a few ms.
 */
export function imageGrid(images: Images, opts: GridOptions): GrayImage {
  const { height: h, width: w, padding: pad = 1, scale = "tile", zoom = 1, background = 1, columns = false } = opts;
  const hw = h * w;
  const { data, n } = flatten(images, hw, columns);
  const cols = Math.max(1, Math.min(opts.cols ?? Math.ceil(Math.sqrt(n)), n || 1));
  const rows = Math.max(1, Math.ceil(n / cols));
  const W = cols * w + (cols - 1) * pad;
  const H = rows * h + (rows - 1) * pad;
  const out = new Uint8Array(W * H).fill(Math.round(Math.min(1, Math.max(0, background)) * 255));
  // Value (image i, pixel p) lives at data[i*tileStep + p*pixStep].
  const tileStep = columns ? 1 : hw;
  const pixStep = columns ? n : 1;
  const all = scale === "global" ? extent(data, 0, 1, data.length) : [0, 1];
  for (let i = 0; i < n; i++) {
    const [lo, hi] = scale === "tile" ? extent(data, i * tileStep, pixStep, hw) : all;
    // gray = (v - lo) * k + base; a constant tile is drawn mid-gray rather than dividing by 0.
    const k = hi > lo ? 255 / (hi - lo) : 0;
    const base = hi > lo ? 0.5 : 128; // 0.5 rounds to nearest
    const ox = (i % cols) * (w + pad);
    const oy = Math.floor(i / cols) * (h + pad);
    let src = i * tileStep;
    for (let y = 0; y < h; y++) {
      let dst = (oy + y) * W + ox;
      for (let x = 0; x < w; x++, src += pixStep) {
        const g = (data[src] - lo) * k + base;
        out[dst++] = g >= 255 ? 255 : g > 0 ? g : 0; // Uint8Array truncates; NaN → 0
      }
    }
  }
  return zoom > 1 ? upscale({ pixels: out, width: W, height: H }, Math.round(zoom)) : { pixels: out, width: W, height: H };
}

/** Nearest-neighbour upscaling by an integer factor. */
export function upscale(img: GrayImage, factor: number): GrayImage {
  const { width: W, height: H, pixels } = img;
  const W2 = W * factor;
  const out = new Uint8Array(W2 * H * factor);
  for (let y = 0; y < H; y++) {
    const row = out.subarray(y * factor * W2, (y * factor + 1) * W2);
    for (let x = 0, d = 0; x < W; x++) for (let r = 0; r < factor; r++) row[d++] = pixels[y * W + x];
    for (let r = 1; r < factor; r++) out.copyWithin((y * factor + r) * W2, y * factor * W2, (y * factor + 1) * W2);
  }
  return { pixels: out, width: W2, height: H * factor };
}

/** {@link imageGrid} encoded as PNG bytes. */
export function gridPng(images: Images, opts: GridOptions): Buffer {
  const g = imageGrid(images, opts);
  return encodePng(g.pixels, g.width, g.height, 1);
}

/**
 * Show a grid of images inline in the notebook (PNG). `zoom` defaults to a factor making the
 * picture at least ~160 px wide. `save` also writes the PNG there, in any context; an existing
 * file is replaced only if it is a PNG (e.g. the same figure from an earlier run), otherwise refused
 * unless `overwrite: true`.
 */
export function showImages(images: Images, opts: GridOptions & { save?: string; overwrite?: boolean }): void {
  const notebook = inNotebook();
  if (!notebook && !opts.save) return; // nothing to show in a terminal: skip the work
  let g = imageGrid(images, { ...opts, zoom: 1 });
  const zoom = opts.zoom ?? Math.min(8, Math.max(1, Math.floor(160 / g.width)));
  if (zoom > 1) g = upscale(g, Math.round(zoom));
  const png = encodePng(g.pixels, g.width, g.height, 1);
  if (opts.save) writePictureFile(opts.save, png, "PNG", "showImages", opts.overwrite === true);
  if (notebook) displayBundle({ "image/png": png, "text/plain": `<image grid ${g.width}x${g.height}>` });
}
