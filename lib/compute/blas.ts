/**
 * Optional native SGEMM for the wasm backend: runs TensorFlow.js's matrix products on OpenBLAS.
 *
 * `native/blas/` holds a tiny N-API addon (C, built by `node scripts/build-native.mjs` with node-gyp
 * against Debian's `libopenblas-dev`). When it is built, {@link enableNativeBlas} replaces the wasm
 * backend's `BatchMatMul` and `_FusedMatMul` kernels with versions that call `cblas_sgemm` directly
 * on the wasm heap (Float32Array views of the backend's WebAssembly.Memory, plain or shared), and
 * apply the fused bias + activation (linear, relu, relu6, sigmoid, elu) in C. Transpose flags are
 * free (OpenBLAS reads either layout). Anything else (prelu / leakyrelu, non-rank-1 bias, general
 * batch broadcasting, empty or non-float32 tensors) goes to the original wasm kernel unchanged.
 *
 * {@link initBackend} (compute/backend.ts) calls {@link enableNativeBlas} after picking wasm; nothing
 * here is needed by notebooks directly. Environment: `RBM_NATIVE_BLAS=0` disables it,
 * `RBM_NATIVE_BLAS=1` makes a missing addon an error, `RBM_NATIVE_BLAS_PATH` loads the addon from
 * another file, `RBM_BLAS_THREADS=N` sets OpenBLAS's thread count (else OpenBLAS's own
 * `OPENBLAS_NUM_THREADS`, else all cores), `RBM_BLAS_CORETYPE` which kernel set OpenBLAS uses (see
 * {@link blasCoreType}: by default one chosen from the CPU's feature flags).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";

/** The functions the compiled addon (`native/blas/build/Release/blas.node`) exports. */
export interface NativeBlasAddon {
  /**
   * `C = alpha · op(A)·op(B) + beta · C`, row-major, `op(X) = Xᵀ` when its flag is set;
   * `A` is M×K (K×M transposed), `B` is K×N (N×K transposed), `C` is M×N.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: Float32Array,
    B: Float32Array,
    beta: number,
    C: Float32Array,
  ): void;
  /**
   * For `i < batch`: `C_i = act(op(A_i)·op(B_i) + bias)` with `A_i = A + i·strideA` (elements;
   * 0 repeats one matrix), likewise `B_i`; `C`'s batches are contiguous; `bias` has length N or is null.
   */
  gemmBatched(
    transA: boolean,
    transB: boolean,
    batch: number,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    strideA: number,
    B: Float32Array,
    strideB: number,
    C: Float32Array,
    bias: Float32Array | null,
    activation: number,
  ): void;
  /**
   * `OUT[i] = [u_i < P[i]]` (NaN where `P[i]` is NaN) for `i < OUT.length`, with `u_i` the next
   * uniforms of the xoshiro128** stream whose four words are `state` (advanced in place): the
   * stream of lib/core/random.ts's `Rng.fillUniform`.
   */
  bernoulli(P: Float32Array, OUT: Float32Array, state: Uint32Array): void;
  /** lib/eval/anneal.ts's sampleVisible in C, with row r's coefficients at `coef[coefRow[r]·nV …]`. */
  sampleVisible(
    P: Float32Array,
    rows: number,
    nV: number,
    v: Float32Array,
    coef: Float64Array,
    coefRow: Int32Array,
    acc: Float64Array,
    state: Uint32Array,
  ): void;
  /** lib/eval/anneal.ts's annealHidden in C (same arguments; the generator as its four state words). */
  annealHidden(
    X: Float32Array,
    rows: number,
    nH: number,
    hCols: number,
    betaHi: number,
    betaLo: number,
    at: number,
    inc: Float64Array,
    hAug: Float32Array,
    state: Uint32Array,
  ): void;
  /**
   * One whole CD-k / PCD-k update (native/blas/cd.c): W, b, c, dW, db, dc and the chains advanced
   * in place; returns Σ (v − ṽ)² for CD (0 for PCD) and, with a label group, the rows whose
   * reconstructed label flipped. Absent from addons built before it existed.
   */
  cdStep?(
    v: Float32Array,
    W: Float32Array,
    b: Float32Array,
    c: Float32Array,
    dW: Float32Array,
    db: Float32Array,
    dc: Float32Array,
    chains: Float32Array | null,
    scratch: Float32Array,
    state: Uint32Array,
    dims: Int32Array,
    hyper: Float64Array,
  ): { err: number; flips: number };
  /**
   * `dims[3]` block-Gibbs steps v → h → v of `dims[0]` chains (native/blas/gibbs.c), the last
   * `dims[4]` visible units a softmax group kept (`dims[5]` = 1) or drawn: v advanced in place, the
   * last step's p(v|h), p(h|v) and h written. dims `[B, nV, nH, steps, K, groupClamped]`.
   */
  gibbsSteps?(
    v: Float32Array,
    vProbs: Float32Array,
    hProbs: Float32Array,
    h: Float32Array,
    W: Float32Array,
    b: Float32Array,
    c: Float32Array,
    dims: Int32Array,
    state: Uint32Array,
  ): void;
  /**
   * One centered PCD-k update (native/blas/cd.c); dims `[B, nV, nH, nNeg, k, M]`, hyper
   * `[lr, momentum, weightDecay, ν]`; with M > 0 the negative phase is k steps of `tempering`.
   */
  centeredStep?(
    v: Float32Array,
    W: Float32Array,
    b: Float32Array,
    c: Float32Array,
    dW: Float32Array,
    db: Float32Array,
    dc: Float32Array,
    mu: Float32Array,
    lambda: Float32Array,
    chains: Float32Array | null,
    scratch: Float32Array,
    state: Uint32Array,
    dims: Int32Array,
    hyper: Float64Array,
    tempering: TemperingBuffers | undefined,
  ): void;
  /** Parallel-tempering steps on plain arrays (native/blas/tempering.c); dims `[M, n, nV, nH, steps]`. */
  temperingSteps?(pt: TemperingBuffers, W: Float32Array, b: Float32Array, c: Float32Array, dims: Int32Array, state: Uint32Array): void;
  /** Sets OpenBLAS's thread count. */
  setNumThreads(n: number): void;
  /** OpenBLAS's thread count. */
  getNumThreads(): number;
  /** OpenBLAS's build configuration and the CPU kernel set it picked. */
  config(): string;
  ACT_LINEAR: number;
  ACT_RELU: number;
  ACT_RELU6: number;
  ACT_SIGMOID: number;
  ACT_ELU: number;
}

