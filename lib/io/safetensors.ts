/**
 * The safetensors format (https://huggingface.co/docs/safetensors), so that weights saved here open
 * in numpy / PyTorch (`safetensors.numpy.load_file`) and back.
 *
 * File layout:
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON: {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, …,
 *                           "__metadata__": {"<key>": "<string value>", …}}, padded with spaces so
 *                           that the data section starts on an 8-byte boundary
 *   [rest]     the tensors' raw little-endian bytes, row-major; offsets count from the start of
 *              this section, and the tensors tile it exactly (no gaps, no overlaps)
 *
 * {@link saveSafetensors} / {@link loadSafetensors} store any named typed arrays (names may contain
 * dots, e.g. "layer0.W" for a DBN) with string metadata. Saving is atomic: the bytes go to a
 * temporary file in the target folder, which is fsync-ed and then renamed over the target
 * (durable.ts), so a crash mid-save leaves the previous file intact (a crash can leave a stray
 * `.<name>.<pid>.<random>.tmp` file next to it, which is safe to delete); an existing file is only
 * replaced under the overwrite policy. Loading checks every byte range and shape before trusting
 * it, and fails with one error that names the file and what to do.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "./durable";
// ---------------------------------------------------------------------------------------------
// Types

/** Element types this module reads and writes (safetensors names). */
export type Dtype = "F32" | "F64" | "I32" | "U8";

/** The typed array that holds each {@link Dtype}. */
export interface DtypeArrays {
  /** 32-bit float. */
  F32: Float32Array;
  /** 64-bit float (numpy's default; converted to float32 when it becomes a tf.Tensor). */
  F64: Float64Array;
  /** 32-bit signed integer. */
  I32: Int32Array;
  /** 8-bit unsigned integer. */
  U8: Uint8Array;
}

/** Any of the typed arrays in {@link DtypeArrays}. */
export type TypedArray = DtypeArrays[Dtype];

/** A tensor as stored in a file: element type, shape and row-major values. */
export type SafeTensor = { [D in Dtype]: { dtype: D; shape: number[]; data: DtypeArrays[D] } }[Dtype];

/** A tensor to save: `dtype` may be left out, it then follows from the typed array. */
export interface SafeTensorInput {
  /** Must agree with the array type when given (F32 ↔ Float32Array, …). */
  dtype?: Dtype;
  /** Row-major shape; its product must equal `data.length` (`[]` is a scalar). */
  shape: readonly number[];
  /** The values. */
  data: TypedArray;
}

/** Contents of a safetensors file. */
export interface Safetensors {
  /** Tensors by name, in file order. */
  tensors: Record<string, SafeTensor>;
  /** The `__metadata__` strings (empty when the file has none). */
  metadata: Record<string, string>;
}

/**
 * What to do when the target file exists:
 * - `false`: refuse (throw) — never replace anything;
 * - `true`: replace it, whatever it is;
 * - `"sameFormat"`: replace it only if it is a safetensors file whose `__metadata__.format` equals
 *   the `format` of the metadata being saved (so a run can update its own checkpoint, but never
 *   clobbers an unrelated file the user saved under that name).
 */
export type OverwritePolicy = boolean | "sameFormat";

/** Options of {@link saveSafetensors}. */
export interface SaveOptions {
  /** See {@link OverwritePolicy}. Default `false`. */
  overwrite?: OverwritePolicy;
}

/** A JSON value, as read back from checkpoint metadata. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Test hooks (not for notebooks): observe or sabotage writes. */
export const ioTestHooks: {
  /** Called after each chunk is written to the temporary file; throwing here simulates a crash. */
  afterChunk?: (tmpFile: string, bytesWritten: number, totalBytes: number) => void;
} = {};

// ---------------------------------------------------------------------------------------------
// Encoding

const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F64: 8, I32: 4, U8: 1 };
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = "__metadata__";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.hasOwn(DTYPE_BYTES, s);
}

function dtypeOfArray(a: TypedArray): Dtype | undefined {
  if (a instanceof Float32Array) return "F32";
  if (a instanceof Float64Array) return "F64";
  if (a instanceof Int32Array) return "I32";
  if (a instanceof Uint8Array) return "U8"; // a Node Buffer is a Uint8Array too
  return undefined;
}

function product(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Little-endian bytes of a typed array (a view, no copy, on little-endian machines). */
function bytesOf(a: TypedArray): Uint8Array {
  if (LITTLE_ENDIAN || a.BYTES_PER_ELEMENT === 1) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) dv.setFloat32(4 * i, a[i], true);
    else if (a instanceof Float64Array) dv.setFloat64(8 * i, a[i], true);
    else dv.setInt32(4 * i, a[i], true);
  }
  return out;
}

