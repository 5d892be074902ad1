/**
 * Fine-tuning a pretrained DBN.
 *
 * 0. For generation, a short persistent-CD polish of the top RBM ({@link tuneTopPCD}) removes the
 *    spurious low-energy regions that CD-1 leaves far from the data, into which dreams fall.
 *
 * 1. Generatively, with the up-down algorithm (contrastive wake-sleep) of Hinton, Osindero & Teh
 *    2006, Appendix B: the recognition and generative weights of the lower layers are untied; a wake
 *    (up) pass with sampled states trains the generative weights to reconstruct each layer from the
 *    one above; the top RBM does CD-k from the wake states; a sleep (down) pass from the top RBM's
 *    negative state trains the recognition weights to recover each layer from the one below.
 *
 * 2. Discriminatively, by backpropagation: the recognition weights become the sigmoid hidden layers
 *    of an MLP with a new softmax output layer (Hinton & Salakhutdinov 2006). The gradients are
 *    written out by hand (explicit transposes keep every matMul on the fast path of the wasm backend)
 *    and applied with a TensorFlow.js optimizer; early stopping watches a validation split.
 */
import * as tf from "@tensorflow/tfjs";
import { DBN, assertDBN, upPass, trainJointRBM, untieDBN, jointNegativePhase } from "./model";
import { ProgressBar, barFor, eventLoopYielder } from "../view/progress";
import { EpochRecord, trainRBM } from "../train/cd";
import { Dataset, dim, batches, permutation, selectRows } from "../io/data";
import { SafeTensorInput, tensorToSafe, saveSafetensors, loadSafetensors, SafeTensor, safeToTensor } from "../io/checkpoint";
import { sampleBernoulli, sigmoidLayer } from "../core/units";
import { cloneRBM, initRBM } from "../core/rbm";
import { Seed, toRng } from "../core/random";
/**
 * An inverted-dropout mask: m/(1 − p) with m ~ Bernoulli(1 − p) elementwise, so each entry is 0 with
 * probability p and 1/(1 − p) otherwise, and its mean is 1.
 * @param shape `[batch, n]` @param p drop probability in [0, 1) @returns `[batch, n]`
 */
export function dropoutMask(shape: [number, number], p: number, seed: Seed): tf.Tensor2D {
  if (!(p >= 0 && p < 1)) throw new Error(`dropoutMask: p must be a drop probability in [0, 1), got ${p}.`);
  const u = toRng(seed).fillUniform(new Float32Array(shape[0] * shape[1]));
  // [u > p]/(1 − p) on the device: a JS loop over the batch costs more than the two tensor ops.
  return tf.tidy(() => tf.mul(tf.step(tf.sub(tf.tensor2d(u, shape), p)), 1 / (1 - p)) as tf.Tensor2D);
}

// ---------------------------------------------------------------------------------------------
// Persistent-chain polish of the top RBM

/** Options of {@link tuneTopPCD}. */
export interface TopPCDOptions {
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Learning rate (small: the chains must keep up with the changing model). Default 0.005. */
  learningRate?: number;
  /** Persistent chains. Default 100. */
  nChains?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** Seed of the chains and the batch order. Default 0. */
  seed?: Seed;
  /** Progress bar. Default true. */
  progress?: boolean | ProgressBar;
}

/**
 * A short persistent-CD run (PCD, Tieleman 2008) on the top RBM of a greedily trained DBN, without
 * momentum, sampling the visible units as the generator does. CD-1 starts its negative chains at
 * the data, so it never visits — and never raises the energy of — deep "spurious" modes far from the
 * data, and clamped-label dreams fall into them; persistent chains find those modes and unlearn
 * them. The lower layers are copied unchanged; returns a new DBN.
 */
export async function tuneTopPCD(dbn: DBN, data: Dataset, opts: TopPCDOptions = {}): Promise<{ dbn: DBN; history: EpochRecord[] }> {
  assertDBN(dbn);
  const L = dbn.layers.length;
  const nX = dbn.sizes[L - 1];
  const x = L > 1 ? upPass(dbn, data, { depth: L - 1 }) : data.images;
  const features: Dataset = { images: x, labels: data.labels, n: data.n, rows: 1, cols: nX, name: `${data.name} → x${L - 1}` };
  const o = {
    persistent: true, nChains: opts.nChains ?? 100, learningRate: opts.learningRate ?? 0.005, initialMomentum: 0, finalMomentum: 0,
    sampleVisible: true, epochs: opts.epochs ?? 1, batchSize: opts.batchSize ?? 100, seed: opts.seed ?? 0, progress: opts.progress,
  };
  const top = dbn.layers[L - 1];
  const result = dbn.nLabels > 0 ? await trainJointRBM(top, features, { ...o, nLabels: dbn.nLabels }) : await trainRBM(top, features, o);
  result.chains?.dispose();
  return {
    dbn: {
      sizes: [...dbn.sizes], nLabels: dbn.nLabels, layers: [...dbn.layers.slice(0, -1).map(cloneRBM), result.rbm],
      generative: dbn.generative?.map((g) => ({ W: g.W.clone(), b: g.b.clone() })),
    },
    history: result.history,
  };
}

// ---------------------------------------------------------------------------------------------
// Up-down (contrastive wake-sleep)

