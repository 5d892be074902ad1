/**
 * Inpainting with a DBN: the missing pixels sampled from the DBN's own generative model given the
 * known ones, by Metropolis-within-Gibbs.
 *
 * The model. A DBN with layers x₀ = v, x₁, …, x_{L−1} (and the top RBM's hidden layer x_L) is the
 * directed model p(v, x₁ … x_{L−1}) = p_top(x_{L−1}) Π_{l<L−1} p(x_l | x_{l+1}), where the lower
 * conditionals are factorised sigmoid layers through the generative weights and the top prior is the
 * top RBM's marginal p_top(x) ∝ exp(−F_top(x)) (with label units: exp(−F_top([x, y])), y clamped to a
 * class or summed over the K classes).
 *
 * Why not just Gibbs. Given its neighbours, x_l (l ≥ 1) is NOT factorised: the layer below depends on
 * it through log p(x_{l−1} | x_l) = Σ_i x_{l−1,i} a_i − softplus(a_i), and the softplus couples its
 * units. The usual shortcut — an up pass with the recognition weights, Gibbs in the top RBM, a down
 * pass, re-clamp — samples the recognition model's guess, not the DBN's posterior.
 *
 * The scheme. A sweep (1) draws the free pixels from p(v | x₁), which IS factorised, keeping the known
 * ones, then (2) for l = 1 … L−1 and each block S of `blockSize` units of x_l in turn, proposes new
 * values for the units in S from the recognition weights, x_S' ~ q_S(x_S' | x_{l−1}) = Π_{j∈S}
 * σ(x_{l−1} W_{l−1} + c_{l−1})_j, keeps the other units, and accepts with the Metropolis–Hastings
 * probability min(1, π(x_l') q_S(x_S | x_{l−1}) / (π(x_l) q_S(x_S' | x_{l−1}))), π the exact
 * conditional of x_l given x_{l−1} and x_{l+1} up to a constant. Each move leaves the DBN's posterior
 * p(v_free, x₁ … x_{L−1} | v_known) invariant, so the chain samples it exactly in the limit
 * (Tierney 1994, Metropolis-within-Gibbs). With tied weights freshly stacked the recognition
 * proposal is the exact posterior (the complementary prior of Hinton, Osindero & Teh 2006) and every
 * proposal is accepted; after training the acceptance rate says how far apart the two have moved.
 *
 * Why blocks. log π(x') − log π(x) and the log q ratio are sums over the changed units, so their
 * spread, and with it the chance of a refusal, grows with the number of units a proposal changes: on
 * a trained 784-500-500-2000 DBN a whole-layer proposal (blockSize = the layer) was accepted 0.0 %
 * of the time in the first hidden layer. Small blocks cost one more energy evaluation each.
 */
import * as tf from "@tensorflow/tfjs";
import { type Seed, toRng } from "../core/random";
import type { RBM } from "../core/rbm";
import { sampleBernoulli, sigmoidLayer, uniformTensor } from "../core/units";
import { assertBinaryPixels, assertDBN, checkLabels, type DBN, oneHotTensor } from "./model";

/** Options of {@link inpaintDBN}. */
export interface InpaintDBNOptions {
  /** Sweeps (pixels, then each hidden layer). */
  steps: number;
  /** Seed of the chains. */
  seed: Seed;
  /** Sweeps left out of the mean probabilities. Default ⌊steps / 2⌋. */
  burnIn?: number;
  /** The class of each image (clamps the label units), for a DBN with label units. Default: summed over. */
  labels?: ArrayLike<number>;
  /**
   * Units per proposal (see the file header): each hidden layer is split into consecutive blocks of
   * this many units, one Metropolis–Hastings move each per sweep. Default 25; Infinity proposes the
   * whole layer at once (one move per layer and sweep).
   */
  blockSize?: number;
}

/** Result of {@link inpaintDBN}; plain arrays, no tensors. */
export interface InpaintDBNResult {
  /** The last binary pixels `[batch * n₀]` (known ones equal to the input). */
  v: Float32Array;
  /** The mean of p(v | x₁) over the sweeps after burn-in `[batch * n₀]`: p(v_i = 1 | v_known) for a free pixel. */
  meanProbs: Float32Array;
  /** Fraction of the block proposals accepted after burn-in (all sweeps if burnIn is 0), per hidden layer 1 … L−1. */
  acceptance: number[];
}

/** Activation of layer l from layer l+1 through the generative weights, `[batch, n_l]`. */
function downActivation(dbn: DBN, l: number, above: tf.Tensor2D): tf.Tensor2D {
  const g = dbn.generative?.[l];
  if (g) return tf.fused.matMul({ a: above, b: g.W, bias: g.b }) as tf.Tensor2D;
  return tf.fused.matMul({ a: above, b: tf.transpose(dbn.layers[l].W) as tf.Tensor2D, bias: dbn.layers[l].b }) as tf.Tensor2D;
}

