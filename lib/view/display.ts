/**
 * Where pictures, tables and progress bars go: a Jupyter output (inside a tslab kernel) or
 * nowhere/the terminal (plain Node).
 *
 * Why not `tslab.display`: it sends ONE mime type per output, and we want multi-mime bundles
 * (plotly JSON + HTML + SVG + text in one output, so every frontend picks what it can render).
 * tslab's public `display.raw` calls `jupyter.lastWriteDisplayData(content, update)`
 * (node_modules/tslab/dist/public.js), which accepts a whole `data` dict. The kernel sets that
 * function before running each cell (dist/jupyter.js, `handleExecuteImpl`), so finding the loaded
 * `tslab/dist/jupyter.js` module with a non-null writer is also the notebook-vs-terminal test.
 * We look for it in the module cache instead of `require("tslab")`: that never loads tslab (and
 * its TypeScript compiler, ~175 ms) in plain Node, and it finds the kernel's own copy even when the
 * kernel runs from a global install.
 */
import { randomBytes } from "node:crypto";

/** Mime type → payload: text, binary (sent base64), or a JSON value for `application/*+json`. */
export type MimeBundle = Record<string, string | Uint8Array | object>;

/** Receives one output: a new display entry, or (`update`) a replacement of entry `displayId`. */
export type DisplaySink = (bundle: MimeBundle, displayId: string | undefined, update: boolean) => void;

interface KernelContent {
  data: Record<string, string | object>;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}
type KernelWriter = (content: KernelContent, update: boolean) => void;

let override: DisplaySink | null | undefined; // undefined → auto-detect the kernel
// The kernel loads dist/jupyter.js before any cell runs, so one scan of the cache decides.
let jupyterModule: { lastWriteDisplayData?: unknown } | null | undefined;

/** tslab's current display writer, or null outside a running tslab cell. */
function kernelWriter(): KernelWriter | null {
  if (jupyterModule === undefined) {
    jupyterModule = null;
    const cache = typeof require === "function" ? require.cache : {}; // no require: an ES module host, not tslab
    for (const [file, mod] of Object.entries(cache)) {
      if (mod && /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) {
        jupyterModule = mod.exports as { lastWriteDisplayData?: unknown };
        break;
      }
    }
  }
  const w = jupyterModule?.lastWriteDisplayData;
  return typeof w === "function" ? (w as KernelWriter) : null;
}