/** Options of {@link upDownFineTune}. */
export interface UpDownOptions {
  /** Passes over the data. Default 1. */
  epochs?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** Learning rate ε of every weight and bias. Default 0.01 (small: the model is already good). */
  learningRate?: number;
  /** Gibbs steps in the top RBM per update (the paper used 3, then 6, then 10). Default 3. */
  topK?: number;
  /** Seed for the batch order and every sample. Default 0. */
  seed?: Seed;
  /** Progress bar. Default true. */
  progress?: boolean | ProgressBar;
  /** Called after each epoch. */
  onEpoch?: (record: UpDownRecord, dbn: DBN) => void | Promise<void>;
}

/** One epoch of {@link upDownFineTune}. */
export interface UpDownRecord {
  /** 0-based epoch index. */
  epoch: number;
  /** Wall time of the epoch's updates. */
  seconds: number;
  /** Mean over rows of Σ_i (v_i − p(v_i | wake h₁))²: how well the generative weights reconstruct the data. */
  wakeRecon: number;
  /** Fraction of rows whose top-RBM negative label differs from the true one (labelled DBNs; else NaN). */
  labelFlips: number;
}

/**
 * The up-down algorithm (Hinton, Osindero & Teh 2006, Appendix B) for a few epochs. Returns a new,
 * untied DBN (the input is not modified). Uses `data.labels` when the top RBM has label units.
 *
 * Per mini-batch, with s₀ = v and the wake states s_{l+1} ~ σ(s_l R_l + r_l):
 *   generative  G_l += ε s_{l+1}ᵀ (s_l − σ(s_{l+1} G_l + g_l)) / B     (wake: predict each layer from above)
 *   top RBM     CD-k from p(h | s_{L−1}, y), labels sampled one-of-K (as in pretraining)
 *   recognition R_l += ε d_lᵀ (d_{l+1} − σ(d_l R_l + r_l)) / B          (sleep: d_{L−1} = top RBM's negative
 *               state, d_l ~ σ(d_{l+1} G_l + g_l), d₀ = the probabilities)
 */
