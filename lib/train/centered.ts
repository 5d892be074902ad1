/**
 * Centered PCD (Melchior, Fischer & Wiskott 2016) with an optional parallel-tempering negative
 * phase (Desjardins et al. 2010), as one more {@link Stepper} of the epoch loop.
 *
 * The model is kept as the plain RBM (W, b, c) it is equivalent to (core/centered.ts); the offsets
 * μ, λ and the momentum increments live in the training state, in centered coordinates. One update
 * on a batch v of B rows, with ε the learning rate and ν the offsets' sliding factor:
 *
 *   posPhase:  p(h|v) = σ(vW + c)
 *   negPhase:  k Gibbs steps of the persistent chains (PCD), or k steps of parallel tempering whose
 *              β = 1 chains give (ṽ, p(h|ṽ))
 *   ΔW_c = μ_m ΔW_c + ε(⟨(v − μ)(h − λ)ᵀ⟩_data − ⟨(v − μ)(h − λ)ᵀ⟩_model − λ_wd W)
 *   Δb_c = μ_m Δb_c + ε(⟨v⟩_data − ⟨v⟩_model),  Δc_c = μ_m Δc_c + ε(⟨h⟩_data − ⟨h⟩_model)
 *   in plain coordinates: W += ΔW_c, b += Δb_c − ΔW_c λ, c += Δc_c − ΔW_cᵀ μ
 *   offsets: μ ← (1 − ν)μ + ν⟨v⟩_batch, λ ← (1 − ν)λ + ν⟨p(h|v)⟩_batch (the plain model does not move)
 *
 * With centering off (μ = λ = 0) this is plain PCD, or plain parallel tempering. The extra cost over
 * trainRBM's PCD is two matrix-vector products per batch, plus the tempered chains when tempering.
 */
import * as tf from "@tensorflow/tfjs";
import { temperingBuffers } from "../compute/blas";
import { columnSums, transposeIsFree } from "../compute/ops";
import { centeredGradient } from "../core/centered";
import { toRng } from "../core/random";
import { assertFiniteRBM, disposeRBM, type RBM, rbmSize } from "../core/rbm";
import { disposeTempering, startTempering, swapRates, type TemperingOptions, type TemperingState, temperingStep } from "../core/tempering";
import { sampleBernoulli, sigmoidLayer, sigmoidLayerAT, UniformSource } from "../core/units";
import { assertDataset, type Dataset, dim, visibleRows } from "../io/data";
import { type CDState, cdLoop, cdModelOf, cdSchedule, type EpochRecord, resolveTrainOptions, startCDState, type TrainOptions } from "./cd";
import { FusedCD, fusedCDApplies, fusedRBMStepper } from "./cd-native";
import { runEpochs, type Stepper } from "./loop";

/** Options of {@link trainCenteredRBM}: those of trainRBM (always persistent; no sparsity penalty) and the two methods'. */
export interface CenteredTrainOptions extends Omit<TrainOptions, "persistent" | "sparsityTarget" | "sparsityCost" | "sampleVisible"> {
  /**
   * Centering: false for none (plain PCD / PT), or the sliding factor ν of the offsets (default
   * { slidingFactor: 0.01 }, Melchior et al.'s setting). μ starts at the data mean, λ at 0.5.
   */
  centering?: false | { slidingFactor?: number };
  /** Parallel tempering as the negative phase (undefined: PCD). Its chainsPerTemperature defaults to nChains, then 10. */
  tempering?: TemperingOptions;
}

/** Result of {@link trainCenteredRBM}. */
export interface CenteredTrainResult {
  /** The trained model as a plain RBM (new tensors). */
  rbm: RBM;
  history: EpochRecord[];
  /** The final offsets μ `[nVisible]` and λ `[nHidden]` (zeros without centering). */
  offsets: { mu: Float32Array; lambda: Float32Array };
  /** Tempering: the swap acceptance rates between neighbouring temperatures over the whole run `[M − 1]`. */
  swapRates?: number[];
}

