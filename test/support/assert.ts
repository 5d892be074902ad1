/** Assertions shared by the unit tests: approximate equality and tensor-leak checks. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";

/** Asserts |a − b| ≤ tol (so NaN always fails), naming `what` and both values on failure. */
export function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);
}

export interface LeakOptions {
  /**
   * How many tensors the block hands back to its caller (e.g. a trained RBM's W, b, c): exactly
   * that many more must exist afterwards. Default 0: the block leaves as many tensors as it found.
   */
  returned?: number;
}

function assertCount(what: string, before: number, returned: number): void {
  const after = tf.memory().numTensors;
  const msg =
    returned === 0
      ? `${what} leaked ${after - before} tensors`
      : `${what} left ${after - before} new tensors, expected exactly the ${returned} it returns`;
  assert.equal(after, before + returned, msg);
}

/**
 * Runs the synchronous `f` and asserts that tf.memory().numTensors is the same afterwards (plus
 * `returned`); returns f's result. An async `f` is refused: use {@link noLeakAsync}.
 */
export function noLeak<T>(what: string, f: () => T, opts: LeakOptions = {}): T {
  const before = tf.memory().numTensors;
  const out = f();
  if (typeof (out as { then?: unknown } | undefined)?.then === "function") {
    throw new Error(`noLeak("${what}"): the block returned a promise; use noLeakAsync so the check waits for it`);
  }
  assertCount(what, before, opts.returned ?? 0);
  return out;
}

/** {@link noLeak} for an async block: the count is checked once its promise has settled successfully. */
export async function noLeakAsync<T>(what: string, f: () => Promise<T>, opts: LeakOptions = {}): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await f();
  assertCount(what, before, opts.returned ?? 0);
  return out;
}
