/**
 * The fused native paths against the tensor code they replace, with `RBM_FUSED=0` selecting the
 * tensor code in the same process:
 * - the CD step (native/blas/cd.c via lib/train/cd-native.ts) against lib/train/cd.ts's tensor
 *   update: the same seed must give the same model bit for bit — CD-k and PCD-k, sampled and
 *   mean-field visible steps, momentum switch, weight decay, a short last batch;
 * - the centered PCD step against lib/train/centered.ts's tensor update, bit for bit, offsets included;
 * - the Gibbs runs (native/blas/gibbs.c) against gibbsVHV steps: the same chain, records and final state;
 * - the softmax-group runs of a DBN's top RBM (generateDBN) against the exact p(x, y) and p(x | y) of
 *   an enumerable model (their σ and softmax round differently from tfjs's, so not bit for bit);
 * and neither may leak tensors. Runs only where native BLAS is in use (CI builds the addon).
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import {
  cdScratchLength,
  loadNativeBlas,
  nativeCDAvailable,
  nativeCDStep,
  nativeGibbsAvailable,
  nativeGibbsSteps,
} from "../../lib/compute/blas";
import { Rng } from "../../lib/core/random";
import { disposeRBM, initRBM, type RBM } from "../../lib/core/rbm";
import { gibbsChain } from "../../lib/core/sampling";
import { type Dataset, firstN, loadMnist } from "../../lib/io/data";
import { type TrainOptions, type TrainResult, trainRBM } from "../../lib/train/cd";
import { fusedCDApplies } from "../../lib/train/cd-native";
import { type CenteredTrainOptions, trainCenteredRBM } from "../../lib/train/centered";

const built = loadNativeBlas();
/** Why the tests cannot run here (no addon, or one built before the fused step), or false. */
const SKIP =
  typeof built === "string"
    ? built
    : built.cdStep === undefined || built.gibbsSteps === undefined
      ? "the native addon predates the fused steps: npm run setup"
      : false;
let data: Dataset;
before(async () => {
  await initBackend({ quiet: true });
  if (SKIP === false) assert.ok(nativeCDAvailable(), "the addon is built, so initBackend must put the fused CD step in use");
  data = firstN(loadMnist(), 250); // 250 = 12 batches of 20 and a last one of 10
});

/** Trains with the fused step (or the tensor update when `RBM_FUSED=0`); returns plain arrays. */
async function run(
  rbm: RBM,
  opts: TrainOptions,
  tensorPath: boolean,
): Promise<{ W: Float32Array; b: Float32Array; c: Float32Array; chains?: Float32Array; recon: number[] }> {
  const before = process.env.RBM_FUSED;
  if (tensorPath) process.env.RBM_FUSED = "0";
  else delete process.env.RBM_FUSED;
  let r: TrainResult;
  try {
    assert.equal(fusedCDApplies({ sparsityTarget: opts.sparsityTarget }), !tensorPath, "the path under test is the one selected");
    r = await trainRBM(rbm, data, opts);
  } finally {
    if (before === undefined) delete process.env.RBM_FUSED;
    else process.env.RBM_FUSED = before;
  }
  const out = {
    W: r.rbm.W.dataSync() as Float32Array,
    b: r.rbm.b.dataSync() as Float32Array,
    c: r.rbm.c.dataSync() as Float32Array,
    chains: r.chains?.dataSync() as Float32Array | undefined,
    recon: r.history.map((h) => h.trainRecon),
  };
  disposeRBM(r.rbm);
  r.chains?.dispose();
  return out;
}

function assertSameBits(a: Float32Array | undefined, b: Float32Array | undefined, what: string): void {
  assert.ok(a !== undefined && b !== undefined, `${what}: both paths return it`);
  assert.equal(a.length, b.length, `${what}: lengths`);
  let differ = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) {
      differ++;
      if (first < 0) first = i;
    }
  }
  assert.equal(differ, 0, `${what}: ${differ} of ${a.length} values differ (first at ${first}: ${a[first]} vs ${b[first]})`);
}

