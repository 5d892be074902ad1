/**
 * rbm-notebooks: the public API of a small typed library of RBMs and DBNs on TensorFlow.js.
 * In a notebook: `import * as rbmlib from "./lib/index"` (see environment.md).
 *
 * lib/ is organised by concept, a folder a room; each room imports only the rooms above it here:
 *
 *   compute/  which TensorFlow.js backend runs, and the native OpenBLAS matMul behind wasm
 *   core/     seeded random numbers, float64 numerics, logistic units and their samples, the RBM
 *             (energy, free energy, conditionals), the Gaussian–Bernoulli RBM and its exact log Z,
 *             block Gibbs chains, the centered parametrisation, parallel tempering, exact enumeration
 *             of tiny models and the exact analysis of their chains (mixing)
 *   io/       data (MNIST, Fashion-MNIST, batches, standardisation), the safetensors codec, model files, durable writes,
 *             the chapters' parameters (validated environment overrides)
 *   view/     inline pictures, charts, tables and progress bars, the interactive model widget
 *   eval/     how good a model is: metrics and monitors, AIS, RAISE, guaranteed bounds, the trust
 *             bracket, a softmax probe of features, inpainting and denoising measures
 *   train/    the one epoch loop, and CD-k / PCD-k (binary and Gaussian–Bernoulli) and centered PCD / parallel tempering as its steppers, and iterate averaging
 *   dbn/      deep belief networks: the model, greedy pretraining with the label-joined top RBM,
 *             passes, the variational bound, classification, generation, inpainting, up-down, the MLP and backprop
 *
 * What is not exported here (the annealing engine's internals, option resolution, file-format
 * plumbing, …) is internal: import it from its file only inside lib/ and the tests.
 */
// biome-ignore-all assist/source/organizeImports: the exports are grouped by folder in the order of the layers above, not alphabetically

// compute: the backend
export { type BackendInfo, type BackendName, type InitBackendOptions, backendInfo, initBackend, summaryLine } from "./compute/backend";
export { type NativeBlasStatus, nativeBlasEnabled } from "./compute/blas";

// core: numbers, units, the RBM, sampling, exact enumeration
export { Rng, type Seed, toRng } from "./core/random";
export { logSigmoid64, logSumExp, sigmoid64, softplus64 } from "./core/numerics";
export { sampleBernoulli, sampleGaussian, sampleSoftmaxGroup, sigmoidLayer, sigmoidLayerAT } from "./core/units";
export {
  type InitOptions,
  type RBM,
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
  initRBM,
  makeRBM,
  randomRBM,
  rbmSize,
  visibleProbs,
} from "./core/rbm";
export {
  type GaussianChainOptions,
  type GaussianInitOptions,
  type GaussianRBM,
  assertFiniteGaussianRBM,
  assertGaussianShapes,
  cloneGaussianRBM,
  disposeGaussianRBM,
  gaussianEnergy,
  gaussianFreeEnergy,
  gaussianGibbsChain,
  gaussianHiddenFeatures,
  gaussianHiddenFreeEnergy,
  gaussianHiddenInput,
  gaussianHiddenProbs,
  gaussianSize,
  gaussianVisibleMean,
  initGaussianRBM,
  makeGaussianRBM,
  sampleGaussianVisible,
  visibleSigma,
} from "./core/gaussian";
export {
  type GaussianGradient,
  MAX_GAUSSIAN_HIDDEN_BITS,
  gaussianExactGradient,
  gaussianExactLogLikelihood,
  gaussianExactLogZ,
  gaussianMeanFreeEnergy,
} from "./core/gaussian-exact";
export {
  type ChainOptions,
  type ChainResult,
  type Clamp,
  type ClampedChainOptions,
  type ClampedChainResult,
  type ClampedStepOptions,
  type GibbsStep,
  applyClamp,
  clampedGibbsChain,
  clampedGibbsStep,
  gibbsChain,
  gibbsHVH,
  gibbsVHV,
} from "./core/sampling";
export {
  type CenteredRBM,
  type Phase,
  centeredEnergy,
  centeredGradient,
  centeredToPlain,
  disposeCentered,
  plainToCentered,
  shiftOffsets,
} from "./core/centered";
export {
  type ColdChains,
  type ParallelTemperingOptions,
  type ParallelTemperingResult,
  type TemperingOptions,
  type TemperingState,
  disposeTempering,
  parallelTempering,
  startTempering,
  swapOrder,
  swapRates,
  temperatureLadder,
  temperingStep,
} from "./core/tempering";
export {
  type ExactMarginal,
  MAX_ENUMERATION_BITS,
  allBinaryStates,
  exactHiddenMarginal,
  exactLogLikelihoodGradient,
  exactLogProb,
  exactLogZ,
  exactModelExpectations,
  exactVisibleMarginal,
} from "./core/exact";
export {
  type ExactAutocorrelation,
  type ExactAutocorrelationOptions,
  type SampledAutocorrelationOptions,
  empiricalDistribution,
  evolveDistribution,
  exactAutocorrelation,
  gibbsKernel,
  sampleStates,
  sampledAutocorrelation,
  secondEigenvalue,
  stateIndices,
  stateVectors,
  stepDistribution,
  tvDistance,
} from "./core/mixing";
export { type ParameterUpdate, compareUpdates, exactCDUpdates, updateNorm } from "./core/cd-exact";

