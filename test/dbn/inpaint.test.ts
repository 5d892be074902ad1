/**
 * DBN inpainting by Metropolis-within-Gibbs against the exact conditional of tiny DBNs, enumerated
 * in float64: p(v, x₁, …) = p_top(x_{L−1}) Π p(x_l | x_{l+1}) with p_top ∝ exp(−F_top) (labels summed
 * or clamped), and the complementary-prior check (a freshly tied DBN accepts every proposal).
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { tvDistance } from "../../lib/core/mixing";
import { inpaintDBN } from "../../lib/dbn/inpaint";
import { type DBN, disposeDBN, stackRBMs, transposeRBM } from "../../lib/dbn/model";
import { noLeak } from "../support/assert";
import { bits, randomRBM } from "../support/reference";

before(async () => {
  await initBackend({ quiet: true });
});

type Ref = ReturnType<typeof randomRBM>;
const sp = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** log p(x_below | x_above) through RBM `r`'s tied generative weights: Σ_i x_i a_i − softplus(a_i), a = b + W x_above. */
function logDown(r: Ref, below: number[], above: number[]): number {
  let s = 0;
  for (let i = 0; i < below.length; i++) {
    let a = r.b[i];
    for (let j = 0; j < above.length; j++) a += r.W[i][j] * above[j];
    s += below[i] * a - sp(a);
  }
  return s;
}

/** −F_top(v) = v·b + Σ_j softplus(c_j + (vW)_j). */
function negF(r: Ref, v: number[]): number {
  let s = v.reduce((a, x, i) => a + x * r.b[i], 0);
  for (let j = 0; j < r.c.length; j++) s += sp(r.c[j] + v.reduce((a, x, i) => a + x * r.W[i][j], 0));
  return s;
}

/** log p_top(x) + const: −F_top([x, y]), y clamped to `label` or summed over the nLabels classes. */
function topPrior(top: Ref, nLabels: number, x: number[], label?: number): number {
  if (nLabels === 0) return negF(top, x);
  const terms = (label === undefined ? [...Array(nLabels).keys()] : [label]).map((k) =>
    negF(top, [...x, ...Array.from({ length: nLabels }, (_, j) => (j === k ? 1 : 0))]),
  );
  const m = Math.max(...terms);
  return m + Math.log(terms.reduce((a, t) => a + Math.exp(t - m), 0));
}

/**
 * The acceptance rate a 3-layer DBN's block moves must have once the chains are stationary, by
 * enumeration: the mean over blocks S of E[min(1, π(x′) q_S(x_S) / (π(x) q_S(x′_S)))] with (v, x₁) from
 * the exact posterior given the known pixels, x′_S ~ q_S(· | v) and x′ = x₁ elsewhere.
 */
function exactAcceptance(refs: Ref[], nLabels: number, knownIdx: number[], values: number[], blockSize: number): number {
  const [bottom, top] = refs;
  const [n0, n1] = [bottom.b.length, bottom.c.length];
  const logPi = (v: number[], x: number[]) => topPrior(top, nLabels, x) + logDown(bottom, v, x);
  const states: { v: number[]; x: number[]; logp: number }[] = [];
  for (let sv = 0; sv < 2 ** n0; sv++) {
    const v = bits(sv, n0);
    if (!knownIdx.every((i, k) => v[i] === values[k])) continue;
    for (let sx = 0; sx < 2 ** n1; sx++) states.push({ v, x: bits(sx, n1), logp: logPi(v, bits(sx, n1)) });
  }
  const max = Math.max(...states.map((st) => st.logp));
  const z = states.reduce((a, st) => a + Math.exp(st.logp - max), 0);
  const blocks = Array.from({ length: Math.ceil(n1 / blockSize) }, (_, k) =>
    [...Array(n1).keys()].filter((j) => j >= k * blockSize && j < (k + 1) * blockSize),
  );
  let total = 0;
  for (const { v, x, logp } of states) {
    const q = bottom.c.map((cj, j) => 1 / (1 + Math.exp(-(cj + v.reduce((a, vi, i) => a + vi * bottom.W[i][j], 0)))));
    const logQ = (units: number[], y: number[]) => units.reduce((a, j) => a + Math.log(y[j] ? q[j] : 1 - q[j]), 0);
    for (const S of blocks) {
      for (let ss = 0; ss < 2 ** S.length; ss++) {
        const y = [...x];
        S.forEach((j, k) => {
          y[j] = (ss >>> k) & 1;
        });
        const logRatio = logPi(v, y) - logp + logQ(S, x) - logQ(S, y);
        total += (Math.exp(logp - max) / z) * Math.exp(logQ(S, y)) * Math.min(1, Math.exp(logRatio));
      }
    }
  }
  return total / blocks.length;
}