const cases: { name: string; opts: TrainOptions }[] = [
  { name: "CD-1, mean-field visible step", opts: { k: 1 } },
  { name: "CD-3, sampled visible step, no decay", opts: { k: 3, sampleVisible: true, weightDecay: 0 } },
  { name: "PCD-1, 30 chains for batches of 20", opts: { k: 1, persistent: true, nChains: 30 } },
  {
    name: "PCD-2, mean-field visible step, no momentum",
    opts: { k: 2, persistent: true, sampleVisible: false, initialMomentum: 0, finalMomentum: 0 },
  },
];

for (const { name, opts } of cases) {
  test(`fused native CD step = tensor update, bit for bit: ${name}`, { skip: SKIP }, async () => {
    const rbm = initRBM(784, 40, { seed: 3, data });
    const common: TrainOptions = {
      batchSize: 20,
      epochs: 3,
      momentumSwitchEpoch: 1,
      learningRate: (e) => 0.1 / (1 + e),
      seed: 11,
      progress: false,
      ...opts,
    };
    const tensors = await run(rbm, common, true);
    const before = tf.memory().numTensors;
    const native = await run(rbm, common, false);
    assert.equal(tf.memory().numTensors, before, "the fused path leaks no tensors");
    assertSameBits(native.W, tensors.W, "W");
    assertSameBits(native.b, tensors.b, "b");
    assertSameBits(native.c, tensors.c, "c");
    if (opts.persistent) assertSameBits(native.chains, tensors.chains, "chains");
    else assert.equal(native.chains, undefined);
    native.recon.forEach((r, e) => {
      if (opts.persistent) assert.ok(Number.isNaN(r) && Number.isNaN(tensors.recon[e]), "PCD has no reconstruction error");
      // The tensor path sums the epoch's squared errors in float32 on the device (~1e-5 relative
      // rounding over 250 × 784 terms), the fused path in float64.
      else assert.ok(Math.abs(r - tensors.recon[e]) <= 1e-4 * tensors.recon[e], `epoch ${e} recon ${r} vs ${tensors.recon[e]}`);
    });
    // The runs trained: the weights moved from the start.
    const start = rbm.W.dataSync();
    assert.ok(
      native.W.some((w, i) => Math.abs(w - start[i]) > 1e-3),
      "training changed W",
    );
    disposeRBM(rbm);
  });
}

test("a sparsity target stays on the tensor path (its running mean is not fused)", () => {
  assert.equal(fusedCDApplies({ sparsityTarget: 0.1 }), false);
});

test("cdStep refuses arrays shorter than their shapes, touching nothing", { skip: SKIP }, () => {
  const lib = loadNativeBlas();
  assert.ok(typeof lib !== "string" && lib.cdStep !== undefined);
  const [B, nV, nH] = [2, 3, 4];
  const W = new Float32Array(nV * nH).fill(0.5);
  const arrays = [
    new Float32Array(B * nV),
    W,
    new Float32Array(nV),
    new Float32Array(nH),
    new Float32Array(nV * nH),
    new Float32Array(nV),
    new Float32Array(nH),
  ] as const;
  const dims = Int32Array.of(B, nV, nH, B, 1, 0, 0, 0);
  const hyper = Float64Array.of(0.1, 0, 0);
  const state = Uint32Array.of(1, 2, 3, 4);
  const shortScratch = new Float32Array(cdScratchLength({ B, nVisible: nV, nHidden: nH, nNeg: B }) - 1);
  assert.throws(() => lib.cdStep?.(...arrays, null, shortScratch, state, dims, hyper), RangeError);
  assert.throws(
    () =>
      lib.cdStep?.(...arrays, null, new Float32Array(shortScratch.length + 1), state, Int32Array.of(B, nV, nH, B + 1, 1, 0, 0, 0), hyper),
    /nNeg must equal B/,
  );
  assert.throws(
    () => lib.cdStep?.(...arrays, null, new Float32Array(shortScratch.length + 1), state, Int32Array.of(B, nV, nH, B, 1, 0, 0, 1), hyper),
    /label group K/,
  );
  assert.ok(
    W.every((w) => w === 0.5),
    "W untouched",
  );
  assert.deepEqual([...state], [1, 2, 3, 4], "generator untouched");
  const out = lib.cdStep?.(...arrays, null, new Float32Array(shortScratch.length + 1), state, dims, hyper);
  assert.equal(typeof out?.err, "number");
  assert.equal(out?.flips, 0, "no label group, no flips");
  assert.notDeepEqual([...state], [1, 2, 3, 4], "a valid call advances the generator");
});