/** Result of {@link enableNativeBlas}. */
export interface NativeBlasStatus {
  /** Whether the wasm matMul kernels now run on OpenBLAS. */
  enabled: boolean;
  /** OpenBLAS threads (0 when not enabled). */
  threads: number;
  /** One phrase for {@link BackendInfo.reason}: what is used, or why not. */
  note: string;
}

/** How often the native kernels ran, and how often they handed a call to the original wasm kernel. */
export interface NativeBlasCounters {
  /** Calls computed by OpenBLAS. */
  native: number;
  /** Calls passed to the original wasm kernel (unsupported case). */
  fallback: number;
}

const KERNELS = [tf.BatchMatMul, tf._FusedMatMul] as const;
/** The name of the native Bernoulli-sampling kernel registered for wasm (see {@link nativeBernoulli}). */
const BERNOULLI = "RbmNativeBernoulli";
const ADDON_RELATIVE = path.join("native", "blas", "build", "Release", "blas.node");
const BUILD_HINT = "build it with `node scripts/build-native.mjs` (needs `apt-get install libopenblas-dev`, python3, make, g++)";

let addon: NativeBlasAddon | undefined;
let originals: Map<string, tf.KernelConfig> | undefined;
const counters: NativeBlasCounters = { native: 0, fallback: 0 };

/**
 * Where the addon would be: `<project>/native/blas/build/Release/blas.node` (lib/ may be reached
 * through a symlink), or `RBM_NATIVE_BLAS_PATH` when set (tests use it to simulate a missing addon).
 */
export function nativeBlasPath(): string {
  const override = process.env.RBM_NATIVE_BLAS_PATH;
  if (override !== undefined && override !== "") return path.resolve(override);
  const candidates: string[] = [];
  try {
    candidates.push(path.resolve(fs.realpathSync(__dirname), "..", "..", ADDON_RELATIVE));
  } catch {
    // __dirname missing or unreadable: fall through to the node_modules-based guess
  }
  try {
    // <project>/node_modules/@tensorflow/tfjs/package.json → <project>
    const tfjsPkg = require.resolve("@tensorflow/tfjs/package.json");
    candidates.push(path.resolve(path.dirname(tfjsPkg), "..", "..", "..", ADDON_RELATIVE));
  } catch {
    // not resolvable: keep the first guess
  }
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0] ?? ADDON_RELATIVE;
}

/**
 * The OpenBLAS kernel set ("core type") for a CPU with these feature flags (the `flags` line of
 * `/proc/cpuinfo`), or undefined when the CPU has no AVX and OpenBLAS's own choice is as good.
 *
 * Why: a DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU's family and model number, and a CPU
 * newer than the OpenBLAS build falls back to the oldest x86-64 set. Debian 12's OpenBLAS 0.3.21
 * does not know Intel's Sapphire Rapids servers and runs its Prescott (SSE3) kernels there: a
 * 100×784 · 784×500 SGEMM then reaches 12 GFLOP/s on one core instead of 45–115 with the AVX-512
 * kernels it ships (measured side by side on this machine). Choosing by feature flags instead gives
 * every CPU the widest kernels it can run: AVX-512 with BF16 → Cooperlake, AVX-512 → SkylakeX,
 * AVX2 + FMA → Haswell (OpenBLAS's Zen kernels are these too), AVX → SandyBridge.
 */
export function coreTypeForFlags(flags: ReadonlySet<string>): string | undefined {
  const avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].every((f) => flags.has(f));
  if (avx512 && flags.has("avx512_bf16")) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (flags.has("avx2") && flags.has("fma")) return "Haswell";
  if (flags.has("avx")) return "SandyBridge";
  return undefined;
}