/** A stored tensor with a fresh, aligned copy of little-endian `bytes`. */
function safeTensorOf(dtype: Dtype, shape: number[], bytes: Uint8Array): SafeTensor {
  const copy = new Uint8Array(bytes); // own, aligned buffer
  const dv = new DataView(copy.buffer);
  const n = copy.length / DTYPE_BYTES[dtype];
  switch (dtype) {
    case "U8":
      return { dtype, shape, data: copy };
    case "F32":
      return {
        dtype,
        shape,
        data: LITTLE_ENDIAN ? new Float32Array(copy.buffer) : Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, true)),
      };
    case "F64":
      return {
        dtype,
        shape,
        data: LITTLE_ENDIAN ? new Float64Array(copy.buffer) : Float64Array.from({ length: n }, (_, i) => dv.getFloat64(8 * i, true)),
      };
    case "I32":
      return {
        dtype,
        shape,
        data: LITTLE_ENDIAN ? new Int32Array(copy.buffer) : Int32Array.from({ length: n }, (_, i) => dv.getInt32(4 * i, true)),
      };
  }
}

function checkMetadata(metadata: Record<string, string>, where: string): void {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") {
      throw new Error(`${where}: metadata "${k}" is a ${typeof v}; safetensors metadata values must be strings (use JSON.stringify).`);
    }
  }
}

/** Validated tensors, ordered for the file (widest elements first, so every tensor is aligned). */
function prepareTensors(
  tensors: Record<string, SafeTensorInput>,
  where: string,
): Array<{ name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array }> {
  const out: Array<{ name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array }> = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "" || name === METADATA_KEY) {
      throw new Error(`${where}: "${name}" cannot be a tensor name (empty or reserved); rename it.`);
    }
    const arrayDtype = t?.data ? dtypeOfArray(t.data) : undefined;
    if (arrayDtype === undefined) {
      throw new Error(`${where}: tensor "${name}" needs data as a Float32Array, Float64Array, Int32Array or Uint8Array.`);
    }
    const dtype = t.dtype ?? arrayDtype;
    if (!isDtype(dtype)) throw new Error(`${where}: tensor "${name}" has unsupported dtype "${String(dtype)}"; use F32, F64, I32 or U8.`);
    if (dtype !== arrayDtype) {
      throw new Error(`${where}: tensor "${name}" says dtype ${dtype} but its data is a ${t.data.constructor.name} (${arrayDtype}).`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: tensor "${name}" has shape [${String(t.shape)}]; dimensions must be non-negative integers.`);
    }
    if (product(t.shape) !== t.data.length) {
      throw new Error(`${where}: tensor "${name}" has shape [${t.shape}] = ${product(t.shape)} values but ${t.data.length} are given.`);
    }
    out.push({ name, dtype, shape: [...t.shape], bytes: bytesOf(t.data) });
  }
  // Stable sort: 8-byte types, then 4, then 1; the data section starts 8-aligned, so all stay aligned.
  return out.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]);
}

/** The 8-byte length and padded JSON header, plus the data pieces in file order. */
function encodeParts(
  tensors: Record<string, SafeTensorInput>,
  metadata: Record<string, string>,
  where: string,
): { head: Uint8Array; body: Uint8Array[] } {
  checkMetadata(metadata, where);
  const prepared = prepareTensors(tensors, where);
  const header: Record<string, object> = {};
  let offset = 0;
  for (const t of prepared) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = { ...metadata };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  if (json.length > MAX_HEADER_BYTES) {
    throw new Error(`${where}: the header would be ${json.length} bytes (limit ${MAX_HEADER_BYTES}); store less metadata.`);
  }
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20); // spaces pad the JSON
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return { head, body: prepared.map((t) => t.bytes) };
}

/**
 * The bytes of a safetensors file holding `tensors` and `metadata` (in memory; see
 * {@link saveSafetensors} to write a file). Tensors are laid out widest dtype first.
 * @throws on an unsupported dtype, a shape that does not match the data, or non-string metadata
 */
export function encodeSafetensors(tensors: Record<string, SafeTensorInput>, metadata: Record<string, string> = {}): Uint8Array {
  const { head, body } = encodeParts(tensors, metadata, "encodeSafetensors");
  return Buffer.concat([head, ...body]);
}

// ---------------------------------------------------------------------------------------------
// Decoding

const NOT_SAFETENSORS = "the file is truncated or not a safetensors checkpoint; re-save it or pick another file";

/** One error message for everything that can go wrong reading `source`. */
function readError(source: string, what: string, todo = NOT_SAFETENSORS): Error {
  return new Error(`Cannot read ${source}: ${what}; ${todo}.`);
}

interface HeaderEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and validates the JSON header against a data section of `dataBytes` bytes. */
function parseHeader(json: string, dataBytes: number, source: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw readError(source, `its header is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw readError(source, "its header is not a JSON object");
  }
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw readError(source, `"${METADATA_KEY}" is not an object`);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") throw readError(source, `metadata "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw))
      throw readError(source, `the header entry for tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(dtype)) {
      throw readError(
        source,
        `tensor "${name}" has dtype ${JSON.stringify(dtype)}, which this library does not read (it reads F32, F64, I32, U8)`,
        "convert that tensor to float32 (e.g. numpy .astype(np.float32)) and save again",
      );
    }
    if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && d >= 0)) {
      throw readError(source, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o): o is number => Number.isSafeInteger(o) && o >= 0)) {
      throw readError(source, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets;
    if (begin > end || end > dataBytes) {
      throw readError(source, `tensor "${name}" claims bytes [${begin}, ${end}) but the data section has ${dataBytes} bytes`);
    }
    const need = product(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== need) {
      throw readError(source, `tensor "${name}" (${dtype} [${shape}]) needs ${need} bytes but its offsets span ${end - begin}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // The spec: tensors tile the data section exactly, no gaps and no overlaps.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) throw readError(source, `tensor "${e.name}" overlaps another tensor (bytes [${e.begin}, ${e.end}))`);
    if (e.begin > at) throw readError(source, `there is a gap in the data section before tensor "${e.name}" (bytes [${at}, ${e.begin}))`);
    at = e.end;
  }
  if (at !== dataBytes) {
    throw readError(source, `the data section has ${dataBytes} bytes but the tensors cover ${at}`);
  }
  return { entries, metadata };
}