/** Exact p(v) of a DBN of reference layers (sizes[0..L]), labels summed over or clamped to `label`. */
function exactPixels(refs: Ref[], sizes: number[], nLabels: number, label?: number): number[] {
  const L = refs.length;
  const n = sizes.slice(0, L); // x₀ … x_{L−1}
  const out = new Array(2 ** n[0]).fill(0);
  const prior = (x: number[]) => topPrior(refs[L - 1], nLabels, x, label);
  // Sum over every state of the hidden layers x₁ … x_{L−1}.
  const walk = (l: number, xs: number[][], logp: number) => {
    if (l === 0) {
      for (let s = 0; s < out.length; s++) out[s] += Math.exp(logp + logDown(refs[0], bits(s, n[0]), xs[1]));
      return;
    }
    for (let s = 0; s < 2 ** n[l]; s++) {
      const x = bits(s, n[l]);
      const next = [...xs];
      next[l] = x;
      walk(l - 1, next, logp + (l === L - 1 ? prior(x) : logDown(refs[l], x, xs[l + 1])));
    }
  };
  walk(L - 1, new Array(L).fill([]), 0);
  const z = out.reduce((a, x) => a + x, 0);
  return out.map((x) => x / z);
}

/** p(v_free | v_known) from p(v), over the free units' states (bit j = j-th free unit). */
function conditional(pv: number[], n0: number, knownIdx: number[], values: number[]): number[] {
  const free = [...Array(n0).keys()].filter((i) => !knownIdx.includes(i));
  const out = new Array(2 ** free.length).fill(0);
  pv.forEach((p, s) => {
    const v = bits(s, n0);
    if (knownIdx.every((i, k) => v[i] === values[k])) out[free.reduce((a, i, j) => a + (v[i] << j), 0)] += p;
  });
  const z = out.reduce((a, x) => a + x, 0);
  return out.map((x) => x / z);
}

const CHAINS = 3000;

function runAndCompare(
  dbn: DBN,
  refs: Ref[],
  label: number | undefined,
  seed: number,
  what: string,
  blockSize?: number,
  steps = 40,
): number[] {
  const n0 = dbn.sizes[0];
  const knownIdx = [0, 3];
  const values = [1, 0];
  const images = new Float32Array(CHAINS * n0);
  const known = new Float32Array(n0);
  knownIdx.forEach((i, k) => {
    known[i] = 1;
    for (let r = 0; r < CHAINS; r++) images[r * n0 + i] = values[k];
  });
  const r = noLeak(what, () =>
    inpaintDBN(dbn, images, known, {
      steps,
      seed,
      blockSize,
      labels: label === undefined ? undefined : new Array(CHAINS).fill(label),
    }),
  );
  const free = [...Array(n0).keys()].filter((i) => !knownIdx.includes(i));
  const hist = new Array(2 ** free.length).fill(0);
  for (let row = 0; row < CHAINS; row++) {
    knownIdx.forEach((i, k) => assert.equal(r.v[row * n0 + i], values[k], `${what}: clamped pixel ${i} of chain ${row} changed`));
    hist[free.reduce((a, i, j) => a + (r.v[row * n0 + i] << j), 0)] += 1 / CHAINS;
  }
  const exact = conditional(exactPixels(refs, dbn.sizes, dbn.nLabels, label), n0, knownIdx, values);
  const tv = tvDistance(hist, exact);
  console.log(`TVDBG ${what} ${tv.toFixed(4)} acc ${r.acceptance.map((a) => a.toFixed(3))}`);
  assert.ok(
    tv < 0.05,
    `${what}: TV(chains, exact p(v_free | v_known)) = ${tv.toFixed(4)}, acceptance ${r.acceptance.map((a) => a.toFixed(2))}`,
  );
  return r.acceptance;
}

