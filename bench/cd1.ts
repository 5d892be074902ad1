/**
 * CD-1 on full MNIST, the library beside the numpy reference, in the same run (`npm run bench`).
 *
 * Sections (all by default; pick some with `--sections=cd1,extra,sampling,profile`):
 * - `cd1`: ONE epoch of lib/train/cd.ts's trainRBM, 784-500, batch 100, 60,000 images, lr 0.1,
 *   momentum 0, weight decay 0, sampleVisible, Xavier init seed 0, then the numpy reference
 *   (../shared/bench/peers/numpy_rbm.py, float32, Debian's /usr/bin/python3 with
 *   OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for it only): seconds per epoch, ratio, recon errors.
 * - `extra`: CD-10 and PCD-1 (784-500, the first `--rows` MNIST images, numpy on the same rows), and
 *   500-500 / 500-2000 layers on `--rows` random binary rows, beside the same numpy loop on random
 *   binary rows of that width (bench/peers/numpy_layer.py runs numpy_rbm.py with its loader replaced).
 *   Times are scaled ×60000/rows to "seconds per 60k-row epoch" and labelled so.
 * - `sampling`: 20 chains × 1,000 block-Gibbs steps on a 784-500 RBM (seed 002's figure; beside
 *   numpy_rbm.py's step functions on the same shapes, bench/peers/numpy_chains.py), a DBN's
 *   class-conditional dreams (10 chains × 1,000 steps in a 510-2000 top RBM, beside numpy chains of
 *   those shapes), and AIS on a
 *   784-500 RBM with 100 runs over a short schedule, scaled to Salakhutdinov & Murray's 14,500
 *   temperatures; both run on the same matMul path as training. Beside it the numpy AIS peer
 *   (../shared/bench/peers/numpy_ais.py) with the same runs and schedule, float32 (the library's
 *   precision for the products) and float64, OPENBLAS_CORETYPE unset and set to our kernel set.
 * - `sklearn`: scikit-learn's BernoulliRBM (bench/peers/sklearn_rbm.py; Debian's python3-sklearn),
 *   what a Python user would pick: one PCD-1 epoch (fit with n_iter=1), 784-500, batch 100, lr 0.1,
 *   60,000 float32 images, beside ours on the same setting; with OPENBLAS_CORETYPE unset (what the
 *   user gets) and set to the kernel set our addon picked.
 * - `profile`: where a CD-1 batch's time goes: the tensor update (RBM_FUSED=0) with every wasm
 *   kernel wrapped with a timer, then the fused native step beside its products timed alone.
 * - `matrix` (only when asked, `--matrix`): the cd1 epoch in child processes for native BLAS on/off
 *   × wasm threads on/off (and OpenBLAS with 1 thread), each beside a numpy run.
 *
 * Options: `--repeat=N` (cd1 pairs, default 1; the range is printed), `--rows=N` (default 10000),
 * `--no-numpy`. Machines are shared: compare ratios measured in the same run, not absolute times.
 * Environment as for the library: RBM_NATIVE_BLAS=0 (wasm matMul), RBM_WASM_THREADS=0, RBM_BACKEND.
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type BackendInfo, initBackend, summaryLine } from "../lib/compute/backend";
import { loadNativeBlas, nativeBlasCoreChoice, nativeBlasCounters } from "../lib/compute/blas";
import { Rng } from "../lib/core/random";
import { disposeRBM, initRBM } from "../lib/core/rbm";
import { gibbsChain } from "../lib/core/sampling";
import { generateDBN } from "../lib/dbn/generate";
import { disposeDBN } from "../lib/dbn/model";
import { pretrainDBN } from "../lib/dbn/pretrain";
import { annealedLogZ } from "../lib/eval/ais";
import { type Dataset, firstN, loadMnist, mnistDir } from "../lib/io/data";
import { type TrainOptions, trainRBM } from "../lib/train/cd";

const ROOT = path.resolve(__dirname, "..");
const NUMPY_SCRIPT = path.resolve(ROOT, "..", "shared", "bench", "peers", "numpy_rbm.py");
const NUMPY_AIS_SCRIPT = path.resolve(ROOT, "..", "shared", "bench", "peers", "numpy_ais.py");
const SKLEARN_SCRIPT = path.resolve(ROOT, "bench", "peers", "sklearn_rbm.py");
/** numpy_rbm.py on random binary rows of another width (the DBN's upper layers). */
const NUMPY_LAYER_SCRIPT = path.resolve(ROOT, "bench", "peers", "numpy_layer.py");
/** 20 chains × 1,000 steps with numpy_rbm.py's step functions. */
const NUMPY_CHAINS_SCRIPT = path.resolve(ROOT, "bench", "peers", "numpy_chains.py");
const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const FULL = 60000;