/** Runs `f` with the tensor code selected (`RBM_FUSED=0`) or the fused path, restoring the variable. */
function withPath<T>(tensorPath: boolean, f: () => T): T {
  const before = process.env.RBM_FUSED;
  if (tensorPath) process.env.RBM_FUSED = "0";
  else delete process.env.RBM_FUSED;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.RBM_FUSED;
    else process.env.RBM_FUSED = before;
  }
}

test("native Gibbs runs = gibbsVHV steps, bit for bit: final state, p(v|h), records, onStep", { skip: SKIP }, async () => {
  assert.ok(nativeGibbsAvailable(), "the native Gibbs run is the path under test");
  const rbm = initRBM(784, 50, { seed: 5, data });
  const v0 = tf.tensor2d(data.images.subarray(0, 7 * 784), [7, 784]); // probabilities, not binary: the first step reads them
  for (const opts of [
    { steps: 25, seed: 9, every: 10, recordProbs: true },
    { steps: 12, seed: 2, every: 0 },
    { steps: 6, seed: 4, every: 3, onStep: () => {} },
  ]) {
    const calls: number[][] = [[], []];
    const [tensors, native] = [true, false].map((tensorPath, i) =>
      withPath(tensorPath, () => {
        const before = tf.memory().numTensors;
        const r = gibbsChain(v0, rbm, { ...opts, onStep: opts.onStep ? (s) => calls[i].push(s) : undefined });
        const out = { v: r.v.dataSync() as Float32Array, vProbs: r.vProbs.dataSync() as Float32Array, records: r.records };
        tf.dispose([r.v, r.vProbs]);
        assert.equal(tf.memory().numTensors, before, "no tensors leak");
        return out;
      }),
    );
    assertSameBits(native.v, tensors.v, `v after ${opts.steps} steps`);
    assertSameBits(native.vProbs, tensors.vProbs, "p(v|h)");
    assert.deepEqual(
      native.records.map((r) => r.step),
      tensors.records.map((r) => r.step),
    );
    native.records.forEach((r, i) => assertSameBits(r.values, tensors.records[i].values, `record at step ${r.step}`));
    assert.deepEqual(calls[1], calls[0], "onStep sees every step on both paths");
    assert.ok(
      native.v.every((x) => x === 0 || x === 1),
      "the final state is binary",
    );
  }
  v0.dispose();
  disposeRBM(rbm);
});

/** Exact p(x, y) ∝ exp(bᵀv) Π_j (1 + exp(c_j + (vW)_j)) of a tiny RBM with v = [x, one-hot(y)], by enumeration. */
function exactJoint(W: Float32Array, b: Float32Array, c: Float32Array, nX: number, K: number): number[][] {
  const nV = nX + K;
  const nH = c.length;
  const logp: number[][] = [];
  for (let x = 0; x < 1 << nX; x++) {
    const row: number[] = [];
    for (let y = 0; y < K; y++) {
      const v = Array.from({ length: nV }, (_, i) => (i < nX ? (x >> i) & 1 : i - nX === y ? 1 : 0));
      let e = v.reduce((a, vi, i) => a + vi * b[i], 0);
      for (let j = 0; j < nH; j++) {
        const a = c[j] + v.reduce((s, vi, i) => s + vi * W[i * nH + j], 0);
        e += Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
      }
      row.push(e);
    }
    logp.push(row);
  }
  const top = Math.max(...logp.flat());
  const z = logp.flat().reduce((a, l) => a + Math.exp(l - top), 0);
  return logp.map((row) => row.map((l) => Math.exp(l - top) / z));
}

