/**
 * rbm-notebooks: the public API of a small typed library of RBMs and DBNs on TensorFlow.js.
 * In a notebook: `import * as rbmlib from "./lib/index"` (see environment.md).
 *
 * lib/ is organised by concept, a folder a room; each room imports only the rooms above it here:
 *
 *   compute/  which TensorFlow.js backend runs, and the native OpenBLAS matMul behind wasm
 *   core/     seeded random numbers, float64 numerics, logistic units and their samples, the RBM
 *             (energy, free energy, conditionals), block Gibbs chains, exact enumeration of tiny
 *             models and the exact analysis of their chains (mixing)
 *   io/       data (MNIST, Fashion-MNIST, batches), the safetensors codec, model files, durable writes
 *   view/     inline pictures, charts, tables and progress bars
 *   eval/     how good a model is: metrics and monitors, AIS, RAISE, guaranteed bounds, the trust
 *             bracket, a softmax probe of features
 *   train/    the one epoch loop, and CD-k / PCD-k as its stepper
 *   dbn/      deep belief networks: the model, greedy pretraining with the label-joined top RBM,
 *             passes, the variational bound, classification, generation, up-down, the MLP and backprop
 *
 * What is not exported here (the annealing engine's internals, option resolution, file-format
 * plumbing, …) is internal: import it from its file only inside lib/ and the tests.
 */

