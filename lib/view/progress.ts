/**
 * A training progress bar: count/total, rate, ETA and the latest monitor values (loss, epoch…).
 * In a notebook it redraws one HTML output in place; in a terminal one `\r`-updated line on stderr;
 * when stderr is not a TTY (CI logs, nbconvert's kernel log) plain lines, every 2 s.
 * Redraws are throttled, so calling `tick` every batch costs a clock read and a comparison.
 */

import { escapeXml, inNotebook, newDisplay } from "./display";
import { InterruptedError, interrupted, interruptPending, watchInterrupts } from "./interrupt";

/** Where the bar is drawn. "auto" picks notebook, then tty, then lines. */
export type ProgressMode = "auto" | "notebook" | "tty" | "lines" | "off";

/** Options of {@link progressBar}. */
export interface ProgressOptions {
  /** Number of items (batches, epochs…) at 100%. */
  total: number;
  /** Text before the bar, e.g. "CD-1". */
  label?: string;
  /** Unit of the rate; default "it" (shown as it/s). */
  unit?: string;
  /** Minimum ms between redraws; default 250 in a notebook, 100 in a terminal. */
  minIntervalMs?: number;
  /** Minimum ms between lines in "lines" mode; default 2000. */
  lineIntervalMs?: number;
  /** Default "auto". */
  mode?: ProgressMode;
  /** Text output for tty/lines modes; default `process.stderr.write`. */
  write?: (s: string) => void;
  /** Clock in ms (inject one in tests); default `performance.now`. */
  now?: () => number;
}

/** Monitor values shown after the bar, e.g. `{ epoch: 3, recon: 0.0312 }`. */
export type ProgressInfo = Record<string, number | string>;

/** Handle returned by {@link progressBar}. */
export interface ProgressBar {
  /** `n` more items are done (default 1); `info` replaces the shown monitor values if given. */
  tick(n?: number, info?: ProgressInfo): void;
  /** Draw the final state (ignoring the throttle) and end the line. Idempotent. */
  done(info?: ProgressInfo): void;
}

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.max(0, Math.round(s));
  const two = (v: number) => String(v).padStart(2, "0");
  const [h, m, sec] = [Math.floor(t / 3600), Math.floor(t / 60) % 60, t % 60];
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

