/**
 * The course's per-epoch training monitors, as a `monitor` option of the training loop: the cheap
 * proxies of metrics.ts, measured the same way every epoch so that their curves can be compared.
 */

import type { RBM } from "../core/rbm";
import type { Dataset } from "../io/data";
import { freeEnergyGap, pseudoLikelihood, reconstructionError } from "./metrics";
/** Data for {@link standardMonitors}. */
export interface MonitorData {
  /** Held-out images `[n, nVisible]` in [0, 1] (e.g. the first 1,000 MNIST test images). */
  heldOut: Dataset;
  /** A random training subset of the same size, for the free-energy gap. */
  trainSubset: Dataset;
  /** Seed of the stochastic monitors. Default 0. */
  seed?: number;
}

/**
 * The course's per-epoch monitors, for `TrainOptions.monitor`: held-out reconstruction error
 * (squared, against p(v|h), and cross-entropy), stochastic pseudo-likelihood (seeds 002/004) and
 * the free-energy gap F(held-out) − F(train) of Hinton's guide §6. Each is in nats or squared
 * pixels per image, and uses the same seed every epoch so that curves are not jagged by noise.
 */
export function standardMonitors(d: MonitorData): (rbm: RBM) => Record<string, number> {
  const seed = d.seed ?? 0;
  return (rbm) => {
    const recon = reconstructionError(rbm, d.heldOut, { seed });
    return {
      recon: recon.squared,
      crossEntropy: recon.crossEntropy,
      pseudoLikelihood: pseudoLikelihood(rbm, d.heldOut, { seed }),
      freeEnergyGap: freeEnergyGap(rbm, d.trainSubset, d.heldOut).gap,
    };
  };
}
