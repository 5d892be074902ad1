/**
 * lib/compute/blas.ts: the optional native OpenBLAS matMul kernels of the wasm backend.
 * Native results must equal the original wasm kernels' (all transpose flags, batched, fused bias +
 * activation), leak nothing, and leave unsupported cases to the original kernels; without the addon
 * (or with RBM_NATIVE_BLAS=0) everything works as before and BackendInfo.reason says why.
 * The equality tests are skipped, with the reason, when the addon is not built.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { type BackendInfo, initBackend } from "../../lib/compute/backend";
import {
  blasCoreType,
  coreTypeForFlags,
  disableNativeBlas,
  enableNativeBlas,
  loadNativeBlas,
  nativeBlasCoreChoice,
  nativeBlasCounters,
  nativeBlasEnabled,
} from "../../lib/compute/blas";
import { Rng } from "../../lib/core/random";
import { sampleBernoulli, UniformSource } from "../../lib/core/units";
import { annealHidden, SAMPLE_HIGH, SAMPLE_LOW, SAMPLE_NONE, type SampleAt, sampleVisible, TemperedGibbs } from "../../lib/eval/anneal";
import { noLeak } from "../support/assert";

const ROOT = path.resolve(__dirname, "..", "..");
const built = loadNativeBlas();
const SKIP = typeof built === "string" ? built : false;
/** Relative tolerance against the largest magnitude of the reference result. */
const RTOL = 1e-4;

/** Deterministic values in [-1, 1]. */
function data(n: number, step: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * step + 0.3));
}

function t(shape: number[], step: number): tf.Tensor {
  return tf.tensor(
    data(
      shape.reduce((p, d) => p * d, 1),
      step,
    ),
    shape,
  );
}

/** Runs `fn` with the native kernels and with the original ones; asserts shapes equal and values close. */
function assertSameAsWasm(what: string, fn: () => tf.Tensor, expectNative = true): void {
  assert.ok(nativeBlasEnabled(), "native BLAS should be enabled here");
  const before = nativeBlasCounters();
  const nativeOut = fn();
  const after = nativeBlasCounters();
  disableNativeBlas();
  let wasmOut: tf.Tensor;
  try {
    wasmOut = fn();
  } finally {
    assert.ok(enableNativeBlas().enabled);
  }
  if (expectNative) assert.equal(after.native - before.native, 1, `${what}: should run on OpenBLAS`);
  else assert.equal(after.native - before.native, 0, `${what}: should fall back to the wasm kernel`);
  assert.deepEqual(nativeOut.shape, wasmOut.shape, what);
  const x = nativeOut.dataSync();
  const y = wasmOut.dataSync();
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < y.length; i++) {
    scale = Math.max(scale, Math.abs(y[i]));
    worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  assert.ok(Number.isFinite(worst) && worst <= RTOL * Math.max(scale, 1e-6), `${what}: max |native − wasm| = ${worst} (scale ${scale})`);
  tf.dispose([nativeOut, wasmOut]);
}

/** Runs `run` with the native kernels, then with native BLAS off (the JS / wasm path), and turns them back on. */
function nativeThenJs<T>(run: () => T): { native: T; js: T } {
  const native = run();
  disableNativeBlas();
  try {
    return { native, js: run() };
  } finally {
    assert.ok(enableNativeBlas().enabled);
  }
}

/** Asserts `fn` leaves no tensors and no backend data behind. */
function assertNoLeaks(fn: () => void): void {
  const dataIds = tf.engine().backend.numDataIds();
  noLeak("the native/wasm comparison", fn);
  assert.equal(tf.engine().backend.numDataIds(), dataIds, "backend data leaked");
}

test("initBackend enables native BLAS on wasm and says so", { skip: SKIP }, async () => {
  const info = await initBackend({ quiet: true });
  if (process.env.RBM_NATIVE_BLAS === "0" || process.env.RBM_BACKEND === "cpu") return;
  assert.equal(info.name, "wasm");
  assert.equal(info.blas, "openblas", info.reason);
  assert.ok((info.blasThreads ?? 0) >= 1);
  assert.match(info.reason, /matMul on native OpenBLAS/);
  assert.ok(nativeBlasEnabled());
});