test("native softmax-group Gibbs (a DBN's top RBM) samples the exact p(x, y) and p(x | y clamped)", { skip: SKIP }, () => {
  const [nX, K, nH, B] = [4, 3, 3, 20000];
  const nV = nX + K;
  const rng = new Rng(21);
  const W = Float32Array.from({ length: nV * nH }, () => rng.normal());
  const b = Float32Array.from({ length: nV }, () => 0.5 * rng.normal());
  const c = Float32Array.from({ length: nH }, () => 0.5 * rng.normal());
  const joint = exactJoint(W, b, c, nX, K);
  for (const clamped of [false, true]) {
    const x = {
      v: new Float32Array(B * nV),
      vProbs: new Float32Array(B * nV),
      hProbs: new Float32Array(B * nH),
      h: new Float32Array(B * nH),
    };
    for (let r = 0; r < B; r++) {
      for (let i = 0; i < nX; i++) x.v[r * nV + i] = rng.uniform() < 0.5 ? 1 : 0;
      x.v[r * nV + nX + (clamped ? 1 : rng.int(K))] = 1; // clamped: every chain holds label 1
    }
    rng.advanceWith((state) => assert.ok(nativeGibbsSteps(x, { W, b, c }, B, 40, state, { K, clamped })));
    const hist = Array.from({ length: 1 << nX }, () => new Array(K).fill(0));
    for (let r = 0; r < B; r++) {
      let xi = 0;
      for (let i = 0; i < nX; i++) xi |= x.v[r * nV + i] << i;
      const ys = [...x.v.subarray(r * nV + nX, (r + 1) * nV)];
      assert.equal(
        ys.reduce((a, q) => a + q, 0),
        1,
        "the group is one-hot",
      );
      hist[xi][ys.indexOf(1)] += 1 / B;
      if (clamped) assert.equal(ys[1], 1, "a clamped label never changes");
    }
    const target = clamped ? joint.map((row) => row.map((p, y) => (y === 1 ? p / joint.reduce((a, q) => a + q[1], 0) : 0))) : joint;
    const tv = 0.5 * hist.flat().reduce((a, p, i) => a + Math.abs(p - target.flat()[i]), 0);
    assert.ok(tv < 0.03, `${clamped ? "p(x | y = 1)" : "p(x, y)"}: TV(native chains, exact) = ${tv.toFixed(4)}`);
  }
});

for (const { name, opts } of [
  { name: "centered PCD-1, ν = 0.01, 30 chains", opts: { nChains: 30 } },
  { name: "centered PCD-2, ν = 0.1, no decay", opts: { k: 2, weightDecay: 0, centering: { slidingFactor: 0.1 } } },
  { name: "uncentered (offsets 0), no momentum", opts: { centering: false as const, initialMomentum: 0, finalMomentum: 0 } },
] satisfies { name: string; opts: CenteredTrainOptions }[]) {
  test(`fused centered step = tensor update, bit for bit: ${name}`, { skip: SKIP }, async () => {
    const rbm = initRBM(784, 40, { seed: 4, data });
    const common: CenteredTrainOptions = {
      batchSize: 20,
      epochs: 2,
      momentumSwitchEpoch: 1,
      learningRate: 0.05,
      seed: 13,
      progress: false,
      ...opts,
    };
    const tensors: Record<"W" | "b" | "c" | "mu" | "lambda", Float32Array>[] = [];
    const native: typeof tensors = [];
    for (const tensorPath of [true, false]) {
      const before = tf.memory().numTensors;
      const r = await withPathAsync(tensorPath, () => trainCenteredRBM(rbm, data, common));
      const out = {
        W: r.rbm.W.dataSync() as Float32Array,
        b: r.rbm.b.dataSync() as Float32Array,
        c: r.rbm.c.dataSync() as Float32Array,
        ...r.offsets,
      };
      disposeRBM(r.rbm);
      assert.equal(tf.memory().numTensors, before, "no tensors leak");
      (tensorPath ? tensors : native).push(out);
    }
    for (const key of ["W", "b", "c", "mu", "lambda"] as const) assertSameBits(native[0][key], tensors[0][key], key);
    const start = rbm.W.dataSync();
    assert.ok(
      native[0].W.some((w, i) => Math.abs(w - start[i]) > 1e-3),
      "training changed W",
    );
    disposeRBM(rbm);
  });
}

