/**
 * The model widget: one self-contained HTML output in which the reader draws on a 28×28 canvas, picks
 * which pixels are clamped, and watches the Gibbs chain fill in the rest — all in the browser. The
 * kernel sends the model once (weights quantised to int8, one scale per hidden unit, base64); the
 * sampler, the canvas and the controls are the script of view/widget-page.ts. No CDN, no round trip.
 *
 * For a DBN with label units the widget dreams: the label clamped in the top RBM (as dbn/generate.ts),
 * the picture from a down pass of probabilities.
 *
 * Where scripts do not run (an untrusted notebook in JupyterLab, a viewer that strips them), the
 * output shows a static picture instead: the start digits and the model's first filters, as PNG.
 */
import type * as tf from "@tensorflow/tfjs";
import { displayBundle, escapeXml, inNotebook, type MimeBundle } from "./display";
import { imageGrid, upscale } from "./images";
import { encodePng } from "./png";
import { WIDGET_SCRIPT } from "./widget-page";

/** The layers the widget needs, bottom first: an RBM is one layer, a DBN its stack. */
export interface WidgetModel {
  /** Layer l: W `[n_l, n_{l+1}]` (the top one with the label units as its last visible rows), b `[n_l]`, c `[n_{l+1}]`. */
  layers: { W: tf.Tensor2D; b: tf.Tensor1D; c: tf.Tensor1D }[];
  /** Label units of the top layer (0 for an RBM). */
  nLabels?: number;
  /** Untied generative weights of the lower layers, when the DBN has them: W `[n_{l+1}, n_l]`, b `[n_l]`. */
  generative?: { W: tf.Tensor2D; b: tf.Tensor1D }[];
  /** A DBN's Gaussian pixels: refused (the page samples binary pixels). */
  gaussian?: unknown;
}

/** Options of {@link widgetHtml}. */
export interface WidgetOptions {
  /** Binary digits the reader can start from `[n * 784]` (e.g. test digits); at most 100 are embedded. */
  digits?: Float32Array;
  /** Title above the canvas. */
  title?: string;
  /** Picture height and width. Default 28 × 28. */
  height?: number;
  width?: number;
  /** Canvas pixels per picture pixel. Default 10. */
  zoom?: number;
  /** Gibbs steps per animation frame at the start (the speed slider). Default 2. */
  speed?: number;
  /** Filters shown on hover. Default 8. */
  nFilters?: number;
  /** Seed of the page's generator. Default 0. */
  seed?: number;
}

let widgetCounter = 0;

/** int8 quantisation with one scale per column: W_ij ≈ q_ij · s_j, |q| ≤ 127. */
function quantise(W: tf.Tensor2D): { rows: number; cols: number; q: string; scale: string } {
  const [rows, cols] = W.shape;
  const w = W.dataSync();
  const scale = new Float32Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) scale[j] = Math.max(scale[j], Math.abs(w[i * cols + j]));
  for (let j = 0; j < cols; j++) scale[j] = scale[j] / 127 || 1;
  const q = new Int8Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) q[i * cols + j] = Math.round(w[i * cols + j] / scale[j]);
  return { rows, cols, q: base64(q), scale: base64(scale) };
}