/** The feature flags of the first CPU in `/proc/cpuinfo` (Linux), or null where there is none. */
function cpuFlags(): Set<string> | null {
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1];
    return line === undefined ? null : new Set(line.trim().split(/\s+/));
  } catch {
    return null;
  }
}

/** Which OpenBLAS kernel set {@link loadNativeBlas} asks for, and where that choice came from. */
export interface BlasCoreChoice {
  /** The core type passed to OpenBLAS as `OPENBLAS_CORETYPE`, or undefined (OpenBLAS decides). */
  coreType?: string;
  /** Where it came from: `OPENBLAS_CORETYPE`, `RBM_BLAS_CORETYPE`, `cpu flags` or `openblas`. */
  source: "OPENBLAS_CORETYPE" | "RBM_BLAS_CORETYPE" | "cpu flags" | "openblas";
}

/**
 * The kernel set to ask OpenBLAS for. In order: a non-empty `OPENBLAS_CORETYPE` is the user's
 * choice and is kept; `RBM_BLAS_CORETYPE=openblas` leaves the choice to OpenBLAS; any other value
 * of `RBM_BLAS_CORETYPE` (e.g. `Haswell`) is used as given; unset or `auto`, the set follows the
 * CPU's feature flags ({@link coreTypeForFlags}; `flags` null: none known, OpenBLAS decides).
 */
export function blasCoreType(
  env: Readonly<Record<string, string | undefined>> = process.env,
  flags: ReadonlySet<string> | null = cpuFlags(),
): BlasCoreChoice {
  const user = env.OPENBLAS_CORETYPE?.trim();
  if (user) return { coreType: user, source: "OPENBLAS_CORETYPE" };
  const ours = env.RBM_BLAS_CORETYPE?.trim() ?? "";
  if (ours.toLowerCase() === "openblas") return { source: "openblas" };
  if (ours !== "" && ours.toLowerCase() !== "auto") return { coreType: ours, source: "RBM_BLAS_CORETYPE" };
  const fromFlags = flags === null ? undefined : coreTypeForFlags(flags);
  return fromFlags === undefined ? { source: "openblas" } : { coreType: fromFlags, source: "cpu flags" };
}

let coreChoice: BlasCoreChoice | undefined;

/** The kernel-set choice made when the addon was loaded (undefined before {@link loadNativeBlas} loads it). */
export function nativeBlasCoreChoice(): BlasCoreChoice | undefined {
  return coreChoice;
}

/**
 * `require`s the addon with `OPENBLAS_CORETYPE` set to the chosen kernel set: OpenBLAS reads it
 * once, when the library is loaded. The variable is restored afterwards, so child processes (a
 * Python peer in a benchmark, say) see the environment the user gave.
 */
function requireWithCoreType(file: string): Partial<NativeBlasAddon> {
  const choice = blasCoreType();
  const before = process.env.OPENBLAS_CORETYPE;
  if (choice.coreType !== undefined) process.env.OPENBLAS_CORETYPE = choice.coreType;
  try {
    const mod = require(file) as Partial<NativeBlasAddon>;
    coreChoice = choice;
    return mod;
  } finally {
    if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = before;
  }
}

/** Loads the addon once; returns it, or why it cannot be used. */
export function loadNativeBlas(): NativeBlasAddon | string {
  if (addon !== undefined) return addon;
  const file = nativeBlasPath();
  if (!fs.existsSync(file)) return `native BLAS addon not built (${path.relative(process.cwd(), file) || file} missing; ${BUILD_HINT})`;
  try {
    const mod = requireWithCoreType(file);
    const missing = (["sgemm", "gemmBatched", "bernoulli", "annealHidden", "sampleVisible", "config"] as const).filter(
      (f) => typeof mod[f] !== "function",
    );
    if (missing.length > 0) {
      return `native BLAS addon at ${file} is outdated (no ${missing.join(", ")}); rebuild it with \`node scripts/build-native.mjs --force\``;
    }
    addon = mod as NativeBlasAddon;
    return addon;
  } catch (err) {
    return `native BLAS addon failed to load (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); ${BUILD_HINT}`;
  }
}

/** Whether the wasm matMul kernels currently run on OpenBLAS. */
export function nativeBlasEnabled(): boolean {
  return originals !== undefined;
}

/** Counts of native and fallback kernel calls since the process started (for tests and benchmarks). */
export function nativeBlasCounters(): NativeBlasCounters {
  return { ...counters };
}

/** Options for {@link enableNativeBlas}. */
export interface EnableNativeBlasOptions {
  /** OpenBLAS threads (default: OpenBLAS's own choice, i.e. `OPENBLAS_NUM_THREADS` or all cores). */
  threads?: number;
}

/**
 * Replaces the wasm backend's `BatchMatMul` and `_FusedMatMul` kernels with OpenBLAS-backed ones.
 * Call with the wasm backend active (after `tf.setBackend("wasm")`). Idempotent.
 * Never throws: returns `enabled: false` and the reason when the addon is missing, fails to load or
 * fails its self-check (everything then runs on the original kernels).
 */