test("matMul: all four transpose combinations equal the wasm kernel", { skip: SKIP }, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  const [m, k, n] = [37, 53, 29];
  assertNoLeaks(() => {
    const a = t([m, k], 0.11);
    const aT = t([k, m], 0.13);
    const b = t([k, n], 0.07);
    const bT = t([n, k], 0.05);
    assertSameAsWasm("a·b", () => tf.matMul(a, b));
    assertSameAsWasm("aᵀ·b", () => tf.matMul(aT, b, true, false));
    assertSameAsWasm("a·bᵀ", () => tf.matMul(a, bT, false, true));
    assertSameAsWasm("aᵀ·bᵀ", () => tf.matMul(aT, bT, true, true));
    tf.dispose([a, aT, b, bT]);
  });
});

test("matMul on the CD-1 shapes (100×784 · 784×500, the dW product) equals the wasm kernel", { skip: SKIP }, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  assertNoLeaks(() => {
    const v = t([100, 784], 0.013);
    const W = t([784, 500], 0.0071);
    const h = t([200, 500], 0.029);
    const stacked = t([200, 784], 0.017);
    assertSameAsWasm("v·W", () => tf.matMul(v, W));
    assertSameAsWasm("h·Wᵀ", () => tf.matMul(h, W, false, true));
    assertSameAsWasm("[v;ṽ]ᵀ·[h;h̃]", () => tf.matMul(stacked, h, true, false));
    tf.dispose([v, W, h, stacked]);
  });
});

test("batched (rank-3 and rank-4) matMul, with and without batch broadcasting, equals the wasm kernel", { skip: SKIP }, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  assertNoLeaks(() => {
    const a3 = t([4, 9, 12], 0.21);
    const b3 = t([4, 12, 7], 0.17);
    const b3T = t([4, 7, 12], 0.19);
    const a1 = t([1, 9, 12], 0.23);
    const b2 = t([12, 7], 0.31);
    const a4 = t([2, 3, 9, 12], 0.27);
    const b4 = t([2, 3, 12, 7], 0.29);
    assertSameAsWasm("[4] · [4]", () => tf.matMul(a3, b3));
    assertSameAsWasm("[4] · [4]ᵀ", () => tf.matMul(a3, b3T, false, true));
    assertSameAsWasm("[4]ᵀ · [4]", () => tf.tidy(() => tf.matMul(tf.transpose(a3, [0, 2, 1]), b3, true, false)));
    assertSameAsWasm("[1] · [4] (broadcast a)", () => tf.matMul(a1, b3));
    assertSameAsWasm("[4] · rank-2 (broadcast b)", () => tf.matMul(a3, b2));
    assertSameAsWasm("[2,3] · [2,3]", () => tf.matMul(a4, b4));
    tf.dispose([a3, b3, b3T, a1, b2, a4, b4]);
  });
});

test("fused matMul with bias + sigmoid / relu / relu6 / elu / linear equals the wasm kernel", { skip: SKIP }, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  assertNoLeaks(() => {
    const a = t([100, 784], 0.013);
    const W = t([784, 500], 0.0071);
    const c = tf.tidy(() => tf.mul(t([500], 0.3), 4));
    for (const activation of ["sigmoid", "relu", "relu6", "elu", "linear"] as const) {
      assertSameAsWasm(`act(v·W + c) ${activation}`, () => tf.fused.matMul({ a, b: W, bias: c, activation }));
    }
    assertSameAsWasm("v·W, no bias, sigmoid", () => tf.fused.matMul({ a, b: W, activation: "sigmoid" }));
    assertSameAsWasm("v·Wᵀ flag, no bias, sigmoid", () =>
      tf.fused.matMul({ a: W, b: a, transposeA: true, transposeB: true, activation: "sigmoid" }),
    );
    tf.dispose([a, W, c]);
  });
});

/** act(op(A)·op(B) + bias) in float64, from row-major data. */
function reference(
  A: Float32Array,
  B: Float32Array,
  bias: Float32Array,
  [m, k, n]: number[],
  ta: boolean,
  tb: boolean,
  act: (x: number) => number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias[j];
      for (let p = 0; p < k; p++) s += (ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
      out[i * n + j] = act(s);
    }
  }
  return out;
}