interface State extends CDState {
  mu: tf.Tensor1D;
  lambda: tf.Tensor1D;
  pt?: TemperingState;
}

/** The negative phase of one update: ṽ `[nNeg, nVisible]` and p(h|ṽ) `[nNeg, nHidden]` (caller disposes). */
function negativePhase(s: State, WT: tf.Tensor2D | undefined, k: number, noise: UniformSource): { v: tf.Tensor2D; h: tf.Tensor2D } {
  const rbm = { W: s.W, b: s.b, c: s.c };
  if (s.pt) {
    let cold = temperingStep(rbm, WT, s.pt, noise);
    for (let step = 1; step < k; step++) {
      tf.dispose([cold.v, cold.hProbs]);
      cold = temperingStep(rbm, WT, s.pt, noise);
    }
    return { v: cold.v, h: cold.hProbs };
  }
  const out = tf.tidy(() => {
    let hStates = s.chains as tf.Tensor2D;
    let v = hStates;
    let hProbs = hStates;
    for (let step = 0; step < k; step++) {
      v = sampleBernoulli(WT ? sigmoidLayer(hStates, WT, s.b) : sigmoidLayerAT(hStates, s.W, s.b), noise);
      hProbs = sigmoidLayer(v, s.W, s.c);
      hStates = sampleBernoulli(hProbs, noise);
    }
    return { v, h: hProbs, chains: hStates };
  });
  s.chains?.dispose();
  s.chains = out.chains;
  return { v: out.v, h: out.h };
}

/** One centered update on the batch v `[B, nVisible]` (see the file comment); replaces the tensors of `s`. */
function centeredUpdate(
  s: State,
  v: tf.Tensor2D,
  k: number,
  wd: number,
  nu: number,
  noise: UniformSource,
  lr: number,
  momentum: number,
): void {
  const B = v.shape[0];
  // Wᵀ once per batch only for the stock wasm kernels; elsewhere W is read with a transpose flag.
  const WT = transposeIsFree() ? undefined : (tf.transpose(s.W) as tf.Tensor2D);
  const neg = negativePhase(s, WT, k, noise);
  const next = tf.tidy(() => {
    const posH = sigmoidLayer(v, s.W, s.c);
    const g = centeredGradient({ v, h: posH, weight: lr / B }, { v: neg.v, h: neg.h, weight: lr / neg.v.shape[0] }, s.mu, s.lambda);
    let dW: tf.Tensor2D = wd > 0 ? tf.sub(g.dW, tf.mul(s.W, lr * wd)) : g.dW;
    let db: tf.Tensor1D = g.db;
    let dc: tf.Tensor1D = g.dc;
    if (momentum > 0) {
      dW = tf.add(tf.mul(s.dW, momentum), dW);
      db = tf.add(tf.mul(s.db, momentum), db);
      dc = tf.add(tf.mul(s.dc, momentum), dc);
    }
    // Centered step → plain coordinates: b_plain = b_c − Wλ, c_plain = c_c − Wᵀμ.
    const bShift = tf.squeeze(tf.matMul(dW, tf.reshape(s.lambda, [-1, 1])), [1]);
    const cShift = tf.squeeze(tf.matMul(tf.reshape(s.mu, [1, -1]), dW), [0]);
    const mu = nu > 0 ? tf.add(tf.mul(s.mu, 1 - nu), tf.mul(columnSums(v), nu / B)) : s.mu.clone();
    const lambda = nu > 0 ? tf.add(tf.mul(s.lambda, 1 - nu), tf.mul(columnSums(posH), nu / B)) : s.lambda.clone();
    return {
      W: tf.add(s.W, dW) as tf.Tensor2D,
      b: tf.add(s.b, tf.sub(db, bShift)) as tf.Tensor1D,
      c: tf.add(s.c, tf.sub(dc, cShift)) as tf.Tensor1D,
      dW,
      db,
      dc,
      mu: mu as tf.Tensor1D,
      lambda: lambda as tf.Tensor1D,
    };
  });
  tf.dispose([...(WT ? [WT] : []), neg.v, neg.h, s.W, s.b, s.c, s.dW, s.db, s.dc, s.mu, s.lambda]);
  Object.assign(s, next);
}