export function enableNativeBlas(opts: EnableNativeBlasOptions = {}): NativeBlasStatus {
  const off = (note: string): NativeBlasStatus => ({ enabled: false, threads: 0, note });
  const lib = loadNativeBlas();
  if (typeof lib === "string") return off(lib);
  if (tf.getBackend() !== "wasm") return off(`native BLAS applies to the wasm backend only (active: ${tf.getBackend()})`);
  if (opts.threads !== undefined && Number.isInteger(opts.threads) && opts.threads >= 1) lib.setNumThreads(opts.threads);
  if (!nativeBlasEnabled()) {
    const saved = new Map<string, tf.KernelConfig>();
    for (const name of KERNELS) {
      const original = tf.getKernel(name, "wasm");
      if (original === undefined) return off(`the wasm backend has no ${name} kernel to replace`);
      saved.set(name, original);
    }
    originals = saved;
    for (const [name, original] of saved) {
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel({ ...original, kernelFunc: name === tf.BatchMatMul ? batchMatMulKernel : fusedMatMulKernel });
    }
    if (tf.getKernel(BERNOULLI, "wasm") === undefined) {
      tf.registerKernel({ kernelName: BERNOULLI, backendName: "wasm", kernelFunc: bernoulliKernel });
    }
    let mismatch: string | undefined;
    try {
      mismatch = selfCheck();
    } catch (err) {
      mismatch = err instanceof Error ? err.message : String(err);
    }
    if (mismatch !== undefined) {
      disableNativeBlas();
      return off(`native BLAS self-check failed (${mismatch}); using the wasm kernels`);
    }
  }
  const threads = lib.getNumThreads();
  const core = /\(core (\w+)\)/.exec(lib.config())?.[1] ?? "?";
  const from = coreChoice === undefined || coreChoice.source === "openblas" ? "" : ` from ${coreChoice.source}`;
  return { enabled: true, threads, note: `matMul on native OpenBLAS (${core}${from}, ${threads} thread${threads === 1 ? "" : "s"})` };
}

/** Puts the original wasm matMul kernels back (no-op when native BLAS is not enabled). */
export function disableNativeBlas(): void {
  if (originals === undefined) return;
  if (tf.getKernel(BERNOULLI, "wasm") !== undefined) tf.unregisterKernel(BERNOULLI, "wasm");
  for (const [name, original] of originals) {
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(original);
  }
  originals = undefined;
}

// ---------------------------------------------------------------- kernels

/** The parts of tfjs-backend-wasm's BackendWasm (4.22) used here. */
interface WasmBackendLike {
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  wasm: { HEAPU8: Uint8Array; wasmMemory?: { buffer: ArrayBufferLike } };
}

/** Kernel arguments as tfjs passes them. */
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** A product the native path can do: sizes, batch strides (elements), output shape. */
interface Plan {
  transA: boolean;
  transB: boolean;
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

type ActivationCode = "ACT_LINEAR" | "ACT_RELU" | "ACT_RELU6" | "ACT_SIGMOID" | "ACT_ELU";
const ACTIVATIONS: Record<string, ActivationCode | undefined> = {
  linear: "ACT_LINEAR",
  relu: "ACT_RELU",
  relu6: "ACT_RELU6",
  sigmoid: "ACT_SIGMOID",
  elu: "ACT_ELU",
};

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Plans `op(a)·op(b)` over broadcast batch dims, or undefined for cases left to the original kernel. */
function plan(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean): Plan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb || m === 0 || n === 0 || k === 0) return undefined; // mismatch errors come from the original
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return undefined;
  }
  const batchA = size(outerA);
  const batchB = size(outerB);
  const batch = size(outer);
  if (batch === 0) return undefined;
  // One stride per operand: equal batches, or one side broadcast as a whole.
  const sameA = batchA === batch;
  const sameB = batchB === batch;
  if (!((sameA || batchA === 1) && (sameB || batchB === 1))) return undefined;
  // (An operand whose batch size equals the output's broadcasts to it only by leading 1s: same layout.)
  return {
    transA,
    transB,
    batch,
    m,
    n,
    k,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}

/** The current heap buffer: shared memory's `.buffer` follows growth from any thread; HEAPU8 is refreshed on growth otherwise. */
function heapBuffer(backend: WasmBackendLike): ArrayBufferLike {
  return backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
}

/** A Float32Array over a tensor's heap memory, or undefined if it does not lie inside `buffer`. */
function view(backend: WasmBackendLike, buffer: ArrayBufferLike, t: tf.TensorInfo, length: number): Float32Array | undefined {
  const offset = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (typeof offset !== "number" || offset % 4 !== 0 || offset + 4 * length > buffer.byteLength) return undefined;
  return new Float32Array(buffer, offset, length);
}

/** Runs the planned product on OpenBLAS into a new output, or returns undefined (nothing allocated). */
function runNative(
  backend: WasmBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  p: Plan,
  bias: tf.TensorInfo | undefined,
  act: number,
): tf.TensorInfo | undefined {
  const lib = addon;
  if (lib === undefined) return undefined;
  const out = backend.makeOutput(p.outShape, "float32"); // may grow the heap: take views afterwards
  const buffer = heapBuffer(backend);
  const A = view(backend, buffer, a, size(a.shape));
  const B = view(backend, buffer, b, size(b.shape));
  const C = view(backend, buffer, out, p.batch * p.m * p.n);
  const bv = bias === undefined ? null : view(backend, buffer, bias, p.n);
  if (A === undefined || B === undefined || C === undefined || bv === undefined) {
    backend.disposeData(out.dataId);
    return undefined;
  }
  lib.gemmBatched(p.transA, p.transB, p.batch, p.m, p.n, p.k, A, p.strideA, B, p.strideB, C, bv, act);
  counters.native++;
  return out;
}

