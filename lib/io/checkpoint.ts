/**
 * Model files: one module for the checkpoints of every model of the library — an RBM here, a DBN
 * and an MLP in dbn/checkpoint.ts — so that all of them share one set of rules, on top of the
 * safetensors codec (safetensors.ts):
 *
 * - metadata `format` (what the file holds) and `version` (of that format), checked on load;
 * - structured metadata (hyperparameters, histories, notes) as JSON strings, in which NaN/±Infinity
 *   survive the round trip (listed under `nonFinite`); invalid JSON is an error naming the key;
 * - an existing file is replaced only if it holds the same format, never anything else;
 * - every problem is one error that names the file and what to do.
 *
 * A single RBM: {@link saveCheckpoint} / {@link loadCheckpoint} store W, b, c (F32) plus the
 * hyperparameters and the training history, and optional extra tensors (momentum buffers,
 * persistent chains).
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { assertFiniteRBM, disposeRBM, type RBM } from "../core/rbm";
import {
  type JsonObject,
  type JsonValue,
  type OverwritePolicy,
  readSafetensorsFile,
  type SafeTensor,
  type SafeTensorInput,
  safeToTensor,
  saveSafetensors,
  tensorToSafe,
} from "./safetensors";

/**
 * An RBM's parameters as stored tensors `<prefix>W` `[nVisible, nHidden]`, `<prefix>b` `[nVisible]`,
 * `<prefix>c` `[nHidden]` (F32 copies). Several RBMs share one file through different prefixes,
 * e.g. `{...rbmToTensors(l0, "layer0."), ...rbmToTensors(l1, "layer1.")}`.
 */
export function rbmToTensors(rbm: RBM, prefix = ""): Record<string, SafeTensor> {
  return {
    [`${prefix}W`]: tensorToSafe(rbm.W, `${prefix}W`),
    [`${prefix}b`]: tensorToSafe(rbm.b, `${prefix}b`),
    [`${prefix}c`]: tensorToSafe(rbm.c, `${prefix}c`),
  };
}

/**
 * Rebuilds an RBM from `<prefix>W`, `<prefix>b`, `<prefix>c` (F32, or F64 converted to float32),
 * checking presence, shapes and finiteness. New tensors; the caller disposes them ({@link disposeRBM}).
 * @param source names the data in error messages (e.g. the file name)
 */
export function rbmFromTensors(tensors: Record<string, SafeTensor>, prefix = "", source = "the tensors"): RBM {
  const get = (k: string) => (Object.hasOwn(tensors, prefix + k) ? tensors[prefix + k] : undefined);
  const [W, b, c] = [get("W"), get("b"), get("c")];
  if (!W || !b || !c) {
    const names = Object.keys(tensors);
    const missing = ["W", "b", "c"].filter((k) => !get(k)).map((k) => prefix + k);
    const prefixes = names.filter((n) => n.endsWith(".W")).map((n) => n.slice(0, -1));
    throw new Error(
      `Cannot read an RBM from ${source}: no tensor ${missing.join(", ")} (it holds ${names.length ? names.slice(0, 12).join(", ") + (names.length > 12 ? ", …" : "") : "no tensors"}); ` +
        (prefixes.length > 0
          ? `it may hold RBMs under the prefixes ${prefixes.map((p) => `"${p}"`).join(", ")}: read them with loadSafetensors and rbmFromTensors(tensors, prefix).`
          : `this is not an RBM checkpoint — pick another file.`),
    );
  }
  for (const [k, t] of [
    ["W", W],
    ["b", b],
    ["c", c],
  ] as const) {
    if (t.dtype !== "F32" && t.dtype !== "F64") {
      throw new Error(
        `Cannot read an RBM from ${source}: ${prefix}${k} has dtype ${t.dtype}, expected F32; the file is not an RBM checkpoint — pick another file.`,
      );
    }
  }
  if (W.shape.length !== 2 || b.shape.length !== 1 || c.shape.length !== 1 || b.shape[0] !== W.shape[0] || c.shape[0] !== W.shape[1]) {
    throw new Error(
      `Cannot read an RBM from ${source}: ${prefix}W [${W.shape}], ${prefix}b [${b.shape}], ${prefix}c [${c.shape}] do not fit ` +
        `(expected W [nVisible, nHidden], b [nVisible], c [nHidden]); the file is corrupt or not an RBM checkpoint — re-save it or pick another file.`,
    );
  }
  const rbm: RBM = {
    W: safeToTensor(W) as tf.Tensor2D,
    b: safeToTensor(b) as tf.Tensor1D,
    c: safeToTensor(c) as tf.Tensor1D,
  };
  try {
    assertFiniteRBM(rbm);
  } catch (e) {
    disposeRBM(rbm);
    throw new Error(
      `Cannot read an RBM from ${source}: ${prefix ? `(prefix "${prefix}") ` : ""}${(e as Error).message.replace(/ Training diverged.*$/, "")} ` +
        `The checkpoint was saved from a diverged run or is corrupt: pick an earlier checkpoint.`,
    );
  }
  return rbm;
}