/** The reference hyperparameters (numpy_rbm.py's defaults, plain SGD). */
const BASE: TrainOptions = {
  k: 1,
  learningRate: 0.1,
  initialMomentum: 0,
  finalMomentum: 0,
  weightDecay: 0,
  sampleVisible: true,
  batchSize: 100,
  epochs: 1,
  seed: 0,
  progress: false,
};

interface Args {
  sections: Set<string>;
  repeat: number;
  rows: number;
  numpy: boolean;
  child: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    sections: new Set(["cd1", "extra", "sklearn", "sampling", "profile"]),
    repeat: 1,
    rows: 10000,
    numpy: true,
    child: false,
  };
  for (const arg of argv) {
    const [key, value = ""] = arg.replace(/^--/, "").split("=");
    if (key === "sections") a.sections = new Set(value.split(",").filter(Boolean));
    else if (key === "matrix") a.sections = new Set(["matrix"]);
    else if (key === "repeat") a.repeat = positive(value, key);
    else if (key === "rows") a.rows = Math.min(positive(value, key), FULL);
    else if (key === "no-numpy") a.numpy = false;
    else if (key === "child") a.child = true;
    else throw new Error(`bench/cd1.ts: unknown option ${arg} (see the comment at the top of the file)`);
  }
  return a;
}

function positive(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${what} must be a positive integer, got "${raw}"`);
  return n;
}

function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}

function range(xs: number[]): string {
  if (xs.length === 1) return fmt(xs[0]);
  return `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} (median ${fmt([...xs].sort((p, q) => p - q)[xs.length >> 1])})`;
}

function rssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

// ---------------------------------------------------------------- runs

interface OurRun {
  seconds: number;
  recon: number;
}

/** One epoch of trainRBM on `data` from a Xavier(seed 0) RBM; seconds as trainRBM measured them. */
async function ours(data: Dataset, nHidden: number, opts: TrainOptions): Promise<OurRun> {
  const rbm = initRBM(data.rows * data.cols, nHidden, { seed: 0 });
  const result = await trainRBM(rbm, data, { ...BASE, ...opts });
  disposeRBM(rbm);
  disposeRBM(result.rbm);
  result.chains?.dispose();
  return { seconds: result.history[0].seconds, recon: result.history[0].trainRecon };
}

interface NumpyRun {
  seconds: number;
  recon: number;
  note?: string;
}

/**
 * numpy_rbm.py for one epoch; undefined seconds (and a note) when it cannot run. `coreType` runs it
 * with OPENBLAS_CORETYPE set (the kernel set our addon uses), else with the variable unset.
 */
function numpy(extra: string[], coreType?: string, script = NUMPY_SCRIPT): NumpyRun {
  if (!fs.existsSync(NUMPY_SCRIPT)) return { seconds: NaN, recon: NaN, note: `numpy reference not found at ${NUMPY_SCRIPT}` };
  const env: NodeJS.ProcessEnv = { ...process.env, MNIST_DIR: mnistDir() };
  delete env.OPENBLAS_CORETYPE; // these slow current OpenBLAS (see ../shared/bench/README.md); numpy only
  delete env.OPENBLAS_L2_SIZE;
  if (coreType !== undefined) env.OPENBLAS_CORETYPE = coreType;
  const args = [script, "--hidden", "500", "--batch", "100", "--epochs", "1", "--dtype", "float32", ...extra];
  const r = spawnSync(PYTHON, args, { cwd: ROOT, env, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0)
    return { seconds: NaN, recon: NaN, note: `numpy failed: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}` };
  const epoch = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { seconds?: number; recon_mse?: number })
    .find((o) => o.seconds !== undefined);
  return { seconds: epoch?.seconds ?? NaN, recon: epoch?.recon_mse ?? NaN };
}

/** numpy_ais.py (the AIS peer): milliseconds per temperature, or a note when it cannot run. */
function numpyAis(extra: string[], coreType?: string): { msPerTemperature: number; note?: string } {
  if (!fs.existsSync(NUMPY_AIS_SCRIPT)) return { msPerTemperature: NaN, note: `numpy AIS reference not found at ${NUMPY_AIS_SCRIPT}` };
  const env: NodeJS.ProcessEnv = { ...process.env, MNIST_DIR: mnistDir() };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (coreType !== undefined) env.OPENBLAS_CORETYPE = coreType;
  const r = spawnSync(PYTHON, [NUMPY_AIS_SCRIPT, ...extra], { cwd: ROOT, env, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0)
    return { msPerTemperature: NaN, note: `numpy AIS failed: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}` };
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  const o = line ? (JSON.parse(line) as { seconds_per_temperature?: number }) : {};
  return { msPerTemperature: 1000 * (o.seconds_per_temperature ?? NaN) };
}

function header(info: BackendInfo): void {
  console.log(`# ${summaryLine(info)}`);
  console.log(`# reason: ${info.reason}`);
  const blas = loadNativeBlas();
  const choice = nativeBlasCoreChoice();
  if (typeof blas !== "string") console.log(`# OpenBLAS (ours): ${blas.config()}; kernel set from ${choice?.source ?? "?"}`);
  const vars = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "RBM_NATIVE_BLAS", "RBM_WASM_THREADS", "RBM_BLAS_THREADS"]
    .filter((v) => process.env[v] !== undefined)
    .map((v) => `${v}=${process.env[v]}`);
  console.log(
    `# ${os.availableParallelism()} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}; env: ${vars.join(" ") || "(none set)"}`,
  );
}

