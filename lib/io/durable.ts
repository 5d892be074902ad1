/**
 * Durable, atomic file writes shared by checkpoints (io), pictures (plot) and tables (table).
 * No TensorFlow import, so the display code can use it without loading tfjs.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Bytes written per `write` call; a test hook can run between chunks to simulate a crash. */
const CHUNK_BYTES = 1 << 20;

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Replace an existing file (true) or refuse with an error (false, default). */
  overwrite?: boolean;
  /** Called after every chunk with the temp file's path and progress (tests simulate crashes with it). */
  afterChunk?: (tmp: string, written: number, total: number) => void;
}

function syncDir(dir: string): void {
  // Makes the rename durable. Not possible on every platform (e.g. Windows): best effort.
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* ignore */
  }
}

/**
 * Writes `data` to `file` atomically and durably: a temp file in the same folder → fsync → rename
 * (or a hard link when no file may be replaced: a link never replaces a file that appeared
 * meanwhile) → fsync of the folder. A crash leaves either the old file or the new one, never a
 * half-written file; a replaced file keeps its permissions. Creates the folder if needed.
 * @throws if `file` exists and `overwrite` is not true
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | Uint8Array[], opts: AtomicWriteOptions = {}): void {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const parts: Uint8Array[] = typeof data === "string" ? [Buffer.from(data, "utf8")] : Array.isArray(data) ? data : [data];
  const exists = (): Error => new Error(`${abs} already exists; pick another file name, or pass { overwrite: true } to replace it.`);
  let existing: fs.Stats | undefined;
  try {
    existing = fs.statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`Cannot write ${abs}: ${(e as Error).message}.`);
  }
  if (existing && !existing.isFile())
    throw new Error(`Cannot write ${abs}: a folder or special file is in the way; pick another file name.`);
  if (existing && opts.overwrite !== true) throw exists();
  try {
    writeViaTemp(abs, dir, parts, existing, opts, exists);
  } catch (e) {
    throw systemError(e, abs);
  }
}

/**
 * A file-system error (EACCES, ENOSPC, …, which name the temporary file) as an error naming the
 * target and what to do; anything else (our own refusals, a test hook's simulated crash) unchanged.
 */
function systemError(e: unknown, abs: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string" || !code.startsWith("E")) return e;
  const dir = path.dirname(abs);
  const fix =
    code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? `the folder ${dir} is not writable: pick a folder you can write to, or fix its permissions`
      : code === "ENOSPC" || code === "EDQUOT"
        ? `the disk holding ${dir} is full: free some space, or pick a folder on another disk`
        : `${(e as Error).message}; check the folder ${dir}`;
  const err = new Error(`Cannot write ${abs}: ${fix} (${code}). Nothing was replaced.`, { cause: e });
  (err as NodeJS.ErrnoException).code = code;
  return err;
}

/** The temp file → fsync → rename/link → fsync-folder steps of {@link writeFileAtomic}. */
function writeViaTemp(
  abs: string,
  dir: string,
  parts: Uint8Array[],
  existing: fs.Stats | undefined,
  opts: AtomicWriteOptions,
  exists: () => Error,
): void {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const total = parts.reduce((s, p) => s + p.length, 0);
  const fd = fs.openSync(tmp, "wx");
  try {
    try {
      if (existing) fs.fchmodSync(fd, existing.mode & 0o7777);
      let written = 0;
      for (const part of parts) {
        for (let at = 0; at < part.length; at += CHUNK_BYTES) {
          const chunk = part.subarray(at, Math.min(at + CHUNK_BYTES, part.length));
          let done = 0;
          while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
          written += chunk.length;
          opts.afterChunk?.(tmp, written, total);
        }
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (existing) {
      fs.renameSync(tmp, abs);
    } else {
      try {
        fs.linkSync(tmp, abs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST" || fs.existsSync(abs)) throw exists();
        fs.renameSync(tmp, abs); // file systems without hard links
      }
    }
    syncDir(dir);
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* already renamed */
    }
  }
}

/** The first bytes of a PNG file. */
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether the bytes at the start of a file are a PNG or an SVG picture (what `showImages` / `showFigure` write). */
function isPicture(head: Uint8Array, kind: "PNG" | "SVG"): boolean {
  if (kind === "PNG") return head.length >= 8 && PNG_SIGNATURE.every((b, i) => head[i] === b);
  const text = Buffer.from(head).toString("utf8").trimStart();
  return text.startsWith("<svg") || (text.startsWith("<?xml") && text.includes("<svg"));
}

/**
 * Saves a picture (`save` of showImages / showFigure) with {@link writeFileAtomic}. An existing
 * file is replaced only when it already is a picture of that kind (recognised by its content: a
 * re-run redraws its own figure); anything else — a checkpoint, a table, a notebook — is refused
 * unless `overwrite` is true, so a slip of the path never destroys saved work.
 * @param what names the caller in error messages
 */
export function writePictureFile(file: string, data: string | Uint8Array, kind: "PNG" | "SVG", what: string, overwrite = false): void {
  const abs = path.resolve(file);
  let head: Uint8Array | undefined;
  try {
    if (fs.statSync(abs).isFile()) {
      const fd = fs.openSync(abs, "r");
      try {
        const buf = Buffer.alloc(512);
        head = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0));
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${what}: cannot write ${abs}: ${(e as Error).message}.`);
  }
  if (head !== undefined && !overwrite && !isPicture(head, kind)) {
    throw new Error(
      `${what}: save = ${abs} already exists and is not a ${kind} picture (it may be a checkpoint or other saved work), so it is not replaced; ` +
        `pick another file name (ending in .${kind.toLowerCase()}), or pass overwrite: true to replace it.`,
    );
  }
  writeFileAtomic(abs, data, { overwrite: true });
}