function original(name: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const config = originals?.get(name);
  if (config === undefined) throw new Error(`rbm-notebooks: the original wasm ${name} kernel is gone`);
  counters.fallback++;
  return config.kernelFunc(args);
}

function batchMatMulKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs;
  const attrs = (args.attrs ?? {}) as Partial<tf.BatchMatMulAttrs>;
  let out: tf.TensorInfo | undefined;
  if (addon !== undefined && a !== undefined && b !== undefined) {
    const p = plan(a, b, attrs.transposeA === true, attrs.transposeB === true);
    if (p !== undefined) out = runNative(args.backend as WasmBackendLike, a, b, p, undefined, addon.ACT_LINEAR);
  }
  return out ?? original(tf.BatchMatMul, args);
}

function fusedMatMulKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const attrs = (args.attrs ?? {}) as Partial<tf._FusedMatMulAttrs>;
  const actKey = ACTIVATIONS[attrs.activation ?? "linear"];
  const lib = addon;
  let out: tf.TensorInfo | undefined;
  if (lib !== undefined && actKey !== undefined && preluActivationWeights == null && a !== undefined && b !== undefined) {
    const p = plan(a, b, attrs.transposeA === true, attrs.transposeB === true);
    // A bias of N values along the last axis ([N], [1, N], …); other broadcasts go to the original.
    const biasOk = bias == null || (bias.dtype === "float32" && size(bias.shape) === p?.n && bias.shape[bias.shape.length - 1] === p.n);
    if (p !== undefined && biasOk) out = runNative(args.backend as WasmBackendLike, a, b, p, bias ?? undefined, lib[actKey]);
  }
  return out ?? original(tf._FusedMatMul, args);
}

/** Compares the native kernels with a float64 reference on a small product with both flags; undefined when fine. */
function selfCheck(): string | undefined {
  const [m, k, n] = [7, 33, 5];
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
  const b = Float32Array.from({ length: n * k }, (_, i) => Math.cos(i * 0.11));
  const bias = Float32Array.from({ length: n }, (_, i) => 0.1 * i - 0.2);
  const before = counters.native;
  const out = tf.tidy(() =>
    tf.fused.matMul({
      a: tf.tensor2d(a, [k, m]),
      b: tf.tensor2d(b, [n, k]),
      transposeA: true,
      transposeB: true,
      bias: tf.tensor1d(bias),
      activation: "sigmoid",
    }),
  );
  const got = out.dataSync();
  out.dispose();
  if (counters.native === before) return "the native kernel was not called";
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias[j];
      for (let p = 0; p < k; p++) s += a[p * m + i] * b[j * k + p];
      worst = Math.max(worst, Math.abs(got[i * n + j] - 1 / (1 + Math.exp(-s))));
    }
  }
  return worst < 1e-5 ? undefined : `off by ${worst}`;
}

// ---------------------------------------------------------------- Bernoulli samples

/** The Bernoulli kernel: `inputs.p` float32, `attrs.state` the generator's four words (advanced in place). */
function bernoulliKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const p = args.inputs.p;
  const state = (args.attrs as { state?: unknown } | undefined)?.state;
  const lib = addon;
  if (p === undefined || !(state instanceof Uint32Array) || lib === undefined) {
    throw new Error("rbm-notebooks: the native Bernoulli kernel needs inputs.p and attrs.state (a Uint32Array of 4 words)");
  }
  const n = size(p.shape);
  const out = backend.makeOutput(p.shape, "float32"); // may grow the heap: take views afterwards
  const buffer = heapBuffer(backend);
  const P = view(backend, buffer, p, n);
  const OUT = view(backend, buffer, out, n);
  if (P === undefined || OUT === undefined) {
    backend.disposeData(out.dataId);
    throw new Error("rbm-notebooks: the native Bernoulli kernel could not see its tensors on the wasm heap");
  }
  lib.bernoulli(P, OUT, state);
  counters.native++;
  return out;
}

/**
 * Bernoulli samples `[u < p]` drawn natively, or undefined when the native kernel is not in use
 * (other backend, addon without it, native BLAS off, non-float32 input): the caller then draws them
 * in JS. `state` holds the four words of the generator (advanced in place); the samples are those
 * the JS path draws from the same state (lib/core/units.ts's sampleBernoulli).
 * @param p probabilities, any shape @returns a new tensor of p's shape, 0/1 (NaN where p is NaN)
 */
export function nativeBernoulli<T extends tf.Tensor>(p: T, state: Uint32Array): T | undefined {
  if (p.dtype !== "float32" || p.size === 0 || tf.getBackend() !== "wasm" || tf.getKernel(BERNOULLI, "wasm") === undefined)
    return undefined;
  return tf.engine().runKernel(BERNOULLI, { p }, { state } as unknown as tf.NamedAttrMap) as T;
}

