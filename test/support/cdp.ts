/**
 * Headless Chromium driven over the DevTools protocol (--remote-debugging-pipe: no dependency):
 * a minimal protocol client, the browser process and its pages (open, evaluate, screenshot).
 */
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { type Proc, startProcess, stopProcess, tail, waitUntil } from "./processes";

/** The page size every new page gets (CSS pixels, device scale 1). */
export const VIEWPORT = { width: 1280, height: 900 };
/** Tallest full-page screenshot we take (about the largest picture Chromium captures at once). */
export const SCREENSHOT_MAX_HEIGHT = 16_000;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Json = Record<string, unknown>;

/** DevTools protocol over --remote-debugging-pipe: NUL-terminated JSON on fds 3 (in) and 4 (out). */
export class Cdp extends EventEmitter {
  private nextId = 1;
  private pending = new Map<number, { method: string; resolve: (r: Json) => void; reject: (e: Error) => void }>();
  private chunks: Buffer[] = [];
  closedReason: string | null = null;

  constructor(
    private readonly out: Writable,
    input: Readable,
  ) {
    super();
    input.on("data", (chunk: Buffer) => {
      let start = 0;
      for (let end = chunk.indexOf(0); end !== -1; end = chunk.indexOf(0, start)) {
        this.chunks.push(chunk.subarray(start, end));
        const text = Buffer.concat(this.chunks).toString("utf8");
        this.chunks = [];
        start = end + 1;
        this.dispatch(JSON.parse(text) as Json);
      }
      if (start < chunk.length) this.chunks.push(chunk.subarray(start));
    });
    input.on("close", () => this.close("the browser closed the DevTools pipe"));
    out.on("error", () => this.close("the browser closed the DevTools pipe"));
  }

  private dispatch(msg: Json) {
    if (typeof msg.id === "number") {
      const waiter = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      const error = msg.error as { message?: string } | undefined;
      if (error) waiter?.reject(new Error(`${waiter.method}: ${error.message ?? JSON.stringify(error)}`));
      else waiter?.resolve((msg.result ?? {}) as Json);
    } else if (typeof msg.method === "string") {
      this.emit("event", msg.method, (msg.params ?? {}) as Json, msg.sessionId as string | undefined);
    }
  }

