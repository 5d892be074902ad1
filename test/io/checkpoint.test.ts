/**
 * Checkpoints: exact round trips, the safetensors byte layout checked by hand (and by numpy when
 * available), atomic saves under a simulated crash, the overwrite policy, and one clear error per
 * kind of broken file.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/compute/backend";
import { Rng } from "../../lib/core/random";
import { disposeRBM, makeRBM, type RBM } from "../../lib/core/rbm";
import {
  CHECKPOINT_FORMAT,
  disposeCheckpoint,
  loadCheckpoint,
  rbmFromTensors,
  rbmToTensors,
  saveCheckpoint,
} from "../../lib/io/checkpoint";
import { encodeSafetensors, ioTestHooks, loadSafetensors, type SafeTensor, saveSafetensors } from "../../lib/io/safetensors";
import { noLeak } from "../support/assert";

let root = "";
before(async () => {
  await initBackend({ quiet: true });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rbm-io-test-"));
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

let dirCount = 0;
/** A fresh empty folder for one test. */
function freshDir(): string {
  const d = path.join(root, `t${dirCount++}`);
  fs.mkdirSync(d);
  return d;
}

/** A random RBM whose values include awkward floats (−0, subnormals, huge, tiny). */
function awkwardRBM(nVisible: number, nHidden: number, seed: number): RBM {
  const rng = new Rng(seed);
  const W = rng.fillNormal(new Float32Array(nVisible * nHidden), 0, 1);
  const special = [-0, 1e-45, -1e-40, 3.4e38, -3.4e38, 1.1754942e-38, Math.PI];
  special.forEach((x, i) => (W[i % W.length] = x));
  const b = rng.fillNormal(new Float32Array(nVisible), 0, 0.5);
  const c = rng.fillNormal(new Float32Array(nHidden), 0, 0.5);
  return makeRBM(W, b, c);
}

/** The raw bit patterns of a float32/int32 tensor or array (so −0 ≠ 0 and NaN payloads count). */
function bitsOf(x: tf.Tensor | Float32Array | Int32Array): number[] {
  const a = x instanceof tf.Tensor ? x.dataSync() : x;
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

function assertSameRBM(a: RBM, b: RBM): void {
  for (const k of ["W", "b", "c"] as const) {
    assert.deepEqual(a[k].shape, b[k].shape, `${k} shape`);
    assert.deepEqual(bitsOf(a[k]), bitsOf(b[k]), `${k} values (bitwise)`);
  }
}

/** Parses a safetensors file by hand, straight from the spec. */
function parseByHand(file: string) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const headerText = buf.subarray(8, 8 + n).toString("utf8");
  const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & {
    __metadata__?: Record<string, string>;
  };
  return { buf, n, headerText, header, dataStart: 8 + n };
}

/** Builds a file from a header object and data bytes (to craft broken files). */
function rawFile(file: string, header: object, data: Uint8Array, headerLengthOverride?: bigint): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLengthOverride ?? BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

