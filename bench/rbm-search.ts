/**
 * The validation search behind chapter 9's settings (`node --import tsx bench/rbm-search.ts`):
 * centered PCD-1 on 784-500, the data and split of bench/rbm-full.ts (50,000 training digits,
 * 10,000 validation digits, binarised by sampling with seed 0), one short run per setting of a grid
 * over the learning rate ε₀ (schedule ε₀ (1 − e/EPOCHS) + 0.001), the momentum and the number of
 * persistent chains, each scored on the validation digits only: log Z by AIS from the data base
 * (AIS_RUNS × AIS_BETAS), log p(v) = −F(v) − log Z averaged over the 10,000 validation digits.
 * The test digits are not touched.
 *
 * A short search can mislead: at 20 epochs it ranked ε₀ = 0.1 first (−92.7 against −99.5 for
 * 0.03), but at the full run's 100 epochs ε₀ = 0.1 was behind (validation −90.49 against −89.51).
 * Search at the budget you will train with (EPOCHS=100 takes about 6 min per setting here).
 *
 * Environment: EPOCHS (20), LRS (0.01,0.03,0.1), MOMENTA (0,0.5), CHAINS (100), KS (1; Gibbs steps of
 * PCD-k), WDS (2e-4; weight decay), BATCHES (100), AIS_RUNS (100), AIS_BETAS (3000). Prints one JSON
 * line per setting, then the settings ranked.
 */
import { initBackend } from "../lib/compute/backend";
import * as L from "../lib/index";

const env = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const list = (name: string, fallback: number[]) => (process.env[name] ?? fallback.join(",")).split(",").map(Number);
const EPOCHS = env("EPOCHS", 20);
const AIS_RUNS = env("AIS_RUNS", 100);
const AIS_BETAS = env("AIS_BETAS", 3000);

/** Every combination of the four lists, the first varying slowest. */
function grid(a: number[], b: number[], c: number[], d: number[]): [number, number, number, number][] {
  return a.flatMap((x) => b.flatMap((y) => c.flatMap((z) => d.map((w): [number, number, number, number] => [x, y, z, w]))));
}

async function main(): Promise<void> {
  console.log(L.summaryLine(await initBackend({ quiet: true })));
  const all = L.binarize(L.loadMnist(), { mode: "sample", seed: 0 });
  const { train, validation } = L.splitValidation(all, 10000, 0);
  const base = L.baseRateVisibleBias(train, 784);
  const rows: Record<string, number>[] = [];
  for (const lr0 of list("LRS", [0.01, 0.03, 0.1])) {
    for (const momentum of list("MOMENTA", [0, 0.5])) {
      for (const [chains, k, weightDecay, batchSize] of grid(
        list("CHAINS", [100]),
        list("KS", [1]),
        list("WDS", [2e-4]),
        list("BATCHES", [100]),
      )) {
        const rbm0 = L.initRBM(784, 500, { method: "hinton", data: train, seed: 0 });
        const t0 = performance.now();
        const r = await L.trainCenteredRBM(rbm0, train, {
          learningRate: (e: number) => lr0 * (1 - e / EPOCHS) + 0.001,
          initialMomentum: momentum,
          finalMomentum: momentum,
          weightDecay,
          batchSize,
          k,
          epochs: EPOCHS,
          nChains: chains,
          centering: { slidingFactor: 0.01 },
          progress: false,
          seed: 0,
        });
        const trainSeconds = (performance.now() - t0) / 1000;
        const ais = await L.annealedLogZ(r.rbm, { seed: 7, runs: AIS_RUNS, betas: AIS_BETAS, baseVisibleBias: base, progress: false });
        const ll = (await L.aisLogLikelihood(r.rbm, validation, { ais })).logLikelihood;
        const row = { lr0, momentum, chains, k, weightDecay, batchSize, epochs: EPOCHS, validationLL: ll, ess: ais.ess, trainSeconds };
        console.log(JSON.stringify(row));
        rows.push(row);
        L.disposeRBM(rbm0);
        L.disposeRBM(r.rbm);
      }
    }
  }
  rows.sort((a, b) => b.validationLL - a.validationLL);
  for (const r of rows)
    console.log(
      `ε₀ ${r.lr0}, momentum ${r.momentum}, ${r.chains} chains, k ${r.k}, decay ${r.weightDecay}, batch ${r.batchSize}: validation ${r.validationLL.toFixed(2)} (ESS ${r.ess.toFixed(0)})`,
    );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