  close(reason: string) {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const waiter of this.pending.values()) waiter.reject(new Error(`${waiter.method}: ${reason}`));
    this.pending.clear();
  }

  send(method: string, params: Json = {}, sessionId?: string, timeoutMs = 30_000): Promise<Json> {
    if (this.closedReason) return Promise.reject(new Error(`${method}: ${this.closedReason}`));
    const id = this.nextId++;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from the browser within ${timeoutMs} ms`));
      }, timeoutMs);
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          f(v);
        };
      this.pending.set(id, { method, resolve: done(resolve), reject: done(reject) });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }
}

export class Browser {
  private constructor(
    readonly proc: Proc,
    readonly cdp: Cdp,
    private readonly profileDir: string,
  ) {}

  static async launch(executable: string): Promise<Browser> {
    const profileDir = mkdtempSync(path.join(os.tmpdir(), "rbm-chromium-"));
    const proc = startProcess(
      "chromium",
      executable,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        `--user-data-dir=${profileDir}`,
        "--remote-debugging-pipe",
        "about:blank",
      ],
      process.env,
      2,
    );
    const browser = new Browser(proc, new Cdp(proc.child.stdio[3] as Writable, proc.child.stdio[4] as Readable), profileDir);
    try {
      await browser.cdp.send("Browser.getVersion", {}, undefined, 30_000);
    } catch (err) {
      await browser.close();
      throw new Error(
        `Chromium (${executable}) did not answer on the DevTools pipe: ${(err as Error).message}\n` +
          `--- chromium output ---\n${tail(proc.output())}`,
      );
    }
    return browser;
  }

  /** False once Chromium has exited or closed its end of the DevTools pipe (e.g. it crashed). */
  get alive(): boolean {
    return !this.proc.hasExited() && !this.cdp.closedReason;
  }

  async newPage(): Promise<Page> {
    const { targetId } = await this.cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.cdp.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this.cdp, sessionId as string, targetId as string);
    await page.init();
    return page;
  }

  async close() {
    if (!this.proc.hasExited() && !this.cdp.closedReason) {
      await this.cdp.send("Browser.close", {}, undefined, 5_000).catch(() => {});
    }
    await stopProcess(this.proc, "SIGTERM", 5_000);
    rmSync(this.profileDir, { recursive: true, force: true });
  }
}

export class Page {
  /** Uncaught exceptions and console errors/warnings seen on the page. */
  readonly exceptions: string[] = [];
  readonly console: string[] = [];
  private loaded = false;

  constructor(
    private readonly cdp: Cdp,
    private readonly sessionId: string,
    private readonly targetId: string,
  ) {
    cdp.on("event", (method: string, params: Json, sid?: string) => {
      if (sid !== this.sessionId) return;
      if (method === "Page.loadEventFired") this.loaded = true;
      if (method === "Runtime.exceptionThrown") {
        const d = params.exceptionDetails as { text?: string; url?: string; lineNumber?: number; exception?: { description?: string } };
        this.exceptions.push(`${d.exception?.description ?? d.text ?? "exception"} (${d.url ?? "?"}:${d.lineNumber ?? "?"})`);
      }
      if (method === "Runtime.consoleAPICalled" && ["error", "warning", "assert"].includes(params.type as string)) {
        const args = (params.args as { value?: unknown; description?: string }[]).map((a) => String(a.value ?? a.description ?? ""));
        this.console.push(`console.${params.type}: ${args.join(" ").slice(0, 300)}`);
      }
      if (method === "Log.entryAdded") {
        const e = params.entry as { level: string; text: string; url?: string };
        if (e.level === "error") this.console.push(`log: ${e.text} ${e.url ?? ""}`.slice(0, 300));
      }
    });
  }

  private send(method: string, params: Json = {}, timeoutMs?: number) {
    return this.cdp.send(method, params, this.sessionId, timeoutMs);
  }

  async init() {
    await this.send("Page.enable");
    await this.send("Runtime.enable");
    await this.send("Log.enable");
    await this.send("Emulation.setDeviceMetricsOverride", { ...VIEWPORT, deviceScaleFactor: 1, mobile: false });
  }

  /** Navigates to a file path or an http(s) URL and waits for the load event. */
  async open(file: string, timeoutMs = 60_000) {
    this.loaded = false;
    const url = /^https?:\/\//.test(file) ? file : pathToFileURL(file).href;
    const nav = await this.send("Page.navigate", { url });
    if (nav.errorText) throw new Error(`could not open ${file}: ${nav.errorText}`);
    if (!(await waitUntil(() => this.loaded, timeoutMs, 50))) throw new Error(`${file}: no load event within ${timeoutMs} ms`);
  }

  /** Evaluate a JS expression in the page (promises awaited) and return its JSON value. */
  async evaluate<T>(expression: string, timeoutMs = 60_000): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, timeoutMs);
    const details = r.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
    if (details) throw new Error(`in-page script failed: ${details.exception?.description ?? details.text}`);
    return (r.result as { value: T }).value;
  }

  /**
   * PNG of the page, at CSS-pixel scale: the whole page (its first 16,000 px, about the largest
   * picture Chromium captures in one go; page coordinates = image coordinates), or just `box`.
   * `viewportOnly`: what the window shows as it is scrolled (a page that scrolls inside an element of its
   * own, such as JupyterLab's notebook, paints nothing when resized to capture beyond the viewport).
   */
  async screenshot(box?: Box, viewportOnly = false): Promise<Buffer> {
    let clip: Box & { scale: number };
    if (box) {
      clip = { x: Math.floor(box.x), y: Math.floor(box.y), width: Math.ceil(box.width), height: Math.ceil(box.height), scale: 1 };
    } else {
      const metrics = await this.send("Page.getLayoutMetrics");
      const size = (metrics.cssContentSize ?? metrics.contentSize) as { width: number; height: number };
      clip = { x: 0, y: 0, width: Math.ceil(size.width), height: Math.min(Math.ceil(size.height), SCREENSHOT_MAX_HEIGHT), scale: 1 };
    }
    const r = await this.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: !viewportOnly, clip }, 60_000);
    return Buffer.from(r.data as string, "base64");
  }

  /**
   * A synthesised mouse event at viewport coordinates (CSS pixels), `pressed` = left button held;
   * Chromium derives the pointer events (pointerdown / pointermove / pointerup) from it.
   */
  async mouse(type: "mousePressed" | "mouseMoved" | "mouseReleased", x: number, y: number, pressed = false) {
    const button = type === "mouseMoved" && !pressed ? "none" : "left";
    await this.send("Input.dispatchMouseEvent", {
      type,
      x,
      y,
      button,
      buttons: pressed ? 1 : 0,
      clickCount: type === "mouseMoved" ? 0 : 1,
    });
  }

  /** Types `text` one key at a time as a keyboard would (keyDown with its text, then keyUp), into the focused element. */
  async type(text: string) {
    for (const ch of text) {
      await this.send("Input.dispatchKeyEvent", { type: "keyDown", key: ch, text: ch, unmodifiedText: ch });
      await this.send("Input.dispatchKeyEvent", { type: "keyUp", key: ch });
    }
  }

  /** Close the tab (frees the page's memory; the browser stays up). */
  async close() {
    await this.cdp.send("Target.closeTarget", { targetId: this.targetId }, undefined, 10_000).catch(() => {});
  }

  problems(): string {
    const lines = [...this.exceptions.map((e) => `exception: ${e}`), ...this.console];
    return lines.length ? lines.join("\n") : "(no exceptions or console errors)";
  }
}
