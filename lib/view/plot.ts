/**
 * Seeing the model: image grids (filters, digits, samples) as PNG, and charts (learning curves,
 * histograms, heatmaps) as plotly figures with a static SVG fallback drawn by our own renderer.
 *
 * In a notebook, `show*` functions emit outputs; in plain Node they show nothing (pass `save` to
 * write a file instead).
 */
import type { Tensor2D } from "@tensorflow/tfjs";
import * as fs from "node:fs";
import { encodePng } from "./png";
import { inNotebook, displayBundle, escapeXml, MimeBundle, newDisplay } from "./display";
import { writeFileAtomic } from "../io/durable";
// ───────────────────────────── image grids ─────────────────────────────

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

/** Min and max of `count` values at `start + j*step`, ignoring NaN. */
function extent(data: ArrayLike<number>, start: number, step: number, count: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0, k = start; j < count; j++, k += step) {
    const v = data[k];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
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
 * picture at least ~160 px wide. `save` also writes the PNG there (replacing it), in any context.
 */
export function showImages(images: Images, opts: GridOptions & { save?: string }): void {
  const notebook = inNotebook();
  if (!notebook && !opts.save) return; // nothing to show in a terminal: skip the work
  let g = imageGrid(images, { ...opts, zoom: 1 });
  const zoom = opts.zoom ?? Math.min(8, Math.max(1, Math.floor(160 / g.width)));
  if (zoom > 1) g = upscale(g, Math.round(zoom));
  const png = encodePng(g.pixels, g.width, g.height, 1);
  if (opts.save) writeFileAtomic(opts.save, png, { overwrite: true });
  if (notebook) displayBundle({ "image/png": png, "text/plain": `<image grid ${g.width}x${g.height}>` });
}

// ───────────────────────────── figures ─────────────────────────────

/** A line/marker series, `x` and `y` of equal length. */
export interface LineTrace {
  type: "scatter";
  mode: "lines" | "markers" | "lines+markers";
  name: string;
  x: number[];
  y: number[];
  line: { color: string; width: number };
  marker: { color: string; size: number };
}
/** Pre-binned histogram: bar centres `x`, heights `y`, bin width `width`. */
export interface BarTrace {
  type: "bar";
  name: string;
  x: number[];
  y: number[];
  width: number;
  marker: { color: string; opacity: number };
}
/** A matrix `z[rows][cols]` coloured by an explicit colorscale of `[t in 0..1, "rgb(r,g,b)"]`. */
export interface HeatmapTrace {
  type: "heatmap";
  z: number[][];
  zmin: number;
  zmax: number;
  colorscale: [number, string][];
}
/** The trace kinds our builders produce (a subset of plotly's). */
export type Trace = LineTrace | BarTrace | HeatmapTrace;
/** A plotly axis (subset). */
export interface Axis {
  title?: { text: string };
  type?: "linear" | "log";
  autorange?: boolean | "reversed";
}
/** A plotly layout (subset). */
export interface Layout {
  title?: { text: string };
  width: number;
  height: number;
  xaxis: Axis;
  yaxis: Axis;
  showlegend: boolean;
  barmode?: "overlay";
  bargap?: number;
}
/** A plain plotly figure: `Plotly.newPlot(div, fig.data, fig.layout)`. */
export interface Figure {
  data: Trace[];
  layout: Layout;
}

/** Common chart options. */
export interface ChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Pixels; default 640×360. */
  width?: number;
  height?: number;
}

/** plotly's default palette, set explicitly so plotly and our SVG agree. */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function layout(o: ChartOptions, showlegend: boolean): Layout {
  const axis = (t?: string): Axis => (t ? { title: { text: t } } : {});
  return {
    ...(o.title ? { title: { text: o.title } } : {}),
    width: o.width ?? 640,
    height: o.height ?? 360,
    xaxis: axis(o.xTitle),
    yaxis: { ...axis(o.yTitle), ...(o.logY ? { type: "log" } : {}) },
    showlegend,
  };
}

