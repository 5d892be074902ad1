/**
 * Diagrams of the models and algorithms of the course, drawn as standalone SVG documents: the RBM's
 * bipartite graph, Hopfield net → Boltzmann machine → RBM, the block-Gibbs chain v → h → v, CD-k
 * versus persistent CD, the annealing path of AIS, and a deep belief network with its directed and
 * undirected parts and optional label units.
 *
 * Every builder returns a {@link Diagram} (the SVG text plus a one-line description used as the
 * text/plain fallback) and never touches tensors; {@link showDiagram} displays one in a notebook the
 * way the library's charts are displayed (an `image/svg+xml` output). Elements carry classes so a
 * reader (or a test) can find them: `node` on every unit (`node visible`, `node hidden`, `node
 * label`, `node dist` for a distribution), `edge` on every connection (`edge undirected`, `edge
 * directed`, `edge carry` for a persistent chain carried across an update).
 */

import { displayBundle, escapeXml, inNotebook } from "./display";
import { PALETTE } from "./figure";

/** A drawn diagram: the SVG document and a one-line description (the text fallback). */
export interface Diagram {
  /** A standalone SVG document (`<svg xmlns=…>…</svg>`). */
  svg: string;
  /** What the diagram shows, in one line of plain text. */
  description: string;
}

/** Colours of the unit kinds: visible (data) units, hidden units, label units. */
const FILL = { visible: "#cfe2f3", hidden: "#d9d9d9", label: "#fce5cd", data: "#b6d7a8" } as const;
type UnitKind = keyof typeof FILL;
const INK = "#333";

