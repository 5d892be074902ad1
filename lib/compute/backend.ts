/**
 * Picks and initialises the TensorFlow.js backend for the whole process.
 *
 * Order of preference: `tensorflow` (native libtensorflow via `@tensorflow/tfjs-node`, optional and
 * never a hard dependency) → `wasm` (XNNPACK, SIMD, multi-threaded where possible) → `cpu` (plain JS).
 *
 * Environment variables:
 * - `RBM_BACKEND=tensorflow|wasm|cpu` forces one backend; {@link initBackend} throws if it cannot load.
 * - `RBM_WASM_THREADS=N` sets the number of wasm threads (default: all cores, at most 8, or 1 when
 *   native BLAS is used, see below); `0` or `1` switches the multi-threading workaround off.
 * - `RBM_WASM_THREADS_TEST_FAULT=1` (tests only) makes the wasm worker threads fail at start-up.
 * - `RBM_NATIVE_BLAS=0` keeps matMul on the wasm kernels; `RBM_NATIVE_BLAS=1` makes a missing native
 *   BLAS addon an error; `RBM_BLAS_THREADS=N` sets OpenBLAS's threads (default: all cores). Unset: the wasm backend runs matMul on OpenBLAS when the addon in
 *   `native/blas/` is built (compute/blas.ts; `node scripts/build-native.mjs`), else on its own kernels.
 *
 * Call `await initBackend()` once before creating tensors; later calls return the cached result.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { enableNativeBlas, loadNativeBlas } from "./blas";
/** A TensorFlow.js backend this module knows how to set up. */
export type BackendName = "tensorflow" | "wasm" | "cpu";

/** What {@link initBackend} chose, and why. */
export interface BackendInfo {
  /** The active backend. */
  name: BackendName;
  /** Whether kernels use SIMD (wasm SIMD; native libtensorflow is assumed vectorised; cpu is not). */
  simd: boolean;
  /** Threads of the backend's own kernels (wasm: XNNPACK pool size incl. the main thread). */
  threads: number;
  /** `"openblas"` when the wasm backend's matMul kernels run on native OpenBLAS (compute/blas.ts), else undefined. */
  blas?: "openblas";
  /** OpenBLAS threads when {@link BackendInfo.blas} is set. */
  blasThreads?: number;
  /** The installed `@tensorflow/tfjs` version. */
  tfjsVersion: string;
  /** Human-readable account of the choice: skipped backends and why, thread set-up or its fallback. */
  reason: string;
}

/** Options for {@link initBackend}. */
export interface InitBackendOptions {
  /** Try this backend first, then fall back as usual (`RBM_BACKEND` overrides it and does not fall back). */
  prefer?: BackendName;
  /** Do not print the one-line summary. */
  quiet?: boolean;
}

const ORDER: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];
const INSTALL_HINT = "install @tensorflow/tfjs-node for native speed; see environment.md";

let pending: Promise<BackendInfo> | undefined;
let chosen: BackendInfo | undefined;
let announced = false;

/**
 * Selects the fastest backend that loads (see the module comment), makes it the active
 * TensorFlow.js backend and prints one summary line (once per process, unless `quiet`).
 * Idempotent: later calls return the same cached info, whatever their options.
 * @throws if `RBM_BACKEND` names a backend that cannot be loaded, or an env variable is malformed.
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (pending === undefined) {
    pending = selectBackend(opts.prefer).then(
      (info) => (chosen = info),
      (err: unknown) => {
        pending = undefined; // let the caller fix the environment and try again
        throw err;
      },
    );
  }
  return pending.then((info) => {
    if (!opts.quiet && !announced) {
      announced = true;
      console.log(summaryLine(info));
    }
    return info;
  });
}

/** The info of the last successful {@link initBackend}, or `undefined` before it has finished. */
export function backendInfo(): BackendInfo | undefined {
  return chosen;
}