/** {@link withPath} for an async `f`. */
async function withPathAsync<T>(tensorPath: boolean, f: () => Promise<T>): Promise<T> {
  const before = process.env.RBM_FUSED;
  if (tensorPath) process.env.RBM_FUSED = "0";
  else delete process.env.RBM_FUSED;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.RBM_FUSED;
    else process.env.RBM_FUSED = before;
  }
}

test("fused tempering plumbing: a one-temperature ladder trains exactly as centered PCD (same chains, same numbers)", {
  skip: SKIP,
}, async () => {
  const rbm = initRBM(784, 30, { seed: 6, data });
  const common: CenteredTrainOptions = { batchSize: 25, epochs: 2, learningRate: 0.05, seed: 17, progress: false };
  const pcd = await trainCenteredRBM(rbm, data, { ...common, nChains: 20 });
  const pt = await trainCenteredRBM(rbm, data, { ...common, tempering: { betas: [1], chainsPerTemperature: 20 } });
  assertSameBits(pt.rbm.W.dataSync() as Float32Array, pcd.rbm.W.dataSync() as Float32Array, "W");
  assertSameBits(pt.offsets.lambda, pcd.offsets.lambda, "λ");
  assert.deepEqual(pt.swapRates, [], "no pairs to swap");
  // A real ladder swaps, and reports it per epoch.
  const ladder = await trainCenteredRBM(rbm, data, { ...common, tempering: { betas: 3, betaMin: 0.8, chainsPerTemperature: 10 } });
  assert.equal(ladder.swapRates?.length, 2);
  assert.ok(
    ladder.swapRates?.every((r) => r > 0 && r <= 1),
    `swap rates ${ladder.swapRates}`,
  );
  assert.ok(
    ladder.history.every((h) => h.swapRate > 0 && h.swapMin > 0),
    "each epoch records its swap rate",
  );
  for (const r of [pcd, pt, ladder]) disposeRBM(r.rbm);
  disposeRBM(rbm);
});

/**
 * The CD step with a label group (the label-joined top RBM, lib/dbn/joint.ts) against the exact
 * expectations of an enumerable 3 + 3-label / 3-hidden model: B copies of one row v₀ = [x₀, e_y₀],
 * one CD-1 update with ε = 1 and no momentum or decay, so that the visible-bias step is
 * v₀ − mean(ṽ) and the hidden-bias step mean p(h|v₀) − mean p(h|ṽ). By enumerating h:
 * E[ỹ] = Σ_h p(h|v₀) softmax(b_y + W_y h), E[x̃] = Σ_h p(h|v₀) σ(b_x + W_x h) (the mean-field or the
 * sampled x̃ alike), E[p(h|ṽ)] = Σ_h p(h|v₀) Σ_y softmax_y σ(c + W_xᵀ x̃ + W_y,·) with x̃ = σ(b_x + W_x h)
 * in the mean-field case; and the flipped labels are B (1 − E[ỹ_y₀]).
 */
