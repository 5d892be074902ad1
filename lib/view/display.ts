/**
 * Where pictures, tables and progress bars go: a Jupyter output (inside a tslab kernel) or
 * nowhere/the terminal (plain Node), plus an atomic file writer.
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

/** Show one multi-mime output. Returns false (and shows nothing) outside a notebook. */
export function displayBundle(bundle: MimeBundle): boolean {
  const sink = displaySink();
  if (sink) sink(bundle, undefined, false);
  return sink !== null;
}

/** An output entry that can be replaced in place (progress bars, live charts). */
export interface DisplayHandle {
  /** First call creates the entry; later calls replace it. False outside a notebook. */
  show(bundle: MimeBundle): boolean;
}

/** Create an in-place updatable output entry (like `tslab.newDisplay()`, but multi-mime). */
export function newDisplay(): DisplayHandle {
  const id = randomBytes(8).toString("hex");
  let shown = false;
  return {
    show(bundle) {
      const sink = displaySink();
      if (!sink) return false;
      sink(bundle, id, shown);
      shown = true;
      return true;
    },
  };
}

/** Escape text for HTML/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
