/** Tests of the "seeing the model" layer: PNG, image grids, figures, SVG, notebook outputs, tables. */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as zlib from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { barChart, embedPlotly, figureBundle, heatmap, histogram, lineChart, liveChart, showFigure } from "../../lib/view/charts";
import { type MimeBundle, setDisplaySink } from "../../lib/view/display";
import { gridPng, imageGrid, showImages, upscale } from "../../lib/view/images";
import { crc32, encodePng } from "../../lib/view/png";
import { figureSvg, niceTicks } from "../../lib/view/svg";
import { formatCell, historyTable, saveCsv, showTable, tableHtml, tableText, toCsv } from "../../lib/view/table";
import { decodePng } from "../support/png";

/** Minimal XML well-formedness check: balanced tags, quoted attributes, one root. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|>/g;
  let roots = 0;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    assert.ok(m[2], `stray '${m[0]}' at ${m.index}: ${xml.slice(m.index - 30, m.index + 30)}`);
    if (m[1]) assert.equal(stack.pop(), m[2], `unbalanced </${m[2]}>`);
    else if (!m[4]) {
      if (stack.length === 0) roots++;
      stack.push(m[2]);
    } else if (stack.length === 0) roots++;
  }
  assert.deepEqual(stack, []);
  assert.equal(roots, 1);
}

const count = (s: string, sub: string) => s.split(sub).length - 1;

/** Capture outputs instead of talking to a kernel. */
function capture(): { outputs: { bundle: MimeBundle; id?: string; update: boolean }[]; restore(): void } {
  const outputs: { bundle: MimeBundle; id?: string; update: boolean }[] = [];
  setDisplaySink((bundle, id, update) => outputs.push({ bundle, id, update }));
  return { outputs, restore: () => setDisplaySink(undefined) };
}

test("crc32 matches the standard check value and zlib", () => {
  assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926);
  const r = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) % 256));
  assert.equal(crc32(r), zlib.crc32(r));
});

test("PNG round-trips grayscale and RGB pixels", () => {
  for (const [w, h, ch] of [
    [1, 1, 1],
    [13, 7, 1],
    [5, 9, 3],
    [64, 3, 3],
  ] as const) {
    const pixels = Uint8Array.from({ length: w * h * ch }, (_, i) => (i * 37 + 11) % 256);
    const d = decodePng(encodePng(pixels, w, h, ch));
    assert.deepEqual([d.width, d.height, d.channels], [w, h, ch]);
    assert.deepEqual(d.pixels, pixels);
  }
  assert.throws(() => encodePng(new Uint8Array(5), 2, 2, 1), /expected 4 bytes/);
});

/** 5 images of 2×3, image i has values i*10 + p²/5 (p = pixel index 0..5, so each tile spans 5). */
const H = 2,
  W = 3,
  N = 5;
const flat = Float32Array.from({ length: N * H * W }, (_, k) => Math.floor(k / (H * W)) * 10 + (k % (H * W)) ** 2 / 5);

test("imageGrid places tiles row-major with padding and per-tile scaling", () => {
  const g = imageGrid(flat, { height: H, width: W, cols: 2, padding: 1, background: 0 });
  assert.deepEqual([g.width, g.height], [2 * W + 1, 3 * H + 2]);
  for (let i = 0; i < N; i++) {
    const [ox, oy] = [(i % 2) * (W + 1), Math.floor(i / 2) * (H + 1)];
    for (let p = 0; p < H * W; p++) {
      // each tile spans 0..5 after subtracting its min: gray = round(p²/5 / 5 * 255)
      const px = g.pixels[(oy + Math.floor(p / W)) * g.width + ox + (p % W)];
      assert.equal(px, Math.round(((p * p) / 25) * 255), `tile ${i} pixel ${p}`);
    }
  }
  assert.equal(g.pixels[W], 0, "padding column has the background");
  // the empty 6th slot stays background
  assert.equal(g.pixels[2 * (H + 1) * g.width + W + 1], 0);
});