/** Σ_i x_i a_i − softplus(a_i): the log-probability of binary x under Bernoulli(σ(a)), per row `[batch]`. */
function logBernoulli(x: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.sub(tf.mul(x, a), tf.softplus(a)), 1) as tf.Tensor1D;
}

/** −F_top(v) = v·b + Σ_j softplus(c_j + (vW)_j), per row. */
function negFreeEnergy(v: tf.Tensor2D, top: RBM): tf.Tensor1D {
  return tf.add(tf.sum(tf.mul(v, top.b), 1), tf.sum(tf.softplus(tf.add(tf.matMul(v, top.W), top.c)), 1)) as tf.Tensor1D;
}

/**
 * log p_top(x) + const: −F_top([x, y]) with clamped y, log Σ_y exp(−F_top([x, e_y])) with free labels.
 * With free labels x W_x is computed once and each class only adds its row of W_y.
 */
function topLogPrior(dbn: DBN, x: tf.Tensor2D, y: tf.Tensor2D | undefined): tf.Tensor1D {
  const top = dbn.layers[dbn.layers.length - 1];
  const K = dbn.nLabels;
  if (K === 0) return negFreeEnergy(x, top);
  if (y) return negFreeEnergy(tf.concat([x, y], 1) as tf.Tensor2D, top);
  const nX = x.shape[1];
  const nH = top.W.shape[1];
  const bx = tf.slice(top.b, [0], [nX]);
  const by = tf.slice(top.b, [nX], [K]);
  const xPart = tf.sum(tf.mul(x, bx), 1);
  const act = tf.add(tf.matMul(x, tf.slice(top.W, [0, 0], [nX, nH])), top.c);
  const Wy = tf.slice(top.W, [nX, 0], [K, nH]);
  const perClass = Array.from({ length: K }, (_, k) =>
    tf.add(tf.sum(tf.softplus(tf.add(act, tf.slice(Wy, [k, 0], [1, nH]))), 1), tf.slice(by, [k], [1])),
  );
  return tf.add(xPart, tf.logSumExp(tf.stack(perClass, 1), 1)) as tf.Tensor1D;
}

/**
 * Samples the missing pixels of `images` from the DBN given the known ones (see the file header for the
 * scheme and why it is exact), `batch` chains at once.
 * @param images `[batch * n₀]` binary, row-major @param known 0/1 `[batch * n₀]` or `[n₀]` (one mask for all)
 */