/** Line chart, one trace per series; `x` defaults to 0..n-1. */
export function lineChart(series: { name: string; x?: ArrayLike<number>; y: ArrayLike<number> }[], opts: ChartOptions & { markers?: boolean } = {}): Figure {
  const data = series.map((s, i): LineTrace => {
    const color = PALETTE[i % PALETTE.length];
    const y = Array.from(s.y);
    return {
      type: "scatter",
      mode: opts.markers ? "lines+markers" : "lines",
      name: s.name,
      x: s.x ? Array.from(s.x) : y.map((_, j) => j),
      y,
      line: { color, width: 2 },
      marker: { color, size: 5 },
    };
  });
  return { data, layout: layout(opts, series.length > 1) };
}

/**
 * Histograms of one or more samples over SHARED bins, pre-binned here (so 400k weights become a
 * few dozen bars in the figure JSON, and plotly and the SVG show identical bins).
 */
export function histogram(series: { name: string; values: ArrayLike<number> }[], opts: ChartOptions & { bins?: number; range?: [number, number]; density?: boolean } = {}): Figure {
  const bins = opts.bins ?? 30;
  let [lo, hi] = opts.range ?? [Infinity, -Infinity];
  if (!opts.range) for (const s of series) [lo, hi] = mergeExtent([lo, hi], extent(s.values, 0, 1, s.values.length));
  if (!(hi > lo)) [lo, hi] = Number.isFinite(lo) ? [lo - 0.5, lo + 0.5] : [0, 1];
  const width = (hi - lo) / bins;
  const data = series.map((s, i): BarTrace => {
    const counts = new Array<number>(bins).fill(0);
    let total = 0;
    for (let j = 0; j < s.values.length; j++) {
      const v = s.values[j];
      if (!(v >= lo && v <= hi)) continue; // outside the range (or NaN)
      counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++; // v = hi goes in the last bin
      total++;
    }
    const y = opts.density ? counts.map((c) => c / (Math.max(total, 1) * width)) : counts;
    return { type: "bar", name: s.name, x: counts.map((_, b) => lo + (b + 0.5) * width), y, width, marker: { color: PALETTE[i % PALETTE.length], opacity: series.length > 1 ? 0.6 : 1 } };
  });
  return { data, layout: { ...layout(opts, series.length > 1), barmode: "overlay", bargap: 0 } };
}

/**
 * Bar chart of values at positions 0..n−1 (e.g. the probability of each state), one trace per series,
 * overlaid. Use `xTitle` to say what the position means.
 */
export function barChart(series: { name: string; y: ArrayLike<number> }[], opts: ChartOptions = {}): Figure {
  const data = series.map((s, i): BarTrace => ({
    type: "bar", name: s.name, x: Array.from(s.y, (_, j) => j), y: Array.from(s.y), width: 0.8,
    marker: { color: PALETTE[i % PALETTE.length], opacity: series.length > 1 ? 0.6 : 1 },
  }));
  return { data, layout: { ...layout(opts, series.length > 1), barmode: "overlay" } };
}