test("global scaling compares tiles; 'none' clips to [0,1]", () => {
  const g = imageGrid(flat, { height: H, width: W, cols: N, padding: 0, scale: "global" });
  const [lo, hi] = [0, (N - 1) * 10 + 5];
  for (let i = 0; i < N; i++) assert.equal(g.pixels[i * W], Math.round(((i * 10 - lo) / (hi - lo)) * 255));
  const n = imageGrid([[-1, 0, 0.5, 1, 2, NaN]], { height: H, width: W, scale: "none" });
  assert.deepEqual([...n.pixels], [0, 0, 128, 255, 255, 0]);
  const c = imageGrid([[3, 3, 3, 3, 3, 3]], { height: H, width: W });
  assert.ok(
    c.pixels.every((v) => v === 128),
    "a constant tile is mid-gray",
  );
});

test("rows, tensors and weight columns give the same grid; zoom is nearest-neighbour", () => {
  const rows = Array.from({ length: N }, (_, i) => Array.from(flat.subarray(i * H * W, (i + 1) * H * W)));
  const ref = imageGrid(flat, { height: H, width: W });
  assert.deepEqual(imageGrid(rows, { height: H, width: W }), ref);
  const t = tf.tensor2d(flat, [N, H * W]);
  const tt = t.transpose<tf.Tensor2D>();
  assert.deepEqual(imageGrid(t, { height: H, width: W }), ref);
  assert.deepEqual(imageGrid(tt, { height: H, width: W, columns: true }), ref);
  tf.dispose([t, tt]);
  const z = imageGrid(flat, { height: H, width: W, zoom: 3 });
  assert.deepEqual([z.width, z.height], [ref.width * 3, ref.height * 3]);
  for (let y = 0; y < z.height; y++)
    for (let x = 0; x < z.width; x++)
      assert.equal(z.pixels[y * z.width + x], ref.pixels[Math.floor(y / 3) * ref.width + Math.floor(x / 3)]);
  assert.deepEqual(upscale(ref, 1), ref);
  assert.throws(() => imageGrid(new Float32Array(7), { height: H, width: W }), /multiple of 6/);
});

test("500 filters of 28x28: weight columns tile like the same filters as rows, and the PNG holds exactly the grid", () => {
  // (How long tiling and encoding take is measured by bench/view.ts, not asserted here.)
  const w = Float32Array.from({ length: 784 * 500 }, (_, i) => Math.sin(i * 0.37));
  const asRows = new Float32Array(w.length); // w as a [784, 500] weight matrix, transposed
  for (let p = 0; p < 784; p++) for (let j = 0; j < 500; j++) asRows[j * 784 + p] = w[p * 500 + j];
  const g = imageGrid(w, { height: 28, width: 28, columns: true });
  assert.deepEqual([g.width, g.height], [23 * 28 + 22, 22 * 28 + 21], "23 × 22 tiles with 1 px padding");
  assert.deepEqual(g, imageGrid(asRows, { height: 28, width: 28 }));
  const ref = imageGrid(w, { height: 28, width: 28 });
  const d = decodePng(gridPng(w, { height: 28, width: 28 }));
  assert.deepEqual([d.width, d.height, d.channels], [23 * 28 + 22, 22 * 28 + 21, 1]);
  assert.deepEqual(d.pixels, ref.pixels);
});

test("figure builders produce plotly data/layout", () => {
  const f = lineChart(
    [
      { name: "train", y: [3, 2, 1] },
      { name: "valid", x: [1, 2, 3], y: [4, 3, 2.5] },
    ],
    { title: "loss", xTitle: "epoch", logY: true },
  );
  assert.equal(f.data.length, 2);
  assert.deepEqual(
    f.data.map((t) => t.type),
    ["scatter", "scatter"],
  );
  assert.deepEqual(f.data[0].type === "scatter" && f.data[0].x, [0, 1, 2]);
  assert.notEqual(f.data[0].type === "scatter" && f.data[0].line.color, f.data[1].type === "scatter" && f.data[1].line.color);
  assert.deepEqual(
    [f.layout.title?.text, f.layout.xaxis.title?.text, f.layout.yaxis.type, f.layout.showlegend],
    ["loss", "epoch", "log", true],
  );

  const values = Float32Array.from({ length: 1000 }, (_, i) => (i % 100) / 10); // 0..9.9, uniform
  const h = histogram(
    [
      { name: "w", values },
      { name: "b", values: [0, 9.9] },
    ],
    { bins: 10 },
  );
  const [a, b] = h.data;
  assert.ok(a.type === "bar" && b.type === "bar");
  assert.deepEqual(a.y, new Array(10).fill(100));
  assert.equal(
    b.y.reduce((s, v) => s + v, 0),
    2,
    "max value lands in the last bin",
  );
  assert.deepEqual(a.x, b.x, "shared bins");
  assert.ok(Math.abs(a.x[0] - (0 + 0.99 / 2)) < 1e-9);
  const d = histogram([{ name: "w", values }], { bins: 7, density: true }).data[0];
  assert.ok(d.type === "bar" && Math.abs(d.y.reduce((s, v) => s + v * d.width, 0) - 1) < 1e-9, "density integrates to 1");

  const m = heatmap([
    [-1, 0.5],
    [2, 0],
  ]);
  const t = m.data[0];
  assert.ok(t.type === "heatmap");
  assert.deepEqual([t.zmin, t.zmax], [-2, 2], "diverging scale is symmetric around 0");
  assert.equal(m.layout.yaxis.autorange, "reversed");
  const v = heatmap([[1, 2]]).data[0];
  assert.ok(v.type === "heatmap" && v.zmin === 1 && v.zmax === 2 && v.colorscale[0][1] === "rgb(68,1,84)");
});

