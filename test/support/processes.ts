/**
 * Child processes for the end-to-end tests: each started in its own process group (so stopping it
 * reaches everything it spawned), output collected, and every group still alive SIGKILLed when the
 * test process exits early. Plus small polling helpers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { ROOT } from "../../scripts/jupyter-env.mjs";

/** Process groups we started and have not seen die; SIGKILLed if this test process exits early. */
const liveGroups = new Set<number>();
process.on("exit", () => {
  for (const pgid of liveGroups) signalGroup(pgid, "SIGKILL");
});

/** Sends `signal` to process group `pgid`; true if the group exists (0 only checks). */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether process `pid` is still alive. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `cond` every `everyMs` until it holds (true) or `timeoutMs` has passed (false). */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** The last `lines` lines of `text`, for failure messages. */
export const tail = (text: string, lines = 40) => text.trimEnd().split("\n").slice(-lines).join("\n");

/** A child started in its own process group, with stdout+stderr collected. */
export interface Proc {
  name: string;
  child: ChildProcess;
  pgid: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited: () => boolean;
}

export function startProcess(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, extraPipes = 0): Proc {
  const stdio: ("ignore" | "pipe")[] = ["ignore", "pipe", "pipe", ...Array<"pipe">(extraPipes).fill("pipe")];
  // detached: a new process group, so that stopProcess reaches every process it spawned.
  const child = spawn(cmd, args, { env, stdio, detached: true, cwd: ROOT });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("error", (err) => {
      output += `\n[${name}] could not start ${cmd}: ${err.message}\n`;
      exitedFlag = true;
      resolve({ code: null, signal: null });
    });
    child.on("exit", (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  if (child.pid === undefined) {
    return { name, child, pgid: -1, output: () => output, exited, hasExited: () => true };
  }
  liveGroups.add(child.pid);
  return { name, child, pgid: child.pid, output: () => output, exited, hasExited: () => exitedFlag };
}

/**
 * Stop a process group: `signal` to the group, wait up to `graceMs` until the leader has exited
 * and no process of the group is left, then SIGKILL the group. Returns what happened.
 */
export async function stopProcess(
  p: Proc,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 10_000,
): Promise<{ graceful: boolean; leftover: boolean }> {
  if (p.pgid < 0) return { graceful: true, leftover: false };
  signalGroup(p.pgid, signal);
  const graceful = await waitUntil(() => p.hasExited() && !signalGroup(p.pgid, 0), graceMs);
  if (!graceful) {
    signalGroup(p.pgid, "SIGKILL");
    await Promise.race([p.exited, sleep(5_000)]);
  }
  const leftover = await waitUntil(() => !signalGroup(p.pgid, 0), 5_000).then((gone) => !gone);
  if (!leftover) liveGroups.delete(p.pgid);
  return { graceful, leftover };
}

/** Runs `cmd` in its own process group (registered in `running` for cleanup), waits for its exit. */
export async function runToEnd(running: Set<Proc>, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const proc = startProcess(name, cmd, args, env);
  running.add(proc);
  try {
    const { code, signal } = await proc.exited;
    return { code, signal, output: proc.output() };
  } finally {
    await stopProcess(proc); // reaps anything it left behind (kernel shutdown is run_notebook's job)
    running.delete(proc);
  }
}

/** A free TCP port on the loopback interface (free now; tell the server not to move off it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