// io: data and files
export {
  type Batch,
  type BatchOptions,
  type Dataset,
  FASHION_MNIST_DIR,
  type LoadOptions,
  type VisibleData,
  batches,
  binarize,
  dim,
  firstN,
  loadMnist,
  mnistDir,
  oneHot,
  permutation,
  selectRows,
  splitValidation,
  stratifiedSubset,
  toTensor,
} from "./io/data";
export {
  type Dtype,
  type JsonObject,
  type JsonValue,
  type OverwritePolicy,
  type SafeTensor,
  type SafeTensorInput,
  type Safetensors,
  type SaveOptions,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  safeToTensor,
  saveSafetensors,
  tensorToSafe,
} from "./io/safetensors";
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointData,
  type LoadCheckpointOptions,
  type SaveCheckpointOptions,
  disposeCheckpoint,
  loadCheckpoint,
  rbmFromTensors,
  rbmToTensors,
  saveCheckpoint,
} from "./io/checkpoint";
export {
  type StandardizeOptions,
  type Standardizer,
  applyStandardizer,
  fitStandardizer,
  logDensityInPixels,
  standardize,
  unstandardize,
} from "./io/standardize";
export {
  GAUSSIAN_FORMAT,
  type GaussianCheckpoint,
  type GaussianCheckpointData,
  loadGaussianCheckpoint,
  saveGaussianCheckpoint,
} from "./io/gaussian-checkpoint";
export {
  activeProfile,
  CHECKPOINTS_VARIABLE,
  checkpointDir,
  type ListParamOptions,
  type NumberParamOptions,
  PROFILE_VARIABLE,
  PROFILES,
  type Profile,
  type ProfileValues,
  ParamError,
  type ParamSource,
  param,
} from "./io/params";

// view: pictures, charts, tables, progress
export {
  type DisplayHandle,
  type DisplaySink,
  type DisplayWriteStats,
  type MimeBundle,
  displayBundle,
  displayWriteStats,
  inNotebook,
  newDisplay,
  setDisplaySink,
} from "./view/display";
export { type GrayImage, type GridOptions, type GridScale, type Images, gridPng, imageGrid, showImages, upscale } from "./view/images";
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
export { type LiveChart, barChart, figureBundle, heatmap, histogram, lineChart, liveChart, showFigure } from "./view/charts";
export { figureSvg } from "./view/svg";
export {
  type AISPathOptions,
  type CdPcdOptions,
  type DBNDiagramOptions,
  type Diagram,
  type GibbsChainOptions,
  type ModelFamilyOptions,
  type RBMDiagramOptions,
  aisPathDiagram,
  cdPcdDiagram,
  dbnDiagram,
  gibbsChainDiagram,
  modelFamilyDiagram,
  rbmDiagram,
  showDiagram,
} from "./view/diagrams";
export { type Row, type Table, type TableOptions, historyTable, saveCsv, showTable, tableHtml, tableText, toCsv } from "./view/table";
export { type ProgressBar, type ProgressInfo, type ProgressMode, type ProgressOptions, formatDuration, progressBar } from "./view/progress";
export { InterruptedError, lastInterrupted, requestInterrupt } from "./view/interrupt";
export { type WidgetModel, type WidgetOptions, showModelWidget, widgetBundle, widgetHtml } from "./view/widget";