test("whole-number x (epochs, states) gets one tick per integer, never 1.5 or 2.5", () => {
  const xTicks = (svg: string) => [...svg.matchAll(/text-anchor="middle">([^<]*)<\/text>/g)].map((m) => m[1]);
  const epochs = lineChart([{ name: "recon", x: [1, 2, 3], y: [0.3, 0.2, 0.1] }], { xTitle: "epoch" });
  assert.equal(epochs.layout.xaxis.dtick, 1, "plotly gets dtick 1");
  assert.equal(epochs.layout.xaxis.title?.text, "epoch");
  assert.deepEqual(xTicks(figureSvg(epochs)).slice(0, 3), ["1", "2", "3"]);
  assert.equal(lineChart([{ name: "one epoch", x: [1], y: [0.3] }]).layout.xaxis.dtick, 1);
  assert.equal(barChart([{ name: "p", y: [0.5, 0.25, 0.25] }]).layout.xaxis.dtick, 1);
  // Long integer ranges already get integer steps; fractional x keeps plotly's own ticks.
  assert.equal(lineChart([{ name: "steps", y: new Array(100).fill(0) }]).layout.xaxis.dtick, undefined);
  assert.equal(lineChart([{ name: "t", x: [0, 0.5, 1], y: [1, 2, 3] }]).layout.xaxis.dtick, undefined);
  assert.deepEqual(niceTicks(0, 10, 6, 2.5), [0, 2.5, 5, 7.5, 10], "an explicit step");
});

test("SVG fallback is well-formed with one path per series, markers, legend and breaks", () => {
  const f = lineChart(
    [
      { name: "a", y: [1, 2, NaN, 4, 5] },
      { name: "b<c", y: [5, 4, 3, 2, 1] },
      { name: "c", y: [0, 1, 0, 1, 0] },
    ],
    { title: "t & u", markers: true },
  );
  const svg = figureSvg(f);
  assertWellFormed(svg);
  assert.equal(count(svg, 'class="trace"'), 3);
  assert.equal(count(svg, 'class="legend-item"'), 3);
  assert.equal(count(svg, 'class="marker"'), 14, "one marker per finite point");
  const firstPath = /class="trace" d="([^"]*)"/.exec(svg)?.[1] ?? "";
  assert.equal(count(firstPath, "M"), 2, "NaN breaks the line");
  assert.ok(svg.includes("b&#60;c") && svg.includes("t &#38; u"), "text is escaped");
  const single = figureSvg(lineChart([{ name: "only", y: [1, 2] }]));
  assert.equal(count(single, 'class="legend-item"'), 0);

  const hs = figureSvg(histogram([{ name: "x", values: [1, 1, 2, 5] }], { bins: 4 }));
  assertWellFormed(hs);
  assert.equal(count(hs, 'class="bar"'), 3, "empty bins draw nothing");
  const hm = figureSvg(
    heatmap(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { title: "W" },
    ),
  );
  assertWellFormed(hm);
  assert.equal(count(hm, "<image "), 2, "matrix + colorbar");
  const log = figureSvg(lineChart([{ name: "e", y: [1000, 100, 10, 1, 0.1] }], { logY: true }));
  assertWellFormed(log);
  for (const label of [">1000<", ">100<", ">10<", ">1<", ">0.1<"]) assert.ok(log.includes(label), `log tick ${label}`);
});

