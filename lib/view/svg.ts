/**
 * A static SVG rendering of a plotly {@link Figure} (lines, markers, bars, heatmaps, axes, legend),
 * the fallback a notebook shows where scripts are stripped (an untrusted notebook, a GitHub preview).
 */

import { escapeXml } from "./display";
import { colormap, type Figure, type HeatmapTrace, mergeExtent, type Trace } from "./figure";
import { encodePng } from "./png";
/** The "nice" step (1, 2, 5 × 10^k) that splits [lo, hi] into about `target` intervals; NaN for an empty range. */
export function niceStep(lo: number, hi: number, target = 6): number {
  const raw = (hi - lo) / target;
  if (!(raw > 0) || !Number.isFinite(raw)) return NaN;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/** Tick values covering [lo, hi] every `step` (default: the {@link niceStep} for about `target` ticks). */
export function niceTicks(lo: number, hi: number, target = 6, step = niceStep(lo, hi, target)): number[] {
  if (!(step > 0) || !Number.isFinite(step)) return [lo];
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(1).replace("e+", "e") : String(Number(v.toPrecision(6)));
}

/** An axis mapping data → pixels, with ticks. Log axes map log10(v). */
/** A pixel coordinate as SVG writes it (one decimal). */
function px(v: number): string {
  return v.toFixed(1);
}

/** A mapped axis: data value → pixel, and its ticks (see axis()). */
type Scale = ReturnType<typeof axis>;

function axis(lo: number, hi: number, p0: number, p1: number, log: boolean, reversed = false, dtick?: number) {
  const f = (v: number) => (log ? Math.log10(v) : v);
  let [a, b] = [f(lo), f(hi)];
  if (!(b > a)) [a, b] = [a - 1, b + 1];
  let ticks = niceTicks(a, b, 6, log ? undefined : dtick);
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
  const X = axis(xlo, xhi, m.l, W - m.r, xaxis.type === "log", false, xaxis.dtick);
  const Y = axis(ylo, yhi, H - m.b, m.t, logY, yaxis.autorange === "reversed", yaxis.dtick);
  if (heat) [X, Y].forEach((A) => (A.ticks = A.ticks.filter(Number.isInteger))); // row/column indices
  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  for (const t of X.ticks) {
    const x = px(X.map(t));
    o.push(
      `<line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#e5e5e5"/><text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  for (const t of Y.ticks) {
    const y = px(Y.map(t));
    o.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#e5e5e5"/><text x="${m.l - 6}" y="${y}" dy="0.35em" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  for (const t of fig.data)
    o.push(
      ...traceSvg(t, X, Y, {
        logY,
        reversed: yaxis.autorange === "reversed",
        base: logY ? H - m.b : Y.map(0),
        colorbarAt: [W - m.r + 16, m.t, H - m.t - m.b],
      }),
    );
  o.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`);
  if (title) o.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(title.text)}</text>`);
  if (xaxis.title) o.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(xaxis.title.text)}</text>`);
  if (yaxis.title)
    o.push(`<text transform="translate(16,${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yaxis.title.text)}</text>`);
  if (showlegend) {
    fig.data.forEach((t, i) => {
      if (t.type === "heatmap") return;
      const [x, y] = [W - legendW, m.t + 8 + i * 18];
      const color = t.type === "bar" ? t.marker.color : t.line.color;
      o.push(
        `<g class="legend-item"><rect x="${x}" y="${y - 5}" width="18" height="10" fill="${color}"/><text x="${x + 24}" y="${y}" dy="0.35em">${escapeXml(t.name)}</text></g>`,
      );
    });
  }
  o.push("</svg>");
  return o.join("\n");
}

/** Where and how {@link traceSvg} draws: log y axis, rows top-down, the bars' base line, the colorbar's x, y and height. */
interface TraceFrame {
  logY: boolean;
  reversed: boolean;
  base: number;
  colorbarAt: [number, number, number];
}

/** The SVG elements of one trace: a heatmap (embedded PNG and colorbar), bars, or a line with markers. */
function traceSvg(t: Trace, X: Scale, Y: Scale, f: TraceFrame): string[] {
  const o: string[] = [];
  if (t.type === "heatmap") {
    const rows = t.z.length;
    const cols = t.z[0]?.length ?? 0;
    const rgb = new Uint8Array(rows * cols * 3);
    const span = t.zmax > t.zmin ? t.zmax - t.zmin : 1;
    // The image is drawn top-down; flip rows unless row 0 belongs at the top.
    const flip = !f.reversed;
    const color = colormap(t.colorscale);
    t.z.forEach((row, r) => row.forEach((v, c) => rgb.set(color((v - t.zmin) / span), ((flip ? rows - 1 - r : r) * cols + c) * 3)));
    const [x0, y0] = [X.map(-0.5), Math.min(Y.map(-0.5), Y.map(rows - 0.5))];
    o.push(pngImage(encodePng(rgb, cols, rows, 3), x0, y0, X.map(cols - 0.5) - x0, Math.abs(Y.map(rows - 0.5) - Y.map(-0.5))));
    o.push(colorbar(t, ...f.colorbarAt));
  } else if (t.type === "bar") {
    for (let i = 0; i < t.x.length; i++) {
      // Bars grow from 0 up or down (negative values, e.g. log-likelihoods); log axes skip y ≤ 0.
      if (!Number.isFinite(t.y[i]) || t.y[i] === 0 || (f.logY && t.y[i] < 0)) continue;
      const [x0, x1, y] = [X.map(t.x[i] - t.width / 2), X.map(t.x[i] + t.width / 2), Y.map(t.y[i])];
      o.push(
        `<rect class="bar" x="${px(x0)}" y="${px(Math.min(y, f.base))}" width="${px(x1 - x0)}" height="${px(Math.abs(f.base - y))}" fill="${t.marker.color}" fill-opacity="${t.marker.opacity}"/>`,
      );
    }
  } else {
    // Non-finite (or non-positive on log axes) points break the line, as plotly does with null.
    let d = "";
    let pen = "M";
    for (let i = 0; i < t.x.length; i++) {
      const ok = Number.isFinite(t.x[i]) && Number.isFinite(t.y[i]) && !(f.logY && t.y[i] <= 0);
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
    if (d)
      o.push(`<path class="trace" d="${d}" fill="none" stroke="${t.line.color}" stroke-width="${t.line.width}" stroke-linejoin="round"/>`);
  }
  return o;
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