/** The one line {@link initBackend} prints, e.g. `rbm-notebooks: TensorFlow.js backend = wasm (SIMD, 2 threads) — …`. */
export function summaryLine(info: BackendInfo): string {
  const head = `rbm-notebooks: TensorFlow.js backend = ${info.name}`;
  if (info.name === "tensorflow") return `${head} (native libtensorflow)`;
  if (info.name === "cpu") return `${head} (plain JavaScript, slow) — ${INSTALL_HINT}`;
  const threads = `${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  if (info.blas === "openblas") {
    const blasThreads = `${info.blasThreads} thread${info.blasThreads === 1 ? "" : "s"}`;
    return `${head} (${info.simd ? "SIMD" : "no SIMD"}, ${threads}; matMul on native OpenBLAS, ${blasThreads})`;
  }
  return `${head} (${info.simd ? "SIMD" : "no SIMD"}, ${threads}) — ${INSTALL_HINT}`;
}

/** A loaded backend, or why it could not be loaded. (No discriminated union: tslab compiles without strictNullChecks.) */
type Attempt = BackendInfo | string;

async function selectBackend(prefer: BackendName | undefined): Promise<BackendInfo> {
  const forced = parseBackendName(process.env.RBM_BACKEND, "RBM_BACKEND");
  if (forced !== undefined) {
    const got = await tryBackend(forced);
    if (typeof got === "string") throw new Error(forcedFailureMessage(forced, got));
    return { ...got, reason: `RBM_BACKEND=${forced}; ${got.reason}` };
  }
  const order = prefer === undefined ? ORDER : [prefer, ...ORDER.filter((n) => n !== prefer)];
  const skipped: string[] = [];
  for (const name of order) {
    const got = await tryBackend(name);
    if (typeof got !== "string") return { ...got, reason: [...skipped, got.reason].join("; ") };
    skipped.push(`${name} unavailable: ${got}`);
  }
  throw new Error(`rbm-notebooks: no TensorFlow.js backend could be initialised (${skipped.join("; ")})`);
}

function parseBackendName(raw: string | undefined, what: string): BackendName | undefined {
  if (raw === undefined || raw === "") return undefined;
  const name = ORDER.find((n) => n === raw.trim().toLowerCase());
  if (name === undefined) throw new Error(`${what}="${raw}" is not one of ${ORDER.join(", ")}.`);
  return name;
}

function forcedFailureMessage(name: BackendName, reason: string): string {
  const how: Record<BackendName, string> = {
    tensorflow:
      "Install the native binding with `npm install @tensorflow/tfjs-node@" +
      tf.version_core +
      "` " +
      "(its install script downloads libtensorflow, so it needs network access; see environment.md)",
    wasm: `Install it with \`npm install @tensorflow/tfjs-backend-wasm@${tf.version_core}\``,
    cpu: "The cpu backend ships with @tensorflow/tfjs; reinstall with `npm ci`",
  };
  return `RBM_BACKEND=${name}, but the "${name}" backend cannot be loaded: ${reason}. ${how[name]}, or unset RBM_BACKEND.`;
}

function tryBackend(name: BackendName): Promise<Attempt> {
  if (name === "tensorflow") return tryTensorflow();
  if (name === "wasm") return tryWasm();
  return tryCpu();
}