test("fused matMul with transpose flags and a bias is right natively (stock tfjs-backend-wasm 4.22 adds the bias wrongly there)", {
  skip: SKIP,
}, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  const [m, k, n] = [13, 40, 11];
  const acts: Record<string, (x: number) => number> = {
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    relu: (x) => Math.max(x, 0),
    linear: (x) => x,
    relu6: (x) => Math.min(Math.max(x, 0), 6),
    elu: (x) => (x > 0 ? x : Math.expm1(x)),
  };
  assertNoLeaks(() => {
    for (const [ta, tb] of [
      [false, true],
      [true, false],
      [true, true],
    ]) {
      const A = data(m * k, 0.11);
      const B = data(k * n, 0.07);
      const bias = Float32Array.from({ length: n }, (_, j) => j - n / 2);
      for (const [activation, f] of Object.entries(acts)) {
        const want = reference(A, B, bias, [m, k, n], ta, tb, f);
        const out = tf.tidy(() =>
          tf.fused.matMul({
            a: tf.tensor2d(A, ta ? [k, m] : [m, k]),
            b: tf.tensor2d(B, tb ? [n, k] : [k, n]),
            transposeA: ta,
            transposeB: tb,
            bias: tf.tensor1d(bias),
            activation: activation as "sigmoid",
          }),
        );
        const got = out.dataSync();
        out.dispose();
        const scale = Math.max(...Array.from(want, Math.abs));
        for (let i = 0; i < want.length; i++) {
          assert.ok(Math.abs(got[i] - want[i]) <= RTOL * scale, `ta=${ta} tb=${tb} ${activation} [${i}]: ${got[i]} vs ${want[i]}`);
        }
      }
    }
  });
});

test("unsupported cases (leakyrelu, prelu) fall back to the original kernel with the same results", { skip: SKIP }, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  assertNoLeaks(() => {
    const a = t([20, 30], 0.11);
    const b = t([30, 10], 0.07);
    const bias = t([10], 0.5);
    const alpha = t([10], 0.9);
    const before = nativeBlasCounters().fallback;
    assertSameAsWasm("leakyrelu", () => tf.fused.matMul({ a, b, bias, activation: "leakyrelu", leakyreluAlpha: 0.1 }), false);
    assertSameAsWasm("prelu", () => tf.fused.matMul({ a, b, bias, activation: "prelu", preluActivationWeights: alpha }), false);
    assert.ok(nativeBlasCounters().fallback - before >= 2);
    tf.dispose([a, b, bias, alpha]);
  });
});

test("gradients through matMul and fused matMul match the wasm kernels (training code uses both)", { skip: SKIP }, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  assertNoLeaks(() => {
    const a = t([16, 24], 0.11);
    const b = t([24, 8], 0.07);
    const bias = t([8], 0.5);
    const loss = (x: tf.Tensor): tf.Scalar =>
      tf.sum(tf.square(tf.fused.matMul({ a: x as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: "relu" })));
    const grad = tf.grad(loss);
    const before = nativeBlasCounters();
    const gNative = grad(a);
    assert.ok(nativeBlasCounters().native - before.native >= 2, "forward and backward products should run natively");
    disableNativeBlas();
    const gWasm = grad(a);
    enableNativeBlas();
    const x = gNative.dataSync();
    const y = gWasm.dataSync();
    const scale = Math.max(...Array.from(y, Math.abs));
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= RTOL * scale, `grad[${i}] ${x[i]} vs ${y[i]}`);
    tf.dispose([a, b, bias, gNative, gWasm]);
  });
});