export async function upDownFineTune(dbn: DBN, data: Dataset, opts: UpDownOptions = {}): Promise<{ dbn: DBN; history: UpDownRecord[] }> {
  assertDBN(dbn);
  const epochs = opts.epochs ?? 1;
  const B = opts.batchSize ?? 100;
  const lr = opts.learningRate ?? 0.01;
  const topK = opts.topK ?? 3;
  for (const [name, v] of [["epochs", epochs], ["batchSize", B], ["topK", topK]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`upDownFineTune: ${name} must be a positive integer, got ${v}.`);
  }
  if (!(lr > 0 && Number.isFinite(lr))) throw new Error(`upDownFineTune: learningRate must be a positive number, got ${lr}.`);
  if (B > data.n) throw new Error(`upDownFineTune: batchSize ${B} is larger than the data (${data.n} rows).`);
  const d0 = dbn.sizes[0];
  if (dim(data) !== d0) throw new Error(`upDownFineTune: the data have ${dim(data)} values per row but the DBN's first layer has ${d0} units.`);
  const K = dbn.nLabels;
  if (K > 0) {
    for (let i = 0; i < data.n; i++) {
      if (data.labels[i] >= K) throw new Error(`upDownFineTune: label ${data.labels[i]} at row ${i} is outside [0, ${K}); labels must be class indices.`);
    }
  }
  const rng = toRng(opts.seed ?? 0);
  const model = untieDBN(dbn);
  const L = model.layers.length;
  const nBatches = Math.ceil(data.n / B);
  const bar = barFor(opts.progress, epochs * nBatches, "up-down", "batch");
  const history: UpDownRecord[] = [];
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const t0 = performance.now();
      const maybeYield = eventLoopYielder();
      let recon = tf.scalar(0);
      let flips = tf.scalar(0);
      for (const batch of batches(data, B, { seed: rng, oneHot: K > 0 ? K : undefined, reuseBuffers: true })) {
        const size = batch.size;
        const step = tf.tidy(() => {
          const eps = lr / size;
          const v = tf.tensor2d(batch.v, [size, d0]);
          const y = K > 0 ? tf.tensor2d(batch.y, [size, K]) : undefined;
          const gen = model.generative ?? [];
          // Wake (up) pass with sampled states.
          const s: tf.Tensor2D[] = [v];
          for (let l = 0; l < L - 1; l++) s.push(sampleBernoulli(sigmoidLayer(s[l], model.layers[l].W, model.layers[l].c), rng));
          // Top RBM: CD-k from the wake states.
          const top = model.layers[L - 1];
          const vTop = y ? (tf.concat([s[L - 1], y], 1) as tf.Tensor2D) : s[L - 1];
          const posTop = sigmoidLayer(vTop, top.W, top.c);
          const { negVis, negHidProbs } = jointNegativePhase(sampleBernoulli(posTop, rng), top, tf.transpose(top.W) as tf.Tensor2D, K, topK, true, rng);
          const topW = tf.add(top.W, tf.mul(tf.matMul(tf.transpose(tf.concat([vTop, negVis], 0)) as tf.Tensor2D, tf.concat([posTop, tf.neg(negHidProbs)], 0) as tf.Tensor2D), eps));
          const topB = tf.add(top.b, tf.mul(tf.sum(tf.sub(vTop, negVis), 0), eps));
          const topC = tf.add(top.c, tf.mul(tf.sum(tf.sub(posTop, negHidProbs), 0), eps));
          // Sleep (down) pass from the top RBM's negative state of x_{L−1}.
          const nX = model.sizes[L - 1];
          const d: tf.Tensor2D[] = new Array<tf.Tensor2D>(L);
          d[L - 1] = K > 0 ? tf.slice(negVis, [0, 0], [size, nX]) : negVis;
          for (let l = L - 2; l >= 0; l--) {
            const p = sigmoidLayer(d[l + 1], gen[l].W, gen[l].b);
            d[l] = l === 0 ? p : sampleBernoulli(p, rng);
          }
          // Generative weights: predict each wake layer from the one above.
          const newGen = gen.map((g, l) => {
            const err = tf.sub(s[l], sigmoidLayer(s[l + 1], g.W, g.b));
            return { W: tf.add(g.W, tf.mul(tf.matMul(tf.transpose(s[l + 1]) as tf.Tensor2D, err as tf.Tensor2D), eps)) as tf.Tensor2D, b: tf.add(g.b, tf.mul(tf.sum(err, 0), eps)) as tf.Tensor1D, err };
          });
          // Recognition weights: recover each sleep layer from the one below.
          const newRec = model.layers.slice(0, L - 1).map((rbm, l) => {
            const err = tf.sub(d[l + 1], sigmoidLayer(d[l], rbm.W, rbm.c));
            return { W: tf.add(rbm.W, tf.mul(tf.matMul(tf.transpose(d[l]) as tf.Tensor2D, err as tf.Tensor2D), eps)) as tf.Tensor2D, c: tf.add(rbm.c, tf.mul(tf.sum(err, 0), eps)) as tf.Tensor1D };
          });
          const batchRecon = L > 1 ? tf.sum(tf.square(newGen[0].err)) : tf.scalar(0);
          const batchFlips = y ? tf.sum(tf.cast(tf.notEqual(tf.argMax(tf.slice(negVis, [0, nX], [size, K]), 1), tf.argMax(y, 1)), "float32")) : tf.scalar(0);
          return {
            top: { W: topW as tf.Tensor2D, b: topB as tf.Tensor1D, c: topC as tf.Tensor1D },
            gen: newGen.map(({ W, b }) => ({ W, b })),
            rec: newRec,
            recon: tf.add(recon, batchRecon) as tf.Scalar,
            flips: tf.add(flips, batchFlips) as tf.Scalar,
          };
        });
        // Swap in the new parameters, free the old ones.
        const top = model.layers[L - 1];
        tf.dispose([top.W, top.b, top.c, recon, flips]);
        model.layers[L - 1] = { ...step.top };
        for (let l = 0; l < L - 1; l++) {
          const g = (model.generative ?? [])[l];
          tf.dispose([g.W, g.b, model.layers[l].W, model.layers[l].c]);
          (model.generative ?? [])[l] = step.gen[l];
          model.layers[l] = { W: step.rec[l].W, b: model.layers[l].b, c: step.rec[l].c };
        }
        recon = step.recon;
        flips = step.flips;
        bar?.tick(1, { epoch: epoch + 1 });
        await maybeYield();
      }
      const record: UpDownRecord = {
        epoch, seconds: (performance.now() - t0) / 1000,
        wakeRecon: recon.dataSync()[0] / data.n, labelFlips: K > 0 ? flips.dataSync()[0] / data.n : NaN,
      };
      tf.dispose([recon, flips]);
      history.push(record);
      bar?.tick(0, { epoch: epoch + 1, wakeRecon: Number(record.wakeRecon.toPrecision(4)) });
      await opts.onEpoch?.(record, model);
    }
  } catch (e) {
    bar?.done();
    for (const rbm of model.layers) tf.dispose([rbm.W, rbm.b, rbm.c]);
    for (const g of model.generative ?? []) tf.dispose([g.W, g.b]);
    throw e;
  }
  bar?.done();
  return { dbn: model, history };
}

// ---------------------------------------------------------------------------------------------
// The MLP

/** One dense layer: output = act(x W + b), W `[nIn, nOut]`, b `[nOut]`. */
export interface DenseLayer {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
}

/** A multilayer perceptron: sigmoid hidden layers, then a softmax output layer (the last one). */
export interface MLP {
  layers: DenseLayer[];
}

/** Layer sizes of an MLP, input first, classes last. */
export function mlpSizes(mlp: MLP): number[] {
  return [mlp.layers[0].W.shape[0], ...mlp.layers.map((l) => l.W.shape[1])];
}

/** Frees the MLP's tensors. */
export function disposeMLP(mlp: MLP): void {
  for (const l of mlp.layers) tf.dispose([l.W, l.b]);
}

/** A deep copy (new tensors). */
export function cloneMLP(mlp: MLP): MLP {
  return { layers: mlp.layers.map((l) => ({ W: l.W.clone(), b: l.b.clone() })) };
}

function outputLayer(nIn: number, nClasses: number, std: number, seed: Seed): DenseLayer {
  const w = toRng(seed).fillNormal(new Float32Array(nIn * nClasses), 0, std);
  return { W: tf.tensor2d(w, [nIn, nClasses]), b: tf.zeros([nClasses]) as tf.Tensor1D };
}