/** Asserts that fn throws one error whose message names the file and matches every pattern. */
function throwsAbout(fn: () => unknown, file: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.ok(e.message.includes(path.resolve(file)), `message should name the file: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

const history = [
  { epoch: 0, seconds: 1.25, learningRate: 0.1, momentum: 0.5, trainRecon: 51.2, pseudoLL: -0.31 },
  { epoch: 1, seconds: 1.5, learningRate: 0.1, momentum: 0.5, trainRecon: NaN, pseudoLL: -Infinity },
  { epoch: 2, seconds: 1e-7, learningRate: 0.05, momentum: 0.9, trainRecon: Infinity, pseudoLL: -0.2 },
];
const hyperparameters = {
  k: 1,
  persistent: true,
  learningRate: 0.1,
  batchSize: 100,
  epochs: 3,
  sparsityTarget: undefined,
  schedule: { kind: "exponential", decay: 0.95, note: 'ünïcödé ✓ "quoted"' },
  layers: [784, 500],
  seed: 0,
};

test("a checkpoint round-trips exactly: W, b, c bitwise, hyperparameters, history (NaN/±Inf), extras, notes", () => {
  const dir = freshDir();
  const file = path.join(dir, "ckpt.safetensors");
  const rbm = awkwardRBM(7, 5, 1);
  const momentum = tf.tensor2d(new Rng(2).fillNormal(new Float32Array(35), 0, 1), [7, 5]);
  const chains = tf.tensor2d(
    Int32Array.from({ length: 15 }, (_, i) => i % 2),
    [3, 5],
    "int32",
  );

  // Saving creates no tensors.
  noLeak("saveCheckpoint", () =>
    saveCheckpoint(file, {
      rbm,
      hyperparameters,
      history,
      extra: { "momentum.W": momentum, "pcd.chains": chains, "raw.u8": { shape: [2, 2], data: Uint8Array.from([0, 1, 254, 255]) } },
      metadata: { notes: "trained in chapter 3" },
    }),
  );

  // disposeCheckpoint frees everything loadCheckpoint made.
  noLeak("loadCheckpoint + disposeCheckpoint", () => {
    const ck = loadCheckpoint(file, { expect: { nVisible: 7, nHidden: 5 } });
    assertSameRBM(ck.rbm, rbm);
    assert.deepEqual(ck.hyperparameters, JSON.parse(JSON.stringify(hyperparameters)));
    assert.deepStrictEqual(ck.history, history); // deepStrictEqual treats NaN as equal to NaN
    assert.ok(Object.is(ck.history[1].pseudoLL, -Infinity));
    assert.deepEqual(Object.keys(ck.extra).sort(), ["momentum.W", "pcd.chains", "raw.u8"]);
    assert.deepEqual(bitsOf(ck.extra["momentum.W"]), bitsOf(momentum));
    assert.equal(ck.extra["pcd.chains"].dtype, "int32");
    assert.deepEqual(Array.from(ck.extra["pcd.chains"].dataSync()), Array.from(chains.dataSync()));
    assert.deepEqual(Array.from(ck.extra["raw.u8"].dataSync()), [0, 1, 254, 255]);
    assert.equal(ck.metadata.notes, "trained in chapter 3");
    assert.equal(ck.metadata.format, CHECKPOINT_FORMAT);
    disposeCheckpoint(ck);
  });

  // The default policy replaces our own checkpoint (a run updating its file).
  const rbm2 = awkwardRBM(7, 5, 3);
  saveCheckpoint(file, { rbm: rbm2 });
  const ck2 = loadCheckpoint(file);
  assertSameRBM(ck2.rbm, rbm2);
  assert.deepEqual(ck2.hyperparameters, {});
  assert.deepEqual(ck2.history, []);
  assert.deepEqual(ck2.extra, {});
  disposeCheckpoint(ck2);
  tf.dispose([momentum, chains]);
  disposeRBM(rbm);
  disposeRBM(rbm2);
  assert.deepEqual(fs.readdirSync(dir), ["ckpt.safetensors"], "no temp files left behind");
});

test("the bytes follow the safetensors spec (parsed by hand)", () => {
  const dir = freshDir();
  const file = path.join(dir, "layout.safetensors");
  const rbm = awkwardRBM(6, 3, 4);
  const f64 = Float64Array.from([Math.PI, -1e300, 5e-324]);
  saveCheckpoint(file, {
    rbm,
    history,
    extra: { "a.u8": { shape: [3], data: Uint8Array.from([1, 2, 3]) }, "z.f64": { shape: [3], data: f64 } },
  });
  const { buf, n, headerText, header, dataStart } = parseByHand(file);

  assert.equal(n % 8, 0, "header length pads the data section to 8-byte alignment");
  assert.match(headerText, /^\{.*\} *$/s, "a JSON object, padded with trailing spaces only");
  const meta = header.__metadata__;
  assert.ok(meta);
  assert.equal(meta.format, "rbm-notebooks/rbm");
  assert.equal(meta.version, "1");
  assert.equal(meta.nVisible, "6");
  assert.equal(meta.nHidden, "3");
  assert.equal(typeof meta.hyperparameters, "string");
  assert.equal(JSON.parse(meta.history).length, 3);
  for (const v of Object.values(meta)) assert.equal(typeof v, "string", "metadata values are strings");

  const sizes: Record<string, number> = { F32: 4, F64: 8, U8: 1, I32: 4 };
  const entries = Object.entries(header).filter(([k]) => k !== "__metadata__") as Array<
    [string, { dtype: string; shape: number[]; data_offsets: [number, number] }]
  >;
  assert.deepEqual(entries.map(([k]) => k).sort(), ["W", "a.u8", "b", "c", "z.f64"]);
  const sorted = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let at = 0;
  for (const [name, e] of sorted) {
    const [begin, end] = e.data_offsets;
    assert.equal(begin, at, `${name} starts where the previous tensor ended (no gap, no overlap)`);
    assert.equal(end - begin, e.shape.reduce((p, d) => p * d, 1) * sizes[e.dtype], `${name}: span = product(shape) × dtype size`);
    assert.equal((dataStart + begin) % sizes[e.dtype], 0, `${name} is aligned in the file`);
    at = end;
  }
  assert.equal(dataStart + at, buf.length, "the tensors cover the data section exactly");

  assert.deepEqual(header.W.shape, [6, 3]);
  assert.equal(header.W.dtype, "F32");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const W = rbm.W.dataSync();
  for (let i = 0; i < W.length; i++) {
    assert.ok(Object.is(dv.getFloat32(dataStart + header.W.data_offsets[0] + 4 * i, true), W[i]), `W[${i}] little-endian row-major`);
  }
  for (let i = 0; i < 3; i++) assert.ok(Object.is(dv.getFloat64(dataStart + header["z.f64"].data_offsets[0] + 8 * i, true), f64[i]));
  disposeRBM(rbm);
});

const python = "/usr/bin/python3";
const hasNumpy = spawnSync(python, ["-c", "import numpy"]).status === 0;

test("numpy reads our files and we read numpy's", { skip: hasNumpy ? false : "python3 with numpy not available" }, () => {
  const dir = freshDir();
  const ours = path.join(dir, "ours.safetensors");
  const theirs = path.join(dir, "theirs.safetensors");
  const rbm = awkwardRBM(5, 4, 5);
  saveCheckpoint(ours, { rbm, hyperparameters: { k: 3 }, history });
  const script = `
import json, struct, sys
import numpy as np
DT = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "U8": "u1"}
def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=DT[v["dtype"]]).reshape(v["shape"])
            for k, v in header.items()}, meta