/** The chains' start: hidden samples of `count` random training rows (Tieleman's PCD). */
function startChains(data: Dataset, nVisible: number, count: number, W: tf.Tensor2D, c: tf.Tensor1D, noise: UniformSource): tf.Tensor2D {
  const start = new Float32Array(count * nVisible);
  for (let r = 0; r < count; r++) {
    const i = noise.rng.int(data.n);
    start.set(data.images.subarray(i * nVisible, (i + 1) * nVisible), r * nVisible);
  }
  return tf.tidy(() => sampleBernoulli(sigmoidLayer(tf.tensor2d(start, [count, nVisible]), W, c), noise));
}

/** The data's pixel means `[nVisible]` (the visible offset's start). */
function dataMean(data: Dataset, nVisible: number): Float32Array {
  const m = new Float64Array(nVisible);
  for (let r = 0; r < data.n; r++) for (let i = 0; i < nVisible; i++) m[i] += data.images[r * nVisible + i];
  return Float32Array.from(m, (x) => x / data.n);
}

/**
 * Trains an RBM with centered PCD-k, or with parallel tempering as the negative phase, or both
 * (see the file comment and {@link CenteredTrainOptions}). The input `rbm` (plain) is left untouched;
 * the result is the plain RBM it converts to, so every evaluation, file and plot works unchanged.
 * @param data images in [0, 1], `[n, nVisible]` as a {@link Dataset}
 */
