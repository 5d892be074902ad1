/**
 * rbm-notebooks: a small typed library of RBM / DBN / Gibbs helpers on TensorFlow.js.
 * Import it in a notebook with `import * as rbmlib from "./lib/index"` (see environment.md).
 *
 * Files by concept: backend (which TF.js backend runs), random (seeded numbers), rbm (energy,
 * free energy, conditionals), sampling (block Gibbs), exact (enumeration for tiny models),
 * train (CD-k / PCD), data (MNIST), plot / table / progress / display (seeing the model).
 */
export * from "./backend";
export * from "./random";
export * from "./rbm";
export * from "./sampling";
export * from "./exact";
export * from "./metrics";
export * from "./ais";
export * from "./bounds";
export * from "./io";
export * from "./train";
export * from "./classify";
export * from "./dbn";
export * from "./finetune";
export * from "./data";
export * from "./display";
export * from "./plot";
export * from "./table";
export * from "./progress";
