/**
 * How long a trustworthy test log-likelihood of a 784-500 RBM takes (`node --import tsx bench/ais.ts`):
 * lib/eval/trust.ts's trustworthyLogLikelihood with Salakhutdinov & Murray's AIS settings — two bases
 * (data base rate, model samples) × 100 runs × 14,500 temperatures — plus RAISE from both bases on
 * 100 test digits, 100 model chains × 1,000 steps and the guaranteed bounds. Beside it, the
 * single-base annealedLogZ (lib/eval/ais.ts) per temperature, for scale.
 *
 * The model: 784-500, CD-1, one epoch over the first `--train` binarised MNIST images (plain SGD,
 * ε = 0.05), so that hidden inputs have realistic sizes (timing barely depends on the weights).
 *
 * Options: `--betas=K` (default 14500), `--runs=M` (default 100), `--train=N` (default 10000),
 * `--quick` (K = 1000, then every phase that scales with K is extrapolated to 14,500 and labelled
 * so). Machines are shared: the times are wall-clock and noisy; the per-temperature numbers say
 * more than the totals.
 */
import { initBackend, summaryLine } from "../lib/compute/backend";
import { disposeRBM, initRBM } from "../lib/core/rbm";
import { annealedLogZ } from "../lib/eval/ais";
import { SM_N_BETAS } from "../lib/eval/anneal";
import { trustworthyLogLikelihood } from "../lib/eval/trust";
import { binarize, firstN, loadMnist } from "../lib/io/data";
import { trainRBM } from "../lib/train/cd";

interface Args {
  betas: number;
  runs: number;
  train: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { betas: SM_N_BETAS, runs: 100, train: 10000 };
  for (const arg of argv) {
    const [key, value = ""] = arg.replace(/^--/, "").split("=");
    if (key === "quick") a.betas = 1000;
    else if (key === "betas" || key === "runs" || key === "train") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} must be a positive integer, got "${value}"`);
      a[key] = n;
    } else throw new Error(`bench/ais.ts: unknown option ${arg} (see the comment at the top of the file)`);
  }
  return a;
}

const s = (x: number) => `${x.toFixed(1)} s`;
const ms = (x: number) => `${(1000 * x).toFixed(1)} ms`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const info = await initBackend({ quiet: true });
  console.log(summaryLine(info));
  const train = binarize(firstN(loadMnist({ split: "train" }), args.train), { mode: "sample", seed: 0 });
  const test = binarize(firstN(loadMnist({ split: "test" }), 1000), { mode: "sample", seed: 1 });
  const rbm0 = initRBM(784, 500, { method: "hinton", data: train, seed: 0 });
  const t0 = performance.now();
  const { rbm } = await trainRBM(rbm0, train, { learningRate: 0.05, initialMomentum: 0, finalMomentum: 0, seed: 0, progress: false });
  disposeRBM(rbm0);
  console.log(`model: 784-500, CD-1, 1 epoch over ${train.n} images (${s((performance.now() - t0) / 1000)})`);

  const single = await annealedLogZ(rbm, { seed: 1, runs: args.runs, betas: 300, data: train, progress: false });
  const perBetaSingle = single.seconds / 300;
  console.log(`ais.ts annealedLogZ, 1 base × ${args.runs} runs: ${ms(perBetaSingle)} per temperature (K = 300)`);

  const K = args.betas;
  const r = await trustworthyLogLikelihood(rbm, test, { trainData: train, seed: 2, runs: args.runs, betas: K, progress: false });
  const { chains, ais, raise, total } = r.seconds;
  const rest = total - chains - ais - raise;
  console.log(
    `trustworthyLogLikelihood, K = ${K}, ${args.runs} runs per base, RAISE on ${r.estimates[0].raise.perVector.length} test digits per base:`,
  );
  console.log(`  model chains (100 × 1,000 steps)      ${s(chains)}`);
  console.log(
    `  AIS, 2 bases × ${args.runs} runs (one batch)    ${s(ais)}  = ${ms(ais / K)} per temperature (2 single-base runs: ${ms(2 * perBetaSingle)})`,
  );
  console.log(`  RAISE, 2 bases (one batch)            ${s(raise)}  = ${ms(raise / K)} per temperature`);
  console.log(`  bounds, free energies                 ${s(rest)}`);
  console.log(`  total                                 ${s(total)}`);
  if (K !== SM_N_BETAS) {
    const f = SM_N_BETAS / K;
    const est = chains + rest + f * (ais + raise);
    console.log(
      `  EXTRAPOLATED to K = ${SM_N_BETAS} (AIS and RAISE × ${f.toFixed(2)}, measured per temperature here): ` +
        `AIS ${s(f * ais)}, total ${s(est)} (${(est / 60).toFixed(1)} min)`,
    );
  }
  for (const e of r.estimates) {
    console.log(
      `  ${e.base.padEnd(7)} base: AIS log Z ${e.ais.logZ.toFixed(2)} ±${(3 * e.ais.logZStd).toFixed(2)} (ESS ${e.ais.ess.toFixed(0)}), ` +
        `RAISE ${e.raise.logZ.toFixed(2)} ±${(3 * e.raise.logZStd).toFixed(2)}`,
    );
  }
  console.log(
    `  test log-likelihood ${r.logLikelihood.toFixed(2)} nats, bracket [${r.bracket[0].toFixed(2)}, ${r.bracket[1].toFixed(2)}]` +
      ` (guaranteed log Z ≥ ${r.hardLogZLower.toFixed(2)})${r.warning ? `\n  warning: ${r.warning}` : ""}`,
  );
  disposeRBM(rbm);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