/** Checks that `value` is an integer in [min, max]; otherwise one error naming the argument. */
function checkCount(fn: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${fn}: ${name} = ${value} is not allowed; give a whole number from ${min} to ${max}.`);
  }
}

/** Superscript digits, for state indices such as v⁰, h¹. */
function sup(n: number): string {
  const digits = "⁰¹²³⁴⁵⁶⁷⁸⁹";
  return String(n)
    .split("")
    .map((d) => digits[Number(d)])
    .join("");
}

function f1(v: number): string {
  return v.toFixed(1);
}

/** Opens an SVG document with the arrowhead marker every diagram may use. */
function open(width: number, height: number, title?: string): string[] {
  const o = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${INK}"/></marker></defs>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title) o.push(text(width / 2, 22, title, { size: 15 }));
  return o;
}

function text(x: number, y: number, s: string, o: { size?: number; anchor?: string; italic?: boolean; color?: string } = {}): string {
  const style = `${o.size ? ` font-size="${o.size}"` : ""}${o.italic ? ' font-style="italic"' : ""}${o.color ? ` fill="${o.color}"` : ""}`;
  return `<text x="${f1(x)}" y="${f1(y)}" text-anchor="${o.anchor ?? "middle"}" dy="0.35em"${style}>${escapeXml(s)}</text>`;
}

function unit(x: number, y: number, r: number, kind: UnitKind, label?: string): string {
  const c = `<circle class="node ${kind}" cx="${f1(x)}" cy="${f1(y)}" r="${r}" fill="${FILL[kind]}" stroke="${INK}"/>`;
  return label ? c + text(x, y, label, { italic: true, size: 12 }) : c;
}

/** A connection from (x1, y1) to (x2, y2), shortened by `r1`, `r2` at the ends so it meets circles at their rims. */
function edge(
  [x1, y1, r1]: [number, number, number],
  [x2, y2, r2]: [number, number, number],
  kind: "undirected" | "directed" | "carry",
  o: { width?: number; color?: string; opacity?: number } = {},
): string {
  const d = Math.hypot(x2 - x1, y2 - y1) || 1;
  const [ux, uy] = [(x2 - x1) / d, (y2 - y1) / d];
  const [a, b] = [
    [x1 + ux * r1, y1 + uy * r1],
    [x2 - ux * r2, y2 - uy * r2],
  ];
  const arrow = kind === "undirected" ? "" : ' marker-end="url(#arrow)"';
  const dash = kind === "carry" ? ' stroke-dasharray="5,4"' : "";
  const op = o.opacity !== undefined ? ` stroke-opacity="${o.opacity}"` : "";
  return `<line class="edge ${kind}" x1="${f1(a[0])}" y1="${f1(a[1])}" x2="${f1(b[0])}" y2="${f1(b[1])}" stroke="${o.color ?? INK}" stroke-width="${o.width ?? 1.2}"${op}${dash}${arrow}/>`;
}

/** Evenly spaced x positions of `n` items centred on `cx`, `gap` apart. */
function row(n: number, cx: number, gap: number): number[] {
  return Array.from({ length: n }, (_, i) => cx + (i - (n - 1) / 2) * gap);
}

/** Options of {@link rbmDiagram}. */
export interface RBMDiagramOptions {
  /** Visible units drawn, 1–16 (default 6). */
  nVisible?: number;
  /** Hidden units drawn, 1–16 (default 4). */
  nHidden?: number;
  /** Label the parts with W, b, c, v, h (default true). */
  labels?: boolean;
  /** Title above the graph (default none). */
  title?: string;
}

/**
 * The RBM as a graph: a row of visible units v (bottom) and a row of hidden units h (top), every
 * visible unit joined to every hidden unit by an undirected weight W_ij, and none within a layer.
 * Draws nVisible + nHidden nodes and nVisible · nHidden edges.
 * @throws RangeError when a size is not a whole number in 1–16
 */
export function rbmDiagram(opts: RBMDiagramOptions = {}): Diagram {
  const { nVisible = 6, nHidden = 4, labels = true, title } = opts;
  checkCount("rbmDiagram", "nVisible", nVisible, 1, 16);
  checkCount("rbmDiagram", "nHidden", nHidden, 1, 16);
  const r = 14;
  const gap = 44;
  const span = Math.max(nVisible, nHidden) * gap;
  const width = span + (labels ? 260 : 40);
  const top = title ? 40 : 16;
  const [yh, yv] = [top + 30, top + 170];
  const cx = (labels ? 150 : 20) + span / 2;
  const xs = { v: row(nVisible, cx, gap), h: row(nHidden, cx, gap) };
  const o = open(width, yv + 40, title);
  for (const xv of xs.v) for (const xh of xs.h) o.push(edge([xv, yv, r], [xh, yh, r], "undirected", { color: "#777", width: 1 }));
  xs.h.forEach((x, j) => o.push(unit(x, yh, r, "hidden", labels ? `h${j + 1}` : undefined)));
  xs.v.forEach((x, i) => o.push(unit(x, yv, r, "visible", labels ? `v${i + 1}` : undefined)));
  if (labels) {
    o.push(text(cx - span / 2 - 10, yh, "hidden h, biases c", { anchor: "end", size: 12 }));
    o.push(text(cx + span / 2 + 10, (yh + yv) / 2, "weights W", { anchor: "start", size: 12 }));
    o.push(text(cx - span / 2 - 10, yv, "visible v, biases b", { anchor: "end", size: 12 }));
  }
  o.push("</svg>");
  return {
    svg: o.join("\n"),
    description: `<diagram: RBM with ${nVisible} visible and ${nHidden} hidden units, ${nVisible * nHidden} undirected weights>`,
  };
}

/** Options of {@link modelFamilyDiagram}. */
export interface ModelFamilyOptions {
  /** Units in each of the three networks, 3–10 (default 6). */
  units?: number;
  /** How many of them are hidden in the Boltzmann machine and the RBM, 1 to units − 1 (default 2). */
  nHidden?: number;
}

/**
 * Three networks side by side: a Hopfield net (all units visible, every pair joined), a Boltzmann
 * machine (some units hidden, every pair still joined) and an RBM (hidden units only joined to
 * visible ones). With n units and m hidden: 3n nodes, 2 · n(n − 1)/2 + (n − m) · m edges.
 * @throws RangeError when units or nHidden are out of range
 */
export function modelFamilyDiagram(opts: ModelFamilyOptions = {}): Diagram {
  const { units = 6, nHidden = 2 } = opts;
  checkCount("modelFamilyDiagram", "units", units, 3, 10);
  checkCount("modelFamilyDiagram", "nHidden", nHidden, 1, units - 1);
  const nVisible = units - nHidden;
  const [panel, height, r, R] = [230, 260, 12, 72];
  const o = open(3 * panel, height);
  const circle = (cx: number, kinds: UnitKind[]) =>
    kinds.map((k, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / kinds.length;
      return { x: cx + R * Math.cos(a), y: 125 + R * Math.sin(a), k };
    });
  const complete = (nodes: { x: number; y: number; k: UnitKind }[]) => {
    for (let i = 0; i < nodes.length; i++)
      for (let j = i + 1; j < nodes.length; j++)
        o.push(edge([nodes[i].x, nodes[i].y, r], [nodes[j].x, nodes[j].y, r], "undirected", { color: "#777" }));
    for (const n of nodes) o.push(unit(n.x, n.y, r, n.k));
  };
  const kinds: UnitKind[] = [...Array<UnitKind>(nHidden).fill("hidden"), ...Array<UnitKind>(nVisible).fill("visible")];
  complete(circle(panel / 2, Array<UnitKind>(units).fill("visible")));
  complete(circle(panel * 1.5, kinds));
  // The RBM: hidden row on top, visible row below, only between-layer edges.
  const cx = panel * 2.5;
  const [xh, xv] = [row(nHidden, cx, 40), row(nVisible, cx, 40)];
  for (const a of xv) for (const b of xh) o.push(edge([a, 190, r], [b, 70, r], "undirected", { color: "#777" }));
  for (const x of xh) o.push(unit(x, 70, r, "hidden"));
  for (const x of xv) o.push(unit(x, 190, r, "visible"));
  const captions = [
    ["Hopfield net (1982)", "deterministic, all units visible"],
    ["Boltzmann machine (1985)", "stochastic, hidden units, all pairs"],
    ["restricted BM (1986)", "no links within a layer"],
  ];
  captions.forEach(([a, b], i) => {
    o.push(text(panel * (i + 0.5), 222, a, { size: 13 }));
    o.push(text(panel * (i + 0.5), 240, b, { size: 11, color: "#555" }));
  });
  for (const x of [panel, 2 * panel]) o.push(edge([x - 14, 125, 0], [x + 14, 125, 0], "directed", { width: 2 }));
  o.push("</svg>");
  return {
    svg: o.join("\n"),
    description: `<diagram: Hopfield net → Boltzmann machine → RBM, ${units} units each (${nHidden} hidden)>`,
  };
}

/** Options of {@link gibbsChainDiagram}. */
export interface GibbsChainOptions {
  /** Full steps v → h → v drawn, 1–8 (default 3). */
  steps?: number;
  /** Mark v⁰ as a training vector (CD's start) rather than an arbitrary state (default false). */
  startAtData?: boolean;
  /** Title above the chain (default none). */
  title?: string;
}

/**
 * The block-Gibbs chain v⁰ → h⁰ → v¹ → h¹ → … → vᵏ: visible states on the bottom row, hidden states
 * on the top row, each arrow one conditional (h ~ p(h | v) up, v ~ p(v | h) down). Draws 2k + 1
 * nodes and 2k directed edges for k = steps.
 * @throws RangeError when steps is not a whole number in 1–8
 */
export function gibbsChainDiagram(opts: GibbsChainOptions = {}): Diagram {
  const { steps = 3, startAtData = false, title } = opts;
  checkCount("gibbsChainDiagram", "steps", steps, 1, 8);
  const [gap, r] = [70, 17];
  const width = 2 * steps * gap + 120;
  const top = title ? 40 : 10;
  const [yh, yv] = [top + 30, top + 130];
  const x = (i: number) => 60 + i * gap;
  const o = open(width, yv + 50, title);
  for (let i = 0; i < 2 * steps; i++) {
    const up = i % 2 === 0;
    o.push(edge([x(i), up ? yv : yh, r], [x(i + 1), up ? yh : yv, r], "directed"));
    // Name the two conditionals once, on the first up and the first down arrow.
    if (i < 2) o.push(text((x(i) + x(i + 1)) / 2 + (up ? -24 : 24), (yh + yv) / 2, up ? "p(h|v)" : "p(v|h)", { size: 11, color: "#555" }));
  }
  for (let t = 0; t <= steps; t++) {
    o.push(unit(x(2 * t), yv, r, t === 0 && startAtData ? "data" : "visible", `v${sup(t)}`));
    if (t < steps) o.push(unit(x(2 * t + 1), yh, r, "hidden", `h${sup(t)}`));
  }
  if (startAtData) o.push(text(x(0), yv + 32, "training vector", { size: 11 }));
  o.push(text(x(2 * steps), yv + 32, steps === 1 ? "one step" : `after ${steps} steps`, { size: 11 }));
  o.push("</svg>");
  return { svg: o.join("\n"), description: `<diagram: block Gibbs chain, ${steps} step(s) v → h → v>` };
}

/** Options of {@link cdPcdDiagram}. */
export interface CdPcdOptions {
  /** Gibbs steps k per update, 1–4 (default 1). */
  k?: number;
  /** Parameter updates drawn (rows), 2–5 (default 3). */
  updates?: number;
}

/**
 * CD-k beside PCD-k over a few parameter updates θ₀, θ₁, …: each row is one update. CD starts every
 * row's chain at a training vector; PCD continues each chain from where the previous row's ended
 * (a dashed `carry` edge). Per panel and row: 2k + 1 nodes and 2k directed edges; PCD adds
 * updates − 1 carry edges.
 * @throws RangeError when k or updates are out of range
 */
export function cdPcdDiagram(opts: CdPcdOptions = {}): Diagram {
  const { k = 1, updates = 3 } = opts;
  checkCount("cdPcdDiagram", "k", k, 1, 4);
  checkCount("cdPcdDiagram", "updates", updates, 2, 5);
  const [gap, r, rowH] = [44, 13, 86];
  const panel = 2 * k * gap + 150;
  const height = 60 + updates * rowH;
  const o = open(2 * panel + 20, height);
  const draw = (x0: number, persistent: boolean) => {
    o.push(text(x0 + panel / 2, 20, persistent ? `persistent CD-${k} (PCD)` : `CD-${k}`, { size: 15 }));
    const x = (i: number) => x0 + 70 + i * gap;
    for (let u = 0; u < updates; u++) {
      const [yh, yv] = [50 + u * rowH, 50 + u * rowH + 50];
      o.push(text(x0 + 20, (yh + yv) / 2, `θ${subscript(u)}`, { italic: true }));
      for (let i = 0; i < 2 * k; i++) {
        const up = i % 2 === 0;
        o.push(edge([x(i), up ? yv : yh, r], [x(i + 1), up ? yh : yv, r], "directed"));
      }
      const fromData = !persistent || u === 0;
      for (let t = 0; t <= k; t++) {
        o.push(unit(x(2 * t), yv, r, t === 0 && fromData ? "data" : "visible"));
        if (t < k) o.push(unit(x(2 * t + 1), yh, r, "hidden"));
      }
      if (persistent && u > 0) {
        // The previous row's last visible state becomes this row's start.
        const [px, py] = [x(2 * k), yv - rowH];
        const [x1, ym] = [x(0) - 26, py + 19];
        o.push(
          `<path class="edge carry" d="M${f1(px)},${f1(py + r)} L${f1(px)},${f1(ym)} L${f1(x1)},${f1(ym)} L${f1(x1)},${f1(yv)} L${f1(x(0) - r)},${f1(yv)}" fill="none" stroke="${PALETTE[3]}" stroke-width="1.5" stroke-dasharray="5,4" marker-end="url(#arrow)"/>`,
        );
      }
    }
    o.push(
      text(x0 + panel / 2, height - 14, persistent ? "chains carried across updates" : "every chain restarts at the data", {
        size: 11,
        color: "#555",
      }),
    );
  };
  draw(0, false);
  draw(panel + 20, true);
  o.push("</svg>");
  return { svg: o.join("\n"), description: `<diagram: CD-${k} vs PCD-${k} chains over ${updates} parameter updates>` };
}

function subscript(n: number): string {
  const digits = "₀₁₂₃₄₅₆₇₈₉";
  return String(n)
    .split("")
    .map((d) => digits[Number(d)])
    .join("");
}

/** Options of {@link aisPathDiagram}. */
export interface AISPathOptions {
  /** Distributions drawn along the path, p_A = p₀ … p_K = p_B, 2–9 (default 5). */
  temperatures?: number;
}

/**
 * The AIS path of distributions p_k ∝ p_A^{1−β_k} p_B^{β_k} for β_k evenly spaced from 0 to 1, each
 * drawn as a small 1-D density: a broad base p_A turning into a two-mode target p_B. Between
 * neighbours, an arrow for the transition T_k that leaves p_k invariant. Draws `temperatures`
 * distribution nodes and temperatures − 1 directed edges.
 * @throws RangeError when temperatures is not a whole number in 2–9
 */
export function aisPathDiagram(opts: AISPathOptions = {}): Diagram {
  const { temperatures = 5 } = opts;
  checkCount("aisPathDiagram", "temperatures", temperatures, 2, 9);
  const [w, h, gap] = [96, 70, 40];
  const width = temperatures * w + (temperatures - 1) * gap + 40;
  const o = open(width, 170);
  const K = temperatures - 1;
  const logA = (x: number) => -0.5 * ((x - 0.5) / 0.35) ** 2;
  const logB = (x: number) =>
    Math.log(0.65 * Math.exp(-0.5 * ((x - 0.28) / 0.09) ** 2) + 0.35 * Math.exp(-0.5 * ((x - 0.75) / 0.07) ** 2) + 1e-12);
  const xs = Array.from({ length: 81 }, (_, i) => i / 80);
  for (let k = 0; k <= K; k++) {
    const beta = k / K;
    const logp = xs.map((x) => (1 - beta) * logA(x) + beta * logB(x));
    const peak = Math.max(...logp);
    const ys = logp.map((l) => Math.exp(l - peak));
    const x0 = 20 + k * (w + gap);
    const d = xs.map((x, i) => `${i === 0 ? "M" : "L"}${f1(x0 + x * w)},${f1(40 + h - ys[i] * (h - 6))}`).join("");
    o.push(
      `<g class="node dist"><rect x="${x0}" y="40" width="${w}" height="${h}" fill="#fafafa" stroke="#999"/><path d="${d}" fill="none" stroke="${PALETTE[0]}" stroke-width="2"/></g>`,
    );
    const name = k === 0 ? "p_A = p₀" : k === K ? `p_B = p${subscript(K)}` : `p${subscript(k)}`;
    o.push(text(x0 + w / 2, 124, name, { italic: true }));
    o.push(text(x0 + w / 2, 142, `β = ${Number(beta.toFixed(2))}`, { size: 11, color: "#555" }));
    if (k < K) {
      o.push(edge([x0 + w + 4, 75, 0], [x0 + w + gap - 4, 75, 0], "directed", { width: 1.5 }));
      o.push(text(x0 + w + gap / 2, 62, `T${subscript(k + 1)}`, { size: 11, italic: true }));
    }
  }
  o.push(text(width / 2, 20, "annealing from a base with known Z_A to the RBM: p_k ∝ p_A^(1−β_k) · p_B^(β_k)", { size: 13 }));
  o.push("</svg>");
  return { svg: o.join("\n"), description: `<diagram: AIS path through ${temperatures} distributions from p_A to p_B>` };
}

/** Options of {@link dbnDiagram}. */
export interface DBNDiagramOptions {
  /**
   * Layer sizes from the data up, e.g. `[784, 500, 500, 2000]` (Hinton, Osindero & Teh 2006): 2–8
   * layers of 1 to 1,000,000 units. The first is the visible (data) layer.
   */
  sizes: number[];
  /** Label units (a softmax group) joined to the top layer beside the penultimate one; 0 = none (default 0). */
  labels?: number;
  /** Units drawn per layer, 2–12 (default 5); larger layers are drawn with that many units and "…". */
  maxUnits?: number;
  /** Title above the diagram (default none). */
  title?: string;
}

/**
 * A deep belief network: layers drawn from the data (bottom) up, each with its size written beside
 * it. The top two layers form an undirected RBM (plain lines, `edge undirected`); every lower pair is
 * a directed sigmoid belief net pointing down to the data (arrows, `edge directed`), the generative
 * direction. With `labels` > 0 a softmax group of label units y sits beside the penultimate layer,
 * joined undirected to the top layer (the label-joined top RBM of chapter 7).
 *
 * Counts, with d_l = min(sizes[l], maxUnits) units drawn per layer and d_y = min(labels, maxUnits):
 * nodes Σ d_l + d_y; directed edges Σ_{l < L−2} d_l · d_{l+1}; undirected edges d_{L−2} · d_{L−1} +
 * d_y · d_{L−1}. A two-layer "DBN" is a single RBM: no directed edges.
 *
 * @example
 * rbmlib.showDiagram(rbmlib.dbnDiagram({ sizes: [784, 500, 500, 2000], labels: 10, title: "The DBN of chapter 7" }));
 * @throws RangeError when sizes, labels or maxUnits are out of range
 */
export function dbnDiagram(opts: DBNDiagramOptions): Diagram {
  const { sizes, labels = 0, maxUnits = 5, title } = opts;
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.length > 8) {
    throw new RangeError(
      `dbnDiagram: sizes must list 2 to 8 layer sizes from the data up (e.g. [784, 500, 500, 2000]); got ${JSON.stringify(sizes)}.`,
    );
  }
  sizes.forEach((n, l) => checkCount("dbnDiagram", `sizes[${l}]`, n, 1, 1_000_000));
  checkCount("dbnDiagram", "labels", labels, 0, 1_000_000);
  checkCount("dbnDiagram", "maxUnits", maxUnits, 2, 12);
  const L = sizes.length;
  const drawn = sizes.map((n) => Math.min(n, maxUnits));
  const dy = Math.min(labels, maxUnits);
  const [gap, r, layerH] = [34, 11, 92];
  const unitsW = maxUnits * gap;
  const labelW = labels > 0 ? dy * gap + 60 : 0;
  const width = unitsW + labelW + 240;
  const top = title ? 44 : 16;
  const height = top + (L - 1) * layerH + 60;
  const y = (l: number) => top + 22 + (L - 1 - l) * layerH;
  const cx = 110 + unitsW / 2;
  const xs = drawn.map((d) => row(d, cx, gap));
  const xy = row(dy, cx + unitsW / 2 + 40 + (dy * gap) / 2, gap);
  const o = open(width, height, title);
  for (let l = 0; l + 1 < L; l++) {
    const undirected = l === L - 2;
    for (const a of xs[l])
      for (const b of xs[l + 1]) {
        // Directed layers point down, from layer l + 1 to layer l (the generative direction).
        o.push(
          undirected
            ? edge([a, y(l), r], [b, y(l + 1), r], "undirected", { color: "#666" })
            : edge([b, y(l + 1), r], [a, y(l), r], "directed", { color: "#666", width: 0.9 }),
        );
      }
  }
  const yLab = y(L - 2);
  for (const a of xy)
    for (const b of xs[L - 1]) o.push(edge([a, yLab, r], [b, y(L - 1), r], "undirected", { color: PALETTE[1], opacity: 0.8 }));
  for (let l = 0; l < L; l++) {
    xs[l].forEach((x) => o.push(unit(x, y(l), r, l === 0 ? "visible" : "hidden")));
    if (sizes[l] > drawn[l]) o.push(text(xs[l][drawn[l] - 1] + 24, y(l), "…"));
    const name = l === 0 ? "v (data)" : `h${sup(l)}`;
    o.push(text(cx - unitsW / 2 - 24, y(l), `${name}: ${sizes[l].toLocaleString("en-US")}`, { anchor: "end", size: 12 }));
  }
  if (dy > 0) {
    xy.forEach((x) => o.push(unit(x, yLab, r, "label")));
    if (labels > dy) o.push(text(xy[dy - 1] + 22, yLab, "…"));
    o.push(text(xy[0] - 16 + ((dy - 1) * gap) / 2, yLab + 26, `y: ${labels} labels (softmax)`, { size: 12 }));
  }
  const right = cx + unitsW / 2 + labelW + 16;
  const mid = (l: number) => (y(l) + y(l + 1)) / 2;
  o.push(text(right, mid(L - 2), "undirected (RBM)", { anchor: "start", size: 12 }));
  for (let l = 0; l + 2 < L; l++) o.push(text(right, mid(l), "directed, top-down", { anchor: "start", size: 12 }));
  o.push("</svg>");
  return {
    svg: o.join("\n"),
    description: `<diagram: DBN ${sizes.join("-")}${labels > 0 ? ` with ${labels} label units` : ""}: top pair undirected, ${L - 2} directed layer(s) below>`,
  };
}

/** Show a diagram in the notebook as an `image/svg+xml` output (with its description as text); nothing outside a notebook. */
export function showDiagram(d: Diagram): void {
  if (inNotebook()) displayBundle({ "image/svg+xml": d.svg, "text/plain": d.description });
}