test("cdStep with a label group matches the exact CD-1 expectations of an enumerable joint RBM", { skip: SKIP }, () => {
  const [nX, K, nH, B] = [3, 3, 3, 20000];
  const nV = nX + K;
  const rng = new Rng(11);
  const W = Float32Array.from({ length: nV * nH }, () => 1.5 * (2 * rng.uniform() - 1));
  const b = Float32Array.from({ length: nV }, () => 2 * rng.uniform() - 1);
  const c = Float32Array.from({ length: nH }, () => 2 * rng.uniform() - 1);
  const x0 = [1, 0, 1];
  const y0 = 2;
  const v0 = [...x0, ...Array.from({ length: K }, (_, j) => (j === y0 ? 1 : 0))];
  const sig = (a: number) => 1 / (1 + Math.exp(-a));
  const hidIn = (v: number[], j: number) => c[j] + v.reduce((s, vi, i) => s + vi * W[i * nH + j], 0);
  const visIn = (h: number[], i: number) => b[i] + h.reduce((s, hj, j) => s + hj * W[i * nH + j], 0);
  const pH0 = Array.from({ length: nH }, (_, j) => sig(hidIn(v0, j)));
  const ex = new Array(nX).fill(0);
  const ey = new Array(K).fill(0);
  const eh = new Array(nH).fill(0); // E[p(h | ṽ)] with the mean-field x̃
  for (let m = 0; m < 1 << nH; m++) {
    const h = Array.from({ length: nH }, (_, j) => (m >> j) & 1);
    const p = h.reduce((s, hj, j) => s * (hj ? pH0[j] : 1 - pH0[j]), 1);
    const xt = Array.from({ length: nX }, (_, i) => sig(visIn(h, i)));
    const z = Array.from({ length: K }, (_, j) => Math.exp(visIn(h, nX + j)));
    const sum = z.reduce((s, q) => s + q, 0);
    xt.forEach((q, i) => (ex[i] += p * q));
    z.forEach((q, j) => {
      ey[j] += (p * q) / sum;
      const vt = [...xt, ...Array.from({ length: K }, (_, l) => (l === j ? 1 : 0))];
      for (let u = 0; u < nH; u++) eh[u] += ((p * q) / sum) * sig(hidIn(vt, u));
    });
  }
  for (const sampleVisible of [false, true]) {
    const p = {
      W: W.slice(),
      b: b.slice(),
      c: c.slice(),
      dW: new Float32Array(nV * nH),
      db: new Float32Array(nV),
      dc: new Float32Array(nH),
    };
    const v = Float32Array.from({ length: B * nV }, (_, i) => v0[i % nV]);
    const shape = { B, nVisible: nV, nHidden: nH, nNeg: B, k: 1, persistent: false, sampleVisible, nLabels: K };
    const out = nativeCDStep(v, p, null, new Float32Array(cdScratchLength(shape)), Uint32Array.of(1, 2, 3, 4), shape, {
      lr: 1,
      momentum: 0,
      weightDecay: 0,
    });
    assert.ok(out, "the fused step ran");
    const tol = 4 * Math.sqrt(0.25 / B); // four standard errors of a mean of B draws in [0, 1]
    for (let i = 0; i < nX; i++)
      assert.ok(
        Math.abs(v0[i] - p.db[i] - ex[i]) < tol,
        `E[x̃_${i}]: ${v0[i] - p.db[i]} against exact ${ex[i]} (sampled x̃: ${sampleVisible})`,
      );
    for (let j = 0; j < K; j++)
      assert.ok(Math.abs(v0[nX + j] - p.db[nX + j] - ey[j]) < tol, `E[ỹ_${j}]: ${v0[nX + j] - p.db[nX + j]} against exact ${ey[j]}`);
    assert.ok(Math.abs(out.flips / B - (1 - ey[y0])) < tol, `flipped labels ${out.flips / B} against exact ${1 - ey[y0]}`);
    if (!sampleVisible)
      for (let u = 0; u < nH; u++)
        assert.ok(Math.abs(pH0[u] - p.dc[u] - eh[u]) < tol, `E[p(h_${u} | ṽ)]: ${pH0[u] - p.dc[u]} against exact ${eh[u]}`);
  }
});