async function sectionCd1(args: Args, mnist: Dataset): Promise<void> {
  console.log(`\n## CD-1, 784-500, batch 100, 60,000 MNIST images, lr 0.1, momentum 0, sampleVisible (one epoch)`);
  const mine: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < args.repeat; i++) {
    const before = nativeBlasCounters();
    const o = await ours(mnist, 500, {});
    const after = nativeBlasCounters();
    mine.push(o.seconds);
    const calls = `${after.native - before.native} native / ${after.fallback - before.fallback} fallback matMul calls`;
    console.log(`ours   ${fmt(o.seconds).padStart(7)} s/epoch   trainRecon ${fmt(o.recon, 3)}   (${calls})`);
    if (!args.numpy) continue;
    const n = numpy(["--k", "1"]);
    if (n.note) {
      console.log(`numpy  skipped: ${n.note}`);
      continue;
    }
    theirs.push(n.seconds);
    ratios.push(o.seconds / n.seconds);
    console.log(
      `numpy  ${fmt(n.seconds).padStart(7)} s/epoch   recon_mse  ${fmt(n.recon, 3)}   ratio ours/numpy ${fmt(o.seconds / n.seconds)}×`,
    );
    // The same numpy on the kernel set our addon picked (numpy's OpenBLAS alone may pick an older one).
    const core = nativeBlasCoreChoice()?.coreType;
    if (core !== undefined) {
      const nc = numpy(["--k", "1"], core);
      if (!nc.note)
        console.log(
          `numpy  ${fmt(nc.seconds).padStart(7)} s/epoch   with OPENBLAS_CORETYPE=${core}: ratio ${fmt(o.seconds / nc.seconds)}×`,
        );
    }
  }
  if (args.repeat > 1) {
    console.log(`ours ${range(mine)} s; numpy ${theirs.length ? range(theirs) : "-"} s; ratio ${ratios.length ? range(ratios) : "-"}×`);
  }
  console.log(`peak RSS ${rssMB().toFixed(0)} MB (this process)`);
}