/** Options of {@link dbnToMLP} and {@link randomMLP}. */
export interface MLPInitOptions {
  /** Classes of the softmax output. Default 10. */
  nClasses?: number;
  /** Standard deviation of the new output weights (N(0, std²), zero bias). Default 0.01. */
  outputStd?: number;
  /** Seed of the output weights (and, for randomMLP, of the hidden weights). Default 0. */
  seed?: Seed;
}

/**
 * Unrolls a DBN into an MLP n₀ → n₁ → … → n_L → nClasses: hidden layer l is σ(x W_l + c_l) with the
 * DBN's recognition weights (for a label-joined top RBM, only the rows of W that come from x_{L−1});
 * the softmax output layer is new. New tensors: the DBN is not modified.
 */
export function dbnToMLP(dbn: DBN, opts: MLPInitOptions = {}): MLP {
  assertDBN(dbn);
  const L = dbn.layers.length;
  const hidden = dbn.layers.map((rbm, l) => {
    const W = l === L - 1 && dbn.nLabels > 0 ? tf.slice(rbm.W, [0, 0], [dbn.sizes[L - 1], dbn.sizes[L]]) : rbm.W.clone();
    return { W, b: rbm.c.clone() };
  });
  return { layers: [...hidden, outputLayer(dbn.sizes[L], opts.nClasses ?? 10, opts.outputStd ?? 0.01, opts.seed ?? 0)] };
}

/**
 * The same architecture with random weights, for comparison: hidden layers with Glorot/Xavier
 * uniform weights U(±√(6/(n_in + n_out))) and zero biases (the usual initialisation for sigmoid
 * networks trained by backprop), the output layer as in {@link dbnToMLP}.
 * @param sizes hidden architecture, input first, e.g. `[784, 500, 500, 2000]`
 */
export function randomMLP(sizes: number[], opts: MLPInitOptions = {}): MLP {
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`randomMLP: sizes must be at least two positive integers, input first, e.g. [784, 500, 500, 2000]; got ${JSON.stringify(sizes)}.`);
  }
  const rng = toRng(opts.seed ?? 0);
  const outSeed = rng.nextUint32();
  const hidden = sizes.slice(0, -1).map((nIn, l) => {
    const rbm = initRBM(nIn, sizes[l + 1], { method: "xavier", seed: rng.nextUint32() });
    rbm.b.dispose();
    return { W: rbm.W, b: rbm.c };
  });
  return { layers: [...hidden, outputLayer(sizes[sizes.length - 1], opts.nClasses ?? 10, opts.outputStd ?? 0.01, outSeed)] };
}

/**
 * Forward pass. acts[l] is the input of layer l (x first, then the hidden activations) after its
 * optional mask `masks[l]` (dropout), sigs[l] the same before the mask; logits `[batch, nClasses]`.
 */
function forward(layers: DenseLayer[], x: tf.Tensor2D, masks: (tf.Tensor2D | undefined)[] = []): { acts: tf.Tensor2D[]; sigs: tf.Tensor2D[]; logits: tf.Tensor2D } {
  const L = layers.length;
  const acts: tf.Tensor2D[] = [];
  const sigs: tf.Tensor2D[] = [];
  let a: tf.Tensor2D = x;
  for (let l = 0; l < L; l++) {
    sigs.push(a);
    const m = masks[l];
    acts.push(m ? (tf.mul(a, m) as tf.Tensor2D) : a);
    if (l < L - 1) a = sigmoidLayer(acts[l], layers[l].W, layers[l].b);
  }
  const logits = tf.fused.matMul({ a: acts[L - 1], b: layers[L - 1].W, bias: layers[L - 1].b }) as tf.Tensor2D;
  return { acts, sigs, logits };
}

/**
 * Class probabilities p(y | x) = softmax(MLP(x)).
 * @param x `[batch, n₀]` @returns `[batch, nClasses]`
 */
export function mlpProbs(mlp: MLP, x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2 || x.shape[1] !== mlp.layers[0].W.shape[0]) throw new Error(`mlpProbs: x has shape [${x.shape}] but the MLP takes [batch, ${mlp.layers[0].W.shape[0]}].`);
  return tf.tidy(() => tf.softmax(forward(mlp.layers, x).logits) as tf.Tensor2D);
}

/** `__metadata__.format` of a saved MLP. */
export const MLP_FORMAT = "rbm-notebooks/mlp";

/**
 * Saves an MLP as safetensors (`layer<l>.W` `[nIn, nOut]`, `layer<l>.b`), with metadata format
 * "rbm-notebooks/mlp", the sizes and `info` as JSON. Atomic; replaces only an earlier MLP file.
 */
export function saveMLP(file: string, mlp: MLP, info: object = {}): void {
  const tensors: Record<string, SafeTensorInput> = {};
  mlp.layers.forEach((l, i) => {
    tensors[`layer${i}.W`] = tensorToSafe(l.W, `layer${i}.W`);
    tensors[`layer${i}.b`] = tensorToSafe(l.b, `layer${i}.b`);
  });
  saveSafetensors(file, tensors, { format: MLP_FORMAT, sizes: JSON.stringify(mlpSizes(mlp)), info: JSON.stringify(info) }, { overwrite: "sameFormat" });
}

