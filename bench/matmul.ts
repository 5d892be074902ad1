/**
 * Matrix-product throughput for the CD-1 shapes (batch 100, 784 visible, 500 hidden) on the backend
 * that initBackend() picks. Run: `node --import tsx bench/matmul.ts`
 * (compare single-threaded wasm with `RBM_WASM_THREADS=0`, wasm's own matMul kernels with
 * `RBM_NATIVE_BLAS=0`, or another backend with `RBM_BACKEND=…`).
 *
 * Prints one `value unit what` line per measurement. GFLOP/s counts 2·M·N·K for every product
 * (bias and sigmoid excluded), so fused and unfused rows are directly comparable.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, summaryLine } from "../lib/compute/backend";

const [B, V, H] = [100, 784, 500];

/**
 * Milliseconds per call of `fn`, best of 7 timed batches (the minimum is the number least disturbed
 * by other processes on a shared machine); every call's result is disposed.
 */
function msPerCall(fn: () => tf.Tensor): number {
  const run = (n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const out = fn();
      // wasm/cpu/tensorflow kernels run synchronously; reading the last result is enough to sync.
      if (i === n - 1) out.dataSync();
      out.dispose();
    }
    return performance.now() - t0;
  };
  run(3); // warm-up: kernel set-up, XNNPACK operator cache
  let n = 1;
  while (run(n) < 60) n *= 2;
  return Math.min(...Array.from({ length: 7 }, () => run(n) / n));
}

function row(value: number, unit: string, what: string): void {
  console.log(`${value.toFixed(value < 10 ? 2 : 1).padStart(8)} ${unit.padEnd(9)} ${what}`);
}

function gflops(what: string, [m, k, n]: [number, number, number], fn: () => tf.Tensor): void {
  row((2 * m * k * n) / msPerCall(fn) / 1e6, "GFLOP/s", what);
}

async function main(): Promise<void> {
  const info = await initBackend({ quiet: true });
  console.log(`# ${summaryLine(info)}`);

  const v = tf.randomUniform([B, V]);
  const h = tf.randomUniform([B, H]);
  const W = tf.randomNormal([V, H], 0, 0.01);
  const b = tf.zeros([V]);
  const c = tf.zeros([H]);
  const [vT, hT, WT] = [v.transpose(), h.transpose(), W.transpose()]; // pre-transposed copies

  gflops("v·W          [100,784]x[784,500]", [B, V, H], () => tf.matMul(v, W));
  // wasm caches XNNPACK's packed copy of the right operand per tensor; training makes a new W each
  // step, so it pays the packing every time (the add itself is ~0.1 ms).
  gflops("v·W  new W   [100,784]x[784,500]", [B, V, H], () => tf.tidy(() => tf.matMul(v, tf.add(W, 0))));
  gflops("h·Wᵀ  flag   [100,500]x[500,784]", [B, H, V], () => tf.matMul(h, W, false, true));
  gflops("h·Wᵀ  copy   [100,500]x[500,784]", [B, H, V], () => tf.matMul(h, WT));
  gflops("vᵀ·h  flag   [784,100]x[100,500]", [V, B, H], () => tf.matMul(v, h, true, false));
  gflops("vᵀ·h  copy   [784,100]x[100,500]", [V, B, H], () => tf.matMul(vT, h));
  gflops("hᵀ·v  flag   [500,100]x[100,784]", [H, B, V], () => tf.matMul(h, v, true, false));
  gflops("hᵀ·v  copy   [500,100]x[100,784]", [H, B, V], () => tf.matMul(hT, v));
  gflops("σ(v·W+c)   fused", [B, V, H], () => tf.fused.matMul({ a: v, b: W, bias: c, activation: "sigmoid" }));
  gflops("σ(v·W+c)   unfused", [B, V, H], () => tf.tidy(() => tf.sigmoid(tf.add(tf.matMul(v, W), c))));
  gflops("σ(h·Wᵀ+b)  fused, flag", [B, H, V], () => tf.fused.matMul({ a: h, b: W, transposeB: true, bias: b, activation: "sigmoid" }));
  gflops("σ(h·Wᵀ+b)  unfused, flag", [B, H, V], () => tf.tidy(() => tf.sigmoid(tf.add(tf.matMul(h, W, false, true), b))));
  for (const shape of [
    [B, H],
    [B, V],
  ]) {
    const ms = msPerCall(() => tf.randomUniform(shape));
    row((ms * 1e6) / (shape[0] * shape[1]), "ns/number", `tf.randomUniform [${shape}]`);
  }
  tf.dispose([v, h, W, b, c, vT, hT, WT]);
}

void main();