async function sectionExtra(args: Args, mnist: Dataset): Promise<void> {
  const rows = args.rows;
  const scale = FULL / rows;
  const sub: Dataset = { ...mnist, images: mnist.images.subarray(0, rows * 784), labels: mnist.labels.subarray(0, rows), n: rows };
  console.log(`\n## Other settings, ${rows} rows per epoch, times scaled ×${fmt(scale, 1)} to a 60,000-row epoch`);
  const runs: [string, TrainOptions, string[]][] = [
    ["CD-10 784-500", { k: 10 }, ["--k", "10"]],
    ["PCD-1 784-500", { persistent: true }, ["--k", "1", "--pcd"]],
  ];
  for (const [label, opts, npArgs] of runs) {
    const o = await ours(sub, 500, opts);
    let line = `${label.padEnd(15)} ours ${fmt(o.seconds * scale).padStart(7)} s/60k`;
    if (args.numpy) {
      const n = numpy([...npArgs, "--limit", String(rows)]);
      line += n.note
        ? `   numpy skipped (${n.note})`
        : `   numpy ${fmt(n.seconds * scale).padStart(6)} s/60k   ratio ${fmt(o.seconds / n.seconds)}×`;
    }
    console.log(line);
  }
  for (const [nV, nH] of [
    [500, 500],
    [500, 2000],
  ]) {
    const rng = new Rng(1);
    const images = new Float32Array(rows * nV);
    for (let i = 0; i < images.length; i++) images[i] = rng.uniform() < 0.5 ? 1 : 0;
    const data: Dataset = { images, labels: new Uint8Array(rows), n: rows, rows: 1, cols: nV, name: "random binary" };
    const o = await ours(data, nH, {});
    let line = `${`CD-1 ${nV}-${nH}`.padEnd(15)} ours ${fmt(o.seconds * scale).padStart(7)} s/60k`;
    if (args.numpy) {
      // The same peer loop on its own random binary rows of this width (bench/peers/numpy_layer.py).
      const n = numpy(["--visible", String(nV), "--rows", String(rows), "--hidden", String(nH)], undefined, NUMPY_LAYER_SCRIPT);
      line += n.note
        ? `   numpy skipped (${n.note})`
        : `   numpy ${fmt(n.seconds * scale).padStart(6)} s/60k   ratio ${fmt(o.seconds / n.seconds)}×`;
    }
    console.log(`${line}   (random binary rows)`);
  }
  console.log(`peak RSS ${rssMB().toFixed(0)} MB (this process)`);
}

/** numpy_chains.py's seconds for these shapes, or a note saying why it did not run. */
function numpyChains(chains: number, steps: number, nV: number, nH: number): { seconds?: number; note?: string } {
  const r = spawnSync(
    PYTHON,
    [
      NUMPY_CHAINS_SCRIPT,
      "--chains",
      String(chains),
      "--steps",
      String(steps),
      "--visible",
      String(nV),
      "--hidden",
      String(nH),
      "--dtype",
      "float32",
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 600_000 },
  );
  const line = r.stdout?.split("\n").find((l) => l.startsWith("{"));
  if (line === undefined) return { note: (r.stderr || r.error?.message || "failed").trim().split("\n").pop() };
  return { seconds: (JSON.parse(line) as { seconds: number }).seconds };
}

/**
 * Class-conditional dreams of a 784-500-500-2000 DBN with 10 label units (chapter 7's figure): 10
 * chains × 1,000 steps in the 510-2000 top RBM with the labels clamped, 10 frames through the down
 * pass. The DBN is pretrained for one epoch on the bench rows (the time does not depend on how good
 * it is). Beside it numpy_chains.py's plain chains on the same 510-2000 shapes (no labels, no frames).
 */
async function sectionDreams(args: Args, sub: Dataset): Promise<void> {
  const { dbn } = await pretrainDBN([784, 500, 500, 2000], firstN(sub, 1000), { labels: true, perLayer: { epochs: 1, progress: false } });
  const t0 = performance.now();
  generateDBN(dbn, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], steps: 1000, seed: 0 });
  const seconds = (performance.now() - t0) / 1000;
  disposeDBN(dbn);
  let line = `DBN class-conditional dreams, 10 chains × 1,000 steps (510-2000 top RBM, 10 frames): ${fmt(seconds)} s`;
  if (args.numpy) {
    const n = numpyChains(10, 1000, 510, 2000);
    line +=
      n.seconds === undefined
        ? `   numpy skipped (${n.note})`
        : `   numpy float32 plain chains ${fmt(n.seconds)} s   ratio ${fmt(seconds / n.seconds)}×`;
  }
  console.log(line);
}