/** Loads an MLP saved by {@link saveMLP}; the caller disposes it ({@link disposeMLP}). */
export function loadMLP(file: string): { mlp: MLP; info: unknown } {
  const { tensors, metadata } = loadSafetensors(file);
  if (metadata.format !== MLP_FORMAT) throw new Error(`Cannot read ${file}: it is not an MLP saved by saveMLP (format "${metadata.format ?? "none"}"); pick another file.`);
  const layers: DenseLayer[] = [];
  for (let i = 0; tensors[`layer${i}.W`] !== undefined; i++) {
    const W = tensors[`layer${i}.W`] as SafeTensor;
    const b = tensors[`layer${i}.b`];
    if (!b || W.shape.length !== 2 || b.shape.length !== 1 || b.shape[0] !== W.shape[1] || (i > 0 && W.shape[0] !== layers[i - 1].W.shape[1])) {
      disposeMLP({ layers });
      throw new Error(`Cannot read ${file}: layer ${i} has inconsistent shapes; the file is corrupt — pick another file.`);
    }
    layers.push({ W: safeToTensor(W) as tf.Tensor2D, b: safeToTensor(b) as tf.Tensor1D });
  }
  if (layers.length === 0) throw new Error(`Cannot read ${file}: it holds no layers.`);
  let info: unknown = {};
  try {
    info = JSON.parse(metadata.info ?? "{}");
  } catch {
    info = {};
  }
  return { mlp: { layers }, info };
}

/** Result of {@link evaluateMLP}. */
export interface Evaluation {
  /** Fraction misclassified. */
  error: number;
  /** Mean cross-entropy −log p(true label | x) (nats). */
  loss: number;
  /** argmax predictions `[n]`. */
  predicted: Int32Array;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** Test error, mean cross-entropy, predictions and confusion matrix of an MLP on a labelled data set. */
export function evaluateMLP(mlp: MLP, data: Dataset, opts: { batchSize?: number } = {}): Evaluation {
  const d0 = mlp.layers[0].W.shape[0];
  if (dim(data) !== d0) throw new Error(`evaluateMLP: ${data.name} has ${dim(data)} values per row but the MLP takes ${d0}.`);
  const nClasses = mlp.layers[mlp.layers.length - 1].W.shape[1];
  const B = opts.batchSize ?? 1000;
  const predicted = new Int32Array(data.n);
  let loss = 0;
  for (let start = 0; start < data.n; start += B) {
    const size = Math.min(B, data.n - start);
    const logp = tf.tidy(() => tf.logSoftmax(forward(mlp.layers, tf.tensor2d(data.images.subarray(start * d0, (start + size) * d0), [size, d0])).logits));
    const values = logp.dataSync();
    logp.dispose();
    for (let r = 0; r < size; r++) {
      let best = 0;
      for (let k = 1; k < nClasses; k++) if (values[r * nClasses + k] > values[r * nClasses + best]) best = k;
      predicted[start + r] = best;
      const y = data.labels[start + r];
      if (y >= nClasses) throw new Error(`evaluateMLP: label ${y} at row ${start + r} is outside [0, ${nClasses}).`);
      loss -= values[r * nClasses + y];
    }
  }
  const confusion = confusionMatrix(predicted, data.labels, nClasses);
  let wrong = 0;
  for (let i = 0; i < data.n; i++) if (predicted[i] !== data.labels[i]) wrong++;
  return { error: wrong / data.n, loss: loss / data.n, predicted, confusion };
}

/** confusion[true][predicted] counts for class indices in [0, nClasses). */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, nClasses = 10): number[][] {
  if (predicted.length !== labels.length) throw new Error(`confusionMatrix: ${predicted.length} predictions for ${labels.length} labels.`);
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const [t, p] = [labels[i], predicted[i]];
    if (!(t >= 0 && t < nClasses && p >= 0 && p < nClasses)) throw new Error(`confusionMatrix: class ${t} / ${p} at ${i} is outside [0, ${nClasses}).`);
    m[t][p]++;
  }
  return m;
}

/** A seeded random split into `nValidation` rows and the rest (copies). */
export function splitValidation(data: Dataset, nValidation: number, seed: Seed = 0): { train: Dataset; validation: Dataset } {
  if (!Number.isInteger(nValidation) || nValidation < 1 || nValidation >= data.n) {
    throw new Error(`splitValidation: nValidation must be an integer in [1, ${data.n - 1}], got ${nValidation}.`);
  }
  const order = permutation(data.n, seed);
  return {
    validation: selectRows(data, order.subarray(0, nValidation), `${data.name}[validation ${nValidation}]`),
    train: selectRows(data, order.subarray(nValidation), `${data.name}[train ${data.n - nValidation}]`),
  };
}

// ---------------------------------------------------------------------------------------------
// Backprop fine-tuning

/** Result of {@link mlpGradients}. */
export interface MLPGradients {
  /** Cross-entropy −Σ_rows log p(y | x) summed over the batch (of the dropped-out network when masks are given). */
  loss: tf.Scalar;
  /** Number of rows whose arg-max class is wrong. */
  wrong: tf.Scalar;
  /** scale · ∂(loss / batch)/∂W_l, `[n_l, n_{l+1}]` per layer; `undefined` below `fromLayer`. */
  dW: (tf.Tensor2D | undefined)[];
  /** scale · ∂(loss / batch)/∂b_l, `[n_{l+1}]` per layer; `undefined` below `fromLayer`. */
  db: (tf.Tensor1D | undefined)[];
}