function makeInfo(name: BackendName, simd: boolean, threads: number, reason: string): Attempt {
  return { name, simd, threads, tfjsVersion: tf.version.tfjs, reason };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------- tensorflow (tfjs-node)

async function tryTensorflow(): Promise<Attempt> {
  // danfojs-node depends on tfjs-node; package.json overrides that with an alias of plain
  // @tensorflow/tfjs (tfjs-node cannot install here), and npm may hoist the alias to
  // node_modules/@tensorflow/tfjs-node. So "resolvable" is not enough: check the real package name,
  // and after loading it that the native "tensorflow" backend actually got registered.
  let pkgName: string;
  try {
    const pkgJson = require.resolve("@tensorflow/tfjs-node/package.json");
    pkgName = (JSON.parse(fs.readFileSync(pkgJson, "utf8")) as { name?: string }).name ?? "?";
  } catch {
    return "@tensorflow/tfjs-node is not installed";
  }
  if (pkgName !== "@tensorflow/tfjs-node") {
    return `@tensorflow/tfjs-node is an npm alias of ${pkgName}, not the native binding`;
  }
  try {
    require("@tensorflow/tfjs-node");
  } catch (err) {
    return `@tensorflow/tfjs-node failed to load (${message(err)})`;
  }
  if (tf.findBackendFactory("tensorflow") == null) {
    return '@tensorflow/tfjs-node loaded but registered no "tensorflow" backend';
  }
  if (!(await tf.setBackend("tensorflow"))) {
    return 'the "tensorflow" backend failed to initialise';
  }
  return makeInfo("tensorflow", true, os.availableParallelism(), "native libtensorflow");
}

// ---------------------------------------------------------------- cpu

async function tryCpu(): Promise<Attempt> {
  if (!(await tf.setBackend("cpu"))) return "the cpu backend failed to initialise";
  // The cpu backend prints a banner ("Hi, looks like you are running TensorFlow.js in Node.js ...
  // install our node backend") on its first tensor. Our summary line gives the same advice, so use
  // that first write up while tfjs's own PROD flag (which mutes backend_util.warn) is on.
  const env = tf.env();
  const prod = env.getBool("PROD");
  env.set("PROD", true);
  try {
    tf.scalar(0).dispose();
  } finally {
    env.set("PROD", prod);
  }
  return makeInfo("cpu", false, 1, "plain JavaScript kernels");
}

// ---------------------------------------------------------------- wasm

type WasmPackage = typeof import("@tensorflow/tfjs-backend-wasm");

async function tryWasm(): Promise<Attempt> {
  let wasm: WasmPackage;
  try {
    wasm = require("@tensorflow/tfjs-backend-wasm") as WasmPackage; // registers the stock "wasm" backend
  } catch (err) {
    return `@tensorflow/tfjs-backend-wasm is not installed (${message(err)})`;
  }
  const blasMode = nativeBlasMode();
  const addon = blasMode === "off" ? "RBM_NATIVE_BLAS=0" : loadNativeBlas();
  if (typeof addon === "string" && blasMode === "required") {
    throw new Error(`RBM_NATIVE_BLAS=1, but ${addon}. Or unset RBM_NATIVE_BLAS to use the wasm kernels.`);
  }
  const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
  const threaded = await tryThreadedWasm(wasm, simd, typeof addon !== "string");
  let info: BackendInfo;
  if (threaded.ok) {
    info = { name: "wasm", simd: true, threads: wasm.getThreadsCount(), tfjsVersion: tf.version.tfjs, reason: threaded.note };
  } else {
    const removeHandlers = watchEmscriptenProcessHandlers();
    const ok = await tf.setBackend("wasm").finally(removeHandlers);
    if (!ok) return "the wasm backend failed to initialise";
    info = {
      name: "wasm",
      simd,
      threads: wasm.getThreadsCount(),
      tfjsVersion: tf.version.tfjs,
      reason: `wasm single-threaded: ${threaded.note}`,
    };
  }
  if (blasMode === "off") return { ...info, reason: `${info.reason}; native BLAS off (RBM_NATIVE_BLAS=0)` };
  const blas = enableNativeBlas({ threads: blasThreads() });
  if (!blas.enabled && blasMode === "required") {
    throw new Error(`RBM_NATIVE_BLAS=1, but ${blas.note}. Or unset RBM_NATIVE_BLAS to use the wasm kernels.`);
  }
  if (!blas.enabled) return { ...info, reason: `${info.reason}; ${blas.note}` };
  return { ...info, blas: "openblas", blasThreads: blas.threads, reason: `${info.reason}; ${blas.note}` };
}

/** `RBM_BLAS_THREADS`: OpenBLAS threads, or undefined for OpenBLAS's default. */
function blasThreads(): number | undefined {
  const raw = (process.env.RBM_BLAS_THREADS ?? "").trim();
  if (raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`RBM_BLAS_THREADS="${raw}" must be a whole number ≥ 1.`);
  return n;
}

/** `RBM_NATIVE_BLAS`: "off" (0), "required" (1) or "auto" (unset). */
function nativeBlasMode(): "off" | "required" | "auto" {
  const raw = (process.env.RBM_NATIVE_BLAS ?? "").trim();
  if (raw === "") return "auto";
  if (raw === "0") return "off";
  if (raw === "1") return "required";
  throw new Error(`RBM_NATIVE_BLAS="${raw}" must be 0 (off), 1 (required) or unset (use it when built).`);
}

/**
 * Emscripten's Node glue adds process-wide `uncaughtException` / `unhandledRejection` listeners
 * that re-throw. They turn every later unhandled error into exit code 7 and kill a tslab kernel
 * (which installs its own logging handlers to survive user errors). Call before loading a wasm
 * module; the returned function removes the re-throwing listeners added since.
 */
function watchEmscriptenProcessHandlers(): () => void {
  const emitter: NodeJS.EventEmitter = process;
  const events = ["uncaughtException", "unhandledRejection"];
  const before = new Set(events.flatMap((e) => emitter.listeners(e)));
  return () => {
    for (const e of events) {
      for (const l of emitter.listeners(e)) {
        if (!before.has(l) && /\bthrow\b/.test(String(l))) emitter.removeListener(e, l as (...args: unknown[]) => void);
      }
    }
  };
}

/** The tfjs-backend-wasm release whose emscripten glue the threading workaround was verified against. */
const THREADED_WASM_VERSION = "4.22.0";
/** XNNPACK's cap in tfjs-backend-wasm, equal to the emscripten pthread pool size it pre-spawns. */
const MAX_WASM_THREADS = 8;
const INIT_TIMEOUT_MS = 30_000;

/** The parts of the emscripten module (threaded build) that are used here. */
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: EmWorker[]; runningWorkers: EmWorker[] };
  tfjs?: Record<string, (...args: number[]) => number>;
}
/** A worker_threads Worker as emscripten decorates it (it dispatches errors to `onerror`). */
type EmWorker = Worker & { onerror?: (err: unknown) => void };
/** The imports object emscripten passes to `instantiateWasm`. */
type WasmImports = { env: Record<string, unknown> };
/** The one WebAssembly JS API call used here. (Declared locally: tslab's compiler has no DOM lib, so no `WebAssembly`.) */
const webAssembly = (
  globalThis as unknown as {
    WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: object; module: object }> };
  }
).WebAssembly;
/** Emscripten module settings; the factory turns this very object into the module. */
interface GlueConfig extends Partial<ThreadedModule> {
  mainScriptUrlOrBlob: string;
  locateFile(file: string): string | URL;
  instantiateWasm(imports: WasmImports, done: (instance: object, module: object) => void): object;
  onAbort(what: unknown): void;
}