test("niceTicks steps by 1/2/5 x 10^k inside the range", () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-3, 7, 5), [-2, 0, 2, 4, 6]);
  assert.deepEqual(niceTicks(0.12, 0.37, 5), [0.15, 0.2, 0.25, 0.3, 0.35]);
});

test("showFigure sends one multi-mime bundle and embeds plotly.js once per session", () => {
  const cap = capture();
  try {
    const fig = lineChart([{ name: "a", y: [1, 2, 3] }]);
    showFigure(fig);
    showFigure(fig);
    showFigure(histogram([{ name: "h", values: [1, 2, 3] }]));
    const html = cap.outputs.map((o) => String(o.bundle["text/html"] ?? ""));
    assert.equal(html.filter((h) => h.includes("plotly.js v")).length, 1, "plotly.js embedded once");
    assert.ok(html[0].includes("plotly.js v") && !html[0].includes("</script><script>(function"), "library comes first");
    const figs = cap.outputs.filter((o) => "application/vnd.plotly.v1+json" in o.bundle);
    assert.equal(figs.length, 3);
    for (const o of figs) {
      assert.deepEqual(Object.keys(o.bundle).sort(), ["application/vnd.plotly.v1+json", "image/svg+xml", "text/html", "text/plain"]);
      const h = String(o.bundle["text/html"]);
      assert.ok(h.includes("Plotly.newPlot"), "interactive");
      // The static fallback is the bundle's own SVG as an <img> data URI (JupyterLab's sanitizer strips inline <svg>).
      const src = /<img [^>]*src="data:image\/svg\+xml;base64,([^"]+)"/.exec(h)?.[1];
      assert.ok(src, "the div starts with the SVG as an <img>");
      assert.equal(Buffer.from(src, "base64").toString("utf8"), o.bundle["image/svg+xml"]);
      assert.ok(!h.includes("<svg"), "no inline <svg>");
      assert.equal(count(h, "<script"), 1);
    }
    assert.deepEqual(figs[0].bundle["application/vnd.plotly.v1+json"], { data: fig.data, layout: fig.layout });
    assert.equal(embedPlotly(), false);
    assert.equal(embedPlotly(true), true, "force re-embeds");
  } finally {
    cap.restore();
  }
  setDisplaySink(null); // terminal: nothing shown, no error
  showFigure(lineChart([{ name: "a", y: [1] }]));
  setDisplaySink(undefined);
});

test("liveChart updates one display entry in place without re-embedding plotly", () => {
  embedPlotly(true); // ensure the flag is set regardless of test order
  const cap = capture();
  try {
    let now = 0;
    const live = liveChart({ now: () => now, minIntervalMs: 100 });
    for (let e = 1; e <= 5; e++) {
      now = e * 60;
      live.update(lineChart([{ name: "loss", y: Array.from({ length: e }, (_, i) => 1 / (i + 1)) }]));
    }
    live.done();
    const o = cap.outputs;
    assert.ok(o.every((x) => !String(x.bundle["text/html"] ?? "").includes("plotly.js v")));
    assert.equal(o.length, 3 + 1, "updates at t=60, 180, 300, then done");
    assert.ok(new Set(o.map((x) => x.id)).size === 1 && o[0].id);
    assert.deepEqual(
      o.map((x) => x.update),
      [false, true, true, true],
    );
    assert.ok(!("text/html" in o[1].bundle) && "image/svg+xml" in o[1].bundle && "application/vnd.plotly.v1+json" in o[1].bundle);
    assert.ok("text/html" in o[3].bundle, "final draw is interactive");
    const last = o[3].bundle["application/vnd.plotly.v1+json"] as { data: { y: number[] }[] };
    assert.equal(last.data[0].y.length, 5, "done shows the latest figure");
  } finally {
    cap.restore();
  }
});

test("showImages shows a PNG in a notebook and saves in a terminal", () => {
  const cap = capture();
  try {
    showImages(flat, { height: H, width: W, zoom: 2 });
    const png = cap.outputs[0].bundle["image/png"];
    assert.ok(png instanceof Uint8Array);
    assert.equal(decodePng(png).width, imageGrid(flat, { height: H, width: W }).width * 2);
  } finally {
    cap.restore();
  }
  setDisplaySink(null);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rbm-")), "grid.png");
  showImages(flat, { height: H, width: W, save: file });
  assert.ok(decodePng(fs.readFileSync(file)).width > 0);
  setDisplaySink(undefined);
});