/**
 * The mean cross-entropy of a batch and its gradient by backpropagation, written out by hand:
 * with a_0 = x ⊙ m_0, a_l = σ(a_{l−1} W_{l−1} + b_{l−1}) ⊙ m_l and logits a_L W_L + b_L,
 *
 *   δ_L = (softmax − y)/B,  ∂W_l = a_lᵀ δ_l,  ∂b_l = Σ_rows δ_l,  δ_{l−1} = (δ_l W_lᵀ) ⊙ m_l ⊙ σ_l(1 − σ_l).
 *
 * @param x `[batch, n₀]` inputs
 * @param y `[batch, nClasses]` one-hot targets
 * @param opts.masks per layer l, an optional `[batch, n_l]` multiplier of that layer's input
 *   (dropout: m/(1 − p) with m ~ Bernoulli(1 − p)); `undefined` entries mean no mask
 * @param opts.scale multiplies every gradient (a learning-rate schedule); default 1
 * @param opts.fromLayer gradients only for layers ≥ this (the others are frozen); default 0
 */
export function mlpGradients(
  mlp: MLP,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  opts: { masks?: (tf.Tensor2D | undefined)[]; scale?: number; fromLayer?: number } = {},
): MLPGradients {
  const layers = mlp.layers;
  const L = layers.length;
  const B = x.shape[0];
  const nClasses = layers[L - 1].W.shape[1];
  if (x.rank !== 2 || x.shape[1] !== layers[0].W.shape[0]) throw new Error(`mlpGradients: x has shape [${x.shape}] but the MLP takes [batch, ${layers[0].W.shape[0]}].`);
  if (y.rank !== 2 || y.shape[0] !== B || y.shape[1] !== nClasses) throw new Error(`mlpGradients: y has shape [${y.shape}] but must be one-hot [${B}, ${nClasses}].`);
  const masks = opts.masks ?? [];
  masks.forEach((m, l) => {
    if (m && (m.shape[0] !== B || m.shape[1] !== layers[l].W.shape[0])) throw new Error(`mlpGradients: mask ${l} has shape [${m.shape}] but layer ${l}'s input is [${B}, ${layers[l].W.shape[0]}].`);
  });
  const scale = opts.scale ?? 1;
  const fromLayer = opts.fromLayer ?? 0;
  return tf.tidy(() => {
    const { acts, sigs, logits } = forward(layers, x, masks);
    const logp = tf.logSoftmax(logits);
    const loss = tf.neg(tf.sum(tf.mul(y, logp))) as tf.Scalar;
    const wrong = tf.sum(tf.cast(tf.notEqual(tf.argMax(logits, 1), tf.argMax(y, 1)), "float32")) as tf.Scalar;
    const dW: (tf.Tensor2D | undefined)[] = new Array(L).fill(undefined);
    const db: (tf.Tensor1D | undefined)[] = new Array(L).fill(undefined);
    let delta = tf.mul(tf.sub(tf.exp(logp), y), scale / B) as tf.Tensor2D;
    for (let l = L - 1; l >= fromLayer; l--) {
      dW[l] = tf.matMul(tf.transpose(acts[l]) as tf.Tensor2D, delta) as tf.Tensor2D;
      db[l] = tf.sum(delta, 0) as tf.Tensor1D;
      // acts[l] = σ ⊙ m, so ∂acts[l]/∂z = m ⊙ σ(1 − σ) = acts[l] ⊙ (1 − sigs[l]).
      if (l > fromLayer) delta = tf.mul(tf.matMul(delta, tf.transpose(layers[l].W) as tf.Tensor2D), tf.mul(acts[l], tf.sub(1, sigs[l]))) as tf.Tensor2D;
    }
    return { loss, wrong, dW, db };
  });
}

/** Options of {@link fineTuneMLP}. */
export interface FineTuneOptions {
  /** Maximum passes over the data. Default 30. */
  epochs?: number;
  /** Mini-batch size. Default 100. */
  batchSize?: number;
  /** "momentum" (SGD with momentum, default) or "adam". */
  optimizer?: "momentum" | "adam";
  /**
   * Step size, or a schedule epoch → step size (momentum only). Default 0.03 for momentum (0.1
   * diverges in the first epoch for a 2000-unit top layer), 1e-3 for adam.
   * With momentum the update is Δ ← μΔ + ε_t ∇, θ ← θ − Δ (a schedule scales the gradient).
   */
  learningRate?: number | ((epoch: number) => number);
  /** Momentum μ. Default 0.9. */
  momentum?: number;
  /** L2 penalty λ on the weights (not the biases): the gradient gets + λW. Default 0. */
  weightDecay?: number;
  /**
   * Dropout (Srivastava, Hinton et al. 2014) during training: each input pixel is zeroed with
   * probability `inputDropout`, each hidden unit with probability `hiddenDropout`, afresh for every
   * row of every batch; the survivors are scaled by 1/(1 − p) ("inverted dropout"), so the expected
   * input of every unit is unchanged and the trained weights are used as they are at test time.
   * The pretrained weights need no rescaling for the same reason. Defaults 0 (no dropout);
   * 0.2 / 0.5 are the paper's values for MNIST. The masks come from `seed`.
   */
  inputDropout?: number;
  /** See {@link FineTuneOptions.inputDropout}. Default 0. */
  hiddenDropout?: number;
  /** Held-out labelled data for early stopping; without it every epoch runs and the last model is kept. */
  validation?: Dataset;
  /** Stop after this many epochs without a better validation error. Default 5. */
  patience?: number;
  /**
   * Train only the (new) output layer for the first this many epochs, so that its random start does
   * not send large gradients into the pretrained layers (Hinton & Salakhutdinov's backpropclassify.m
   * does this for 6 epochs). Default 0.
   */
  freezeEpochs?: number;
  /** Seed of the batch order. Default 0. */
  seed?: Seed;
  /** Progress bar. Default true. */
  progress?: boolean | ProgressBar;
  /** Called after each epoch (e.g. to plot). */
  onEpoch?: (record: FineTuneRecord, mlp: MLP) => void | Promise<void>;
}

