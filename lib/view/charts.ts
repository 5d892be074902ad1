/**
 * Charts — learning curves, histograms, bar charts, heatmaps — as plotly figures, and their notebook
 * output: one multi-mime bundle per figure (plotly JSON for JupyterLab and VS Code, HTML with
 * plotly.js embedded once per kernel, the static SVG of svg.ts, and text), live-updating charts.
 *
 * In a notebook, `show*` functions emit outputs; in plain Node they show nothing (pass `save` to
 * write a file instead).
 */
import * as fs from "node:fs";
import { extent } from "../core/numerics";
import { writePictureFile } from "../io/durable";
import { displayBundle, escapeXml, inNotebook, type MimeBundle, newDisplay } from "./display";
import {
  type Axis,
  type BarTrace,
  type ChartOptions,
  type ColorscaleName,
  type Figure,
  type HeatmapTrace,
  type Layout,
  type LineTrace,
  mergeExtent,
  PALETTE,
  SCALES,
} from "./figure";
import { figureSvg, niceStep } from "./svg";

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

/**
 * The x axis of traces whose x values are all whole numbers (epochs, steps, states): on a short
 * range, where plotly and the SVG would put ticks at 1.5 and 2.5, one tick per integer.
 */
function integerX(traces: { x: number[] }[], base: Axis): Axis {
  const xs = traces.flatMap((t) => t.x).filter(Number.isFinite);
  if (xs.length === 0 || !xs.every(Number.isInteger)) return base;
  const [lo, hi] = extent(xs, 0, 1, xs.length);
  return niceStep(lo, hi) >= 1 ? base : { ...base, dtick: 1 }; // also a single point (no step)
}

/** Line chart, one trace per series; `x` defaults to 0..n-1. Whole-number x gets whole-number ticks. */
export function lineChart(
  series: { name: string; x?: ArrayLike<number>; y: ArrayLike<number> }[],
  opts: ChartOptions & { markers?: boolean } = {},
): Figure {
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
  const l = layout(opts, series.length > 1);
  return { data, layout: { ...l, xaxis: integerX(data, l.xaxis) } };
}

/**
 * Histograms of one or more samples over SHARED bins, pre-binned here (so 400k weights become a
 * few dozen bars in the figure JSON, and plotly and the SVG show identical bins).
 */
export function histogram(
  series: { name: string; values: ArrayLike<number> }[],
  opts: ChartOptions & { bins?: number; range?: [number, number]; density?: boolean } = {},
): Figure {
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
    return {
      type: "bar",
      name: s.name,
      x: counts.map((_, b) => lo + (b + 0.5) * width),
      y,
      width,
      marker: { color: PALETTE[i % PALETTE.length], opacity: series.length > 1 ? 0.6 : 1 },
    };
  });
  return { data, layout: { ...layout(opts, series.length > 1), barmode: "overlay", bargap: 0 } };
}

/**
 * Bar chart of values at positions 0..n−1 (e.g. the probability of each state), one trace per series,
 * overlaid. Use `xTitle` to say what the position means.
 */
export function barChart(series: { name: string; y: ArrayLike<number> }[], opts: ChartOptions = {}): Figure {
  const data = series.map(
    (s, i): BarTrace => ({
      type: "bar",
      name: s.name,
      x: Array.from(s.y, (_, j) => j),
      y: Array.from(s.y),
      width: 0.8,
      marker: { color: PALETTE[i % PALETTE.length], opacity: series.length > 1 ? 0.6 : 1 },
    }),
  );
  const l = layout(opts, series.length > 1);
  return { data, layout: { ...l, xaxis: integerX(data, l.xaxis), barmode: "overlay" } };
}

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
  flags[EMBEDDED] = displayBundle({
    "text/html": `<script>window.PlotlyConfig={MathJaxConfig:"local"};</script>\n<script type="text/javascript">${src}</script>`,
  });
  return flags[EMBEDDED] === true;
}

let plotCounter = 0;

/**
 * The static picture an interactive chart's div starts with, so that it stays visible where scripts
 * are stripped or plotly.js is missing (untrusted notebooks, nbconvert without JS); the chart's script
 * swaps in plotly. The SVG goes in as an `<img>` data URI, not inline: JupyterLab's sanitizer (untrusted
 * outputs) removes `<svg>` elements and keeps their text, so an inline SVG became loose tick labels,
 * while `<img>` with a data URI passes it unchanged.
 */
function staticPicture(fig: Figure, svg: string): string {
  const { width, height, title } = fig.layout;
  const alt = escapeXml(title?.text ?? "chart");
  return `<img alt="${alt}" width="${width}" height="${height}" src="data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}">`;
}

/** One output bundle for a figure: plotly JSON, SVG, text, and (if `interactive`) HTML. */
export function figureBundle(fig: Figure, interactive = true): MimeBundle {
  const svg = figureSvg(fig);
  const bundle: MimeBundle = {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout },
    "image/svg+xml": svg,
    "text/plain": `<Figure${fig.layout.title ? ` "${fig.layout.title.text}"` : ""}: ${fig.data.length} trace(s)>`,
  };
  if (interactive) {
    const id = `rbm-plot-${process.pid}-${++plotCounter}`;
    const json = JSON.stringify({ data: fig.data, layout: fig.layout }).replace(/</g, "\\u003c");
    bundle["text/html"] =
      `<div id="${id}" style="width:${fig.layout.width}px;height:${fig.layout.height}px">${staticPicture(fig, svg)}</div>\n` +
      `<script>(function(){var el=document.getElementById("${id}"),f=${json};` +
      `if(window.Plotly&&el){el.innerHTML="";window.Plotly.newPlot(el,f.data,f.layout,{displaylogo:false});}})();</script>`;
  }
  return bundle;
}

/**
 * Show a figure as one multi-mime output (embedding plotly.js first if needed). `save` writes the
 * SVG; an existing file is replaced only if it is an SVG (e.g. the same figure from an earlier run),
 * otherwise refused unless `overwrite: true`.
 */
export function showFigure(fig: Figure, opts: { save?: string; overwrite?: boolean } = {}): void {
  if (opts.save) writePictureFile(opts.save, figureSvg(fig), "SVG", "showFigure", opts.overwrite === true);
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