// compute: the backend
export { type BackendInfo, type BackendName, backendInfo, type InitBackendOptions, initBackend, summaryLine } from "./compute/backend";
export { type NativeBlasStatus, nativeBlasEnabled } from "./compute/blas";
export {
  allBinaryStates,
  type ExactMarginal,
  exactHiddenMarginal,
  exactLogLikelihoodGradient,
  exactLogProb,
  exactLogZ,
  exactModelExpectations,
  exactVisibleMarginal,
  MAX_ENUMERATION_BITS,
} from "./core/exact";
export {
  type ExactAutocorrelation,
  type ExactAutocorrelationOptions,
  empiricalDistribution,
  evolveDistribution,
  exactAutocorrelation,
  gibbsKernel,
  type SampledAutocorrelationOptions,
  sampledAutocorrelation,
  sampleStates,
  secondEigenvalue,
  stateIndices,
  stateVectors,
  stepDistribution,
  tvDistance,
} from "./core/mixing";
export { logSigmoid64, logSumExp, sigmoid64, softplus64 } from "./core/numerics";
// core: numbers, units, the RBM, sampling, exact enumeration
export { Rng, type Seed, toRng } from "./core/random";
export {
  assertFiniteRBM,
  assertHidden,
  assertRBMShapes,
  assertVisible,
  cloneRBM,
  disposeRBM,
  energy,
  freeEnergy,
  hiddenFeatures,
  hiddenFreeEnergy,
  hiddenProbs,
  type InitOptions,
  initRBM,
  makeRBM,
  type RBM,
  randomRBM,
  rbmSize,
  visibleProbs,
} from "./core/rbm";
export { type ChainOptions, type ChainResult, type GibbsStep, gibbsChain, gibbsHVH, gibbsVHV } from "./core/sampling";
export { sampleBernoulli, sampleSoftmaxGroup, sigmoidLayer } from "./core/units";
export { type DBNBound, exactDBNBound } from "./dbn/bound";
export {
  DBN_FORMAT,
  DBN_VERSION,
  type DBNFileInfo,
  loadDBN,
  loadMLP,
  MLP_FORMAT,
  type SaveDBNOptions,
  saveDBN,
  saveMLP,
} from "./dbn/checkpoint";
export { classifyDBN, type DBNClassification, labelLogProbs } from "./dbn/classify";
export { type FineTuneOptions, type FineTuneRecord, type FineTuneResult, fineTuneMLP } from "./dbn/finetune";
export { type GenerateOptions, type GenerateResult, generateDBN } from "./dbn/generate";
export { type JointEpochRecord, type JointTrainOptions, trainJointRBM } from "./dbn/joint";
export {
  cloneMLP,
  confusionMatrix,
  type DenseLayer,
  dbnToMLP,
  disposeMLP,
  dropoutMask,
  type Evaluation,
  evaluateMLP,
  type MLP,
  type MLPGradients,
  type MLPInitOptions,
  mlpGradients,
  mlpProbs,
  mlpSizes,
  randomMLP,
} from "./dbn/mlp";
// dbn: deep belief networks
export {
  assertDBN,
  assertLayerSizes,
  cloneDBN,
  type DBN,
  disposeDBN,
  type GenerativeLayer,
  stackRBMs,
  transposeRBM,
  untieDBN,
} from "./dbn/model";
export { dbnDownPass, dbnUpPass, type UpPassOptions, upPass } from "./dbn/passes";
export { type LayerInfo, type PretrainOptions, type PretrainResult, type Propagation, pretrainDBN } from "./dbn/pretrain";
export { type TopPCDOptions, tuneTopPCD, type UpDownOptions, type UpDownRecord, upDownFineTune } from "./dbn/updown";
export { type AISLogLikelihood, type AISOptions, aisLogLikelihood, annealedLogZ, annealedLogZBases } from "./eval/ais";
export { type AISBase, type AISResult, type AnnealOptions, aisBetas, baseRateVisibleBias, SM_N_BETAS } from "./eval/anneal";
export { type HardLogZBound, hardLogZLowerBound, type MeanFieldBound, meanFieldLogZLower } from "./eval/bounds";
// eval: how good is the model?
export {
  type ExactLogLikelihoodOptions,
  type ExactPseudoLikelihoodOptions,
  exactLogLikelihood,
  exactPseudoLikelihood,
  type FreeEnergyGap,
  type FreeEnergyGapOptions,
  type FreeEnergyOptions,
  freeEnergyGap,
  meanFreeEnergy,
  type PseudoLikelihoodOptions,
  pseudoLikelihood,
  type ReconstructionError,
  type ReconstructionOptions,
  reconstructionError,
} from "./eval/metrics";
export { type ModelSamples, type ModelSamplesOptions, sampleModel } from "./eval/model-samples";
export { type MonitorData, standardMonitors } from "./eval/monitors";
export { type PlantModeOptions, plantMode } from "./eval/plant-mode";
export { type RAISEOptions, type RAISEResult, raiseLogZ } from "./eval/raise";
export { accuracy, predictSoftmax, type Softmax, type SoftmaxOptions, trainSoftmax } from "./eval/softmax";
export { negFreeEnergies, negHiddenFreeEnergies, VisitedStates } from "./eval/states";
export { type BaseEstimate, type BaseName, type TrustOptions, type TrustworthyLogLikelihood, trustworthyLogLikelihood } from "./eval/trust";
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointData,
  disposeCheckpoint,
  type LoadCheckpointOptions,
  loadCheckpoint,
  rbmFromTensors,
  rbmToTensors,
  type SaveCheckpointOptions,
  saveCheckpoint,
} from "./io/checkpoint";
// io: data and files
export {
  type Batch,
  type BatchOptions,
  batches,
  binarize,
  type Dataset,
  dim,
  FASHION_MNIST_DIR,
  firstN,
  type LoadOptions,
  loadMnist,
  mnistDir,
  oneHot,
  permutation,
  selectRows,
  splitValidation,
  stratifiedSubset,
  toTensor,
  type VisibleData,
} from "./io/data";
export {
  type Dtype,
  decodeSafetensors,
  encodeSafetensors,
  type JsonObject,
  type JsonValue,
  loadSafetensors,
  type OverwritePolicy,
  type SafeTensor,
  type SafeTensorInput,
  type Safetensors,
  type SaveOptions,
  safeToTensor,
  saveSafetensors,
  tensorToSafe,
} from "./io/safetensors";
export { type EpochRecord, type TrainOptions, type TrainResult, trainRBM } from "./train/cd";
// train: the loop and CD-k / PCD-k
export { type HistoryRecord, type LoopOptions, runEpochs, type Stepper, TrainingDivergedError } from "./train/loop";
export { barChart, figureBundle, heatmap, histogram, type LiveChart, lineChart, liveChart, showFigure } from "./view/charts";
// view: pictures, charts, tables, progress
export {
  type DisplayHandle,
  type DisplaySink,
  displayBundle,
  inNotebook,
  type MimeBundle,
  newDisplay,
  setDisplaySink,
} from "./view/display";
export {
  type Axis,
  type BarTrace,
  type ChartOptions,
  type ColorscaleName,
  type Figure,
  type HeatmapTrace,
  type Layout,
  type LineTrace,
  PALETTE,
  type Trace,
} from "./view/figure";
export { type GrayImage, type GridOptions, type GridScale, gridPng, type Images, imageGrid, showImages, upscale } from "./view/images";
export { formatDuration, type ProgressBar, type ProgressInfo, type ProgressMode, type ProgressOptions, progressBar } from "./view/progress";
export { figureSvg } from "./view/svg";
export { historyTable, type Row, saveCsv, showTable, type Table, type TableOptions, tableHtml, tableText, toCsv } from "./view/table";
