/**
 * Centered PCD and parallel tempering against plain PCD where the answer is exact
 * (`node --import tsx bench/exact-784-20.ts`): 784-20 RBMs, whose log Z is a sum over the 2^20
 * hidden states, trained with the same budget (epochs, batch 100, learning-rate schedule, seed) on
 * binarised MNIST (sampled once, seed 0; a 10,000-digit validation split, seed 0) and scored by the
 * EXACT average log-likelihood of the validation digits and of the binarised test digits (seed 1).
 *
 * Environment: N_TRAIN (20,000), EPOCHS (10), LR (0.05: ε = LR (1 − e/EPOCHS) + 0.001), N_EVAL
 * (2,000 validation and test digits each), PT_TEMPS (4), PT_CHAINS (25), PT_BETA_MIN (0.7).
 * Prints one JSON line per model and a summary.
 */
import { initBackend } from "../lib/compute/backend";
import * as L from "../lib/index";

const env = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const N_TRAIN = env("N_TRAIN", 20000);
const EPOCHS = env("EPOCHS", 10);
const LR = env("LR", 0.05);
const N_EVAL = env("N_EVAL", 2000);
const PT = { betas: env("PT_TEMPS", 4), chainsPerTemperature: env("PT_CHAINS", 25), betaMin: env("PT_BETA_MIN", 0.7) };

async function main(): Promise<void> {
  console.log(L.summaryLine(await initBackend({ quiet: true })));
  const split = L.splitValidation(L.binarize(L.loadMnist(), { mode: "sample", seed: 0 }), 10000, 0);
  const train = L.firstN(split.train, N_TRAIN);
  const valid = L.firstN(split.validation, N_EVAL);
  const test = L.firstN(L.binarize(L.loadMnist({ split: "test" }), { mode: "sample", seed: 1 }), N_EVAL);
  const base = L.baseRateVisibleBias(train, 784);
  const budget = {
    learningRate: (e: number) => LR * (1 - e / EPOCHS) + 0.001,
    initialMomentum: 0,
    finalMomentum: 0,
    weightDecay: 2e-4,
    batchSize: 100,
    epochs: EPOCHS,
    seed: 0,
    nChains: 100,
    progress: false,
  };
  const rbm0 = L.initRBM(784, 20, { method: "hinton", data: train, seed: 0 });
  const runs: [string, () => Promise<{ rbm: L.RBM; history: L.EpochRecord[] }>][] = [
    ["PCD-1", () => L.trainRBM(rbm0, train, { ...budget, persistent: true })],
    ["centered PCD-1", () => L.trainCenteredRBM(rbm0, train, budget)],
    ["centered PT", () => L.trainCenteredRBM(rbm0, train, { ...budget, tempering: { ...PT, base } })],
    ["plain PT", () => L.trainCenteredRBM(rbm0, train, { ...budget, centering: false, tempering: { ...PT, base } })],
  ];
  const rows: Record<string, number | string>[] = [];
  for (const [name, run] of runs) {
    const r = await run();
    const logZ = L.exactLogZ(r.rbm);
    const row = {
      model: name,
      validationLL: L.exactLogLikelihood(r.rbm, valid, { logZ }),
      testLL: L.exactLogLikelihood(r.rbm, test, { logZ }),
      trainSeconds: r.history.reduce((s, h) => s + h.seconds, 0),
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    L.disposeRBM(r.rbm);
  }
  console.log(
    L.tableText(rows, { caption: `784-20, ${train.n} digits × ${EPOCHS} epochs, exact log-likelihood (nats) of ${N_EVAL} digits` }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