function kernelSink(): DisplaySink | null {
  const write = kernelWriter();
  if (!write) return null;
  return (bundle, displayId, update) => {
    const data: Record<string, string | object> = {};
    for (const [mime, v] of Object.entries(bundle)) {
      data[mime] = v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v;
    }
    write({ data, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
  };
}

/** The active sink: a test override, else the tslab kernel, else null (plain Node). */
export function displaySink(): DisplaySink | null {
  return override !== undefined ? override : kernelSink();
}

/** True when outputs go to a notebook (a tslab cell is running, or a sink was injected). */
export function inNotebook(): boolean {
  return displaySink() !== null;
}

/**
 * Replace output detection: a sink captures every output (tests), `null` forces terminal mode,
 * `undefined` restores auto-detection.
 */
export function setDisplaySink(sink: DisplaySink | null | undefined): void {
  override = sink;
}

// ── Writes that never throw into the computation ───────────────────────────────────────────────
// tslab sends each output with zeromq's `send`, which THROWS "Socket is busy writing" when a
// burst of messages has queued up before the event loop turned, and tslab does not catch it. A
// progress bar or a chart must never kill a training run, so a failed write waits in the outbox
// and is retried by a timer and before the next write; an entry updated meanwhile keeps only its
// newest content (an update replaces the whole entry anyway).

interface Pending {
  sink: DisplaySink; // the sink of the cell that made the output, so a late retry lands there
  bundle: MimeBundle;
  displayId: string | undefined;
  update: boolean;
}

/** Counts of display writes that failed (see {@link displayWriteStats}). */
export interface DisplayWriteStats {
  /** Writes that threw (each retry that throws counts again). */
  failed: number;
  /** Outputs that went out on a retry. */
  recovered: number;
  /** Outputs given up after {@link MAX_RETRIES} attempts or an overfull outbox. */
  lost: number;
  /** Outputs waiting for a retry now. */
  pending: number;
  /** The message of the latest failure. */
  lastError?: string;
}

const MAX_RETRIES = 40; // timer retries × RETRY_MS: ~10 s of a refusing socket before an output is given up
const RETRY_MS = 250;
const MAX_PENDING = 200;
const outbox: Pending[] = [];
const stats = { failed: 0, recovered: 0, lost: 0, lastError: undefined as string | undefined };
let attempts = 0; // failed attempts at the head of the outbox
let timer: ReturnType<typeof setTimeout> | undefined;

/** How many display writes failed, were recovered or lost since the kernel started. */
export function displayWriteStats(): DisplayWriteStats {
  return { ...stats, pending: outbox.length };
}

/** One write; false (counted) when the sink throws. */
function tryWrite(p: Pending): boolean {
  try {
    p.sink(p.bundle, p.displayId, p.update);
    return true;
  } catch (err) {
    stats.failed++;
    stats.lastError = err instanceof Error ? err.message : String(err);
    return false;
  }
}

/**
 * Send what waits in the outbox, in order, until a write fails again. This is what the retry timer
 * runs (tests call it directly); only these attempts count towards giving an output up, so a
 * burst of writes while the socket is busy does not use them up.
 * @returns true when the outbox is empty
 */
export function flushDisplayWrites(): boolean {
  return flush(true);
}

function flush(retry: boolean): boolean {
  while (outbox.length > 0) {
    if (!tryWrite(outbox[0])) {
      if (retry && ++attempts >= MAX_RETRIES) {
        outbox.shift();
        stats.lost++;
        attempts = 0;
        continue;
      }
      scheduleRetry();
      return false;
    }
    outbox.shift();
    stats.recovered++;
    attempts = 0;
  }
  return true;
}

function scheduleRetry(): void {
  if (timer !== undefined) return;
  timer = setTimeout(() => {
    timer = undefined;
    flushDisplayWrites();
  }, RETRY_MS);
  timer.unref?.(); // a plain Node process (tests, scripts) does not stay alive for it
}

/** Write now, or queue behind earlier failed writes; never throws. */
function write(p: Pending): void {
  if (outbox.length === 0 || flush(false)) {
    if (tryWrite(p)) return;
  } else if (p.displayId !== undefined) {
    // Waiting behind others: if this entry already waits, its newer content replaces the old.
    const queued = outbox.find((q) => q.displayId === p.displayId);
    if (queued) {
      queued.bundle = p.bundle;
      return;
    }
  }
  if (outbox.length >= MAX_PENDING) {
    stats.lost++;
    return;
  }
  outbox.push(p);
  scheduleRetry();
}

/** Show one multi-mime output. Returns false (and shows nothing) outside a notebook. */
export function displayBundle(bundle: MimeBundle): boolean {
  const sink = displaySink();
  if (sink) write({ sink, bundle, displayId: undefined, update: false });
  return sink !== null;
}

/** An output entry that can be replaced in place (progress bars, live charts). */
export interface DisplayHandle {
  /** First call creates the entry; later calls replace it. False outside a notebook. */
  show(bundle: MimeBundle): boolean;
}

/**
 * Create an in-place updatable output entry (like `tslab.newDisplay()`, but multi-mime). A write
 * the kernel refuses is retried later instead of throwing (see {@link displayWriteStats}).
 */
export function newDisplay(): DisplayHandle {
  const id = randomBytes(8).toString("hex");
  let shown = false;
  return {
    show(bundle) {
      const sink = displaySink();
      if (!sink) return false;
      // The first write creates the entry even if it has to wait: a queued creation that is
      // later overwritten by an update keeps update=false, so the entry is created, then replaced.
      write({ sink, bundle, displayId: id, update: shown });
      shown = true;
      return true;
    },
  };
}

/** Escape text for HTML/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