async function sectionSampling(args: Args, mnist: Dataset): Promise<void> {
  console.log("\n## Sampling and AIS on a 784-500 RBM (trained 1 epoch on the first rows, so chains are not trivial)");
  const sub: Dataset = {
    ...mnist,
    images: mnist.images.subarray(0, args.rows * 784),
    labels: mnist.labels.subarray(0, args.rows),
    n: args.rows,
  };
  const rbm0 = initRBM(784, 500, { seed: 0 });
  const { rbm } = await trainRBM(rbm0, sub, BASE);
  disposeRBM(rbm0);
  const before = tf.memory().numTensors;
  const v0 = tf.tensor2d(mnist.images.subarray(0, 20 * 784), [20, 784]);
  let t0 = performance.now();
  const chain = gibbsChain(v0, rbm, { steps: 1000, seed: 0, every: 100, recordProbs: true });
  const chainSeconds = (performance.now() - t0) / 1000;
  let chainLine = `20 chains × 1,000 Gibbs steps: ${fmt(chainSeconds)} s`;
  if (args.numpy) {
    // The seeds' numpy step functions on the same shapes (bench/peers/numpy_chains.py), float32.
    const n = numpyChains(20, 1000, 784, 500);
    chainLine +=
      n.seconds === undefined
        ? `   numpy skipped (${n.note})`
        : `   numpy float32 ${fmt(n.seconds)} s   ratio ${fmt(chainSeconds / n.seconds)}×`;
  }
  console.log(chainLine);
  await sectionDreams(args, sub);
  tf.dispose([v0, chain.v, chain.vProbs]);
  const K = 1000;
  t0 = performance.now();
  await annealedLogZ(rbm, { seed: 0, runs: 100, betas: K, data: sub, progress: false });
  const s = (performance.now() - t0) / 1000;
  console.log(`AIS 100 runs × ${K} temperatures: ${fmt(s)} s → ${fmt((s * 14500) / K / 60, 1)} min for 14,500 temperatures`);
  // numpy_ais.py on a 784-500 RBM of its own (random W; the time barely depends on the weights), same runs and schedule.
  const perTemp = (1000 * s) / K;
  const core = nativeBlasCoreChoice()?.coreType;
  for (const dtype of ["float32", "float64"]) {
    for (const coreType of [undefined, core]) {
      if (coreType === undefined && core === undefined && dtype === "float64") continue;
      const r = numpyAis(["--random", "784x500", "--runs", "100", "--betas", String(K), "--dtype", dtype], coreType);
      const how = coreType === undefined ? "OPENBLAS_CORETYPE unset" : `OPENBLAS_CORETYPE=${coreType}`;
      console.log(
        r.note ??
          `numpy AIS ${dtype} (${how}): ${fmt(r.msPerTemperature, 2)} ms/temperature; ours ${fmt(perTemp, 2)} → ratio ${fmt(perTemp / r.msPerTemperature, 2)}×`,
      );
    }
  }
  console.log(`tensors after sampling and AIS: ${tf.memory().numTensors - before} more than before (expect 0)`);
  disposeRBM(rbm);
}

/** Wraps every registered wasm kernel with a wall-clock timer while `fn` runs. */
async function withKernelTimers(fn: () => Promise<void>): Promise<Map<string, { ms: number; calls: number }>> {
  const stats = new Map<string, { ms: number; calls: number }>();
  const configs = tf.getKernelsForBackend("wasm");
  for (const config of configs) {
    const entry = { ms: 0, calls: 0 };
    stats.set(config.kernelName, entry);
    tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel({
      ...config,
      kernelFunc: (a) => {
        const t0 = performance.now();
        const out = config.kernelFunc(a);
        entry.ms += performance.now() - t0;
        entry.calls++;
        return out;
      },
    });
  }
  try {
    await fn();
  } finally {
    for (const config of configs) {
      tf.unregisterKernel(config.kernelName, "wasm");
      tf.registerKernel(config);
    }
  }
  return stats;
}