/**
 * `C = act(A·B + bias)` on OpenBLAS for row-major Float32Arrays, without tensors: A `[m, k]`,
 * B `[k, n]`, bias `[n]` or null, C `[m, n]` (written). The same call the wasm matMul kernels make,
 * so the numbers are those of `tf.fused.matMul` with native BLAS on. Returns false (C untouched)
 * when native BLAS is not in use: the caller then goes through tfjs.
 */
export function nativeGemm(
  A: Float32Array,
  m: number,
  k: number,
  B: Float32Array,
  n: number,
  bias: Float32Array | null,
  activation: "linear" | "sigmoid",
  C: Float32Array,
): boolean {
  if (addon === undefined || !nativeBlasEnabled()) return false;
  addon.gemmBatched(false, false, 1, m, n, k, A, 0, B, 0, C, bias, activation === "sigmoid" ? addon.ACT_SIGMOID : addon.ACT_LINEAR);
  counters.native++;
  return true;
}

/**
 * The native version of lib/eval/anneal.ts's annealHidden (the float64 hidden half of an AIS /
 * RAISE step), or false when native BLAS is not in use and the caller must run the JS loop. Same
 * arguments; `state` is the generator's four words, advanced in place.
 */
export function nativeAnnealHidden(
  X: Float32Array,
  rows: number,
  nH: number,
  hCols: number,
  betaHi: number,
  betaLo: number,
  at: number,
  inc: Float64Array,
  hAug: Float32Array,
  state: Uint32Array,
): boolean {
  if (addon === undefined || !nativeBlasEnabled()) return false;
  addon.annealHidden(X, rows, nH, hCols, betaHi, betaLo, at, inc, hAug, state);
  return true;
}

/**
 * The native version of lib/eval/anneal.ts's sampleVisible, or false when native BLAS is not in
 * use. Same arguments; the rows' coefficient arrays (usually one per base, shared by its rows) are
 * packed once per call; `state` is the generator's four words, advanced in place.
 */
export function nativeSampleVisible(
  P: Float32Array,
  rows: number,
  nV: number,
  v: Float32Array,
  coef: readonly Float64Array[],
  acc: Float64Array,
  state: Uint32Array,
): boolean {
  if (addon === undefined || !nativeBlasEnabled()) return false;
  const index = new Map<Float64Array, number>();
  const coefRow = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let k = index.get(coef[r]);
    if (k === undefined) {
      k = index.size;
      index.set(coef[r], k);
    }
    coefRow[r] = k;
  }
  const packed = new Float64Array(index.size * nV);
  for (const [w, k] of index) packed.set(w.subarray(0, nV), k * nV);
  addon.sampleVisible(P, rows, nV, v, packed, coefRow, acc, state);
  return true;
}

/** Sizes and switches of one {@link nativeCDStep} call. */
export interface CDStepShape {
  /** Rows of the mini-batch. */
  B: number;
  nVisible: number;
  nHidden: number;
  /** Negative-phase chains: B for CD, the persistent chains for PCD. */
  nNeg: number;
  /** Gibbs steps. */
  k: number;
  persistent: boolean;
  sampleVisible: boolean;
  /** The last nLabels visible units are one softmax group (a DBN's label units). Default 0: none. */
  nLabels?: number;
}

/**
 * The scratch a {@link nativeCDStep} call needs, in float32 elements (native/blas/cd.c's layout:
 * the stacked phases, p(v|h), CD's hidden states, the weight step, row weights and bias steps).
 */
export function cdScratchLength(s: Pick<CDStepShape, "B" | "nVisible" | "nHidden" | "nNeg">): number {
  const R = s.B + s.nNeg;
  return (
    R * s.nVisible + R * s.nHidden + s.nNeg * s.nVisible + s.nNeg * s.nHidden + s.nVisible * s.nHidden + 2 * R + s.nVisible + s.nHidden
  );
}

/**
 * Whether the library trains and tempers through {@link nativeCDStep}, {@link nativeCenteredStep}
 * and {@link nativeTemperingSteps}: native BLAS in use, an addon that has them, and `RBM_FUSED` not "0".
 */
export function nativeCDAvailable(): boolean {
  return (
    fusedAllowed() &&
    addon !== undefined &&
    nativeBlasEnabled() &&
    typeof addon.cdStep === "function" &&
    typeof addon.centeredStep === "function" &&
    typeof addon.temperingSteps === "function"
  );
}

/**
 * Parallel tempering's state on plain arrays (native/blas/tempering.c): M temperatures × n chains,
 * rows temperature-major (row t·n + r is chain r at β_t; β_0 = 1, so the first n rows are the model's).
 */