tensors, meta = load(sys.argv[1])
out = {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": [float(x) for x in v.ravel()]} for k, v in tensors.items()}
out["__meta__"] = {"format": meta["format"], "k": json.loads(meta["hyperparameters"])["k"], "epochs": len(json.loads(meta["history"]))}
print(json.dumps(out))

# Write a file the numpy way: float64 W (numpy's default), float32 biases, our format tag.
rng = np.random.default_rng(0)
arrays = {"W": rng.normal(size=(3, 2)), "b": np.arange(3, dtype=np.float32), "c": np.array([-1.5, 2.25], dtype=np.float32)}
header, offset, blobs = {}, 0, []
for k, a in arrays.items():
    b = a.astype(a.dtype.newbyteorder("<")).tobytes()
    header[k] = {"dtype": {"float64": "F64", "float32": "F32"}[str(a.dtype)], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
    offset += len(b)
    blobs.append(b)
header["__metadata__"] = {"format": "rbm-notebooks/rbm", "version": "1", "history": json.dumps([{"epoch": 0, "loss": 1.5}])}
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
print(json.dumps({k: [float(x) for x in a.astype(np.float32).ravel()] for k, a in arrays.items()}))
`;
  const run = spawnSync(python, ["-c", script, ours, theirs], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const [line1, line2] = run.stdout.trim().split("\n");
  const got = JSON.parse(line1) as Record<string, { dtype: string; shape: number[]; values: number[] }> & {
    __meta__: { format: string; k: number; epochs: number };
  };
  assert.deepEqual(got.__meta__, { format: "rbm-notebooks/rbm", k: 3, epochs: 3 });
  for (const k of ["W", "b", "c"] as const) {
    assert.equal(got[k].dtype, "float32");
    assert.deepEqual(got[k].shape, rbm[k].shape);
    const mine = rbm[k].dataSync();
    // float32 → Python float is exact, and JSON keeps every double, so values must match exactly.
    got[k].values.forEach((x, i) => assert.ok(Object.is(Math.fround(x), mine[i]), `${k}[${i}]: numpy ${x} vs ${mine[i]}`));
  }

  const expected = JSON.parse(line2) as Record<"W" | "b" | "c", number[]>;
  const ck = loadCheckpoint(theirs, { expect: { nVisible: 3, nHidden: 2 } });
  for (const k of ["W", "b", "c"] as const) assert.deepEqual(Array.from(ck.rbm[k].dataSync()), expected[k], `${k} from numpy`);
  assert.deepEqual(ck.history, [{ epoch: 0, loss: 1.5 }]);
  assert.deepEqual(ck.hyperparameters, {});
  disposeCheckpoint(ck);
  disposeRBM(rbm);
});

test("several RBMs in one file through the generic API (dotted names, DBN-style)", () =>
  noLeak("the generic API", () => {
    const dir = freshDir();
    const file = path.join(dir, "dbn.safetensors");
    const l0 = awkwardRBM(8, 5, 6);
    const l1 = awkwardRBM(5, 3, 7);
    saveSafetensors(file, { ...rbmToTensors(l0, "layer0."), ...rbmToTensors(l1, "layer1.") }, { format: "rbm-notebooks/dbn", layers: "2" });
    const { tensors, metadata } = loadSafetensors(file);
    assert.deepEqual(Object.keys(tensors).sort(), ["layer0.W", "layer0.b", "layer0.c", "layer1.W", "layer1.b", "layer1.c"]);
    assert.deepEqual(metadata, { format: "rbm-notebooks/dbn", layers: "2" });
    noLeak("rbmFromTensors + disposeRBM", () => {
      const r0 = rbmFromTensors(tensors, "layer0.", file);
      const r1 = rbmFromTensors(tensors, "layer1.", file);
      assertSameRBM(r0, l0);
      assertSameRBM(r1, l1);
      disposeRBM(r0);
      disposeRBM(r1);
    });

    throwsAbout(() => rbmFromTensors(tensors, "layer2.", file), file, /no tensor layer2\.W, layer2\.b, layer2\.c/, /layer0\.W/);
    throwsAbout(() => loadCheckpoint(file), file, /"rbm-notebooks\/dbn" file, not a single-RBM checkpoint/);
    // The generic default never replaces an existing file.
    throwsAbout(() => saveSafetensors(file, rbmToTensors(l0)), file, /already exists/, /overwrite: true/);
    // "sameFormat" replaces a file of the same format only.
    saveSafetensors(file, rbmToTensors(l1, "layer0."), { format: "rbm-notebooks/dbn" }, { overwrite: "sameFormat" });
    throwsAbout(
      () => saveSafetensors(file, rbmToTensors(l1), { format: "other" }, { overwrite: "sameFormat" }),
      file,
      /"rbm-notebooks\/dbn" file/,
    );
    disposeRBM(l0);
    disposeRBM(l1);
  }));

test("a crash while saving leaves the previous checkpoint intact and removes the temp file", () => {
  const dir = freshDir();
  const file = path.join(dir, "run.safetensors");
  const rbm1 = awkwardRBM(30, 20, 8);
  const rbm2 = awkwardRBM(30, 20, 9);
  saveCheckpoint(file, { rbm: rbm1, history });
  const before = fs.readFileSync(file);
  let calls = 0;
  ioTestHooks.afterChunk = (tmp, written, total) => {
    calls++;
    assert.ok(fs.existsSync(tmp) && written < total, "the hook fires with a half-written temp file");
    throw new Error("simulated crash");
  };
  try {
    assert.throws(() => saveCheckpoint(file, { rbm: rbm2 }), /simulated crash/);
  } finally {
    ioTestHooks.afterChunk = undefined;
  }
  assert.equal(calls, 1);
  assert.ok(fs.readFileSync(file).equals(before), "previous file byte-for-byte intact");
  assert.deepEqual(fs.readdirSync(dir), ["run.safetensors"], "temp file removed");
  const ck = loadCheckpoint(file);
  assertSameRBM(ck.rbm, rbm1);
  disposeCheckpoint(ck);
  disposeRBM(rbm1);
  disposeRBM(rbm2);
});

test("a process killed mid-save (SIGKILL) leaves the previous checkpoint intact", () => {
  const dir = freshDir();
  const file = path.join(dir, "run.safetensors");
  const rbm = awkwardRBM(30, 20, 10);
  saveCheckpoint(file, { rbm });
  const before = fs.readFileSync(file);
  const script = path.join(dir, "crash.ts");
  const lib = (m: string) => JSON.stringify(path.resolve(__dirname, "..", "..", "lib", m));
  fs.writeFileSync(
    script,
    `import { initRBM } from ${lib("core/rbm")};
import { ioTestHooks } from ${lib("io/safetensors")};
import { saveCheckpoint } from ${lib("io/checkpoint")};
ioTestHooks.afterChunk = () => { process.kill(process.pid, "SIGKILL"); };
saveCheckpoint(${JSON.stringify(file)}, { rbm: initRBM(30, 20, { seed: 1 }) });
console.log("not reached");
`,
  );
  const run = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", cwd: path.resolve(__dirname, "..", "..") });
  assert.equal(run.signal, "SIGKILL", `child should die mid-save: ${run.stderr}`);
  assert.ok(!run.stdout.includes("not reached"));
  assert.ok(fs.readFileSync(file).equals(before), "previous file byte-for-byte intact");
  const leftovers = fs.readdirSync(dir).filter((f) => f !== "run.safetensors" && f !== "crash.ts");
  // A hard kill cannot clean up: at most one hidden, partial temp file remains, which is never loaded.
  assert.ok(leftovers.length <= 1 && leftovers.every((f) => /^\.run\.safetensors\.\d+\.[0-9a-f]+\.tmp$/.test(f)), String(leftovers));
  const ck = loadCheckpoint(file);
  assertSameRBM(ck.rbm, rbm);
  disposeCheckpoint(ck);
  disposeRBM(rbm);
});

test("saveCheckpoint never replaces a file that is not one of our checkpoints unless told to", () => {
  const dir = freshDir();
  const rbm = awkwardRBM(4, 3, 11);
  const notes = path.join(dir, "notes.safetensors");
  fs.writeFileSync(notes, "my precious notes");
  throwsAbout(
    () => saveCheckpoint(notes, { rbm }),
    notes,
    /not a "rbm-notebooks\/rbm" checkpoint already exists/,
    /pick another file name/,
    /overwrite: true/,
  );
  assert.equal(fs.readFileSync(notes, "utf8"), "my precious notes");

  const foreign = path.join(dir, "foreign.safetensors");
  saveSafetensors(foreign, { x: { shape: [1], data: Float32Array.of(1) } }, { format: "someone-else" });
  throwsAbout(() => saveCheckpoint(foreign, { rbm }), foreign, /"someone-else" file/);

  const own = path.join(dir, "own.safetensors");
  saveCheckpoint(own, { rbm });
  throwsAbout(() => saveCheckpoint(own, { rbm }, { overwrite: false }), own, /already exists/);

  const folder = path.join(dir, "folder");
  fs.mkdirSync(folder);
  throwsAbout(() => saveCheckpoint(folder, { rbm }, { overwrite: true }), folder, /folder or special file/);

  fs.chmodSync(notes, 0o640);
  saveCheckpoint(notes, { rbm }, { overwrite: true });
  assert.equal(fs.statSync(notes).mode & 0o777, 0o640, "the replaced file keeps its permissions");
  const ck = loadCheckpoint(notes);
  assertSameRBM(ck.rbm, rbm);
  disposeCheckpoint(ck);

  const nested = path.join(dir, "a", "b", "new.safetensors");
  saveCheckpoint(nested, { rbm });
  assert.ok(fs.existsSync(nested), "missing folders are created");
  disposeRBM(rbm);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")),
    [],
  );
});

test("saving refuses what it cannot store faithfully, before writing anything", () =>
  noLeak("refused saves", () => {
    const dir = freshDir();
    const file = path.join(dir, "x.safetensors");
    const rbm = awkwardRBM(4, 3, 12);
    const nan = makeRBMUnchecked(4, 3, NaN);
    throwsAbout(() => saveCheckpoint(file, { rbm: nan }), file, /NaN or Inf/);
    throwsAbout(
      () => saveCheckpoint(file, { rbm, hyperparameters: { learningRate: (e: number) => 0.1 / (1 + e) } }),
      file,
      /hyperparameters\.learningRate is a function/,
    );
    throwsAbout(() => saveCheckpoint(file, { rbm, hyperparameters: { rng: new Rng(1) } }), file, /hyperparameters\.rng is a Rng instance/);
    throwsAbout(() => saveCheckpoint(file, { rbm, history: [{ w: rbm.W }] }), file, /history\[0\]\.w is a tensor/);
    throwsAbout(() => saveCheckpoint(file, { rbm, extra: { W: rbm.W } }), file, /clash/);
    const mask = tf.tensor1d([1, 0], "bool");
    throwsAbout(() => saveCheckpoint(file, { rbm, extra: { mask } }), file, /dtype bool/);
    mask.dispose();
    throwsAbout(() => saveCheckpoint(file, { rbm, metadata: { format: "mine" } }), file, /reserved/);
    throwsAbout(() => saveSafetensors(file, { x: { shape: [2, 2], data: new Float32Array(3) } }), file, /\[2,2\] = 4 values but 3/);
    throwsAbout(() => saveSafetensors(file, { x: { dtype: "I32", shape: [1], data: new Float32Array(1) } }), file, /says dtype I32/);
    assert.deepEqual(fs.readdirSync(dir), [], "nothing written");
    disposeRBM(rbm);
    disposeRBM(nan);
  }));

/** An RBM with every W entry = x, bypassing makeRBM's finiteness check. */
function makeRBMUnchecked(nVisible: number, nHidden: number, x: number): RBM {
  return {
    W: tf.fill([nVisible, nHidden], x) as tf.Tensor2D,
    b: tf.zeros([nVisible]) as tf.Tensor1D,
    c: tf.zeros([nHidden]) as tf.Tensor1D,
  };
}

test("broken files fail with one clear error naming the file and what to do", () =>
  noLeak("failed loads", () => {
    const dir = freshDir();
    const good = path.join(dir, "good.safetensors");
    const rbm = awkwardRBM(6, 4, 13);
    saveCheckpoint(good, { rbm, history });
    const goodBytes = fs.readFileSync(good);
    const { header, dataStart } = parseByHand(good);
    const data = goodBytes.subarray(dataStart);
    const f = (name: string) => path.join(dir, name);
    const TODO = /re-save it or pick another file/;

    throwsAbout(() => loadCheckpoint(f("missing.safetensors")), f("missing.safetensors"), /no such file/, /working directory/);
    throwsAbout(() => loadCheckpoint(dir), dir, /not a regular file/);

    fs.writeFileSync(f("tiny"), Buffer.from([1, 2, 3, 4, 5]));
    throwsAbout(() => loadCheckpoint(f("tiny")), f("tiny"), /only 5 bytes/, TODO);

    fs.writeFileSync(f("cut-header"), goodBytes.subarray(0, 40));
    throwsAbout(
      () => loadCheckpoint(f("cut-header")),
      f("cut-header"),
      /header claims \d+ bytes but only 32 follow/,
      /truncated or not a safetensors/,
    );

    fs.writeFileSync(f("cut-data"), goodBytes.subarray(0, goodBytes.length - 10));
    throwsAbout(
      () => loadCheckpoint(f("cut-data")),
      f("cut-data"),
      /claims bytes \[\d+, \d+\) but the data section has \d+ bytes/,
      /truncated/,
    );

    fs.writeFileSync(f("text.safetensors"), "This is a README, not a checkpoint. ".repeat(10));
    throwsAbout(() => loadCheckpoint(f("text.safetensors")), f("text.safetensors"), /header claims \d+ bytes/, TODO);

    fs.writeFileSync(f("garbage-json"), Buffer.concat([Buffer.from([12, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{not json!!}")]));
    throwsAbout(() => loadCheckpoint(f("garbage-json")), f("garbage-json"), /header is not valid JSON/, TODO);

    rawFile(f("array-header"), [1, 2], new Uint8Array(0));
    throwsAbout(() => loadCheckpoint(f("array-header")), f("array-header"), /not a JSON object/);

    const edit = (name: string, mutate: (h: typeof header) => void, bytes: Uint8Array = data) => {
      const h = JSON.parse(JSON.stringify(header)) as typeof header;
      mutate(h);
      rawFile(f(name), h, bytes);
      return f(name);
    };
    let p = edit("bf16", (h) => (h.W.dtype = "BF16"));
    throwsAbout(() => loadCheckpoint(p), p, /tensor "W" has dtype "BF16", which this library does not read/, /astype\(np\.float32\)/);
    p = edit("out-of-range", (h) => (h.c.data_offsets = [h.c.data_offsets[0] + 4000, h.c.data_offsets[1] + 4000]));
    throwsAbout(() => loadCheckpoint(p), p, /tensor "c" claims bytes/, TODO);
    p = edit("span", (h) => (h.b.shape = [7]));
    throwsAbout(() => loadCheckpoint(p), p, /tensor "b" \(F32 \[7\]\) needs 28 bytes but its offsets span 24/);
    p = edit("overlap", (h) => {
      h.b.data_offsets = [...h.W.data_offsets] as [number, number];
      h.b.shape = [h.W.shape[0] * h.W.shape[1]];
    });
    throwsAbout(() => loadCheckpoint(p), p, /overlaps/);
    p = edit("gap", (h) => h, Buffer.concat([data, Buffer.alloc(8)]));
    throwsAbout(() => loadCheckpoint(p), p, /data section has \d+ bytes but the tensors cover/);
    p = edit("bad-offsets", (h) => ((h.W as { data_offsets: unknown }).data_offsets = [0, "96"]));
    throwsAbout(() => loadCheckpoint(p), p, /invalid data_offsets/);
    p = edit("bad-history", (h) => {
      if (h.__metadata__) h.__metadata__.history = "[{oops";
    });
    throwsAbout(() => loadCheckpoint(p), p, /"history" metadata is not valid JSON/);
    p = edit("version-2", (h) => {
      if (h.__metadata__) h.__metadata__.version = "2";
    });
    throwsAbout(() => loadCheckpoint(p), p, /version "2"/, /update rbm-notebooks/);
    p = edit("meta-shape", (h) => {
      if (h.__metadata__) h.__metadata__.nHidden = "9";
    });
    throwsAbout(() => loadCheckpoint(p), p, /metadata says nHidden = 9 but W is \[6, 4\]/);
    p = edit("bad-shapes", (h) => {
      h.W.shape = [4, 6];
    });
    throwsAbout(() => loadCheckpoint(p), p, /W \[4,6\], b \[6\], c \[4\] do not fit/);

    // A valid safetensors file that holds something else.
    const foreign = f("foreign.safetensors");
    saveSafetensors(foreign, { "embeddings.weight": { shape: [2, 2], data: new Float32Array(4) } });
    throwsAbout(() => loadCheckpoint(foreign), foreign, /no tensor W, b, c/, /embeddings\.weight/, /not an RBM checkpoint/);

    // NaN weights (written through the generic API, which does not check values).
    const nan = f("nan.safetensors");
    const t = rbmToTensors(rbm);
    const W = t.W.data as Float32Array;
    W[5] = NaN;
    saveSafetensors(nan, t, { format: CHECKPOINT_FORMAT, version: "1" });
    throwsAbout(() => loadCheckpoint(nan), nan, /W contain NaN or Inf/, /pick an earlier checkpoint/);

    // The wrong architecture names both shapes.
    throwsAbout(
      () => loadCheckpoint(good, { expect: { nVisible: 6, nHidden: 5 } }),
      good,
      /nVisible = 6, nHidden = 4 \(W \[6, 4\]\) but nVisible = 6, nHidden = 5 \(W \[6, 5\]\) was expected/,
    );
    throwsAbout(() => loadCheckpoint(good, { expect: { nVisible: 784 } }), good, /W \[784, 4\]/);

    const ck = loadCheckpoint(good);
    assertSameRBM(ck.rbm, rbm);
    disposeCheckpoint(ck);
    disposeRBM(rbm);
  }));

test("encodeSafetensors: empty and scalar tensors, metadata only, and a tensor-free file", () => {
  const bytes = encodeSafetensors(
    { scalar: { shape: [], data: Float32Array.of(2.5) }, empty: { shape: [0, 3], data: new Float32Array(0) } },
    { note: "x" },
  );
  const dir = freshDir();
  const file = path.join(dir, "odd.safetensors");
  fs.writeFileSync(file, bytes);
  const { tensors, metadata } = loadSafetensors(file);
  const s = tensors.scalar as Extract<SafeTensor, { dtype: "F32" }>;
  assert.deepEqual(s.shape, []);
  assert.deepEqual(Array.from(s.data), [2.5]);
  assert.deepEqual(tensors.empty.shape, [0, 3]);
  assert.equal(tensors.empty.data.length, 0);
  assert.deepEqual(metadata, { note: "x" });
  const none = path.join(dir, "none.safetensors");
  saveSafetensors(none, {});
  assert.deepEqual(loadSafetensors(none), { tensors: {}, metadata: {} });
});