test("sgemm: plain and shared buffers, offsets, alpha/beta, bad arguments throw", { skip: SKIP }, () => {
  if (typeof built === "string") return;
  for (const Buffer of [ArrayBuffer, SharedArrayBuffer]) {
    const buf = new Buffer(4 * 64);
    const A = new Float32Array(buf, 4, 6);
    A.set([1, 2, 3, 4, 5, 6]); // 2×3
    const B = new Float32Array(buf, 64, 6);
    B.set([1, 0, 0, 1, 1, 1]); // 3×2
    const C = new Float32Array(buf, 128, 4);
    C.set([1, 1, 1, 1]);
    built.sgemm(false, false, 2, 2, 3, 2, A, B, 1, C);
    assert.deepEqual(Array.from(C), [9, 11, 21, 23], Buffer.name);
    built.sgemm(true, true, 2, 2, 3, 1, new Float32Array([1, 4, 2, 5, 3, 6]), new Float32Array([1, 0, 1, 0, 1, 1]), 0, C);
    assert.deepEqual(Array.from(C), [4, 5, 10, 11], `${Buffer.name}, both transposed`);
  }
  assert.throws(() => built.sgemm(false, false, 2, 2, 3, 1, new Float32Array(5), new Float32Array(6), 0, new Float32Array(4)), RangeError);
  assert.throws(
    () =>
      built.sgemm(false, false, 1, 1, 1, 1, new Float64Array(1) as unknown as Float32Array, new Float32Array(1), 0, new Float32Array(1)),
    TypeError,
  );
});

// ---------------------------------------------------------------- fallback without the addon (child processes)

const CHILD = `
const tf = require("@tensorflow/tfjs");
const { initBackend } = require("./lib/compute/backend");
initBackend({ quiet: true }).then((info) => {
  const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = tf.tensor2d([1, 0, 0, 1, 1, 1], [3, 2]);
  const c = tf.tensor1d([0, -100]);
  const product = Array.from(tf.matMul(a, b).dataSync());
  const fused = Array.from(tf.fused.matMul({ a, b, bias: c, activation: "relu" }).dataSync());
  console.log(JSON.stringify({ info, product, fused }));
}).catch((e) => { console.error(e.message); process.exitCode = 3; });
`;

function runChild(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RBM_") && k !== "NODE_TEST_CONTEXT"));
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", CHILD], {
    cwd: ROOT,
    env: { ...clean, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function childResult(r: { status: number | null; stdout: string; stderr: string }): {
  info: BackendInfo;
  product: number[];
  fused: number[];
} {
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as { info: BackendInfo; product: number[]; fused: number[] };
}

test("without the addon (or with RBM_NATIVE_BLAS=0) the wasm kernels run and the reason says why", () => {
  const missing = childResult(runChild({ RBM_NATIVE_BLAS_PATH: path.join(ROOT, "native", "blas", "no-such-build", "blas.node") }));
  assert.equal(missing.info.name, "wasm");
  assert.equal(missing.info.blas, undefined);
  assert.match(missing.info.reason, /native BLAS addon not built .*build-native\.mjs/);
  assert.deepEqual(missing.product, [4, 5, 10, 11]);
  assert.deepEqual(missing.fused, [4, 0, 10, 0]);

  const off = childResult(runChild({ RBM_NATIVE_BLAS: "0" }));
  assert.equal(off.info.blas, undefined);
  assert.match(off.info.reason, /native BLAS off \(RBM_NATIVE_BLAS=0\)/);
  assert.deepEqual(off.product, [4, 5, 10, 11]);
});

test("RBM_NATIVE_BLAS=1 without the addon fails with a clear message; a bad value is rejected", () => {
  const r = runChild({ RBM_NATIVE_BLAS: "1", RBM_NATIVE_BLAS_PATH: path.join(ROOT, "native", "blas", "no-such-build", "blas.node") });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /RBM_NATIVE_BLAS=1, but native BLAS addon not built/);
  const bad = runChild({ RBM_NATIVE_BLAS: "yes" });
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stderr, /RBM_NATIVE_BLAS="yes" must be 0 \(off\), 1 \(required\) or unset/);
});

test("with the addon, a child picks native BLAS and single-threaded wasm unless RBM_WASM_THREADS asks for more", { skip: SKIP }, () => {
  const auto = childResult(runChild({}));
  assert.equal(auto.info.blas, "openblas", auto.info.reason);
  assert.equal(auto.info.threads, 1, auto.info.reason);
  assert.match(auto.info.reason, /native OpenBLAS brings its own threads/);
  assert.deepEqual(auto.product, [4, 5, 10, 11]);
  assert.deepEqual(auto.fused, [4, 0, 10, 0]);
  const both = childResult(runChild({ RBM_WASM_THREADS: "2" }));
  assert.equal(both.info.blas, "openblas", both.info.reason);
  assert.equal(both.info.threads, 2, both.info.reason);
  assert.deepEqual(both.product, [4, 5, 10, 11]);
});

