/**
 * rbm-notebooks: a small typed library of RBM / DBN / Gibbs helpers on TensorFlow.js.
 * Import it in a notebook with `import * as rbmlib from "./lib/index"` (see environment.md).
 *
 * Files by concept: backend (which TF.js backend runs), random (seeded numbers), rbm (energy,
 * free energy, conditionals), sampling (block Gibbs), exact (enumeration for tiny models),
 * train (CD-k / PCD), data (MNIST), plot / table / progress / display (seeing the model).
 */
export * from "./compute/backend";
export * from "./core/random";
export * from "./core/rbm";
export * from "./core/units";
export * from "./core/numerics";
export * from "./core/sampling";
export * from "./core/exact";
export * from "./eval/metrics";
export * from "./eval/ais";
export * from "./eval/bounds";
export * from "./io/checkpoint";
export * from "./train/cd";
export * from "./eval/softmax";
export * from "./dbn/model";
export * from "./dbn/finetune";
export * from "./io/data";
export * from "./view/display";
export * from "./view/plot";
export * from "./view/table";
export * from "./view/progress";