function mergeExtent(a: [number, number], b: [number, number]): [number, number] {
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

/** Heatmap colours: "viridis" (sequential), "diverging" blue (−) / white (0) / red (+), "gray". */
export type ColorscaleName = "viridis" | "diverging" | "gray";

/** Colorscales as `[t, [r,g,b]]` stops. */
const SCALES: Record<ColorscaleName, [number, number[]][]> = {
  viridis: [[0, [68, 1, 84]], [0.25, [59, 82, 139]], [0.5, [33, 145, 140]], [0.75, [94, 201, 98]], [1, [253, 231, 37]]],
  diverging: [[0, [33, 102, 172]], [0.25, [146, 197, 222]], [0.5, [247, 247, 247]], [0.75, [244, 165, 130]], [1, [178, 24, 43]]],
  gray: [[0, [0, 0, 0]], [1, [255, 255, 255]]],
};

/**
 * Heatmap of a matrix `z[rows][cols]`, row 0 at the top (matrix convention). Default colours:
 * "diverging" centred on 0 when z has both signs (weights), else "viridis".
 */
export function heatmap(z: number[][], opts: ChartOptions & { zmin?: number; zmax?: number; colorscale?: ColorscaleName } = {}): Figure {
  let [lo, hi] = z.reduce<[number, number]>((e, row) => mergeExtent(e, extent(row, 0, 1, row.length)), [Infinity, -Infinity]);
  if (!(hi >= lo)) [lo, hi] = [0, 1]; // empty or all-NaN
  const name = opts.colorscale ?? (lo < 0 && hi > 0 ? "diverging" : "viridis");
  if (name === "diverging" && opts.zmin === undefined && opts.zmax === undefined) {
    hi = Math.max(-lo, hi); // symmetric, so white means exactly 0
    lo = -hi;
  }
  const trace: HeatmapTrace = {
    type: "heatmap",
    z,
    zmin: opts.zmin ?? lo,
    zmax: opts.zmax ?? hi,
    colorscale: SCALES[name].map(([t, c]): [number, string] => [t, `rgb(${c.join(",")})`]),
  };
  const l = layout(opts, false);
  return { data: [trace], layout: { ...l, yaxis: { ...l.yaxis, autorange: "reversed" } } };
}

/** A `[t, "rgb(r,g,b)"]` colorscale as a function t in [0,1] → [r, g, b] (linear between stops). */
function colormap(scale: [number, string][]): (t: number) => number[] {
  const stops = scale.map(([t, c]): [number, number[]] => [t, (c.match(/\d+/g) ?? []).map(Number)]);
  return (t) => {
    const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
    let i = 1;
    while (i < stops.length - 1 && stops[i][0] < u) i++;
    const [[t0, a], [t1, b]] = [stops[i - 1], stops[i]];
    const f = t1 > t0 ? (u - t0) / (t1 - t0) : 0;
    return a.map((v, k) => Math.round(v + (b[k] - v) * f));
  };
}

// ───────────────────────────── SVG renderer ─────────────────────────────

/** "Nice" tick values (1, 2, 5 × 10^k steps) covering [lo, hi], about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  const raw = (hi - lo) / target;
  if (!(raw > 0) || !Number.isFinite(raw)) return [lo];
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(1).replace("e+", "e") : String(Number(v.toPrecision(6)));
}

/** An axis mapping data → pixels, with ticks. Log axes map log10(v). */
function axis(lo: number, hi: number, p0: number, p1: number, log: boolean, reversed = false) {
  const f = (v: number) => (log ? Math.log10(v) : v);
  let [a, b] = [f(lo), f(hi)];
  if (!(b > a)) [a, b] = [a - 1, b + 1];
  let ticks = niceTicks(a, b);
  if (log) {
    // Powers of ten when the range spans two or more; else nice values between the ends.
    const decades = niceTicks(Math.ceil(a), Math.floor(b), 8).filter(Number.isInteger);
    ticks = decades.length >= 2 ? decades.map((d) => 10 ** d) : niceTicks(10 ** a, 10 ** b).filter((v) => v > 0);
  }
  const [q0, q1] = reversed ? [p1, p0] : [p0, p1];
  const map = (v: number) => q0 + ((f(v) - a) / (b - a)) * (q1 - q0);
  return { map, ticks: ticks.filter((t) => f(t) >= a - 1e-9 && f(t) <= b + 1e-9) };
}

/** Data extent of a figure's traces: [xlo, xhi, ylo, yhi], positive-only y on log axes. */
function figureExtent(fig: Figure): [number, number, number, number] {
  let x: [number, number] = [Infinity, -Infinity];
  let y: [number, number] = [Infinity, -Infinity];
  const logY = fig.layout.yaxis.type === "log";
  for (const t of fig.data) {
    if (t.type === "heatmap") {
      x = mergeExtent(x, [-0.5, (t.z[0]?.length ?? 0) - 0.5]);
      y = mergeExtent(y, [-0.5, t.z.length - 0.5]);
    } else {
      const half = t.type === "bar" ? t.width / 2 : 0;
      for (let i = 0; i < t.x.length; i++) {
        const yi = t.y[i];
        if (!Number.isFinite(t.x[i]) || !Number.isFinite(yi) || (logY && yi <= 0)) continue;
        x = mergeExtent(x, [t.x[i] - half, t.x[i] + half]);
        y = mergeExtent(y, t.type === "bar" && !logY ? [Math.min(0, yi), Math.max(0, yi)] : [yi, yi]);
      }
    }
  }
  if (!Number.isFinite(x[0])) x = [0, 1];
  if (!Number.isFinite(y[0])) y = logY ? [1, 10] : [0, 1];
  return [x[0], x[1], y[0], y[1]];
}

/**
 * Render a figure from our builders as a standalone SVG document: title, axes with ticks, grid,
 * axis titles, legend, lines/markers, bars, and heatmaps (as an embedded PNG) with a colorbar.
 */
export function figureSvg(fig: Figure): string {
  const { width: W, height: H, title, xaxis, yaxis, showlegend } = fig.layout;
  const heat = fig.data.find((t): t is HeatmapTrace => t.type === "heatmap");
  const legendW = showlegend ? 30 + 7 * Math.max(...fig.data.map((t) => ("name" in t ? t.name.length : 0))) : 0;
  const m = { l: 64, r: 16 + legendW + (heat ? 70 : 0), t: title ? 40 : 16, b: xaxis.title ? 48 : 32 };
  const [xlo, xhi, ylo0, yhi0] = figureExtent(fig);
  const logY = yaxis.type === "log";
  // Pad y by 5% (lines/bars) so curves do not touch the frame; heatmaps fill the box exactly.
  const pad = heat ? 0 : logY ? 0 : (yhi0 - ylo0) * 0.05;
  const [ylo, yhi] = [ylo0 - (ylo0 === 0 ? 0 : pad), yhi0 + (yhi0 === 0 ? 0 : pad)];
  const X = axis(xlo, xhi, m.l, W - m.r, xaxis.type === "log");
  const Y = axis(ylo, yhi, H - m.b, m.t, logY, yaxis.autorange === "reversed");
  if (heat) [X, Y].forEach((A) => (A.ticks = A.ticks.filter(Number.isInteger))); // row/column indices
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  const px = (v: number) => v.toFixed(1);
  for (const t of X.ticks) {
    const x = px(X.map(t));
    o.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#e5e5e5"/><text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of Y.ticks) {
    const y = px(Y.map(t));
    o.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#e5e5e5"/><text x="${m.l - 6}" y="${y}" dy="0.35em" text-anchor="end">${fmt(t)}</text>`);
  }
  fig.data.forEach((t) => {
    if (t.type === "heatmap") {
      const rows = t.z.length;
      const cols = t.z[0]?.length ?? 0;
      const rgb = new Uint8Array(rows * cols * 3);
      const span = t.zmax > t.zmin ? t.zmax - t.zmin : 1;
      // The image is drawn top-down; flip rows unless row 0 belongs at the top.
      const flip = yaxis.autorange !== "reversed";
      const color = colormap(t.colorscale);
      t.z.forEach((row, r) => row.forEach((v, c) => rgb.set(color((v - t.zmin) / span), ((flip ? rows - 1 - r : r) * cols + c) * 3)));
      const [x0, y0] = [X.map(-0.5), Math.min(Y.map(-0.5), Y.map(rows - 0.5))];
      o.push(pngImage(encodePng(rgb, cols, rows, 3), x0, y0, X.map(cols - 0.5) - x0, Math.abs(Y.map(rows - 0.5) - Y.map(-0.5))));
      o.push(colorbar(t, W - m.r + 16, m.t, H - m.t - m.b));
    } else if (t.type === "bar") {
      const base = logY ? H - m.b : Y.map(0);
      for (let i = 0; i < t.x.length; i++) {
        // Bars grow from 0 up or down (negative values, e.g. log-likelihoods); log axes skip y ≤ 0.
        if (!Number.isFinite(t.y[i]) || t.y[i] === 0 || (logY && t.y[i] < 0)) continue;
        const [x0, x1, y] = [X.map(t.x[i] - t.width / 2), X.map(t.x[i] + t.width / 2), Y.map(t.y[i])];
        o.push(`<rect class="bar" x="${px(x0)}" y="${px(Math.min(y, base))}" width="${px(x1 - x0)}" height="${px(Math.abs(base - y))}" fill="${t.marker.color}" fill-opacity="${t.marker.opacity}"/>`);
      }
    } else {
      // Non-finite (or non-positive on log axes) points break the line, as plotly does with null.
      let d = "";
      let pen = "M";
      for (let i = 0; i < t.x.length; i++) {
        const ok = Number.isFinite(t.x[i]) && Number.isFinite(t.y[i]) && !(logY && t.y[i] <= 0);
        if (!ok) {
          pen = "M";
          continue;
        }
        const [x, y] = [px(X.map(t.x[i])), px(Y.map(t.y[i]))];
        if (t.mode !== "markers") {
          d += `${pen}${x},${y}`;
          pen = "L";
        }
        if (t.mode !== "lines") o.push(`<circle class="marker" cx="${x}" cy="${y}" r="${t.marker.size / 2}" fill="${t.marker.color}"/>`);
      }
      if (d) o.push(`<path class="trace" d="${d}" fill="none" stroke="${t.line.color}" stroke-width="${t.line.width}" stroke-linejoin="round"/>`);
    }
  });
  o.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`);
  if (title) o.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(title.text)}</text>`);
  if (xaxis.title) o.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(xaxis.title.text)}</text>`);
  if (yaxis.title) o.push(`<text transform="translate(16,${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yaxis.title.text)}</text>`);
  if (showlegend) {
    fig.data.forEach((t, i) => {
      if (t.type === "heatmap") return;
      const [x, y] = [W - legendW, m.t + 8 + i * 18];
      const color = t.type === "bar" ? t.marker.color : t.line.color;
      o.push(`<g class="legend-item"><rect x="${x}" y="${y - 5}" width="18" height="10" fill="${color}"/><text x="${x + 24}" y="${y}" dy="0.35em">${escapeXml(t.name)}</text></g>`);
    });
  }
  o.push("</svg>");
  return o.join("\n");
}

