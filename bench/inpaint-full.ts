/**
 * Inpainting at full scale (`node --import tsx bench/inpaint-full.ts`), behind chapter 11's table: a
 * trained 784-unit RBM checkpoint completes masked MNIST test digits (each half missing, and a random
 * 50 %), beside the mean training image and the 10 nearest of all 60,000 training digits (measured on
 * the known pixels). Digits are binarised at ½, as in chapter 11. For each number of chains per digit
 * the table reports pixel accuracy and the log-probability of the missing pixels (lib/eval/inpaint.ts),
 * and the time.
 *
 * Environment: RBM_FILE (required: a checkpoint, e.g. checkpoints/rbm-full-centered-784-500-e100.safetensors),
 * N_TEST (200 test digits), STEPS (400 Gibbs steps per chain, half burn-in), CHAINS (1,8,32: chains per
 * digit, one table each), SEED (0). Prints one JSON line per table row.
 */
import { initBackend, summaryLine } from "../lib/compute/backend";
import * as L from "../lib/index";

const env = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));

async function main(): Promise<void> {
  const file = process.env.RBM_FILE;
  if (!file) throw new Error("inpaint-full: set RBM_FILE to an RBM checkpoint (for example one written by bench/rbm-full.ts).");
  console.log(summaryLine(await initBackend({ quiet: true })));
  const nTest = env("N_TEST", 200);
  const steps = env("STEPS", 400);
  const seed = env("SEED", 0);
  const chainCounts = (process.env.CHAINS ?? "1,8,32").split(",").map(Number);
  const { rbm } = L.loadCheckpoint(file);
  const train = L.binarize(L.loadMnist({ split: "train" }));
  const test = L.binarize(L.loadMnist({ split: "test", limit: nTest }));
  console.log(JSON.stringify({ rbm: file, shape: rbm.W.shape, nTest: test.n, nTrain: train.n, steps, seed }));
  for (const chains of chainCounts) {
    const t0 = performance.now();
    const rows = L.compareInpainting(
      test.images,
      train.images,
      { RBM: (images, known) => L.inpaintRBM(rbm, images, known, { steps, seed: seed + 2, chainsPerImage: chains }).meanProbs },
      { seed },
    );
    const seconds = (performance.now() - t0) / 1000;
    for (const row of rows) console.log(JSON.stringify({ chains, ...row }));
    console.log(JSON.stringify({ chains, seconds }));
  }
  L.disposeRBM(rbm);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
