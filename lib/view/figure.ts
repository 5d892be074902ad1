/**
 * The figure data model shared by the chart builders (charts.ts) and the SVG renderer (svg.ts): plotly
 * traces and layout (the subset the course uses), the palette and the colour scales.
 */
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
  /** Spacing of the ticks in data units (plotly's `dtick`); the builders set 1 on a short axis of whole numbers (epochs, states) so no tick falls between them. */
  dtick?: number;
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

export function mergeExtent(a: [number, number], b: [number, number]): [number, number] {
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

/** Heatmap colours: "viridis" (sequential), "diverging" blue (−) / white (0) / red (+), "gray". */
export type ColorscaleName = "viridis" | "diverging" | "gray";

/** Colorscales as `[t, [r,g,b]]` stops. */
export const SCALES: Record<ColorscaleName, [number, number[]][]> = {
  viridis: [
    [0, [68, 1, 84]],
    [0.25, [59, 82, 139]],
    [0.5, [33, 145, 140]],
    [0.75, [94, 201, 98]],
    [1, [253, 231, 37]],
  ],
  diverging: [
    [0, [33, 102, 172]],
    [0.25, [146, 197, 222]],
    [0.5, [247, 247, 247]],
    [0.75, [244, 165, 130]],
    [1, [178, 24, 43]],
  ],
  gray: [
    [0, [0, 0, 0]],
    [1, [255, 255, 255]],
  ],
};

/** A `[t, "rgb(r,g,b)"]` colorscale as a function t in [0,1] → [r, g, b] (linear between stops). */
export function colormap(scale: [number, string][]): (t: number) => number[] {
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