function pngImage(png: Uint8Array, x: number, y: number, w: number, h: number): string {
  const href = `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
  return `<image x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="${href}"/>`;
}

/** A vertical colorbar for a heatmap, with ticks. */
function colorbar(t: HeatmapTrace, x: number, y: number, h: number): string {
  const n = 64;
  const rgb = new Uint8Array(n * 3);
  const color = colormap(t.colorscale);
  for (let i = 0; i < n; i++) rgb.set(color(1 - i / (n - 1)), i * 3);
  const A = axis(t.zmin, t.zmax, y + h, y, false);
  const ticks = A.ticks.map((v) => `<text x="${x + 20}" y="${A.map(v).toFixed(1)}" dy="0.35em">${fmt(v)}</text>`);
  return [pngImage(encodePng(rgb, 1, n, 3), x, y, 14, h), ...ticks].join("");
}

// ───────────────────────────── notebook output ─────────────────────────────

const EMBEDDED = Symbol.for("rbm-notebooks.plotly-embedded");
type Flags = { [EMBEDDED]?: boolean };

/** plotly.js source: the minified build if installed, else plotly.js-dist. Read on demand (11 MB). */
function plotlySource(): string {
  for (const id of ["plotly.js-dist-min/plotly.min.js", "plotly.js-dist/plotly.js"]) {
    try {
      return fs.readFileSync(require.resolve(id), "utf8");
    } catch {
      // try the next build
    }
  }
  throw new Error("plotly.js-dist is not installed");
}

/**
 * Emit plotly.js as an inline `<script>` output (offline, no CDN) once per kernel session, so later
 * chart outputs can call `Plotly.newPlot`. The flag lives on globalThis (one per kernel process)
 * so reloading lib/ does not embed it again; pass `force` after clearing that output.
 * @returns true if the script was emitted by this call
 */
export function embedPlotly(force = false): boolean {
  const flags = globalThis as Flags;
  if ((flags[EMBEDDED] && !force) || !inNotebook()) return false;
  const src = plotlySource().replace(/<\/script/gi, "<\\/script");
  flags[EMBEDDED] = displayBundle({ "text/html": `<script>window.PlotlyConfig={MathJaxConfig:"local"};</script>\n<script type="text/javascript">${src}</script>` });
  return flags[EMBEDDED] === true;
}

let plotCounter = 0;

/** One output bundle for a figure: plotly JSON, SVG, text, and (if `interactive`) HTML. */
export function figureBundle(fig: Figure, interactive = true): MimeBundle {
  const svg = figureSvg(fig);
  const bundle: MimeBundle = {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout },
    "image/svg+xml": svg,
    "text/plain": `<Figure${fig.layout.title ? ` "${fig.layout.title.text}"` : ""}: ${fig.data.length} trace(s)>`,
  };
  if (interactive) {
    // The div starts with the SVG, so it stays visible where scripts are stripped or plotly.js
    // is missing (untrusted notebooks, nbconvert without JS); the script swaps in plotly.
    const id = `rbm-plot-${process.pid}-${++plotCounter}`;
    const json = JSON.stringify({ data: fig.data, layout: fig.layout }).replace(/</g, "\\u003c");
    bundle["text/html"] =
      `<div id="${id}" style="width:${fig.layout.width}px;height:${fig.layout.height}px">${svg}</div>\n` +
      `<script>(function(){var el=document.getElementById("${id}"),f=${json};` +
      `if(window.Plotly&&el){el.innerHTML="";window.Plotly.newPlot(el,f.data,f.layout,{displaylogo:false});}})();</script>`;
  }
  return bundle;
}

/** Show a figure as one multi-mime output (embedding plotly.js first if needed). `save` writes the SVG. */
export function showFigure(fig: Figure, opts: { save?: string } = {}): void {
  if (opts.save) writeFileAtomic(opts.save, figureSvg(fig), { overwrite: true });
  if (!inNotebook()) return;
  embedPlotly();
  displayBundle(figureBundle(fig));
}

/** A chart that redraws in place, e.g. a learning curve during training. */
export interface LiveChart {
  /** Replace the chart (static SVG + plotly JSON; throttled to one redraw per `minIntervalMs`). */
  update(fig: Figure): void;
  /** Final redraw, interactive when plotly.js is available. */
  done(fig?: Figure): void;
}

/** Create a {@link LiveChart}. Outside a notebook it does nothing. */
export function liveChart(opts: { minIntervalMs?: number; now?: () => number } = {}): LiveChart {
  const { minIntervalMs = 250, now = () => Date.now() } = opts;
  embedPlotly(); // before our entry, so the final HTML output finds Plotly
  const handle = newDisplay();
  let last = -Infinity;
  let latest: Figure | undefined;
  return {
    update(fig) {
      latest = fig;
      if (now() - last < minIntervalMs || !inNotebook()) return;
      last = now();
      handle.show(figureBundle(fig, false));
    },
    done(fig) {
      const f = fig ?? latest;
      if (f) handle.show(figureBundle(f, true));
    },
  };
}