export async function trainCenteredRBM(rbm: RBM, data: Dataset, opts: CenteredTrainOptions = {}): Promise<CenteredTrainResult> {
  const what = "trainCenteredRBM";
  assertFiniteRBM(rbm, what);
  assertDataset(data, what);
  let o: ReturnType<typeof resolveTrainOptions>;
  try {
    o = resolveTrainOptions({ ...opts, persistent: true, nChains: opts.tempering ? undefined : opts.nChains }, data.n);
  } catch (e) {
    throw new Error((e as Error).message.replace(/^trainRBM:/, `${what}:`));
  }
  const nu = opts.centering === false ? 0 : (opts.centering?.slidingFactor ?? 0.01);
  if (!(nu >= 0 && nu <= 1)) throw new Error(`${what}: centering.slidingFactor must be in [0, 1], got ${nu}; 0.01 is Melchior et al.'s.`);
  const { nVisible, nHidden } = rbmSize(rbm);
  if (dim(data) !== nVisible) throw new Error(`${what}: the data has ${dim(data)} values per row but the RBM has nVisible = ${nVisible}.`);
  visibleRows(data, nVisible, `${what}: data ${data.name}`);
  const rng = toRng(o.seed, what);
  const noise = new UniformSource(rng);
  const centered = opts.centering !== false;
  const s: State = {
    ...startCDState(rbm),
    mu: centered ? tf.tensor1d(dataMean(data, nVisible)) : (tf.zeros([nVisible]) as tf.Tensor1D),
    lambda: tf.fill([nHidden], centered ? 0.5 : 0) as tf.Tensor1D,
  };
  if (opts.tempering) {
    const n = opts.tempering.chainsPerTemperature ?? opts.nChains ?? 10;
    const h0 = startChains(data, nVisible, n, s.W, s.c, noise);
    s.pt = startTempering(rbm, h0, { ...opts.tempering, chainsPerTemperature: n });
    h0.dispose();
  } else {
    s.chains = startChains(data, nVisible, o.nChains ?? o.batchSize, s.W, s.c, noise);
  }
  const rates = cdSchedule(o);
  const label = `${centered ? "centered " : ""}${opts.tempering ? "PT" : "PCD"}-${o.k}`;
  if (fusedCDApplies({ sparsityTarget: undefined })) {
    // The same update in one native call per batch (lib/train/cd-native.ts), from the same state:
    // bit for bit without tempering; with it, the same sampler in distribution (native/blas/tempering.c).
    const pt = s.pt && temperingBuffers(s.pt.betas, s.pt.n, nVisible, nHidden, s.pt.h.dataSync() as Float32Array, s.pt.base);
    const offsets = { mu: s.mu.dataSync() as Float32Array, lambda: s.lambda.dataSync() as Float32Array, slidingFactor: nu };
    const fused = new FusedCD(rbm, o, s.chains?.dataSync() as Float32Array | undefined, offsets, pt);
    tf.dispose([s.W, s.b, s.c, s.dW, s.db, s.dc, s.errSum, ...(s.chains ? [s.chains] : []), s.mu, s.lambda]);
    if (s.pt) disposeTempering(s.pt);
    const base = fusedRBMStepper(fused, rates, o.persistent, data.n, rng);
    const swaps = pt && swapRecorder(pt);
    const stepper: Stepper<RBM, EpochRecord> = swaps ? { ...base, endEpoch: (epoch) => ({ ...base.endEpoch(epoch), ...swaps() }) } : base;
    const history = await runEpochs(stepper, data, cdLoop<EpochRecord>(o, rng, label, what));
    const cen = fused.centered as NonNullable<FusedCD["centered"]>;
    return {
      rbm: fused.takeModel(),
      history,
      offsets: { mu: cen.mu.slice(), lambda: cen.lambda.slice() },
      swapRates: pt && swapRates(pt),
    };
  }
  const swaps = s.pt && swapRecorder(s.pt);
  const stepper: Stepper<RBM, EpochRecord> = {
    ...cdModelOf(() => s),
    startEpoch: rates.startEpoch,
    update: (batch) => {
      const v = tf.tensor2d(batch.v, [batch.size, nVisible]);
      centeredUpdate(s, v, o.k, o.weightDecay, nu, noise, rates.lr, rates.momentum);
      v.dispose();
    },
    endEpoch: () => ({ trainRecon: NaN, ...swaps?.() }),
    free: (all) => {
      if (!all) {
        offsets = { mu: s.mu.dataSync().slice() as Float32Array, lambda: s.lambda.dataSync().slice() as Float32Array };
        finalRates = s.pt ? swapRates(s.pt) : undefined;
      }
      tf.dispose([s.dW, s.db, s.dc, s.errSum, s.chains, s.mu, s.lambda].filter((t) => t !== undefined) as tf.Tensor[]);
      if (s.pt) disposeTempering(s.pt);
      if (all) disposeRBM({ W: s.W, b: s.b, c: s.c });
    },
  };
  let offsets = { mu: new Float32Array(nVisible), lambda: new Float32Array(nHidden) };
  let finalRates: number[] | undefined;
  const history = await runEpochs(stepper, data, cdLoop<EpochRecord>(o, rng, label, what));
  return { rbm: { W: s.W, b: s.b, c: s.c }, history, offsets, swapRates: finalRates };
}

/**
 * The per-epoch swap record of a tempering state (running counts `accepted`, `proposed` per pair):
 * each call returns the epoch's overall swap rate since the previous call and the lowest pair rate
 * so far.
 */
function swapRecorder(pt: Pick<TemperingState, "accepted" | "proposed">): () => { swapRate: number; swapMin: number } {
  const seen = { accepted: 0, proposed: 0 };
  return () => {
    const accepted = pt.accepted.reduce((a, b) => a + b, 0);
    const proposed = pt.proposed.reduce((a, b) => a + b, 0);
    const swapRate = (accepted - seen.accepted) / (proposed - seen.proposed);
    Object.assign(seen, { accepted, proposed });
    return { swapRate, swapMin: Math.min(...swapRates(pt)) };
  };
}
