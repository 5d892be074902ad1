/**
 * lib/compute/backend.ts: backend choice, env overrides, wasm threads (vs single-threaded results) and clean exit.
 * The backend is process-global, so every variant other than the default runs in a child process.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { type BackendInfo, backendInfo, initBackend } from "../../lib/compute/backend";

const ROOT = path.resolve(__dirname, "..", "..");
const CHILD_TIMEOUT_MS = 60_000;

interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs CommonJS `code` in a fresh `node --import tsx` with only the given RBM_* variables set. */
function runChild(code: string, env: Record<string, string> = {}): ChildResult {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RBM_") && k !== "NODE_TEST_CONTEXT"));
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], {
    cwd: ROOT,
    env: { ...clean, ...env },
    encoding: "utf8",
    timeout: CHILD_TIMEOUT_MS,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Last stdout line parsed as JSON (earlier lines may be the summary line). */
function lastJson<T>(r: ChildResult): T {
  assert.equal(r.status, 0, `child failed (signal ${r.signal}):\n${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

// CD-1-shaped products on deterministic data; prints info and a hash of every result's bytes.
const MATMUL_CHILD = `
const tf = require("@tensorflow/tfjs");
const { createHash } = require("crypto");
const { initBackend } = require("./lib/compute/backend");
initBackend({ quiet: true }).then((info) => {
  const data = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s));
  const v = tf.tensor2d(data(100 * 784, 0.013), [100, 784]);
  const W = tf.tensor2d(data(784 * 500, 0.0071), [784, 500]);
  const h = tf.tensor2d(data(100 * 500, 0.029), [100, 500]);
  const c = tf.tensor1d(data(500, 0.3));
  const outs = [
    tf.matMul(v, W), tf.matMul(h, W.transpose()), tf.matMul(h, W, false, true),
    tf.matMul(v.transpose(), h), tf.matMul(h, v, true, false),
    tf.fused.matMul({ a: v, b: W, bias: c, activation: "sigmoid" }),
  ];
  const digests = outs.map((o) => createHash("sha256").update(o.dataSync()).digest("hex"));
  console.log(JSON.stringify({ info, digests }));
});
`;

test("initBackend picks wasm here (threads when >1 core), is idempotent, and removes emscripten's re-throwing handlers", async () => {
  const saved = process.env.RBM_BACKEND;
  delete process.env.RBM_BACKEND;
  try {
    const info = await initBackend({ quiet: true });
    assert.equal(info.name, "wasm");
    assert.equal(info.simd, true);
    assert.equal(info.tfjsVersion, tf.version.tfjs);
    assert.equal(tf.getBackend(), "wasm");
    if (process.env.RBM_WASM_THREADS === undefined) {
      assert.equal(info.threads, info.blas === "openblas" ? 1 : Math.min(os.availableParallelism(), 8), info.reason);
    }
    assert.match(info.reason, /tfjs-node is an npm alias|tfjs-node is not installed/);

    // A second call returns the cached result and selects nothing again, whatever its options.
    const backend = tf.backend();
    const again = await initBackend({ quiet: true, prefer: "cpu" });
    assert.equal(again, info);
    assert.equal(backendInfo(), info);
    assert.equal(tf.getBackend(), "wasm", "a second initBackend must not switch backends");
    assert.equal(tf.backend(), backend, "a second initBackend must not create the backend again");

    const listeners = [...process.listeners("uncaughtException"), ...process.listeners("unhandledRejection")];
    const rethrowing = listeners.filter((l) => /throw (ex|reason)\b/.test(String(l)));
    assert.deepEqual(rethrowing, [], "emscripten's re-throwing process listeners are still installed");
  } finally {
    if (saved !== undefined) process.env.RBM_BACKEND = saved;
  }
});

test("RBM_BACKEND=cpu works, prints the summary once and no tfjs Node.js banner", () => {
  const r = runChild(
    `const { initBackend } = require("./lib/compute/backend");
     initBackend().then(() => initBackend()).then((i) => console.log(JSON.stringify(i)));`,
    { RBM_BACKEND: "cpu" },
  );
  const info = lastJson<BackendInfo>(r);
  assert.equal(info.name, "cpu");
  assert.equal(info.threads, 1);
  assert.equal(r.stdout.match(/TensorFlow\.js backend = cpu/g)?.length, 1, r.stdout);
  assert.doesNotMatch(r.stdout + r.stderr, /looks like you are running TensorFlow\.js in Node\.js/i);
});

test("RBM_BACKEND=tensorflow fails with a clear message when tfjs-node is not really installed", () => {
  const r = runChild(
    `require("./lib/compute/backend").initBackend({ quiet: true }).catch((e) => { console.error(e.message); process.exitCode = 3; });`,
    {
      RBM_BACKEND: "tensorflow",
    },
  );
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /RBM_BACKEND=tensorflow, but the "tensorflow" backend cannot be loaded: .*tfjs-node/);
  assert.match(r.stderr, /npm install @tensorflow\/tfjs-node@/);
});

test("a malformed RBM_BACKEND is rejected with the valid names", () => {
  const r = runChild(
    `require("./lib/compute/backend").initBackend({ quiet: true }).catch((e) => { console.error(e.message); process.exitCode = 3; });`,
    {
      RBM_BACKEND: "gpu",
    },
  );
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /RBM_BACKEND="gpu" is not one of tensorflow, wasm, cpu/);
});

test("threaded and single-threaded wasm give bit-identical CD-1 products; both processes exit by themselves", () => {
  // RBM_NATIVE_BLAS=0: compare XNNPACK's own kernels, not the optional OpenBLAS matMul (lib/compute/blas.ts).
  const single = runChild(MATMUL_CHILD, { RBM_WASM_THREADS: "0", RBM_NATIVE_BLAS: "0" });
  const threaded = runChild(MATMUL_CHILD, { RBM_WASM_THREADS: "2", RBM_NATIVE_BLAS: "0" });
  const s = lastJson<{ info: BackendInfo; digests: string[] }>(single);
  const t = lastJson<{ info: BackendInfo; digests: string[] }>(threaded);
  assert.equal(s.info.threads, 1, s.info.reason);
  assert.match(s.info.reason, /RBM_WASM_THREADS=0/);
  assert.equal(t.info.threads, 2, t.info.reason);
  assert.deepEqual(t.digests, s.digests);
  // Exited on their own (status 0, checked by lastJson, and no timeout kill), i.e. the pool
  // workers do not keep Node alive.
  assert.equal(threaded.signal, null);
});

test("a failing thread set-up falls back to single-threaded SIMD, records why, and still exits", () => {
  const r = runChild(MATMUL_CHILD, { RBM_WASM_THREADS: "2", RBM_WASM_THREADS_TEST_FAULT: "1" });
  const { info } = lastJson<{ info: BackendInfo; digests: string[] }>(r);
  assert.equal(info.name, "wasm");
  assert.equal(info.threads, 1);
  assert.match(info.reason, /threads workaround failed \(injected test fault\)/);
  assert.equal(r.signal, null);
});
