// The diagrams: each is one well-formed SVG document whose nodes and edges follow its arguments,
// and a bad argument is one clear error naming it.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  aisPathDiagram,
  cdPcdDiagram,
  type Diagram,
  dbnDiagram,
  gibbsChainDiagram,
  modelFamilyDiagram,
  rbmDiagram,
  setDisplaySink,
  showDiagram,
} from "../../lib/index";

/** Elements whose class attribute starts with `cls` (e.g. "node", "edge directed"). */
function count(svg: string, cls: string): number {
  return svg.match(new RegExp(`class="${cls}[" ]`, "g"))?.length ?? 0;
}

/**
 * A small XML well-formedness check: one root <svg> with the SVG namespace, every tag closed in
 * order, no raw "&" or "<" in text or attributes.
 */
function assertWellFormed(d: Diagram, what: string): void {
  const { svg } = d;
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), `${what}: not an SVG document`);
  assert.ok(svg.trimEnd().endsWith("</svg>"), `${what}: does not end with </svg>`);
  assert.ok(!/&(?!#\d+;|amp;|lt;|gt;|quot;)/.test(svg), `${what}: an unescaped &`);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)([^<>]*?)(\/?)>/g)) {
    const [, close, name, attrs, self] = m;
    assert.ok(!/[<]/.test(attrs), `${what}: "<" inside the attributes of <${name}>`);
    if (self) continue;
    if (close) assert.equal(stack.pop(), name, `${what}: </${name}> closes the wrong element`);
    else stack.push(name);
  }
  assert.deepEqual(stack, [], `${what}: unclosed elements ${stack.join(", ")}`);
  assert.ok(/width="\d+(\.\d+)?" height="\d+(\.\d+)?"/.test(svg), `${what}: no width and height`);
  assert.ok(!/NaN|undefined|Infinity/.test(svg), `${what}: a NaN/undefined/Infinity in the drawing`);
  assert.ok(d.description.length > 10, `${what}: no description`);
}

test("rbmDiagram: nVisible + nHidden nodes, nVisible · nHidden undirected edges", () => {
  for (const [nV, nH] of [
    [1, 1],
    [6, 4],
    [3, 9],
  ]) {
    const d = rbmDiagram({ nVisible: nV, nHidden: nH });
    assertWellFormed(d, `rbmDiagram(${nV}, ${nH})`);
    assert.equal(count(d.svg, "node visible"), nV);
    assert.equal(count(d.svg, "node hidden"), nH);
    assert.equal(count(d.svg, "edge undirected"), nV * nH);
    assert.equal(count(d.svg, "edge directed"), 0);
  }
  assert.ok(rbmDiagram({ title: "A & B" }).svg.includes("A &#38; B"), "the title is escaped");
});

test("modelFamilyDiagram: complete graphs for Hopfield and BM, bipartite for the RBM", () => {
  for (const [n, m] of [
    [3, 1],
    [6, 2],
    [10, 4],
  ]) {
    const d = modelFamilyDiagram({ units: n, nHidden: m });
    assertWellFormed(d, `modelFamilyDiagram(${n}, ${m})`);
    assert.equal(count(d.svg, "node"), 3 * n);
    assert.equal(count(d.svg, "node hidden"), 2 * m, "hidden units in the BM and the RBM");
    assert.equal(count(d.svg, "edge undirected"), n * (n - 1) + (n - m) * m);
  }
});

test("gibbsChainDiagram: 2k + 1 states and 2k arrows", () => {
  for (const k of [1, 3, 8]) {
    const d = gibbsChainDiagram({ steps: k });
    assertWellFormed(d, `gibbsChainDiagram(${k})`);
    assert.equal(count(d.svg, "node"), 2 * k + 1);
    assert.equal(count(d.svg, "node hidden"), k);
    assert.equal(count(d.svg, "edge directed"), 2 * k);
  }
  assert.equal(count(gibbsChainDiagram({ steps: 2, startAtData: true }).svg, "node data"), 1);
  assert.equal(count(gibbsChainDiagram({ steps: 2 }).svg, "node data"), 0);
});

test("cdPcdDiagram: CD restarts at the data every update, PCD carries its chains across", () => {
  for (const [k, u] of [
    [1, 2],
    [2, 3],
    [4, 5],
  ]) {
    const d = cdPcdDiagram({ k, updates: u });
    assertWellFormed(d, `cdPcdDiagram(${k}, ${u})`);
    assert.equal(count(d.svg, "node"), 2 * u * (2 * k + 1));
    assert.equal(count(d.svg, "edge directed"), 2 * u * 2 * k);
    assert.equal(count(d.svg, "edge carry"), u - 1);
    assert.equal(count(d.svg, "node data"), u + 1, "every CD row and PCD's first row start at data");
  }
});