export interface TemperingBuffers {
  /** `[M·n, nHidden]` hidden states (advanced). */
  h: Float32Array;
  /** `[M·n, nVisible]` the last step's visible samples. */
  v: Float32Array;
  /** `[M·n, nVisible]` scratch: the visible probabilities. */
  pv: Float32Array;
  /** `[M·n, nHidden]` the last step's p(h|v) at each row's β. */
  hProbs: Float32Array;
  /** `[M·n, nHidden]` scratch. */
  x: Float32Array;
  /** `[M·n, nHidden]` scratch. */
  hNew: Float32Array;
  /** The ladder β_0 = 1 > … > β_{M−1}. */
  betas: Float64Array;
  /** The base visible biases b_A `[nVisible]` (the tempered path runs from b_A to b), or null for 0. */
  base: Float32Array | null;
  /** `[M·n]` scratch: −E′ of each row. */
  negE: Float64Array;
  /** Swaps accepted per neighbouring pair (t, t + 1), `[M − 1]`, accumulated. */
  accepted: Float64Array;
  /** Swaps proposed per pair, `[M − 1]`, accumulated. */
  proposed: Float64Array;
  /** Which pairs swap next: 0 even, 1 odd (flipped every step). */
  parity: Int32Array;
}

/** Empty {@link TemperingBuffers} for `betas`, n chains each, starting from hidden states `h0` `[n, nHidden]` at every temperature. */
export function temperingBuffers(
  betas: Float64Array,
  n: number,
  nVisible: number,
  nHidden: number,
  h0: Float32Array,
  base: Float32Array | null,
): TemperingBuffers {
  const rows = betas.length * n;
  const h = new Float32Array(rows * nHidden);
  for (let t = 0; t < betas.length; t++) h.set(h0.subarray(0, n * nHidden), t * n * nHidden);
  return {
    h,
    v: new Float32Array(rows * nVisible),
    pv: new Float32Array(rows * nVisible),
    hProbs: new Float32Array(rows * nHidden),
    x: new Float32Array(rows * nHidden),
    hNew: new Float32Array(rows * nHidden),
    betas,
    base: base?.some((x) => x !== 0) ? base : null,
    negE: new Float64Array(rows),
    accepted: new Float64Array(betas.length - 1),
    proposed: new Float64Array(betas.length - 1),
    parity: new Int32Array(1),
  };
}

/**
 * `steps` parallel-tempering steps in one native call (native/blas/tempering.c): the draws of
 * lib/core/tempering.ts's temperingStep in order and distribution (not bit for bit). Returns false
 * (nothing touched) when native BLAS is not in use.
 */
export function nativeTemperingSteps(
  pt: TemperingBuffers,
  rbm: { W: Float32Array; b: Float32Array; c: Float32Array },
  steps: number,
  state: Uint32Array,
): boolean {
  const lib = addon;
  if (lib?.temperingSteps === undefined || !nativeBlasEnabled()) return false;
  const M = pt.betas.length;
  const n = pt.h.length / M / rbm.c.length;
  lib.temperingSteps(pt, rbm.W, rbm.b, rbm.c, Int32Array.of(M, n, rbm.b.length, rbm.c.length, steps), state);
  counters.native++;
  return true;
}

/** The scratch of a {@link nativeCenteredStep} call, in float32 elements (native/blas/cd.c's layout). */
export function centeredScratchLength(s: Pick<CDStepShape, "B" | "nVisible" | "nHidden" | "nNeg">): number {
  const R = s.B + s.nNeg;
  return 2 * R * s.nVisible + 2 * R * s.nHidden + s.nNeg * s.nVisible + s.nVisible * s.nHidden + 2 * R + 3 * s.nVisible + 3 * s.nHidden;
}

/**
 * One centered PCD-k update in a single native call (native/blas/cd.c): lib/train/centered.ts's
 * update in its order and with its OpenBLAS products, so the same numbers without tempering; with
 * `tempering` (n = nNeg chains per temperature) its negative phase is k steps of
 * {@link nativeTemperingSteps}' sampler (same distribution as the tensor code, not the same bits).
 * Parameters (plain coordinates), increments, offsets `mu` `[nV]` / `lambda` `[nH]`, the chains
 * `[nNeg, nH]` (null with `tempering`, whose state holds them) and the generator's `state` are
 * advanced in place. Returns false (nothing touched)
 * when the fused step is not available.
 */
export function nativeCenteredStep(
  v: Float32Array,
  p: { W: Float32Array; b: Float32Array; c: Float32Array; dW: Float32Array; db: Float32Array; dc: Float32Array },
  offsets: { mu: Float32Array; lambda: Float32Array },
  chains: Float32Array | null,
  scratch: Float32Array,
  state: Uint32Array,
  shape: Pick<CDStepShape, "B" | "nVisible" | "nHidden" | "nNeg" | "k">,
  hyper: { lr: number; momentum: number; weightDecay: number; slidingFactor: number },
  tempering?: TemperingBuffers,
): boolean {
  const lib = addon;
  if (lib?.centeredStep === undefined || !nativeBlasEnabled()) return false;
  const dims = Int32Array.of(shape.B, shape.nVisible, shape.nHidden, shape.nNeg, shape.k, tempering?.betas.length ?? 0);
  const h = Float64Array.of(hyper.lr, hyper.momentum, hyper.weightDecay, hyper.slidingFactor);
  lib.centeredStep(v, p.W, p.b, p.c, p.dW, p.db, p.dc, offsets.mu, offsets.lambda, chains, scratch, state, dims, h, tempering);
  counters.native++;
  return true;
}

