/**
 * The full-scale training run behind chapter 4's reported numbers (`node --import tsx bench/pcd-full.ts`):
 *
 * (a) one epoch of CD-1 with the numpy reference's algorithm (Xavier init, lr 0.1, no momentum or
 *     decay, sampled negative visibles, no shuffling) → training reconstruction error and the
 *     stochastic pseudo-likelihood on the first 10,000 images, to compare with numpy_rbm.py;
 * (b) PCD-1 784-500 on stochastically binarised MNIST (60,000 images), plain SGD with the learning
 *     rate decaying linearly from 0.031 to 0.001 over EPOCHS (default 40) epochs, then AIS with
 *     Salakhutdinov & Murray's 14,500 temperatures × 100 runs → average test log-likelihood (nats).
 * Prints one JSON line per step; saves the PCD model to checkpoints/pcd1-784-500-e<EPOCHS>.safetensors.
 * Environment: EPOCHS, SKIP_A=1 (skip part a).
 */
import { initBackend } from "../lib/compute/backend";
import * as L from "../lib/index";

async function main(): Promise<void> {
  const info = await initBackend({ quiet: true });
  console.log(JSON.stringify({ backend: L.summaryLine(info) }));
  const grey = L.loadMnist();
  const test = L.loadMnist({ split: "test" });
  if (process.env.SKIP_A !== "1") {
    const r0 = L.initRBM(784, 500, { seed: 0 });
    const a = await L.trainRBM(r0, grey, {
      learningRate: 0.1,
      initialMomentum: 0,
      finalMomentum: 0,
      weightDecay: 0,
      sampleVisible: true,
      shuffle: false,
      progress: false,
    });
    const pl = L.pseudoLikelihood(a.rbm, grey, { seed: 0, limit: 10000 });
    console.log(
      JSON.stringify({
        step: "CD-1, numpy settings, 1 epoch",
        seconds: a.history[0].seconds,
        trainRecon: a.history[0].trainRecon,
        pseudoLikelihood: pl,
      }),
    );
    L.disposeRBM(r0);
    L.disposeRBM(a.rbm);
  }
  const train = L.binarize(grey, { mode: "sample", seed: 0 });
  const testB = L.binarize(test, { mode: "sample", seed: 1 });
  const EPOCHS = Number(process.env.EPOCHS ?? 40);
  const rbm0 = L.initRBM(784, 500, { method: "hinton", data: train, seed: 0 });
  const r = await L.trainRBM(rbm0, train, {
    persistent: true,
    learningRate: (e) => 0.03 * (1 - e / EPOCHS) + 0.001,
    initialMomentum: 0,
    finalMomentum: 0,
    epochs: EPOCHS,
    progress: false,
    seed: 0,
    onEpoch: (rec) => console.log(JSON.stringify({ step: "PCD-1", ...rec })),
  });
  L.saveCheckpoint(`checkpoints/pcd1-784-500-e${EPOCHS}.safetensors`, {
    rbm: r.rbm,
    history: r.history,
    hyperparameters: {
      persistent: true,
      k: 1,
      epochs: EPOCHS,
      learningRate: "0.03 (1 − e/EPOCHS) + 0.001",
      momentum: 0,
      weightDecay: 2e-4,
      batchSize: 100,
    },
  });
  const ais = await L.annealedLogZ(r.rbm, { seed: 0, runs: 100, betas: 14500, data: train, progress: false });
  const ll = await L.aisLogLikelihood(r.rbm, testB, { ais: ais });
  console.log(
    JSON.stringify({
      step: "AIS",
      logZ: ais.logZ,
      logZStd: ais.logZStd,
      ess: ais.ess,
      aisSeconds: ais.seconds,
      testLogLikelihood: ll.logLikelihood,
      band: [ll.lower, ll.upper],
      trainSeconds: r.history.reduce((s, h) => s + h.seconds, 0),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