export function inpaintDBN(dbn: DBN, images: Float32Array, known: Float32Array, opts: InpaintDBNOptions): InpaintDBNResult {
  assertDBN(dbn, "inpaintDBN");
  assertBinaryPixels(dbn, "inpaintDBN", "Its pixels given x₁ are Gaussian, and clamping them is not built; inpaint binary pixels.");
  const L = dbn.sizes.length - 1;
  if (L < 2) throw new Error("inpaintDBN: this DBN is one RBM; inpaint it with clampedGibbsChain on dbn.layers[0].");
  const n0 = dbn.sizes[0];
  if (images.length === 0 || images.length % n0 !== 0)
    throw new Error(`inpaintDBN: images hold ${images.length} values, not rows of ${n0} pixels.`);
  const B = images.length / n0;
  if (known.length !== n0 && known.length !== images.length)
    throw new Error(`inpaintDBN: the mask holds ${known.length} values; give one per pixel (${n0}) or per image pixel (${images.length}).`);
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new Error(`inpaintDBN: steps must be an integer ≥ 1, got ${opts.steps}.`);
  const burnIn = opts.burnIn ?? Math.floor(opts.steps / 2);
  if (!Number.isInteger(burnIn) || burnIn < 0 || burnIn >= opts.steps)
    throw new Error(`inpaintDBN: burnIn must be an integer in [0, ${opts.steps - 1}], got ${burnIn}.`);
  if (opts.labels && dbn.nLabels === 0) throw new Error("inpaintDBN: this DBN has no label units; drop opts.labels.");
  if (opts.labels) checkLabels(opts.labels, B, dbn.nLabels, "inpaintDBN");
  const blockSize = opts.blockSize ?? 25;
  if (!(blockSize === Infinity || (Number.isInteger(blockSize) && blockSize >= 1)))
    throw new Error(`inpaintDBN: blockSize must be an integer ≥ 1 or Infinity, got ${blockSize}.`);
  const rng = toRng(opts.seed, "inpaintDBN");
  const accepted = new Array<number>(L - 1).fill(0);
  const proposals = new Array<number>(L - 1).fill(0);
  // One 0/1 row per block of each hidden layer, or none for a whole-layer proposal.
  const blocks: tf.Tensor2D[][] = dbn.sizes.slice(1, L).map((n) => {
    if (blockSize >= n) return [];
    return Array.from({ length: Math.ceil(n / blockSize) }, (_, k) => {
      const m = new Float32Array(n);
      m.fill(1, k * blockSize, Math.min(n, (k + 1) * blockSize));
      return tf.tensor2d(m, [1, n]);
    });
  });
  const values = tf.tensor2d(images, [B, n0]);
  const mask = tf.tensor2d(known, [known.length === n0 ? 1 : B, n0]);
  const y = opts.labels ? oneHotTensor(opts.labels, 0, B, dbn.nLabels) : undefined;
  const clampPixels = (v: tf.Tensor2D) => tf.add(v, tf.mul(mask, tf.sub(values, v))) as tf.Tensor2D;
  /** log π(x_l) up to a constant, given the layers next to it. */
  const logTarget = (xs: tf.Tensor2D[], l: number, xl: tf.Tensor2D) =>
    tf.add(
      logBernoulli(xs[l - 1], downActivation(dbn, l - 1, xl)),
      l < L - 1 ? logBernoulli(xl, downActivation(dbn, l, xs[l + 1])) : topLogPrior(dbn, xl, y),
    );
  // Start: the free pixels from noise, the hidden layers from a sampled up pass.
  let xs: tf.Tensor2D[] = tf.tidy(() => {
    const out = [clampPixels(sampleBernoulli(tf.fill([B, n0], 0.5) as tf.Tensor2D, rng))];
    for (let l = 1; l < L; l++) out.push(sampleBernoulli(sigmoidLayer(out[l - 1], dbn.layers[l - 1].W, dbn.layers[l - 1].c), rng));
    return out;
  });
  let sum = tf.zeros([B, n0]) as tf.Tensor2D;
  try {
    for (let step = 1; step <= opts.steps; step++) {
      const next = tf.tidy(() => {
        const out = [...xs];
        const pv = clampPixels(tf.sigmoid(downActivation(dbn, 0, out[1])));
        out[0] = clampPixels(sampleBernoulli(pv, rng));
        const acc: tf.Scalar[] = [];
        for (let l = 1; l < L; l++) {
          const a = tf.add(tf.matMul(out[l - 1], dbn.layers[l - 1].W), dbn.layers[l - 1].c) as tf.Tensor2D;
          const q = tf.sigmoid(a) as tf.Tensor2D;
          let current = logTarget(out, l, out[l]);
          const layerBlocks: (tf.Tensor2D | undefined)[] = blocks[l - 1].length > 0 ? blocks[l - 1] : [undefined];
          const layerAccepted: tf.Tensor[] = [];
          for (const block of layerBlocks) {
            const s = sampleBernoulli(q, rng);
            const proposal = block ? (tf.add(out[l], tf.mul(block, tf.sub(s, out[l]))) as tf.Tensor2D) : s;
            const target = logTarget(out, l, proposal);
            // The q ratio over the whole layer equals the block's: outside it x' = x.
            const logAlpha = tf.add(tf.sub(target, current), tf.sub(logBernoulli(out[l], a), logBernoulli(proposal, a)));
            const accept = tf.cast(tf.less(tf.log(uniformTensor([B], rng)), logAlpha), "float32") as tf.Tensor1D;
            out[l] = tf.add(out[l], tf.mul(tf.reshape(accept, [B, 1]), tf.sub(proposal, out[l]))) as tf.Tensor2D;
            current = tf.add(current, tf.mul(accept, tf.sub(target, current))) as tf.Tensor1D;
            layerAccepted.push(tf.sum(accept));
          }
          acc.push(tf.addN(layerAccepted) as tf.Scalar);
          if (step > burnIn || burnIn === 0) proposals[l - 1] += B * layerBlocks.length;
        }
        return { xs: out, pv, acc: tf.stack(acc) };
      });
      tf.dispose(xs);
      xs = next.xs;
      const counts = next.acc.dataSync();
      if (step > burnIn || burnIn === 0) for (let l = 0; l < L - 1; l++) accepted[l] += counts[l];
      next.acc.dispose();
      if (step > burnIn) {
        const s = tf.add(sum, next.pv) as tf.Tensor2D;
        sum.dispose();
        sum = s;
      }
      next.pv.dispose();
    }
    const mean = tf.div(sum, opts.steps - burnIn);
    const meanProbs = mean.dataSync().slice() as Float32Array;
    mean.dispose();
    return { v: xs[0].dataSync().slice() as Float32Array, meanProbs, acceptance: accepted.map((a, l) => a / proposals[l]) };
  } finally {
    tf.dispose([...xs, sum, values, mask, ...(y ? [y] : []), ...blocks.flat()]);
  }
}
