/**
 * What centering and parallel tempering cost per epoch against plain PCD-1 (`node --import tsx bench/epoch-cost.ts`):
 * 784-500 on the first N binarised MNIST digits (default 20,000; `--n=`), batch 100, one epoch each of
 * trainRBM's PCD-1, trainCenteredRBM's centered PCD-1 and centered parallel tempering (M temperatures ×
 * n chains, `--m=` default 4, `--chains=` default 25, `--beta-min=` default 0.8), each run twice
 * (the faster run counts: the machine is shared). Prints seconds per epoch, the ratios and the swap rates.
 */
import { initBackend, summaryLine } from "../lib/compute/backend";
import * as L from "../lib/index";

function arg(name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : fallback;
}

async function main(): Promise<void> {
  console.log(summaryLine(await initBackend({ quiet: true })));
  const n = arg("n", 20000);
  const M = arg("m", 4);
  const chains = arg("chains", 25);
  const betaMin = arg("beta-min", 0.8);
  const train = L.binarize(L.firstN(L.loadMnist(), n), { mode: "sample", seed: 0 });
  const rbm0 = L.initRBM(784, 500, { method: "hinton", data: train, seed: 0 });
  const common = { learningRate: 0.01, initialMomentum: 0, finalMomentum: 0, epochs: 1, progress: false, seed: 0 } as const;
  const base = L.baseRateVisibleBias(train, 784);
  const runs: [string, () => Promise<{ rbm: L.RBM; history: L.EpochRecord[] }>][] = [
    ["PCD-1", () => L.trainRBM(rbm0, train, { ...common, persistent: true })],
    ["centered PCD-1", () => L.trainCenteredRBM(rbm0, train, common)],
    [
      `centered PT ${M}×${chains}`,
      () => L.trainCenteredRBM(rbm0, train, { ...common, tempering: { betas: M, betaMin, chainsPerTemperature: chains, base } }),
    ],
  ];
  const best: Record<string, number> = {};
  for (let rep = 0; rep < 2; rep++) {
    for (const [name, run] of runs) {
      const r = await run();
      const sec = r.history[0].seconds;
      best[name] = Math.min(best[name] ?? Infinity, sec);
      console.log(JSON.stringify({ name, ...r.history[0] }));
      L.disposeRBM(r.rbm);
    }
  }
  const plain = best["PCD-1"];
  for (const [name, sec] of Object.entries(best))
    console.log(`${name}: ${sec.toFixed(2)} s per ${n} digits, ${(sec / plain).toFixed(2)}× PCD-1`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