/**
 * One CD-k / PCD-k update in a single native call, on plain Float32Arrays (lib/train/cd-native.ts):
 * the arithmetic, order and generator of lib/train/cd.ts's tensor update, so the same numbers.
 * Parameters `W` `[nV, nH]`, `b` `[nV]`, `c` `[nH]` and their increments are updated in place, as
 * are `chains` `[nNeg, nH]` (PCD) and the generator's four `state` words.
 * With `shape.nLabels` = K > 0 the last K visible units are one softmax group, drawn one-of-K in
 * the negative phase (lib/dbn/joint.ts's jointCdUpdate: same distribution, not the same bits).
 * @param v the batch `[B, nV]` @returns `err`: Σ (v − ṽ)² over the batch's Bernoulli units (CD), 0
 *   (PCD); `flips`: CD's rows whose reconstructed label differs from theirs; undefined when the
 *   fused step is not available (nothing touched)
 */
export function nativeCDStep(
  v: Float32Array,
  p: { W: Float32Array; b: Float32Array; c: Float32Array; dW: Float32Array; db: Float32Array; dc: Float32Array },
  chains: Float32Array | null,
  scratch: Float32Array,
  state: Uint32Array,
  shape: CDStepShape,
  hyper: { lr: number; momentum: number; weightDecay: number },
): { err: number; flips: number } | undefined {
  const lib = addon;
  if (lib?.cdStep === undefined || !nativeBlasEnabled()) return undefined;
  const dims = Int32Array.of(
    shape.B,
    shape.nVisible,
    shape.nHidden,
    shape.nNeg,
    shape.k,
    shape.persistent ? 1 : 0,
    shape.sampleVisible ? 1 : 0,
    shape.nLabels ?? 0,
  );
  const out = lib.cdStep(
    v,
    p.W,
    p.b,
    p.c,
    p.dW,
    p.db,
    p.dc,
    chains,
    scratch,
    state,
    dims,
    Float64Array.of(hyper.lr, hyper.momentum, hyper.weightDecay),
  );
  counters.native++;
  return out;
}

/** The buffers of a native block-Gibbs run: chain states and the last step's probabilities, row-major. */
export interface GibbsBuffers {
  /** `[B, nVisible]` visible states, advanced in place. */
  v: Float32Array;
  /** `[B, nVisible]` p(v|h) of the last step. */
  vProbs: Float32Array;
  /** `[B, nHidden]` p(h|v) of the last step. */
  hProbs: Float32Array;
  /** `[B, nHidden]` hidden states of the last step. */
  h: Float32Array;
}

/** {@link GibbsBuffers} for B chains starting at the visible states or probabilities `v0` `[B, nVisible]` (copied). */
export function gibbsBuffers(v0: Float32Array, B: number, nHidden: number): GibbsBuffers {
  return {
    v: Float32Array.from(v0),
    vProbs: new Float32Array(v0.length),
    hProbs: new Float32Array(B * nHidden),
    h: new Float32Array(B * nHidden),
  };
}

/**
 * `steps` block-Gibbs steps of B chains in one native call (native/blas/gibbs.c), or false
 * (nothing touched) when native BLAS is not in use: the caller then steps with tensors.
 * - Without `group`: v → h → v, the numbers of lib/core/sampling.ts's gibbsVHV with native BLAS on.
 * - With `group`: the last `K` visible units form a softmax group (a DBN's top RBM with its labels),
 *   kept (`clamped`: `x.v` and `x.vProbs` hold the clamped one-hot rows there) or drawn one-of-K from
 *   its softmax each step; the draws follow core/sampling.ts's clampedGibbsStep in order and
 *   distribution (not bit for bit: its σ and softmax are tfjs kernels).
 * @param rbm W `[nV, nH]`, b `[nV]`, c `[nH]` as Float32Arrays @param state the generator's four words (advanced)
 */
export function nativeGibbsSteps(
  x: GibbsBuffers,
  rbm: { W: Float32Array; b: Float32Array; c: Float32Array },
  B: number,
  steps: number,
  state: Uint32Array,
  group?: { K: number; clamped: boolean },
): boolean {
  const lib = addon;
  if (lib?.gibbsSteps === undefined || !nativeBlasEnabled()) return false;
  const dims = Int32Array.of(B, rbm.b.length, rbm.c.length, steps, group?.K ?? 0, group?.clamped ? 1 : 0);
  lib.gibbsSteps(x.v, x.vProbs, x.hProbs, x.h, rbm.W, rbm.b, rbm.c, dims, state);
  counters.native++;
  return true;
}

/**
 * Whether the library runs its Gibbs chains and dreams through {@link nativeGibbsSteps}: native BLAS
 * in use, an addon that has it, and `RBM_FUSED` not "0" (which selects the tensor code).
 */
export function nativeGibbsAvailable(): boolean {
  return fusedAllowed() && addon !== undefined && nativeBlasEnabled() && typeof addon.gibbsSteps === "function";
}

/** `RBM_FUSED=0` sends training, chains and tempering back to the tensor code (for comparison). */
function fusedAllowed(): boolean {
  return process.env.RBM_FUSED !== "0";
}