// ---------------------------------------------------------------------------------------------
// JSON metadata

type JsonPath = Array<string | number>;
type NonFinite = Array<[JsonPath, "NaN" | "Infinity" | "-Infinity"]>;

/**
 * A JSON-safe copy of `value`: plain objects, arrays, strings, booleans, null and numbers.
 * NaN/±Infinity become null and are listed in `nonFinite` (restored on load). Properties whose
 * value is undefined are left out (as JSON.stringify does); anything else that JSON cannot
 * represent faithfully (functions, tensors, typed arrays, class instances, cycles) throws.
 */
function toJson(value: unknown, where: string, at: JsonPath, nonFinite: NonFinite, seen: Set<object>): JsonValue {
  const here = () => where + at.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("");
  if (value === undefined) throw new Error(`${here()} is undefined; use null.`);
  if (value === null) return null;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    nonFinite.push([[...at], Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity"]);
    return null;
  }
  if (typeof value !== "object") {
    throw new Error(`${here()} is a ${typeof value}, which JSON cannot store; leave it out or store a description (a string).`);
  }
  if (seen.has(value)) throw new Error(`${here()} refers back to itself (a cycle); JSON cannot store it.`);
  if (value instanceof tf.Tensor || ArrayBuffer.isView(value)) {
    throw new Error(`${here()} is a tensor or typed array; pass tensors as \`extra\`, or convert small arrays with Array.from.`);
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const items: unknown[] = value;
      return Array.from({ length: items.length }, (_, i) => toJson(items[i], where, [...at, i], nonFinite, seen));
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
      throw new Error(`${here()} is a ${name} instance, which JSON cannot store faithfully; store its plain fields instead.`);
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      Object.defineProperty(out, k, {
        value: toJson(v, where, [...at, k], nonFinite, seen),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Puts NaN/±Infinity back at the listed paths; returns false if a path does not exist. */
function restoreNonFinite(root: JsonValue, list: unknown): boolean {
  if (!Array.isArray(list)) return false;
  for (const item of list) {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[0]) || item[0].length === 0) return false;
    const [p, v] = item as [unknown[], unknown];
    const num = v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : undefined;
    if (num === undefined) return false;
    let node: unknown = root;
    for (let i = 0; i < p.length - 1; i++) {
      if (node === null || typeof node !== "object") return false;
      node = (node as Record<string, unknown>)[String(p[i])];
    }
    const last = p[p.length - 1];
    if (node === null || typeof node !== "object" || !(typeof last === "string" || typeof last === "number")) return false;
    if (!Object.hasOwn(node, last) || (node as Record<string, unknown>)[String(last)] !== null) return false;
    (node as Record<string, unknown>)[String(last)] = num;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The rules every model file shares

/** A kind of model file: its `format` metadata, the version written, and a name for messages. */
export interface FileKind {
  /** `__metadata__.format`, e.g. "rbm-notebooks/rbm". */
  format: string;
  /** `__metadata__.version` written by this library. */
  version: string;
  /** What the file is called in messages, e.g. "single-RBM checkpoint". */
  name: string;
  /** Further versions this library reads (`undefined`: files written before the version key existed). */
  alsoReads?: (string | undefined)[];
}

/** A model file read and checked for its format and version by {@link openModelFile}. */
export interface ModelFile {
  /** Absolute path. */
  abs: string;
  /** `<what> <path>`, as errors name it. */
  source: string;
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
  /** An error "Cannot read <source>: <what>; <todo>." (default todo: re-save it or pick another file). */
  fail(what: string, todo?: string): Error;
}

/**
 * Reads a model file and checks that it is of `kind` (format and a version this library reads).
 * With `untagged`, a file without a `format` entry is accepted too (plain safetensors from numpy).
 * @param what how errors name the file, e.g. "checkpoint"
 */
export function openModelFile(file: string, kind: FileKind, what: string, opts: { untagged?: boolean } = {}): ModelFile {
  const { tensors, metadata, abs, source } = readSafetensorsFile(file, what);
  const fail = (problem: string, todo = "re-save it or pick another file") => new Error(`Cannot read ${source}: ${problem}; ${todo}.`);
  if (metadata.format !== kind.format && !(metadata.format === undefined && opts.untagged)) {
    throw fail(
      metadata.format !== undefined
        ? `it is a "${metadata.format}" file, not a ${kind.name} ("${kind.format}")`
        : `it is not a ${kind.name} (no "format": "${kind.format}" metadata)`,
      "it was left untouched; load it with the loader for its format, or pick another file",
    );
  }
  if (metadata.format === kind.format && metadata.version !== kind.version && !(kind.alsoReads ?? []).includes(metadata.version)) {
    throw fail(
      `it has ${kind.name} version ${JSON.stringify(metadata.version)} but this library reads version ${kind.version}`,
      "update rbm-notebooks, or pick another file",
    );
  }
  return { abs, source, tensors, metadata, fail };
}

/**
 * Saves a model file: `tensors` and `metadata` plus the kind's format and version. Keys the kind
 * writes itself (`reserved`) may not come from the caller's notes. An existing file is replaced
 * only when it holds the same format (the default), see {@link saveSafetensors}.
 */
export function writeModelFile(
  file: string,
  kind: FileKind,
  tensors: Record<string, SafeTensorInput>,
  metadata: Record<string, string>,
  opts: { notes?: Record<string, string>; reserved?: readonly string[]; overwrite?: OverwritePolicy } = {},
): void {
  const notes = opts.notes ?? {};
  for (const k of Object.keys(notes)) {
    if (["format", "version", "nonFinite", ...(opts.reserved ?? []), ...Object.keys(metadata)].includes(k)) {
      throw new Error(`Cannot save ${path.resolve(file)}: metadata key "${k}" is reserved; rename it.`);
    }
  }
  saveSafetensors(
    file,
    tensors,
    { ...notes, format: kind.format, version: kind.version, ...metadata },
    { overwrite: opts.overwrite ?? "sameFormat" },
  );
}

/**
 * Structured metadata as JSON strings, one per key, in which NaN/±Infinity survive: they are stored
 * as null and listed under the extra key `nonFinite` (restored by {@link readJsonMetadata}).
 * Functions, tensors, class instances and cycles are refused with an error naming the path.
 * @param where the start of error messages, e.g. "Cannot save checkpoint /tmp/a.safetensors"
 */
export function jsonMetadata(fields: Record<string, unknown>, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const nonFinite: Record<string, NonFinite> = {};
  for (const [key, value] of Object.entries(fields)) {
    const list: NonFinite = [];
    out[key] = JSON.stringify(toJson(value, `${where}: ${key}`, [], list, new Set()));
    if (list.length > 0) nonFinite[key] = list;
  }
  if (Object.keys(nonFinite).length > 0) out.nonFinite = JSON.stringify(nonFinite);
  return out;
}

/**
 * Reads back {@link jsonMetadata}: each key as a JSON object or array (its default when absent),
 * with NaN/±Infinity restored. Invalid JSON, a value of the wrong kind or a `nonFinite` list that
 * does not fit is an error naming the file and the key.
 */
export function readJsonMetadata<K extends string>(f: ModelFile, keys: Record<K, "object" | "array">): Record<K, JsonValue> {
  const parse = (key: string, fallback: JsonValue): JsonValue => {
    const text = f.metadata[key];
    if (text === undefined) return fallback;
    try {
      return JSON.parse(text) as JsonValue;
    } catch (e) {
      throw f.fail(`its "${key}" metadata is not valid JSON (${(e as Error).message})`);
    }
  };
  const nonFinite = parse("nonFinite", {});
  if (nonFinite === null || typeof nonFinite !== "object" || Array.isArray(nonFinite))
    throw f.fail(`its "nonFinite" metadata is not a JSON object`);
  const out = {} as Record<K, JsonValue>;
  for (const key of Object.keys(keys) as K[]) {
    const value = parse(key, keys[key] === "array" ? [] : {});
    const ok = keys[key] === "array" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
    if (!ok) throw f.fail(`its "${key}" metadata is not a JSON ${keys[key]}`);
    if (nonFinite[key] !== undefined && !restoreNonFinite(value, nonFinite[key]))
      throw f.fail(`its "nonFinite" metadata does not match "${key}"`);
    out[key] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RBM checkpoints

/** `__metadata__.format` of a single-RBM checkpoint. */
export const CHECKPOINT_FORMAT = "rbm-notebooks/rbm";
/** `__metadata__.version` written by this library; {@link loadCheckpoint} reads this version only. */
export const CHECKPOINT_VERSION = "1";

/** The single-RBM checkpoint as a {@link FileKind}. */
export const RBM_FILE: FileKind = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, name: "single-RBM checkpoint" };

/** What {@link saveCheckpoint} stores. */
export interface CheckpointData {
  /** The model; W, b, c are stored as F32 and must be finite. */
  rbm: RBM;
  /**
   * Plain JSON-serialisable settings (numbers, strings, booleans, null, arrays, plain objects).
   * Functions, tensors and class instances are refused (store a description instead);
   * NaN/±Infinity survive the round trip. Default `{}`.
   */
  hyperparameters?: object;
  /** One plain record per epoch (e.g. `trainRBM`'s history), same rules. Default `[]`. */
  history?: readonly object[];
  /** More tensors (momentum buffers, persistent chains…): float32/int32 tf.Tensors or stored tensors; not W, b, c. */
  extra?: Record<string, tf.Tensor | SafeTensorInput>;
  /** More metadata strings (free-form notes); the keys this module writes are reserved. */
  metadata?: Record<string, string>;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /**
   * Default `"sameFormat"`: replace an existing file only if it is itself an rbm-notebooks RBM
   * checkpoint, refuse anything else with an error. `true` replaces any file, `false` none.
   */
  overwrite?: OverwritePolicy;
}

/** What {@link loadCheckpoint} returns. The caller owns the tensors ({@link disposeCheckpoint}). */
export interface Checkpoint {
  /** The model (new tensors). */
  rbm: RBM;
  /** The saved hyperparameters (`{}` if none). */
  hyperparameters: JsonObject;
  /** The saved history (`[]` if none). */
  history: JsonObject[];
  /** Every other tensor in the file, by name (F32/F64 → float32, I32/U8 → int32). */
  extra: Record<string, tf.Tensor>;
  /** All metadata strings as stored (including format, version, the JSON texts and notes). */
  metadata: Record<string, string>;
}

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Architecture the caller needs; a mismatch throws an error naming both shapes. */
  expect?: { nVisible?: number; nHidden?: number };
}

/**
 * Saves an RBM with its hyperparameters, history and optional extra tensors as a safetensors file
 * (W `[nVisible, nHidden]`, b, c as F32; metadata format "rbm-notebooks/rbm", version "1",
 * hyperparameters and history as JSON, nVisible, nHidden). Atomic, see {@link saveSafetensors}.
 *
 * By default an existing file is replaced only if it is an rbm-notebooks checkpoint; any other
 * existing file makes this throw (see {@link SaveCheckpointOptions}).
 * In numpy: parse the header (8-byte length + JSON), `np.frombuffer(data[b:e], "<f4").reshape(shape)`,
 * or `safetensors.numpy.load_file(file)`.
 * @throws on non-finite parameters, unserialisable metadata or a refused overwrite — before writing
 */
export function saveCheckpoint(file: string, data: CheckpointData, opts: SaveCheckpointOptions = {}): void {
  const abs = path.resolve(file);
  const where = `Cannot save checkpoint ${abs}`;
  try {
    assertFiniteRBM(data.rbm);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  const hp = data.hyperparameters ?? {};
  if (hp === null || typeof hp !== "object" || Array.isArray(hp)) throw new Error(`${where}: hyperparameters must be a plain object.`);
  const history = data.history ?? [];
  if (!Array.isArray(history)) throw new Error(`${where}: history must be an array of records.`);
  history.forEach((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) throw new Error(`${where}: history[${i}] must be a plain object.`);
  });
  const [nVisible, nHidden] = data.rbm.W.shape;
  const metadata = { nVisible: String(nVisible), nHidden: String(nHidden), ...jsonMetadata({ hyperparameters: hp, history }, where) };
  const tensors: Record<string, SafeTensorInput> = rbmToTensors(data.rbm);
  for (const [name, t] of Object.entries(data.extra ?? {})) {
    if (name === "W" || name === "b" || name === "c")
      throw new Error(`${where}: extra tensor "${name}" would clash with the RBM's ${name}; rename it.`);
    tensors[name] = t instanceof tf.Tensor ? tensorToSafe(t, `${where}: extra tensor "${name}"`) : t;
  }
  writeModelFile(abs, RBM_FILE, tensors, metadata, {
    notes: data.metadata,
    reserved: ["hyperparameters", "history", "nVisible", "nHidden"],
    overwrite: opts.overwrite,
  });
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint} (or any safetensors file with F32/F64
 * tensors W, b, c, e.g. from numpy). Validates the whole file: size, header, dtypes, offsets,
 * shapes, finiteness, format/version and, if given, the expected architecture; each problem
 * throws one error naming the file and what to do. The caller disposes the result's tensors.
 */
export function loadCheckpoint(file: string, opts: LoadCheckpointOptions = {}): Checkpoint {
  const f = openModelFile(file, RBM_FILE, "checkpoint", { untagged: true });
  const { tensors, metadata, source, fail } = f;
  const { hyperparameters, history } = readJsonMetadata(f, { hyperparameters: "object", history: "array" });
  if (!(history as JsonValue[]).every((r) => r !== null && typeof r === "object" && !Array.isArray(r))) {
    throw fail(`its "history" metadata is not a JSON array of records`);
  }
  const rbm = rbmFromTensors(tensors, "", source);
  const [nVisible, nHidden] = rbm.W.shape;
  const metaMismatch = (["nVisible", "nHidden"] as const).find(
    (k) => metadata[k] !== undefined && metadata[k] !== String(k === "nVisible" ? nVisible : nHidden),
  );
  const want = opts.expect ?? {};
  const archMismatch =
    (want.nVisible !== undefined && want.nVisible !== nVisible) || (want.nHidden !== undefined && want.nHidden !== nHidden);
  if (metaMismatch || archMismatch) {
    disposeRBM(rbm);
    if (metaMismatch) throw fail(`its metadata says ${metaMismatch} = ${metadata[metaMismatch]} but W is [${nVisible}, ${nHidden}]`);
    const wantV = want.nVisible ?? nVisible;
    const wantH = want.nHidden ?? nHidden;
    throw new Error(
      `Cannot use ${source}: it holds an RBM with nVisible = ${nVisible}, nHidden = ${nHidden} (W [${nVisible}, ${nHidden}]) ` +
        `but nVisible = ${wantV}, nHidden = ${wantH} (W [${wantV}, ${wantH}]) was expected; pick the checkpoint saved for this ` +
        `architecture, or change the architecture to match.`,
    );
  }
  const extra: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "W" || name === "b" || name === "c") continue;
    Object.defineProperty(extra, name, { value: safeToTensor(t), enumerable: true, writable: true, configurable: true });
  }
  return { rbm, hyperparameters: hyperparameters as JsonObject, history: history as JsonObject[], extra, metadata };
}

/** Frees every tensor of a loaded checkpoint (the RBM and the extras). */
export function disposeCheckpoint(ck: Checkpoint): void {
  disposeRBM(ck.rbm);
  tf.dispose(Object.values(ck.extra));
}