async function sectionProfile(args: Args, mnist: Dataset): Promise<void> {
  if (tf.getBackend() !== "wasm") {
    console.log(`\n## profile: skipped (backend ${tf.getBackend()}, the timers wrap wasm kernels)`);
    return;
  }
  const rows = Math.min(args.rows, 10000);
  const sub: Dataset = { ...mnist, images: mnist.images.subarray(0, rows * 784), labels: mnist.labels.subarray(0, rows), n: rows };
  const batches = rows / 100;
  // 1. The tensor update (what runs without the fused step): every wasm kernel wrapped with a timer.
  const fusedSetting = process.env.RBM_FUSED;
  process.env.RBM_FUSED = "0";
  let seconds = 0;
  let stats: Awaited<ReturnType<typeof withKernelTimers>>;
  try {
    await ours(sub, 500, {}); // warm-up outside the timers
    stats = await withKernelTimers(async () => {
      seconds = (await ours(sub, 500, {})).seconds;
    });
  } finally {
    if (fusedSetting === undefined) delete process.env.RBM_FUSED;
    else process.env.RBM_FUSED = fusedSetting;
  }
  const total = (seconds * 1000) / batches;
  console.log(
    `\n## Where a CD-1 784-500 batch's time goes: the tensor update (RBM_FUSED=0), ${fmt(total)} ms (${batches} batches, ms per batch; timers add ~0.1 µs per kernel)`,
  );
  const rowsOut = [...stats].filter(([, st]) => st.calls > 0).sort((p, q) => q[1].ms - p[1].ms);
  let inKernels = 0;
  for (const [name, st] of rowsOut) {
    inKernels += st.ms / batches;
    if (st.ms / batches >= 0.02)
      console.log(`${fmt(st.ms / batches, 3).padStart(8)} ms  ${(st.calls / batches).toFixed(1).padStart(5)} calls  ${name}`);
  }
  console.log(`${fmt(inKernels, 3).padStart(8)} ms  in kernels (all)`);
  console.log(
    `${fmt(total - inKernels, 3).padStart(8)} ms  outside kernels: JS noise (xoshiro uniforms), batch copy, tensor bookkeeping, tidy/dispose`,
  );
  // 2. The fused step (the default with the addon): the whole batch, beside its six products alone.
  const lib = loadNativeBlas();
  if (typeof lib === "string" || lib.cdStep === undefined) {
    console.log(`fused step: not available (${typeof lib === "string" ? lib : "addon predates cdStep: npm run setup"})`);
    return;
  }
  await ours(sub, 500, {});
  const fused = ((await ours(sub, 500, {})).seconds * 1000) / batches;
  const rng = new Rng(7);
  const arr = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * (rng.uniform() - 0.5));
  const [B, nV, nH, R] = [100, 784, 500, 200];
  const v = arr(B * nV);
  const W = arr(nV * nH, 0.02);
  const [b, c, h, pv, ph, S, H, stepW, row, sb, sc] = [nV, nH, B * nH, B * nV, B * nH, R * nV, R * nH, nV * nH, R, nV, nH].map((n) =>
    arr(n),
  );
  const products: [string, () => void][] = [
    ["σ(vW + c)", () => lib.gemmBatched(false, false, 1, B, nH, nV, v, 0, W, 0, ph, c, lib.ACT_SIGMOID)],
    ["σ(hWᵀ + b)", () => lib.gemmBatched(false, true, 1, B, nV, nH, h, 0, W, 0, pv, b, lib.ACT_SIGMOID)],
    ["σ(ṽW + c)", () => lib.gemmBatched(false, false, 1, B, nH, nV, v, 0, W, 0, ph, c, lib.ACT_SIGMOID)],
    ["[v; ṽ]ᵀ[h; h̃]", () => lib.gemmBatched(true, false, 1, nV, nH, R, S, 0, H, 0, stepW, null, lib.ACT_LINEAR)],
    [
      "column sums",
      () => {
        lib.gemmBatched(false, false, 1, 1, nV, R, row, 0, S, 0, sb, null, lib.ACT_LINEAR);
        lib.gemmBatched(false, false, 1, 1, nH, R, row, 0, H, 0, sc, null, lib.ACT_LINEAR);
      },
    ],
  ];
  console.log(`\n## The fused step (the default with the addon): ${fmt(fused)} ms per batch; its products alone, same shapes and addon:`);
  let inProducts = 0;
  for (const [name, f] of products) {
    for (let i = 0; i < 5; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) f();
    const ms = (performance.now() - t0) / 50;
    inProducts += ms;
    console.log(`${fmt(ms, 3).padStart(8)} ms  ${name}`);
  }
  console.log(`${fmt(inProducts, 3).padStart(8)} ms  in the products (bias and sigmoid included)`);
  console.log(
    `${fmt(fused - inProducts, 3).padStart(8)} ms  the rest: Bernoulli draws, the update passes over W, the batch copy, the JS loop`,
  );
}