test("the OpenBLAS kernel set follows the CPU's feature flags", () => {
  const flags = (line: string) => new Set(line.split(" "));
  const avx512 = "sse3 avx avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl";
  assert.equal(coreTypeForFlags(flags(`${avx512} avx512_bf16`)), "Cooperlake");
  assert.equal(coreTypeForFlags(flags(avx512)), "SkylakeX");
  assert.equal(coreTypeForFlags(flags("sse3 avx avx512f avx2 fma")), "Haswell", "AVX-512 needs all five subsets for SkylakeX's kernels");
  assert.equal(coreTypeForFlags(flags("sse3 avx avx2")), "SandyBridge", "AVX2 without FMA cannot run the Haswell kernels");
  assert.equal(coreTypeForFlags(flags("sse2 sse3 ssse3")), undefined);
});

test("a user's OPENBLAS_CORETYPE wins, RBM_BLAS_CORETYPE=openblas leaves the choice to OpenBLAS, else the flags decide", () => {
  const f = new Set(["avx", "avx2", "fma"]);
  assert.deepEqual(blasCoreType({ OPENBLAS_CORETYPE: "Prescott", RBM_BLAS_CORETYPE: "Haswell" }, f), {
    coreType: "Prescott",
    source: "OPENBLAS_CORETYPE",
  });
  assert.deepEqual(blasCoreType({ RBM_BLAS_CORETYPE: "OpenBLAS" }, f), { source: "openblas" });
  assert.deepEqual(blasCoreType({ RBM_BLAS_CORETYPE: "SkylakeX" }, f), { coreType: "SkylakeX", source: "RBM_BLAS_CORETYPE" });
  assert.deepEqual(blasCoreType({ RBM_BLAS_CORETYPE: "auto", OPENBLAS_CORETYPE: " " }, f), { coreType: "Haswell", source: "cpu flags" });
  assert.deepEqual(blasCoreType({}, new Set(["sse3"])), { source: "openblas" });
  assert.deepEqual(blasCoreType({}, null), { source: "openblas" }, "no /proc/cpuinfo: OpenBLAS decides");
});

test("on an AVX2 CPU the addon runs OpenBLAS's AVX kernels, not the SSE3 fallback, and leaves the environment as it was", {
  skip: SKIP,
}, () => {
  const cpuinfo = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "").trim().split(/\s+/));
  const expected = coreTypeForFlags(flags);
  const choice = nativeBlasCoreChoice();
  assert.ok(choice !== undefined, "loadNativeBlas records its choice");
  if (process.env.OPENBLAS_CORETYPE || process.env.RBM_BLAS_CORETYPE) return; // the user chose; nothing to check here
  assert.equal(process.env.OPENBLAS_CORETYPE, undefined, "the variable set for the addon's load is removed again");
  if (expected === undefined) return;
  assert.deepEqual(choice, { coreType: expected, source: "cpu flags" });
  const lib = loadNativeBlas();
  assert.ok(typeof lib !== "string");
  assert.match(lib.config(), new RegExp(`\\(core ${expected}\\)`), "OpenBLAS took the kernel set it was given");
});

test("native Bernoulli samples are the JS path's samples from the same seed, NaN stays NaN, and the stream continues in step", {
  skip: SKIP,
}, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  const n = 50_000;
  const pValues = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? Number.NaN : 0.5 + 0.5 * Math.sin(i * 0.37)));
  // p exactly at representable uniforms and at 0 / 1 probe the comparison's edges.
  pValues[1] = 0;
  pValues[2] = 1;
  const draw = (): { samples: Float32Array; next: number; calls: number } => {
    const rng = new Rng(41);
    rng.uniform(); // a stream that has already moved on
    const before = nativeBlasCounters().native;
    const p = tf.tensor2d(pValues, [500, 100]);
    const s = sampleBernoulli(p, new UniformSource(rng));
    const samples = s.dataSync() as Float32Array;
    tf.dispose([p, s]);
    return { samples, next: rng.nextUint32(), calls: nativeBlasCounters().native - before };
  };
  let native: ReturnType<typeof draw> | undefined;
  let js: ReturnType<typeof draw> | undefined;
  noLeak("sampleBernoulli, native and JS", () => {
    ({ native, js } = nativeThenJs(draw));
  });
  assert.ok(native !== undefined && js !== undefined);
  assert.equal(native.calls, 1, "the native kernel drew the samples");
  assert.equal(js.calls, 0, "with native BLAS off the JS path drew them");
  let differ = 0;
  for (let i = 0; i < n; i++) if (!Object.is(native.samples[i], js.samples[i])) differ++;
  assert.equal(differ, 0, "every sample equal (NaN where p is NaN)");
  assert.ok(Number.isNaN(native.samples[0]) && native.samples[1] === 0 && native.samples[2] === 1);
  assert.equal(native.next, js.next, "both leave the generator at the same place");
  const ones = native.samples.reduce((a, x) => a + (x === 1 ? 1 : 0), 0);
  const expected = pValues.reduce((a, x) => a + (Number.isNaN(x) ? 0 : x), 0);
  assert.ok(Math.abs(ones - expected) < 4 * Math.sqrt(n / 4), `${ones} ones, expected ${expected.toFixed(0)}`);
});