// eval: how good is the model?
export {
  type ExactLogLikelihoodOptions,
  type ExactPseudoLikelihoodOptions,
  type FreeEnergyGap,
  type FreeEnergyGapOptions,
  type FreeEnergyOptions,
  type PseudoLikelihoodOptions,
  type ReconstructionError,
  type ReconstructionOptions,
  exactLogLikelihood,
  exactPseudoLikelihood,
  freeEnergyGap,
  meanFreeEnergy,
  pseudoLikelihood,
  reconstructionError,
} from "./eval/metrics";
export { type MonitorData, standardMonitors } from "./eval/monitors";
export { type AISBase, type AISResult, type AnnealOptions, SM_N_BETAS, aisBetas, baseRateVisibleBias } from "./eval/anneal";
export { type AISLogLikelihood, type AISOptions, aisLogLikelihood, annealedLogZ, annealedLogZBases } from "./eval/ais";
export {
  type GaussianAISLogLikelihood,
  gaussianAisLogLikelihood,
  gaussianAnnealedLogZ,
  gaussianRaiseLogLikelihood,
} from "./eval/gaussian-ais";
export { type RAISEOptions, type RAISEResult, raiseLogZ } from "./eval/raise";
export { type ModelSamples, type ModelSamplesOptions, sampleModel } from "./eval/model-samples";
export { type HardLogZBound, type MeanFieldBound, hardLogZLowerBound, meanFieldLogZLower } from "./eval/bounds";
export { VisitedStates, negFreeEnergies, negHiddenFreeEnergies } from "./eval/states";
export { type BaseEstimate, type BaseName, type TrustOptions, type TrustworthyLogLikelihood, trustworthyLogLikelihood } from "./eval/trust";
export { type PlantModeOptions, plantMode } from "./eval/plant-mode";
export { type Softmax, type SoftmaxOptions, accuracy, predictSoftmax, trainSoftmax } from "./eval/softmax";
export {
  type InpaintOptions,
  type InpaintPredictor,
  type InpaintResult,
  type InpaintRow,
  MASK_NAMES,
  type MaskName,
  type MaskOptions,
  type MissingScore,
  compareInpainting,
  denoiseRBM,
  flipPixels,
  inpaintMask,
  inpaintRBM,
  meanImageProbs,
  nearestDigitProbs,
  scoreMissing,
} from "./eval/inpaint";

// train: the loop, CD-k / PCD-k, centered PCD and parallel tempering
export {
  type HistoryRecord,
  type LoopOptions,
  type Stepper,
  TrainingDivergedError,
  TrainingInterruptedError,
  runEpochs,
} from "./train/loop";
export { type EpochRecord, type TrainOptions, type TrainResult, trainRBM } from "./train/cd";
export { type GaussianEpochRecord, type GaussianTrainOptions, type GaussianTrainResult, trainGaussianRBM } from "./train/gaussian";
export { type CenteredTrainOptions, type CenteredTrainResult, trainCenteredRBM } from "./train/centered";
export { ExponentialAverage, RBMAverage } from "./train/averaging";

// dbn: deep belief networks
export {
  type DBN,
  type GaussianPixels,
  type GenerativeLayer,
  assertDBN,
  assertLayerSizes,
  cloneDBN,
  disposeDBN,
  gaussianFirstLayer,
  gaussianInputMap,
  stackRBMs,
  transposeRBM,
  untieDBN,
} from "./dbn/model";
export {
  CheckpointWriteError,
  type GaussianLayerOptions,
  type LayerInfo,
  type PretrainOptions,
  type PretrainPartial,
  type PretrainResult,
  type Propagation,
  pretrainDBN,
} from "./dbn/pretrain";
export { type JointEpochRecord, type JointTrainOptions, trainJointRBM } from "./dbn/joint";
export { type UpPassOptions, dbnDownPass, dbnUpPass, upPass } from "./dbn/passes";
export { type DBNBound, exactDBNBound } from "./dbn/bound";
export { type DBNClassification, classifyDBN, labelLogProbs } from "./dbn/classify";
export { type GenerateOptions, type GenerateResult, generateDBN } from "./dbn/generate";
export { type InpaintDBNOptions, type InpaintDBNResult, inpaintDBN } from "./dbn/inpaint";
export { type TopPCDOptions, type UpDownOptions, type UpDownRecord, tuneTopPCD, upDownFineTune } from "./dbn/updown";
export {
  type DenseLayer,
  type Evaluation,
  type MLP,
  type MLPGradients,
  type MLPInitOptions,
  cloneMLP,
  confusionMatrix,
  dbnToMLP,
  disposeMLP,
  dropoutMask,
  evaluateMLP,
  mlpGradients,
  mlpProbs,
  mlpSizes,
  randomMLP,
} from "./dbn/mlp";
export { type FineTuneOptions, type FineTuneRecord, type FineTuneResult, fineTuneMLP } from "./dbn/finetune";
export {
  DBN_FORMAT,
  DBN_VERSION,
  type DBNFileInfo,
  MLP_FORMAT,
  type SaveDBNOptions,
  loadDBN,
  loadMLP,
  saveDBN,
  saveMLP,
} from "./dbn/checkpoint";