/** The cd1 epoch in a child per configuration (the backend is process-global). */
function sectionMatrix(args: Args): void {
  console.log(`\n## CD-1 full epoch per configuration (child processes; each followed by numpy)`);
  const configs: [string, Record<string, string>][] = [
    ["native BLAS, wasm 1 thread", { RBM_WASM_THREADS: "0" }], // the default when the addon is built
    ["native BLAS + wasm threads", { RBM_WASM_THREADS: "2" }],
    ["native BLAS 1 thread, wasm 1", { RBM_WASM_THREADS: "0", RBM_BLAS_THREADS: "1" }],
    ["wasm kernels + wasm threads", { RBM_NATIVE_BLAS: "0", RBM_WASM_THREADS: "2" }], // the default without it
    ["wasm kernels, wasm 1 thread", { RBM_NATIVE_BLAS: "0", RBM_WASM_THREADS: "0" }],
  ];
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !["RBM_NATIVE_BLAS", "RBM_WASM_THREADS", "RBM_BLAS_THREADS"].includes(k)),
  );
  for (let i = 0; i < args.repeat; i++) {
    for (const [label, env] of configs) {
      const childArgs = [
        "--import",
        "tsx",
        path.join(__dirname, "cd1.ts"),
        "--child",
        "--sections=cd1",
        ...(args.numpy ? [] : ["--no-numpy"]),
      ];
      const r = spawnSync(process.execPath, childArgs, { cwd: ROOT, env: { ...clean, ...env }, encoding: "utf8", timeout: 900_000 });
      const lines = r.stdout.split("\n");
      const pick = (re: RegExp): string => lines.find((l) => re.test(l))?.trim() ?? "?";
      console.log(`${label.padEnd(28)} | ${pick(/^# rbm-notebooks/).replace(/^# rbm-notebooks: TensorFlow.js backend = /, "")}`);
      console.log(
        `${"".padEnd(28)} | ${pick(/^ours /)} | ${pick(/^numpy /)} | ${pick(/^peak RSS/)}${r.status === 0 ? "" : ` | exit ${r.status}: ${r.stderr.trim().split("\n").pop()}`}`,
      );
    }
  }
}

/** sklearn_rbm.py's JSON line, or a note saying why it did not run. */
function sklearnEpoch(coreType?: string): { seconds: number; pl?: number; version?: string; note?: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, MNIST_DIR: mnistDir() };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (coreType !== undefined) env.OPENBLAS_CORETYPE = coreType;
  const r = spawnSync(PYTHON, [SKLEARN_SCRIPT, "--hidden", "500", "--batch", "100", "--lr", "0.1"], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    timeout: 1_200_000,
  });
  const line = r.stdout
    ?.split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  const out = line ? (JSON.parse(line) as { seconds?: number; pl?: number; sklearn?: string; error?: string }) : {};
  if (r.status !== 0 || out.seconds === undefined) {
    return { seconds: NaN, note: out.error ?? (r.stderr || r.error?.message || "failed").trim().split("\n").pop() };
  }
  return { seconds: out.seconds, pl: out.pl, version: out.sklearn };
}

async function sectionSklearn(mnist: Dataset): Promise<void> {
  console.log(`\n## PCD-1, 784-500, batch 100, lr 0.1, 60,000 MNIST images (one epoch): ours beside scikit-learn's BernoulliRBM`);
  const o = await ours(mnist, 500, { persistent: true });
  console.log(`ours     ${fmt(o.seconds).padStart(7)} s/epoch`);
  const runs: [string, string | undefined][] = [["OPENBLAS_CORETYPE unset", undefined]];
  const core = nativeBlasCoreChoice()?.coreType;
  if (core !== undefined) runs.push([`OPENBLAS_CORETYPE=${core}`, core]);
  for (const [label, coreType] of runs) {
    const sk = sklearnEpoch(coreType);
    if (sk.note) {
      console.log(`sklearn  skipped: ${sk.note}`);
      return;
    }
    console.log(
      `sklearn  ${fmt(sk.seconds).padStart(7)} s/epoch   (${sk.version}, ${label}; pseudo-likelihood ${fmt(sk.pl ?? NaN, 1)})   ratio ours/sklearn ${fmt(o.seconds / sk.seconds)}×`,
    );
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.sections.has("matrix")) {
    sectionMatrix(args);
    return;
  }
  const info = await initBackend({ quiet: true });
  header(info);
  const mnist = loadMnist();
  if (args.sections.has("cd1")) await sectionCd1(args, mnist);
  if (args.sections.has("extra")) await sectionExtra(args, mnist);
  if (args.sections.has("sklearn")) await sectionSklearn(mnist);
  if (args.sections.has("sampling")) await sectionSampling(args, mnist);
  if (args.sections.has("profile")) await sectionProfile(args, mnist);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