function base64(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

const f32 = (t: tf.Tensor1D) => base64(Float32Array.from(t.dataSync()));

/** Binary pictures packed 8 to a byte (bit k of byte i is pixel 8i + k). */
function packBits(x: Float32Array): string {
  const out = new Uint8Array(Math.ceil(x.length / 8));
  for (let i = 0; i < x.length; i++) if (x[i] > 0.5) out[i >> 3] |= 1 << (i & 7);
  return base64(out);
}

function checkModel(model: WidgetModel, d: number): void {
  if (!model || !Array.isArray(model.layers) || model.layers.length === 0) {
    throw new Error("modelWidget: pass an RBM { W, b, c } or a DBN { sizes, nLabels, layers }.");
  }
  if (model.gaussian) {
    throw new Error("modelWidget: this DBN's pixels are real-valued (a Gaussian first layer); the widget samples binary pixels only.");
  }
  if (model.layers[0].W.shape[0] !== d) {
    throw new Error(
      `modelWidget: the model has ${model.layers[0].W.shape[0]} visible units but the pictures ${d} pixels; set height and width.`,
    );
  }
}

/** The widget's data and page: one `<div>` with its static picture, and the script that replaces it. */
export function widgetHtml(model: WidgetModel, opts: WidgetOptions = {}): { html: string; png: Buffer; bytes: number } {
  const height = opts.height ?? 28;
  const width = opts.width ?? 28;
  const d = height * width;
  checkModel(model, d);
  const digits = opts.digits ?? new Float32Array(d);
  if (digits.length === 0 || digits.length % d !== 0)
    throw new Error(`modelWidget: digits must be flat rows of ${d} pixels, got ${digits.length} values.`);
  const nDigits = Math.min(100, digits.length / d);
  const data = {
    height,
    width,
    zoom: opts.zoom ?? 10,
    speed: opts.speed ?? 2,
    nFilters: opts.nFilters ?? 8,
    seed: opts.seed ?? 0,
    title: opts.title ?? (model.layers.length > 1 ? "DBN: class-conditional dreams" : "RBM: draw, clamp, sample"),
    nLabels: model.nLabels ?? 0,
    layers: model.layers.map((l) => ({ W: quantise(l.W), b: f32(l.b), c: f32(l.c) })),
    generative: model.generative?.map((g) => ({ W: quantise(g.W), b: f32(g.b) })),
    nDigits,
    digits: packBits(digits.subarray(0, nDigits * d)),
  };
  const png = staticPicture(model, digits.subarray(0, Math.min(nDigits, 10) * d), height, width);
  const id = `rbm-widget-${process.pid}-${++widgetCounter}`;
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  const html =
    `<div id="${id}" class="rbm-widget"><img alt="${escapeXml(data.title)} (static picture: the interactive widget needs JavaScript)" ` +
    `src="data:image/png;base64,${png.toString("base64")}"><div style="font:12px sans-serif;color:#555">` +
    `Static picture: start digits and the first filters. Run the cell in a trusted notebook for the interactive widget.</div></div>\n` +
    `<script>(function(){${WIDGET_SCRIPT}\nvar D=${json};var tries=0;(function start(){var root=document.getElementById("${id}");` +
    `if(root){rbmWidget(root,D);}else if(tries++<100){setTimeout(start,50);}})();})();</script>`;
  return { html, png, bytes: html.length };
}

/** The static fallback: up to 10 start digits above the first 10 filters of the bottom layer. */
function staticPicture(model: WidgetModel, digits: Float32Array, height: number, width: number): Buffer {
  const d = height * width;
  const W = model.layers[0].W;
  const nH = W.shape[1];
  const k = Math.min(10, nH);
  const w = W.dataSync();
  const filters = new Float32Array(k * d);
  for (let j = 0; j < k; j++) for (let i = 0; i < d; i++) filters[j * d + i] = w[i * nH + j];
  const top = imageGrid(digits, { height, width, cols: 10, scale: "none", padding: 2 });
  const bottom = imageGrid(filters, { height, width, cols: 10, scale: "tile", padding: 2 });
  const Wd = Math.max(top.width, bottom.width);
  const pixels = new Uint8Array(Wd * (top.height + 4 + bottom.height)).fill(255);
  for (let y = 0; y < top.height; y++) pixels.set(top.pixels.subarray(y * top.width, (y + 1) * top.width), y * Wd);
  for (let y = 0; y < bottom.height; y++)
    pixels.set(bottom.pixels.subarray(y * bottom.width, (y + 1) * bottom.width), (top.height + 4 + y) * Wd);
  const g = upscale({ pixels, width: Wd, height: top.height + 4 + bottom.height }, 3);
  return encodePng(g.pixels, g.width, g.height, 1);
}

/** The widget as one multi-mime output: HTML with its script, the static PNG, a text line. */
export function widgetBundle(model: WidgetModel, opts: WidgetOptions = {}): MimeBundle {
  const { html, png, bytes } = widgetHtml(model, opts);
  const sizes = [model.layers[0].W.shape[0], ...model.layers.map((l) => l.W.shape[1])].join("-");
  return { "text/html": html, "image/png": png, "text/plain": `<model widget ${sizes}, ${(bytes / 1e6).toFixed(2)} MB>` };
}

/**
 * Shows the interactive widget for an RBM (`{ W, b, c }`) or a DBN (`{ layers, nLabels, generative }`)
 * in the notebook: draw, clamp a region, start / stop / step the chain, change β, pick a start digit,
 * hover for filters; a DBN with labels dreams of the chosen digit. Outside a notebook it does nothing.
 * @returns the size of the output in bytes (0 outside a notebook)
 */
export function showModelWidget(model: WidgetModel | { W: tf.Tensor2D; b: tf.Tensor1D; c: tf.Tensor1D }, opts: WidgetOptions = {}): number {
  if (!inNotebook()) return 0;
  const m: WidgetModel = "layers" in model ? model : { layers: [model] };
  const bundle = widgetBundle(m, opts);
  displayBundle(bundle);
  return (bundle["text/html"] as string).length;
}