/** A monitor value with 4 significant digits (integers as they are). */
export function formatValue(v: number | string): string {
  if (typeof v === "string" || Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** The numbers behind one redraw. */
export interface ProgressState {
  count: number;
  total: number;
  elapsed: number; // seconds
  info: ProgressInfo;
}

/** The pieces of one redraw: percentage, text bar, count/time/rate, monitor values. */
function parts(st: ProgressState, unit: string, barWidth: number) {
  const frac = st.total > 0 ? Math.min(1, st.count / st.total) : 0;
  const full = Math.round(frac * barWidth);
  const rate = st.elapsed > 0 ? st.count / st.elapsed : NaN;
  const eta = st.total > 0 && rate > 0 ? (st.total - st.count) / rate : NaN;
  const infoItems = Object.entries(st.info).map(([k, v]) => `${k}=${formatValue(v)}`);
  const rateText = Number.isFinite(rate) ? String(Number(rate.toPrecision(3))) : "?";
  return {
    frac,
    pct: `${String(Math.floor(frac * 100)).padStart(3)}%`,
    bar: `|${"█".repeat(full)}${"░".repeat(barWidth - full)}|`,
    stats: `${st.count}/${st.total} [${formatDuration(st.elapsed)}<${formatDuration(eta)}, ${rateText} ${unit}/s]`,
    infoItems,
    info: infoItems.join(" "),
  };
}

/** One text line: `label  45% |█████░░░| 450/1000 [00:12<00:15, 36.5 it/s] epoch=3 recon=0.0312` */
export function progressLine(st: ProgressState, label = "", unit = "it", barWidth = 20): string {
  const p = parts(st, unit, barWidth);
  return [label, p.pct, p.bar, p.stats, p.info].filter((x) => x !== "").join(" ");
}

function progressHtml(st: ProgressState, label: string, unit: string): string {
  const p = parts(st, unit, 0);
  const color = p.frac >= 1 ? "#2ca02c" : "#1f77b4";
  // The monitor values may wrap onto more lines (between values, never inside one) instead of
  // running past the output area's edge, where the notebook cuts them off.
  const nowrap = (html: string) => `<span style="white-space:nowrap">${html}</span>`;
  const info = p.infoItems.map((item) => nowrap(escapeXml(item))).join(" ");
  const bar =
    `<span style="display:inline-block;width:200px;height:10px;background:#e5e5e5;vertical-align:middle">` +
    `<span style="display:block;width:${(p.frac * 100).toFixed(1)}%;height:10px;background:${color}"></span></span>`;
  const head = nowrap(`${escapeXml(label)} ${bar} ${escapeXml(p.pct)} ${escapeXml(p.stats)}`);
  return `<div style="font-family:monospace;font-size:12px;line-height:1.5">${head} ${info}</div>`;
}

/** Create a progress bar; see {@link ProgressOptions}. */
export function progressBar(opts: ProgressOptions): ProgressBar {
  const { total, label = "", unit = "it", now = () => performance.now() } = opts;
  const write = opts.write ?? ((s: string) => void process.stderr.write(s));
  let mode = opts.mode ?? "auto";
  if (mode === "auto") mode = inNotebook() ? "notebook" : process.stderr.isTTY ? "tty" : "lines";
  // A notebook redraw sends a whole HTML output over the kernel's socket: 4 a second is as often as
  // a person reads the numbers.
  const interval = mode === "lines" ? (opts.lineIntervalMs ?? 2000) : (opts.minIntervalMs ?? (mode === "notebook" ? 250 : 100));
  const handle = mode === "notebook" ? newDisplay() : undefined;
  const start = now();
  let count = 0;
  let info: ProgressInfo = {};
  let last = -Infinity;
  let finished = false;

  const draw = (final: boolean) => {
    const st = { count, total, elapsed: (now() - start) / 1000, info };
    const line = progressLine(st, label, unit);
    if (mode === "notebook") handle?.show({ "text/html": progressHtml(st, label, unit), "text/plain": line });
    else if (mode === "tty")
      write(`\r${line}\x1b[K${final ? "\n" : ""}`); // \x1b[K clears the old tail
    else if (mode === "lines") write(`${line}\n`);
  };

  return {
    tick(n = 1, newInfo) {
      count += n;
      if (newInfo) info = newInfo;
      if (finished || mode === "off") return;
      const t = now();
      if (t - last < interval) return;
      last = t;
      draw(false);
    },
    done(newInfo) {
      if (newInfo) info = newInfo;
      if (finished || mode === "off") return;
      finished = true;
      draw(true);
    },
  };
}

/** Resolves on the next turn of the event loop, so that pending notebook output (progress bars, live plots) is flushed. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The bar a `progress` option asks for: `true` or undefined → a new bar, `false` → none, a bar → that
 * bar (the caller shares it across several runs).
 */
export function barFor(progress: boolean | ProgressBar | undefined, total: number, label: string, unit: string): ProgressBar | undefined {
  if (progress === false) return undefined;
  if (progress === true || progress === undefined) return progressBar({ total, label, unit });
  return progress;
}

/**
 * Paces a long loop (training batches, annealing temperatures, Gibbs steps): `step(done)` after each
 * unit of work ticks the bar up to `done` and yields to the event loop once at least `ms` have passed
 * since the last yield, so that progress bars and live plots are drawn while the loop runs, at the
 * cost of one clock read per step. Every long loop of the library hands control back through one,
 * and it is where an interrupt (the notebook's ■, see interrupt.ts) stops the loop: `step` then
 * throws an {@link InterruptedError} naming `what`, and the loop frees its tensors on the way out.
 */
export class Pacer {
  private last = performance.now();
  private ticked = 0;
  private readonly startedAt = performance.now();
  /**
   * @param ms least time between yields (and bar updates)
   * @param what who runs the loop, for the interrupt message (e.g. "annealedLogZBases")
   * @param unit what one step is, for the interrupt message (e.g. "temperatures")
   */
  constructor(
    private readonly bar: ProgressBar | undefined,
    private readonly ms = 250,
    private readonly what = "the loop",
    private readonly unit = "steps",
  ) {
    watchInterrupts();
  }

  /**
   * `done` units are finished; ticks the bar and yields when `ms` have passed. `info` replaces the bar's values.
   * @throws InterruptedError when an interrupt is pending
   */
  async step(done: number, info?: ProgressInfo): Promise<void> {
    if (interruptPending(this.startedAt)) this.stop(done, info);
    const now = performance.now();
    if (now - this.last < this.ms) return;
    this.update(done, info);
    await yieldToEventLoop();
    this.last = performance.now();
    if (interruptPending(this.startedAt)) this.stop(done, info);
  }

  /** Brings the bar up to `done` now (e.g. at the end of an epoch, with its monitor values). */
  update(done: number, info?: ProgressInfo): void {
    this.bar?.tick(done - this.ticked, info);
    this.ticked = done;
  }

  /** Brings the bar up to `total` and ends it. */
  finish(total: number, info?: ProgressInfo): void {
    this.update(total, info);
    this.bar?.done();
  }

  /** Ends the bar with the interrupt shown on it and throws the interrupt. */
  private stop(done: number, info?: ProgressInfo): never {
    this.update(done, { ...info, stopped: "interrupted (■)" });
    this.bar?.done();
    throw interrupted(new InterruptedError(`${this.what}: interrupted after ${done} ${this.unit}; its tensors are freed.`));
  }
}