/** Header length from the first 8 bytes, checked against the total size. */
function headerLength(prefix: Uint8Array, totalBytes: number, source: string): number {
  if (totalBytes < 8) throw readError(source, `it has only ${totalBytes} bytes (a safetensors file has at least 8)`);
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) throw readError(source, `its header claims ${n} bytes (more than the ${MAX_HEADER_BYTES}-byte limit)`);
  if (n > BigInt(totalBytes - 8)) throw readError(source, `its header claims ${n} bytes but only ${totalBytes - 8} follow`);
  if (n < 2n) throw readError(source, `its header claims ${n} bytes, too short for a JSON object`);
  return Number(n);
}

/**
 * Parses the bytes of a safetensors file (see {@link encodeSafetensors}); every offset, shape and
 * dtype is checked. The returned arrays are copies (they do not share memory with `bytes`).
 * @param source names the data in error messages (e.g. the file name)
 */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): Safetensors {
  const n = headerLength(bytes, bytes.length, source);
  const json = Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString("utf8");
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(json, bytes.length - dataStart, source);
  const tensors = entries.map((e): [string, SafeTensor] => [
    e.name,
    safeTensorOf(e.dtype, e.shape, bytes.subarray(dataStart + e.begin, dataStart + e.end)),
  ]);
  return { tensors: Object.fromEntries(tensors), metadata };
}

// ---------------------------------------------------------------------------------------------
// Files

/** The absolute path, or a clear error when there is no regular file there. */
function existingFile(file: string, what: string): string {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(
        `Cannot read ${what} ${abs}: no such file (relative paths start from the working directory ` +
          `${process.cwd()}); check the path or save the ${what} first.`,
      );
    }
    throw new Error(`Cannot read ${what} ${abs}: ${(e as Error).message}; check the path and its permissions.`);
  }
  if (!st.isFile()) throw new Error(`Cannot read ${what} ${abs}: it is not a regular file; pass the path of a .safetensors file.`);
  return abs;
}

function readWhole(abs: string, source: string): Buffer {
  try {
    return fs.readFileSync(abs);
  } catch (e) {
    throw readError(source, (e as Error).message, "check the file's permissions and size");
  }
}

/**
 * Reads and decodes a whole file, naming it `<what> <absolute path>` in every error (e.g.
 * "checkpoint /tmp/a.safetensors"); what {@link loadSafetensors} does, for the model-file loaders.
 */
export function readSafetensorsFile(file: string, what: string): Safetensors & { abs: string; source: string } {
  const abs = existingFile(file, what);
  const source = `${what} ${abs}`;
  return { ...decodeSafetensors(readWhole(abs, source), source), abs, source };
}

/**
 * Reads a safetensors file written by {@link saveSafetensors}, numpy, PyTorch, … (dtypes F32, F64,
 * I32, U8). Every offset and shape is validated; a problem throws one error naming the file.
 */