/** Whether the threaded backend is now active, and a note for {@link BackendInfo.reason}. */
type ThreadedResult = { ok: boolean; note: string };

/**
 * Replaces the stock (single-threaded under Node) "wasm" backend with tfjs's own threaded SIMD
 * build, run on Node worker_threads. Upstream switches threads off under Node (tfjs issue 3830)
 * because its loader hands emscripten browser-only things: a blob: URL for the worker script
 * (Node's Worker wants a path or a file:/data: URL) and a Blob of the bundled glue source for the
 * worker to import (which in the Node bundle refers to rollup-internal variables). The package also
 * ships the plain emscripten glue and worker (wasm-out/), so we call that glue directly with
 * Node-friendly settings and hand the module to tfjs's public BackendWasm class, exactly as
 * tfjs's own init() does. Every failure falls back to the stock backend with the reason recorded.
 */
async function tryThreadedWasm(wasm: WasmPackage, simd: boolean, nativeBlas: boolean): Promise<ThreadedResult> {
  const threads = wantedThreads(nativeBlas);
  if (typeof threads === "string") return { ok: false, note: threads };
  if (!simd) return { ok: false, note: "the threaded build needs wasm SIMD, which this runtime lacks" };
  if (wasm.version_wasm !== THREADED_WASM_VERSION) {
    return {
      ok: false,
      note: `threads workaround verified only with tfjs-backend-wasm ${THREADED_WASM_VERSION}, found ${wasm.version_wasm}`,
    };
  }
  if (tf.engine().registry.wasm !== undefined) {
    // Swapping it out would dispose every tensor that already lives on it.
    return { ok: false, note: "the stock wasm backend was already in use before initBackend()" };
  }
  const stockFactory = tf.findBackendFactory("wasm");
  let mod: ThreadedModule | undefined;
  let registered = false;
  try {
    mod = await loadThreadedModule(threads);
    // tfjs's init() adds this cwrap table before constructing the backend.
    mod.tfjs = {
      init: mod.cwrap("init", null, []),
      initWithThreadsCount: mod.cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: mod.cwrap("get_threads_count", "number", []),
      registerTensor: mod.cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: mod.cwrap("dispose_data", null, ["number"]),
      dispose: mod.cwrap("dispose", null, []),
    };
    // The constructor creates XNNPACK's pthreadpool: threads-1 pool workers start running now.
    const backend = new wasm.BackendWasm(mod as unknown as ConstructorParameters<typeof wasm.BackendWasm>[0]);
    // Emscripten ref()s the worker of a running pthread, and XNNPACK's pool threads never end:
    // unref them so that they do not keep Node alive once the script is done.
    for (const w of mod.PThread.runningWorkers) w.unref();
    const got = wasm.getThreadsCount();
    if (got < 2) throw new Error(`XNNPACK created ${got} thread(s) instead of ${threads}`);

    if (stockFactory != null) tf.removeBackend("wasm");
    tf.registerBackend("wasm", () => backend, 2);
    registered = true;
    if (!(await tf.setBackend("wasm"))) throw new Error('tf.setBackend("wasm") failed');
    const mismatch = checkMatMul();
    if (mismatch !== undefined) throw new Error(mismatch);
    return { ok: true, note: `${got} threads on worker_threads (tfjs-backend-wasm ${wasm.version_wasm})` };
  } catch (err) {
    // Undo everything so the stock backend starts from a clean slate.
    if (registered) tf.removeBackend("wasm"); // disposes our BackendWasm
    if (stockFactory != null && tf.findBackendFactory("wasm") == null) tf.registerBackend("wasm", stockFactory, 2);
    if (mod) terminateWorkers(mod.PThread);
    return { ok: false, note: `threads workaround failed (${message(err)})` };
  }
}