/** One epoch of {@link fineTuneMLP}. */
export interface FineTuneRecord {
  /** 0-based epoch index. */
  epoch: number;
  /** Wall time of the updates (validation excluded). */
  seconds: number;
  /** Step size used in this epoch. */
  learningRate: number;
  /** Mean cross-entropy over the epoch's batches (each measured before its update). */
  trainLoss: number;
  /** Fraction of training rows misclassified during the epoch (before each update). */
  trainError: number;
  /** Validation cross-entropy after the epoch (NaN without validation data). */
  valLoss: number;
  /** Validation error after the epoch (NaN without validation data). */
  valError: number;
  [key: string]: number;
}

/** Result of {@link fineTuneMLP}. */
export interface FineTuneResult {
  /** The model of the best validation epoch (or the last one without validation data); new tensors. */
  mlp: MLP;
  /** One record per epoch run. */
  history: FineTuneRecord[];
  /** Epoch whose parameters are returned. */
  bestEpoch: number;
  /** Whether early stopping ended the training before `epochs`. */
  stoppedEarly: boolean;
}

/**
 * Trains an MLP by backprop on the mean cross-entropy (+ λ/2 Σ‖W‖²): mini-batches from typed-array
 * views, hand-written gradients with explicit transposes, a TensorFlow.js optimizer, and early
 * stopping on `validation`. The input MLP is not modified.
 */