export function loadSafetensors(file: string): Safetensors {
  const abs = existingFile(file, "safetensors file");
  return decodeSafetensors(readWhole(abs, abs), abs);
}

/** `__metadata__.format` of an existing file, or undefined when its header cannot be read. */
function peekFormat(abs: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(abs, "r");
    const size = fs.fstatSync(fd).size;
    const prefix = Buffer.alloc(8);
    if (fs.readSync(fd, prefix, 0, 8, 0) !== 8) return undefined;
    const n = headerLength(prefix, size, abs);
    const json = Buffer.alloc(n);
    if (fs.readSync(fd, json, 0, n, 8) !== n) return undefined;
    const parsed: unknown = JSON.parse(json.toString("utf8"));
    if (parsed === null || typeof parsed !== "object") return undefined;
    const meta: unknown = (parsed as Record<string, unknown>)[METADATA_KEY];
    if (meta === null || typeof meta !== "object") return undefined;
    const format: unknown = (meta as Record<string, unknown>).format;
    return typeof format === "string" ? format : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function alreadyExists(abs: string, how: string): Error {
  return new Error(`Cannot save ${abs}: ${how}; pick another file name, or pass { overwrite: true } to replace it.`);
}

/**
 * Applies the overwrite policy, then writes `parts` to `abs` with {@link writeFileAtomic}.
 * The policy is checked before anything is written.
 */
function writeDurable(abs: string, parts: Uint8Array[], overwrite: OverwritePolicy, format: string | undefined): void {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`Cannot save ${abs}: ${(e as Error).message}.`);
  }
  if (existing) {
    if (!existing.isFile()) throw new Error(`Cannot save ${abs}: a folder or special file is in the way; pick another file name.`);
    if (overwrite === false) throw alreadyExists(abs, "the file already exists");
    if (overwrite === "sameFormat") {
      const found = peekFormat(abs);
      if (found !== format) {
        throw alreadyExists(
          abs,
          found === undefined
            ? `a file that is not a "${format}" checkpoint already exists there (it may be something you saved)`
            : `a "${found}" file (not "${format}") already exists there`,
        );
      }
    }
  }
  writeFileAtomic(abs, parts, { overwrite: existing !== undefined, afterChunk: ioTestHooks.afterChunk });
}

/**
 * Saves named tensors and string metadata as a safetensors file, atomically (temp file, fsync,
 * rename: a crash never leaves a half-written `file` nor destroys the previous one). Creates the
 * folder if needed. Names may contain dots ("layer0.W"); `__metadata__` is reserved.
 *
 * By default an existing `file` is never replaced (see {@link OverwritePolicy}); with
 * `overwrite: "sameFormat"`, `metadata.format` must be set.
 * @throws on invalid tensors/metadata or a refused overwrite, before anything is written
 */
export function saveSafetensors(
  file: string,
  tensors: Record<string, SafeTensorInput>,
  metadata: Record<string, string> = {},
  opts: SaveOptions = {},
): void {
  const abs = path.resolve(file);
  const overwrite = opts.overwrite ?? false;
  if (overwrite === "sameFormat" && !metadata.format) {
    throw new Error(`Cannot save ${abs}: overwrite "sameFormat" needs a "format" entry in the metadata.`);
  }
  const { head, body } = encodeParts(tensors, metadata, `Cannot save ${abs}`);
  writeDurable(abs, [head, ...body], overwrite, metadata.format);
}

// ---------------------------------------------------------------------------------------------
// tf.Tensor and RBM ↔ stored tensors

/**
 * A copy of a tf.Tensor's values as a {@link SafeTensor} (float32 → F32, int32 → I32; a sync read).
 * @throws for other tensor dtypes (bool, complex, string): cast them first
 */
export function tensorToSafe(t: tf.Tensor, name = "tensor"): SafeTensor {
  if (t.dtype === "float32") return { dtype: "F32", shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
  if (t.dtype === "int32") return { dtype: "I32", shape: [...t.shape], data: Int32Array.from(t.dataSync() as Int32Array) };
  throw new Error(`${name} has dtype ${t.dtype}; only float32 and int32 tensors can be saved (use tf.cast first).`);
}

/** A new tf.Tensor from a stored tensor: F32/F64 → float32, I32/U8 → int32. The caller disposes it. */
export function safeToTensor(t: SafeTensor): tf.Tensor {
  switch (t.dtype) {
    case "F32":
      return tf.tensor(t.data, t.shape, "float32");
    case "F64":
      return tf.tensor(Float32Array.from(t.data), t.shape, "float32");
    case "I32":
      return tf.tensor(t.data, t.shape, "int32");
    case "U8":
      return tf.tensor(Int32Array.from(t.data), t.shape, "int32");
  }
}