/**
 * Desired wasm thread count, or why threads are off. With native BLAS (compute/blas.ts) the matMuls run
 * on OpenBLAS's own threads, which keep spinning for a while after each call; XNNPACK's pool would
 * fight them for the cores and its element-wise ops then stall (measured: 0.05 → 1–5 ms per
 * [100, 784] op on 2 cores), so threads stay off unless RBM_WASM_THREADS asks for them.
 */
function wantedThreads(nativeBlas: boolean): number | string {
  const raw = process.env.RBM_WASM_THREADS;
  if (raw !== undefined && raw.trim() !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`RBM_WASM_THREADS="${raw}" must be a whole number ≥ 0.`);
    if (n <= 1) return `RBM_WASM_THREADS=${raw}`;
    return Math.min(n, MAX_WASM_THREADS);
  }
  if (nativeBlas) return "native OpenBLAS brings its own threads (RBM_WASM_THREADS=2 adds XNNPACK's too)";
  const cores = os.availableParallelism();
  if (cores < 2) return "1 CPU core";
  return Math.min(cores, MAX_WASM_THREADS);
}

/** Instantiates tfjs's threaded SIMD emscripten module with `threads` XNNPACK threads. */
function loadThreadedModule(threads: number): Promise<ThreadedModule> {
  const dir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js"));
  const gluePath = path.join(dir, "tfjs-backend-wasm-threaded-simd.js");
  const factory = require(gluePath) as (config: GlueConfig) => Promise<ThreadedModule>;
  const { wasmWorkerContents } = require(path.join(dir, "tfjs-backend-wasm-threaded-simd.worker.js")) as {
    wasmWorkerContents: string;
  };
  // The worker script is a CommonJS-style classic script. Node only takes data: URLs as ES modules,
  // so give it the two CommonJS names it uses. Its `importScripts(path)` then evaluates the glue file.
  // The source sits in a template literal, so "\n" escapes inside its strings arrived as real
  // newlines; tfjs's loader re-escapes them the same way.
  const workerSource =
    'import { createRequire } from "node:module";' +
    `const require = createRequire(${JSON.stringify(gluePath)}), __filename = ${JSON.stringify(gluePath)};` +
    (process.env.RBM_WASM_THREADS_TEST_FAULT ? 'throw new Error("injected test fault");' : "") +
    wasmWorkerContents.replace(/\n/g, "\\n");
  const workerUrl = new URL(`data:text/javascript,${encodeURIComponent(workerSource)}`);

  return new Promise<ThreadedModule>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) {
        console.error("rbm-notebooks: wasm worker thread error:", err);
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (config.PThread) terminateWorkers(config.PThread);
      reject(err instanceof Error ? err : new Error(message(err)));
    };
    const timer = setTimeout(() => fail(new Error(`no answer from the worker threads in ${INIT_TIMEOUT_MS} ms`)), INIT_TIMEOUT_MS);
    timer.unref();
    const config: GlueConfig = {
      mainScriptUrlOrBlob: gluePath, // what each worker importScripts()
      locateFile: (file) => (file.endsWith(".worker.js") ? workerUrl : path.join(dir, file)),
      instantiateWasm(imports, done) {
        // tfjs caps XNNPACK at emscripten_num_logical_cores()/2 (it assumes 2 hyper-threads per
        // core), which is 1 on a 2-core VM. Report 2×threads so the cap equals what we ask for.
        imports.env.emscripten_num_logical_cores = () => 2 * threads;
        webAssembly
          .instantiate(fs.readFileSync(path.join(dir, "tfjs-backend-wasm-threaded-simd.wasm")), imports)
          .then(({ instance, module }) => {
            if (settled) return;
            // Emscripten pre-spawned a pool of 8 workers; XNNPACK will use threads-1 of them (the
            // main thread is the other). Stop the rest before they load the module: saves startup
            // time and ~15 MB each. Emscripten spawns a fresh worker should it ever need one.
            const pool = config.PThread?.unusedWorkers ?? [];
            for (const w of pool.splice(threads - 1)) void w.terminate();
            done(instance, module); // posts the module to the remaining pool workers
            // Emscripten's worker error handler re-throws on the main thread (process crash);
            // reject instead, so that we can fall back (and later only log).
            for (const w of config.PThread?.unusedWorkers ?? []) {
              w.off("error", fail);
              w.onerror = fail;
            }
          })
          .catch(fail);
        return {}; // = "instantiating asynchronously"
      },
      onAbort: (what) => fail(new Error(`wasm aborted: ${message(what)}`)),
    };
    const removeHandlers = watchEmscriptenProcessHandlers();
    let ready: Promise<ThreadedModule>;
    try {
      ready = factory(config); // spawns the 8 pool workers synchronously
    } finally {
      removeHandlers();
    }
    // Until emscripten attaches its listener, an "error" event without one would crash Node.
    for (const w of config.PThread?.unusedWorkers ?? []) w.on("error", fail);
    ready.then((m) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(m);
    }, fail);
  });
}

/** Stops all of a module's worker threads without calling into (possibly broken) wasm. */
function terminateWorkers(pthread: ThreadedModule["PThread"]): void {
  for (const w of [...pthread.unusedWorkers, ...pthread.runningWorkers]) void w.terminate();
  pthread.unusedWorkers = [];
  pthread.runningWorkers = [];
}

/** Multiplies two fixed matrices on the active backend and compares with float64; returns a problem or undefined. */
function checkMatMul(): string | undefined {
  const [m, k, n] = [96, 300, 160]; // big enough for XNNPACK to split the work across threads
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
  const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11));
  // (Not `tidy(() => ….dataSync())`: tidy walks a returned typed array element by element, slowly.)
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
  const got = product.dataSync();
  product.dispose();
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      worst = Math.max(worst, Math.abs(got[i * n + j] - s));
    }
  }
  return worst < 1e-3 ? undefined : `threaded matMul self-check off by ${worst}`;
}