test("native annealHidden equals the JS loop: same samples, same log-weight increments to 1e-12, same generator position", {
  skip: SKIP,
}, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  const [rows, nH, hCols] = [40, 500, 503];
  // Hidden inputs from saturated to tiny, and steps on both sides of the series' switch (|Δβ x| 0.01, 1).
  const X = Float32Array.from({ length: rows * nH }, (_, i) => 30 * Math.sin(i * 0.731) * Math.abs(Math.cos(i * 0.0113)));
  const cases: [number, number, SampleAt][] = [
    [0.5003, 0.5, SAMPLE_HIGH],
    [0.9, 0.3, SAMPLE_LOW],
    [1, 0, SAMPLE_HIGH],
    [0.2, 0.1999, SAMPLE_NONE],
  ];
  for (const [betaHi, betaLo, at] of cases) {
    const run = () => {
      const rng = new Rng(5);
      const inc = Float64Array.from({ length: rows }, (_, r) => r * 0.25);
      const hAug = new Float32Array(rows * hCols).fill(-1);
      annealHidden(X, rows, nH, hCols, betaHi, betaLo, at, inc, hAug, rng);
      return { inc, hAug, next: rng.nextUint32() };
    };
    const before = nativeBlasCounters();
    const { native, js } = nativeThenJs(run);
    assert.equal(nativeBlasCounters().fallback, before.fallback);
    const what = `βHi ${betaHi}, βLo ${betaLo}, at ${at}`;
    for (let r = 0; r < rows; r++) {
      assert.ok(
        Math.abs(native.inc[r] - js.inc[r]) <= 1e-12 * Math.max(1, Math.abs(js.inc[r])),
        `${what}: inc[${r}] ${native.inc[r]} vs ${js.inc[r]}`,
      );
    }
    assert.deepEqual(native.hAug, js.hAug, `${what}: hidden samples`);
    assert.equal(native.next, js.next, `${what}: generator position`);
    if (at !== SAMPLE_NONE) assert.ok(native.hAug.some((x) => x > 0) && native.hAug.some((x) => x === 0), `${what}: both states occur`);
  }
});

test("native sampleVisible equals the JS loop: same visible samples, same linear terms, same generator position", {
  skip: SKIP,
}, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  const [rows, nV] = [30, 784];
  const P = Float32Array.from({ length: rows * nV }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.917));
  const bases = [0, 1, 2].map((k) => Float64Array.from({ length: nV }, (_, i) => Math.cos(i * 0.3 + k)));
  const coef = Array.from({ length: rows }, (_, r) => bases[r % 3]);
  const run = () => {
    const rng = new Rng(9);
    const v = new Float32Array(rows * nV).fill(7);
    const acc = new Float64Array(rows);
    sampleVisible(P, rows, nV, v, coef, acc, rng);
    return { v, acc, next: rng.nextUint32() };
  };
  const { native, js } = nativeThenJs(run);
  assert.deepEqual(native.v, js.v);
  assert.deepEqual(native.acc, js.acc, "float64 sums in the same order");
  assert.equal(native.next, js.next);
  assert.ok(native.v.every((x) => x === 0 || x === 1));
});

