/**
 * The annealers and the model's long chains under an interrupt (the notebook's ■, here
 * `requestInterrupt()` from a timer that fires while the loop yields): each stops, frees its tensors
 * and rejects with an InterruptedError naming itself — instead of running on in the background.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";
import { initBackend } from "../../lib/compute/backend";
import { disposeRBM, initRBM, type RBM } from "../../lib/core/rbm";
import { annealedLogZ } from "../../lib/eval/ais";
import { sampleModel } from "../../lib/eval/model-samples";
import { raiseLogZ } from "../../lib/eval/raise";
import { InterruptedError, lastInterrupted, requestInterrupt } from "../../lib/view/interrupt";
import { noLeakAsync } from "../support/assert";

let rbm: RBM;
before(async () => {
  await initBackend({ quiet: true });
  rbm = initRBM(64, 16, { seed: 1, method: "hinton", std: 0.5 });
});

/** Runs `work` with an interrupt requested 30 ms later; returns what it rejected with. */
async function interruptedRun(work: () => Promise<unknown>): Promise<unknown> {
  const timer = setTimeout(requestInterrupt, 30);
  try {
    await work();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    clearTimeout(timer);
  }
}

for (const [what, unit, run] of [
  ["annealedLogZBases", "temperatures", () => annealedLogZ(rbm, { seed: 1, runs: 50, betas: 2_000_000, progress: false })],
  ["sampleModel", "Gibbs steps", () => sampleModel(rbm, { seed: 1, chains: 50, steps: 2_000_000, progress: false })],
  [
    "raiseLogZ",
    "temperatures",
    () =>
      raiseLogZ(rbm, new Float32Array(64 * 4), [{ name: "uniform", visibleBias: new Float32Array(64) }], {
        seed: 1,
        betas: 2_000_000,
        progress: false,
      }),
  ],
] as const) {
  test(`${what} stops on an interrupt and frees its tensors`, () =>
    noLeakAsync(what, async () => {
      const e = await interruptedRun(run);
      assert.ok(e instanceof InterruptedError, `${what} should have been interrupted, got ${String(e)}`);
      assert.match(e.message, new RegExp(`^${what}: interrupted after \\d+ ${unit}; its tensors are freed\\.$`));
      assert.equal(lastInterrupted(), e);
    }));
}

test("cleanup", () => disposeRBM(rbm));