test("aisPathDiagram: one distribution per temperature, one transition between neighbours", () => {
  for (const n of [2, 5, 9]) {
    const d = aisPathDiagram({ temperatures: n });
    assertWellFormed(d, `aisPathDiagram(${n})`);
    assert.equal(count(d.svg, "node dist"), n);
    assert.equal(count(d.svg, "edge directed"), n - 1);
  }
});

test("dbnDiagram: directed lower layers, an undirected top pair, label units joined to the top", () => {
  const d = dbnDiagram({ sizes: [784, 500, 500, 2000], labels: 10, maxUnits: 5 });
  assertWellFormed(d, "dbnDiagram(784-500-500-2000 + 10)");
  assert.equal(count(d.svg, "node visible"), 5);
  assert.equal(count(d.svg, "node hidden"), 15);
  assert.equal(count(d.svg, "node label"), 5);
  assert.equal(count(d.svg, "edge directed"), 2 * 25, "v←h¹ and h¹←h² are directed");
  assert.equal(count(d.svg, "edge undirected"), 25 + 25, "h²–h³ and y–h³ are undirected");
  assert.ok(d.svg.includes("2,000"), "layer sizes are written out");
  // Small layers are drawn in full; no labels means no label units; two layers are one RBM.
  const small = dbnDiagram({ sizes: [3, 2, 4], maxUnits: 6 });
  assertWellFormed(small, "dbnDiagram(3-2-4)");
  assert.equal(count(small.svg, "node"), 9);
  assert.equal(count(small.svg, "node label"), 0);
  assert.equal(count(small.svg, "edge directed"), 3 * 2);
  assert.equal(count(small.svg, "edge undirected"), 2 * 4);
  const rbm = dbnDiagram({ sizes: [784, 500], labels: 2 });
  assertWellFormed(rbm, "dbnDiagram(784-500 + 2)");
  assert.equal(count(rbm.svg, "edge directed"), 0);
  assert.equal(count(rbm.svg, "edge undirected"), 25 + 2 * 5);
});

test("bad arguments: one error naming the argument and what is allowed", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => rbmDiagram({ nVisible: 0 }), /rbmDiagram: nVisible = 0 .*1 to 16/],
    [() => rbmDiagram({ nHidden: 2.5 }), /nHidden = 2.5/],
    [() => rbmDiagram({ nHidden: 17 }), /nHidden = 17/],
    [() => modelFamilyDiagram({ units: 2 }), /units = 2 .*3 to 10/],
    [() => modelFamilyDiagram({ units: 5, nHidden: 5 }), /nHidden = 5 .*1 to 4/],
    [() => gibbsChainDiagram({ steps: 0 }), /steps = 0/],
    [() => gibbsChainDiagram({ steps: Number.NaN }), /steps = NaN/],
    [() => cdPcdDiagram({ updates: 1 }), /updates = 1 .*2 to 5/],
    [() => cdPcdDiagram({ k: 5 }), /k = 5/],
    [() => aisPathDiagram({ temperatures: 1 }), /temperatures = 1/],
    [() => dbnDiagram({ sizes: [784] }), /sizes must list 2 to 8/],
    [() => dbnDiagram({ sizes: [784, 0, 10] }), /sizes\[1\] = 0/],
    [() => dbnDiagram({ sizes: [784, 500], labels: -1 }), /labels = -1/],
    [() => dbnDiagram({ sizes: [784, 500], maxUnits: 1 }), /maxUnits = 1/],
    [() => dbnDiagram({ sizes: "784,500" as unknown as number[] }), /sizes must list/],
  ];
  for (const [f, re] of cases) assert.throws(f, (e: unknown) => e instanceof RangeError && re.test(e.message), String(re));
});

test("showDiagram: one image/svg+xml output with its description, nothing outside a notebook", (t) => {
  t.after(() => setDisplaySink(undefined));
  const d = rbmDiagram();
  const sent: Record<string, unknown>[] = [];
  setDisplaySink(null);
  showDiagram(d);
  setDisplaySink((bundle) => sent.push(bundle));
  showDiagram(d);
  assert.equal(sent.length, 1, "one output in a notebook, none outside");
  assert.equal(sent[0]["image/svg+xml"], d.svg);
  assert.equal(sent[0]["text/plain"], d.description);
});