test("TemperedGibbs's products on native BLAS: no tensors made, the tfjs matMuls' numbers (1e-5), buffers reused", {
  skip: SKIP,
}, async () => {
  await initBackend({ quiet: true });
  if (!nativeBlasEnabled()) return;
  const [nV, nH, rows] = [37, 23, 11];
  const rbm = {
    W: tf.tensor2d(
      Float32Array.from({ length: nV * nH }, (_, i) => 0.4 * Math.sin(i * 1.37)),
      [nV, nH],
    ),
    b: tf.tensor1d(Float32Array.from({ length: nV }, (_, i) => Math.cos(i * 0.61))),
    c: tf.tensor1d(Float32Array.from({ length: nH }, (_, j) => 0.3 * Math.sin(j * 2.1))),
  };
  const bases = [0, 1].map((k) => Float32Array.from({ length: nV }, (_, i) => -1 + Math.sin(i + k)));
  const v = Float32Array.from({ length: rows * nV }, (_, i) => (Math.sin(i * 3.3) > 0 ? 1 : 0));
  const run = () => {
    const g = new TemperedGibbs(rbm, bases);
    const hAug = Float32Array.from({ length: rows * g.hCols }, (_, i) => (Math.cos(i * 0.77) > 0 ? 0.6 : 0));
    for (let r = 0; r < rows; r++) g.setBiasColumns(hAug, r, 0.6, r % 2);
    const tensors = tf.memory().numTensors;
    const calls = nativeBlasCounters().native;
    const x = g.up(v, rows);
    const p = g.visibleProbs(hAug, rows);
    const madeTensors = tf.memory().numTensors !== tensors;
    const out = { x: Float32Array.from(x), p: Float32Array.from(p), a: Float32Array.from(g.visibleLogits(hAug, rows)) };
    const reused = g.up(v, rows) === x && g.visibleLogits(hAug, rows) === p;
    g.dispose();
    return { ...out, madeTensors, reused, calls: nativeBlasCounters().native - calls };
  };
  const { native, js } = nativeThenJs(run);
  assert.equal(native.madeTensors, false, "the native path creates no tensors");
  assert.equal(native.calls, 5, "five products, each one native call");
  assert.ok(native.reused, "the output buffers are reused from call to call");
  assert.equal(js.calls, 0, "with native BLAS off the products are tfjs matMuls");
  // The truth in float64: x = c + vW, a = β (b + W h) + (1 − β) b_A, p = σ(a).
  const W = rbm.W.dataSync();
  const [b, c] = [rbm.b.dataSync(), rbm.c.dataSync()];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < nH; j++) {
      let s = c[j];
      for (let i = 0; i < nV; i++) s += v[r * nV + i] * W[i * nH + j];
      for (const [name, got] of [
        ["native", native.x],
        ["js", js.x],
      ] as const)
        assert.ok(Math.abs(got[r * nH + j] - s) < 1e-5, `${name} x[${r}, ${j}] = ${got[r * nH + j]}, exact ${s}`);
    }
  }
  const hCols = nH + 1 + bases.length;
  const hAug = Float32Array.from({ length: rows * hCols }, (_, i) => (Math.cos(i * 0.77) > 0 ? 0.6 : 0));
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < nV; i++) {
      // hAug holds β h, then β (the coefficient of b), then 1 − β at the row's base.
      let s = 0.6 * b[i] + 0.4 * bases[r % 2][i];
      for (let j = 0; j < nH; j++) s += hAug[r * hCols + j] * W[i * nH + j];
      const k = r * nV + i;
      for (const [name, got] of [
        ["native", native.a],
        ["js", js.a],
      ] as const)
        assert.ok(Math.abs(got[k] - s) < 1e-5, `${name} logits[${r}, ${i}] = ${got[k]}, exact ${s}`);
      for (const [name, got] of [
        ["native", native.p],
        ["js", js.p],
      ] as const)
        assert.ok(
          Math.abs(got[k] - 1 / (1 + Math.exp(-s))) < 1e-6,
          `${name} probs[${r}, ${i}] = ${got[k]}, σ(exact) ${1 / (1 + Math.exp(-s))}`,
        );
    }
  }
  tf.dispose([rbm.W, rbm.b, rbm.c]);
});