export async function fineTuneMLP(mlp: MLP, train: Dataset, opts: FineTuneOptions = {}): Promise<FineTuneResult> {
  const epochs = opts.epochs ?? 30;
  const B = opts.batchSize ?? 100;
  const kind = opts.optimizer ?? "momentum";
  const lr0 = opts.learningRate ?? (kind === "adam" ? 1e-3 : 0.03);
  const mu = opts.momentum ?? 0.9;
  const wd = opts.weightDecay ?? 0;
  const patience = opts.patience ?? 5;
  const freezeEpochs = opts.freezeEpochs ?? 0;
  const pIn = opts.inputDropout ?? 0;
  const pHid = opts.hiddenDropout ?? 0;
  const bad = (msg: string): never => {
    throw new Error(`fineTuneMLP: ${msg}`);
  };
  if (!(pIn >= 0 && pIn < 1)) bad(`inputDropout must be a probability in [0, 1), got ${pIn}.`);
  if (!(pHid >= 0 && pHid < 1)) bad(`hiddenDropout must be a probability in [0, 1), got ${pHid}.`);
  if (!Number.isInteger(epochs) || epochs < 1) bad(`epochs must be a positive integer, got ${epochs}.`);
  if (!Number.isInteger(B) || B < 1) bad(`batchSize must be a positive integer, got ${B}.`);
  if (B > train.n) bad(`batchSize ${B} is larger than the training data (${train.n} rows).`);
  if (kind !== "momentum" && kind !== "adam") bad(`optimizer must be "momentum" or "adam", got ${JSON.stringify(kind)}.`);
  if (typeof lr0 === "number" && !(lr0 > 0 && Number.isFinite(lr0))) bad(`learningRate must be a positive number, got ${lr0}.`);
  if (typeof lr0 === "function" && kind === "adam") bad("a learning-rate schedule needs optimizer \"momentum\" (Adam adapts its own step sizes).");
  if (!(mu >= 0 && mu < 1)) bad(`momentum must be in [0, 1), got ${mu}.`);
  if (!(wd >= 0)) bad(`weightDecay must be ≥ 0, got ${wd}.`);
  if (!Number.isInteger(patience) || patience < 1) bad(`patience must be a positive integer, got ${patience}.`);
  if (!Number.isInteger(freezeEpochs) || freezeEpochs < 0) bad(`freezeEpochs must be an integer ≥ 0, got ${freezeEpochs}.`);
  const d0 = mlp.layers[0].W.shape[0];
  const nClasses = mlp.layers[mlp.layers.length - 1].W.shape[1];
  for (const ds of [train, ...(opts.validation ? [opts.validation] : [])]) {
    if (dim(ds) !== d0) bad(`${ds.name} has ${dim(ds)} values per row but the MLP takes ${d0}.`);
    for (let i = 0; i < ds.n; i++) if (ds.labels[i] >= nClasses) bad(`label ${ds.labels[i]} at row ${i} of ${ds.name} is outside [0, ${nClasses}); labels must be class indices.`);
  }
  const rateAt = (epoch: number): number => {
    const r = typeof lr0 === "number" ? lr0 : lr0(epoch);
    if (!(r > 0 && Number.isFinite(r))) bad(`the learning-rate schedule returned ${r} at epoch ${epoch}; it must be positive.`);
    return r;
  };
  const baseRate = rateAt(0);
  const rng = toRng(opts.seed ?? 0);
  const vars = mlp.layers.map((l) => ({ W: tf.variable(l.W, true), b: tf.variable(l.b, true) })); // share the data until the first update
  const optimizer = kind === "adam" ? tf.train.adam(baseRate) : tf.train.momentum(baseRate, mu);
  const snapshot = (): MLP => ({ layers: vars.map((v) => ({ W: v.W.clone() as tf.Tensor2D, b: v.b.clone() as tf.Tensor1D })) });
  let best: MLP | undefined;
  let bestEpoch = -1;
  let bestVal = Infinity;
  let bestValLoss = Infinity;
  let stoppedEarly = false;
  const history: FineTuneRecord[] = [];
  const nBatches = Math.ceil(train.n / B);
  const bar = barFor(opts.progress, epochs * nBatches, "backprop", "batch");
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const lr = rateAt(epoch);
      const scale = lr / baseRate; // schedules scale the gradient (momentum form Δ ← μΔ + ε_t ∇)
      const frozen = epoch < freezeEpochs;
      const t0 = performance.now();
      const maybeYield = eventLoopYielder();
      let lossSum = tf.scalar(0);
      let wrongSum = tf.scalar(0);
      for (const batch of batches(train, B, { seed: rng, oneHot: nClasses, reuseBuffers: true })) {
        const size = batch.size;
        const out = tf.tidy(() => {
          const x = tf.tensor2d(batch.v, [size, d0]);
          const y = tf.tensor2d(batch.y, [size, nClasses]);
          const layers: DenseLayer[] = vars.map((v) => ({ W: v.W as tf.Tensor2D, b: v.b as tf.Tensor1D }));
          const masks = layers.map((l, i) => {
            const p = i === 0 ? pIn : pHid;
            return p > 0 ? dropoutMask([size, l.W.shape[0]], p, rng) : undefined;
          });
          const g = mlpGradients({ layers }, x, y, { masks, scale, fromLayer: frozen ? layers.length - 1 : 0 });
          const grads: { name: string; tensor: tf.Tensor }[] = [];
          for (let l = 0; l < layers.length; l++) {
            // Frozen layers (warm-up) get zero gradients, which keep the optimizer's per-variable state aligned.
            let gW: tf.Tensor = g.dW[l] ?? tf.zerosLike(layers[l].W);
            if (wd > 0 && g.dW[l]) gW = tf.add(gW, tf.mul(layers[l].W, wd * scale));
            grads.push({ name: vars[l].W.name, tensor: gW }, { name: vars[l].b.name, tensor: g.db[l] ?? tf.zerosLike(layers[l].b) });
          }
          optimizer.applyGradients(grads);
          return { loss: tf.add(lossSum, g.loss) as tf.Scalar, wrong: tf.add(wrongSum, g.wrong) as tf.Scalar };
        });
        tf.dispose([lossSum, wrongSum]);
        lossSum = out.loss;
        wrongSum = out.wrong;
        bar?.tick(1, { epoch: epoch + 1 });
        await maybeYield();
      }
      const seconds = (performance.now() - t0) / 1000;
      const trainLoss = lossSum.dataSync()[0] / train.n;
      const trainError = wrongSum.dataSync()[0] / train.n;
      tf.dispose([lossSum, wrongSum]);
      if (!Number.isFinite(trainLoss)) bad(`the loss became ${trainLoss} in epoch ${epoch}: training diverged; lower the learning rate (e.g. ÷10).`);
      const current: MLP = { layers: vars.map((v) => ({ W: v.W as tf.Tensor2D, b: v.b as tf.Tensor1D })) };
      const val = opts.validation ? evaluateMLP(current, opts.validation) : undefined;
      const record: FineTuneRecord = { epoch, seconds, learningRate: lr, trainLoss, trainError, valLoss: val ? val.loss : NaN, valError: val ? val.error : NaN };
      history.push(record);
      bar?.tick(0, { epoch: epoch + 1, loss: Number(trainLoss.toPrecision(4)), ...(val ? { valError: Number(val.error.toPrecision(3)) } : {}) });
      const improved = !val || val.error < bestVal || (val.error === bestVal && val.loss < bestValLoss);
      if (improved) {
        if (best) disposeMLP(best);
        best = snapshot();
        bestEpoch = epoch;
        if (val) {
          bestVal = val.error;
          bestValLoss = val.loss;
        }
      }
      await opts.onEpoch?.(record, current);
      if (val && epoch - bestEpoch >= patience && epoch < epochs - 1) {
        stoppedEarly = true;
        break;
      }
    }
  } catch (e) {
    if (best) disposeMLP(best);
    throw e;
  } finally {
    bar?.done();
    optimizer.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose() forgets the learning-rate scalar of its SGD base class.
    if (kind === "momentum") (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
    for (const v of vars) tf.dispose([v.W, v.b]);
  }
  return { mlp: best as MLP, history, bestEpoch, stoppedEarly };
}