test("tables: formatted HTML and text, CSV quoting, no silent overwrite", () => {
  const rows = [
    { epoch: 1, recon: 0.123456, note: "a<b" },
    { epoch: 2, recon: 1.5e-7, note: 'x,"y"' },
    { epoch: 10, recon: 0.05, val: 2 },
  ];
  assert.deepEqual([formatCell(0.123456), formatCell(1.5e-7), formatCell(12), formatCell(NaN)], ["0.1235", "1.500e-7", "12", "NaN"]);
  const html = tableHtml(rows, { caption: "History" });
  assert.ok(html.includes("<caption") && html.includes("History"));
  assert.equal(count(html, "<th "), 4);
  assert.equal(count(html, "<tr"), 4);
  assert.ok(html.includes(">0.1235<") && html.includes("a&#60;b") && !html.includes("a<b"));
  const text = tableText(rows).split("\n");
  assert.equal(text.length, 5);
  assert.equal(text[0].indexOf("recon") + 5, text[2].indexOf("0.1235") + 6, "numbers right-aligned under header");
  const long = tableText(
    Array.from({ length: 100 }, (_, i) => ({ i })),
    { maxRows: 10 },
  ).split("\n");
  assert.equal(long.length, 2 + 11);
  assert.ok(long.includes("…") || long.some((l) => l.trim() === "…"));

  const csv = toCsv(rows);
  assert.equal(csv, 'epoch,recon,note,val\n1,0.123456,a<b,\n2,1.5e-7,"x,""y""",\n10,0.05,,2\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-"));
  const file = path.join(dir, "history.csv");
  saveCsv(rows, file);
  assert.equal(fs.readFileSync(file, "utf8"), csv);
  assert.throws(() => saveCsv(rows.slice(0, 1), file), /already exists/);
  assert.equal(fs.readFileSync(file, "utf8"), csv, "file untouched");
  saveCsv(rows.slice(0, 1), file, { overwrite: true });
  assert.equal(fs.readFileSync(file, "utf8").split("\n").length, 3);
  assert.deepEqual(fs.readdirSync(dir), ["history.csv"], "no temp files left");
});

test("figureBundle text/plain summarises", () => {
  const b = figureBundle(lineChart([{ name: "a", y: [1] }], { title: "T" }), false);
  assert.equal(b["text/plain"], '<Figure "T": 1 trace(s)>');
  assert.ok(!("text/html" in b));
});

test("historyTable builds a danfo DataFrame that tables render", () => {
  const t = performance.now();
  const df = historyTable([
    { epoch: 1, recon: 0.5 },
    { epoch: 2, recon: 0.25, val: 0.3 },
  ]);
  console.log(`# first historyTable (loads danfojs-node) ${(performance.now() - t).toFixed(0)} ms`);
  assert.deepEqual(df.columns, ["epoch", "recon", "val"]);
  assert.deepEqual(df.shape, [2, 3]);
  assert.equal(toCsv(df), "epoch,recon,val\n1,0.5,NaN\n2,0.25,0.3\n");
  const cap = capture();
  try {
    showTable(df, { caption: "h" });
    assert.ok(String(cap.outputs[0].bundle["text/html"]).includes(">0.25<"));
  } finally {
    cap.restore();
  }
});

test("bar charts: one bar per value, negative values grow downwards from 0 in the SVG fallback", () => {
  const fig = barChart([{ name: "log p", y: [-189.7, -198.3, 12] }], { title: "mixed signs" });
  assert.deepEqual(fig.data[0].type === "bar" ? fig.data[0].x : [], [0, 1, 2]);
  const svg = figureSvg(fig);
  const bars = [...svg.matchAll(/<rect class="bar" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  assert.equal(bars.length, 3, "every bar is drawn");
  // The two negative bars start at the zero line (same top y) and hang below it; the positive one ends there.
  assert.equal(bars[0][0], bars[1][0]);
  assert.ok(bars[1][1] > bars[0][1], "−198.3 is longer than −189.7");
  assert.ok(Math.abs(bars[2][0] + bars[2][1] - bars[0][0]) < 0.6, "the positive bar's bottom is the zero line");
  assert.match(svg, /text-anchor="end">-200<\/text>/, "y ticks cover the negative range");
});