test("a 3-layer DBN with label units: the chains sample the exact conditional, labels summed over or clamped", () => {
  const refs = [randomRBM(5, 3, 31, 1.5), randomRBM(3 + 2, 4, 32, 1.5)];
  const dbn = stackRBMs(
    refs.map((r) => r.rbm),
    { nLabels: 2 },
  );
  const acc = runAndCompare(dbn, refs, undefined, 1, "labels summed over");
  assert.ok(acc[0] > 0.05 && acc[0] < 0.999, `random weights: some proposals are refused (acceptance ${acc[0]})`);
  runAndCompare(dbn, refs, 1, 2, "label clamped to 1");
  disposeDBN(dbn);
});

test("block proposals (one or two units of a layer at a time) sample the exact conditional too, and are refused less", () => {
  const refs = [randomRBM(5, 4, 61, 1.5), randomRBM(4 + 2, 4, 62, 1.5)];
  const dbn = stackRBMs(
    refs.map((r) => r.rbm),
    { nLabels: 2 },
  );
  const measured = [Infinity, 2, 1].map((size, k) => ({
    size,
    got: runAndCompare(dbn, refs, undefined, 5 + k, `blocks of ${size}`, size, 200)[0], // acceptance after 100 sweeps of burn-in
    exact: exactAcceptance(refs, 2, [0, 3], [1, 0], Math.min(size, 4)),
  }));
  const what = measured.map((m) => `${m.size}: ${m.got.toFixed(3)} (exact ${m.exact.toFixed(3)})`).join(", ");
  // The acceptance rate is a second check of the move's ratio (the histogram alone missed a q ratio
  // taken over the whole layer instead of the block): it must be the stationary one.
  for (const m of measured) assert.ok(Math.abs(m.got - m.exact) < 0.03, `acceptance by block size ${what}`);
  assert.ok(measured[0].exact < measured[1].exact && measured[1].exact < measured[2].exact, `smaller blocks, fewer refusals: ${what}`);
  assert.throws(() => inpaintDBN(dbn, new Float32Array(5), new Float32Array(5), { steps: 1, seed: 0, blockSize: 0 }), /blockSize must be/);
  disposeDBN(dbn);
});

test("a 4-layer DBN without labels: the middle layer's move is exact too", () => {
  const refs = [randomRBM(5, 3, 41, 1.2), randomRBM(3, 3, 42, 1.2), randomRBM(3, 3, 43, 1.2)];
  const dbn = stackRBMs(refs.map((r) => r.rbm));
  runAndCompare(dbn, refs, undefined, 3, "4 layers");
  disposeDBN(dbn);
});

test("complementary prior: on top of its own transpose, the recognition proposal is the posterior and is always accepted", () => {
  const bottom = randomRBM(6, 4, 51, 1);
  const dbn = stackRBMs([bottom.rbm, transposeRBM(bottom.rbm)]);
  const images = new Float32Array(200 * 6);
  const r = inpaintDBN(dbn, images, Float32Array.from([1, 1, 0, 0, 0, 0]), { steps: 10, seed: 4 });
  assert.ok(r.acceptance[0] > 0.999, `acceptance ${r.acceptance[0]}`);
  assert.throws(() => inpaintDBN(dbn, images, new Float32Array(5), { steps: 1, seed: 0 }), /the mask holds 5 values/);
  assert.throws(() => inpaintDBN(dbn, images, new Float32Array(6), { steps: 1, seed: 0, labels: [1] }), /no label units/);
  disposeDBN(dbn);
  tf.disposeVariables();
});
