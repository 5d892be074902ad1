/**
 * How fast the display helpers are, the timings the unit tests used to assert (they now check
 * behaviour only): tiling 500 filters of 28×28 (a 784-500 RBM's weight columns) into one grid,
 * the same grid encoded as a PNG, and a million progress-bar ticks (throttled redraws).
 * Run: `node --import tsx bench/view.ts`
 *
 * Prints one `value unit what` line per measurement: the best of 7 runs after a warm-up (the
 * minimum is the number least disturbed by other processes on a shared machine).
 */

import { gridPng, imageGrid } from "../lib/view/images";
import { progressBar } from "../lib/view/progress";

function bestMs(fn: () => void): number {
  fn(); // warm-up (JIT)
  return Math.min(
    ...Array.from({ length: 7 }, () => {
      const t0 = performance.now();
      fn();
      return performance.now() - t0;
    }),
  );
}

function row(value: number, unit: string, what: string): void {
  console.log(`${value.toFixed(value < 10 ? 2 : 1).padStart(8)} ${unit.padEnd(9)} ${what}`);
}

const w = Float32Array.from({ length: 784 * 500 }, (_, i) => Math.sin(i * 0.37));
const g = imageGrid(w, { height: 28, width: 28, columns: true });
row(
  bestMs(() => imageGrid(w, { height: 28, width: 28, columns: true })),
  "ms",
  `imageGrid: 500 weight columns of 28×28 → ${g.width}×${g.height}`,
);
row(
  bestMs(() => gridPng(w, { height: 28, width: 28 })),
  "ms",
  `gridPng: the same 500 tiles as rows, grid + PNG (${gridPng(w, { height: 28, width: 28 }).length} bytes)`,
);

row(
  bestMs(() => {
    const bar = progressBar({ total: 1e6, mode: "tty", write: () => undefined });
    for (let i = 0; i < 1e6; i++) bar.tick(1);
  }),
  "ms",
  "progressBar: 1e6 ticks in tty mode (redraws throttled to one per 100 ms)",
);
