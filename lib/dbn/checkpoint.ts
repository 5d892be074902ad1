import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { assertFiniteRBM, disposeRBM, type RBM } from "../core/rbm";
import {
  type FileKind,
  jsonMetadata,
  openModelFile,
  rbmFromTensors,
  rbmToTensors,
  readJsonMetadata,
  writeModelFile,
} from "../io/checkpoint";
import { type JsonObject, type JsonValue, type OverwritePolicy, type SafeTensorInput, safeToTensor, tensorToSafe } from "../io/safetensors";
import { type DenseLayer, disposeMLP, type MLP, mlpSizes } from "./mlp";
import { archName, assertDBN, type DBN, type GaussianPixels, type GenerativeLayer, visibleUnits } from "./model";
/** `__metadata__.format` of a DBN checkpoint. */
export const DBN_FORMAT = "rbm-notebooks/dbn";

/** `__metadata__.version` written and read by this library. */
export const DBN_VERSION = "1";

/** The DBN checkpoint as a {@link FileKind}. */
export const DBN_FILE: FileKind = { format: DBN_FORMAT, version: DBN_VERSION, name: "DBN checkpoint" };

/** What a DBN file holds besides the tensors. */
export interface DBNFileInfo {
  /** Per-layer training settings and anything else the writer stored (JSON). */
  hyperparameters: JsonObject;
  /** Per-layer training histories (JSON; NaN/±Infinity kept). */
  histories: JsonValue[];
  /** All metadata strings as stored. */
  metadata: Record<string, string>;
}

/** Everything in a DBN file: a whole DBN, or the finished layers of an interrupted pretraining. */
export interface DBNFileContent extends DBNFileInfo {
  sizes: number[];
  nLabels: number;
  /** The finished RBMs, bottom first (fewer than L in an interrupted pretraining). */
  layers: RBM[];
  generative?: GenerativeLayer[];
  /** The Gaussian pixels of a DBN with a Gaussian first layer (stored once layer 0 is trained). */
  gaussian?: GaussianPixels;
}

/** Writes a DBN file (see {@link saveDBN}); pretraining writes its partial ones with it. */
export function writeDBNFile(
  file: string,
  c: Omit<DBNFileContent, "metadata" | "histories"> & { histories: readonly object[][] | JsonValue[] },
  overwrite: OverwritePolicy,
): void {
  const tensors: Record<string, SafeTensorInput> = {};
  c.layers.forEach((rbm, l) => Object.assign(tensors, rbmToTensors(rbm, `layer${l}.`)));
  (c.generative ?? []).forEach((g, l) => {
    tensors[`generative${l}.W`] = tensorToSafe(g.W, `generative${l}.W`);
    tensors[`generative${l}.b`] = tensorToSafe(g.b, `generative${l}.b`);
  });
  if (c.gaussian) {
    tensors["gaussian.logVar"] = tensorToSafe(c.gaussian.logVar, "gaussian.logVar");
    tensors["gaussian.mean"] = { dtype: "F32", shape: [c.gaussian.mean.length], data: c.gaussian.mean };
    tensors["gaussian.std"] = { dtype: "F32", shape: [c.gaussian.std.length], data: c.gaussian.std };
  }
  const metadata: Record<string, string> = {
    pixels: c.gaussian ? "gaussian" : "binary",
    sizes: JSON.stringify(c.sizes),
    nLabels: String(c.nLabels),
    layersDone: String(c.layers.length),
    untied: c.generative ? "1" : "0",
    ...jsonMetadata({ hyperparameters: c.hyperparameters, histories: c.histories }, `Cannot save ${path.resolve(file)}`),
  };
  writeModelFile(file, DBN_FILE, tensors, metadata, { overwrite });
}

/** Reads a DBN file, checking that its layers chain as far as the file goes (the caller disposes them). */
export function readDBNFile(file: string): DBNFileContent {
  const f = openModelFile(file, DBN_FILE, "DBN checkpoint");
  const { tensors, metadata, source } = f;
  const corrupt = (what: string) => f.fail(what, "the file is corrupt; pick another file");
  let sizes: unknown;
  try {
    sizes = JSON.parse(metadata.sizes ?? "null");
  } catch {
    throw corrupt(`its "sizes" metadata is not valid JSON`);
  }
  if (!Array.isArray(sizes) || !sizes.every((n) => typeof n === "number")) throw corrupt(`its "sizes" metadata is not a list of numbers`);
  const nLabels = Number(metadata.nLabels);
  const done = Number(metadata.layersDone);
  if (!Number.isInteger(nLabels) || !Number.isInteger(done) || done < 0 || done > sizes.length - 1)
    throw corrupt("its layer counts are invalid");
  const { hyperparameters, histories } = readJsonMetadata(f, { hyperparameters: "object", histories: "array" });
  const layers: RBM[] = [];
  const generative: GenerativeLayer[] = [];
  let gaussian: GaussianPixels | undefined;
  const release = () => {
    layers.forEach(disposeRBM);
    generative.forEach((g) => tf.dispose([g.W, g.b]));
    gaussian?.logVar.dispose();
  };
  if (metadata.pixels !== undefined && metadata.pixels !== "binary" && metadata.pixels !== "gaussian")
    throw corrupt(`its "pixels" metadata is ${JSON.stringify(metadata.pixels)}, not "binary" or "gaussian"`);
  try {
    for (let l = 0; l < done; l++) layers.push(rbmFromTensors(tensors, `layer${l}.`, source));
    if (metadata.pixels === "gaussian") {
      const [z, mean, std] = ["logVar", "mean", "std"].map((k) => tensors[`gaussian.${k}`]);
      if (!z || !mean || !std) throw corrupt("it says its pixels are Gaussian but gaussian.logVar, .mean or .std is missing");
      const n0 = (sizes as number[])[0];
      if ([z, mean, std].some((t) => t.shape.length !== 1 || t.shape[0] !== n0))
        throw corrupt(`its gaussian.logVar, .mean and .std must hold ${n0} values each (one per pixel)`);
      const values = (t: typeof z) => Float32Array.from(t.data as ArrayLike<number>);
      gaussian = { logVar: safeToTensor(z) as tf.Tensor1D, mean: values(mean), std: values(std) };
    }
    if (metadata.untied === "1") {
      for (let l = 0; l < sizes.length - 2; l++) {
        const W = tensors[`generative${l}.W`];
        const b = tensors[`generative${l}.b`];
        if (!W || !b) throw corrupt(`generative layer ${l} is missing`);
        generative.push({ W: safeToTensor(W) as tf.Tensor2D, b: safeToTensor(b) as tf.Tensor1D });
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  const content: DBNFileContent = {
    sizes: sizes as number[],
    nLabels,
    layers,
    generative: metadata.untied === "1" ? generative : undefined,
    gaussian,
    hyperparameters: hyperparameters as JsonObject,
    histories: histories as JsonValue[],
    metadata,
  };
  // Shapes must chain as far as the file goes (a corrupt or hand-edited file fails here).
  const bad = layers.findIndex(
    (rbm, l) => rbm.W.shape[0] !== visibleUnits(content.sizes, nLabels, l) || rbm.W.shape[1] !== content.sizes[l + 1],
  );
  const badGen = generative.findIndex(
    (g, l) => g.W.shape[0] !== content.sizes[l + 1] || g.W.shape[1] !== content.sizes[l] || g.b.shape[0] !== content.sizes[l],
  );
  if (bad >= 0 || badGen >= 0) {
    const what =
      bad >= 0 ? `layer ${bad} has W [${layers[bad].W.shape}]` : `generative layer ${badGen} has W [${generative[badGen].W.shape}]`;
    release();
    throw corrupt(`${what}, which does not fit its sizes [${content.sizes}]`);
  }
  return content;
}

/** Options of {@link saveDBN}. */
export interface SaveDBNOptions {
  /** Plain JSON settings to store (e.g. the pretraining options). */
  hyperparameters?: JsonObject;
  /** Per-layer histories to store. */
  histories?: object[][];
  /** Replace an existing file: default "sameFormat" (only a DBN checkpoint is replaced, never another file). */
  overwrite?: boolean | "sameFormat";
}

/**
 * Saves a DBN as one safetensors file: `layer<l>.W/b/c` per RBM (and `generative<l>.W/b` when untied),
 * with metadata format "rbm-notebooks/dbn", sizes, nLabels. Atomic; never replaces a file that is not
 * a DBN checkpoint unless `overwrite: true`.
 */
export function saveDBN(file: string, dbn: DBN, opts: SaveDBNOptions = {}): void {
  assertDBN(dbn, "saveDBN");
  dbn.layers.forEach((rbm, l) => {
    try {
      assertFiniteRBM(rbm);
    } catch (e) {
      throw new Error(`Cannot save ${path.resolve(file)}: layer ${l}: ${(e as Error).message}`);
    }
  });
  if (dbn.gaussian && !dbn.gaussian.logVar.dataSync().every((z) => Number.isFinite(z)))
    throw new Error(`Cannot save ${path.resolve(file)}: the Gaussian first layer's logVar holds NaN or ±Infinity (training diverged).`);
  writeDBNFile(
    file,
    {
      sizes: dbn.sizes,
      nLabels: dbn.nLabels,
      layers: dbn.layers,
      generative: dbn.generative,
      gaussian: dbn.gaussian,
      hyperparameters: opts.hyperparameters ?? {},
      histories: opts.histories ?? [],
    },
    opts.overwrite ?? "sameFormat",
  );
}

/**
 * Loads a DBN saved by {@link saveDBN} or a finished {@link pretrainDBN}. With `expect`, an
 * architecture mismatch is an error naming both. The caller disposes the DBN ({@link disposeDBN}).
 */
export function loadDBN(file: string, opts: { expect?: { sizes?: number[]; nLabels?: number } } = {}): { dbn: DBN } & DBNFileInfo {
  const c = readDBNFile(file);
  const L = c.sizes.length - 1;
  const release = () => {
    c.layers.forEach(disposeRBM);
    (c.generative ?? []).forEach((g) => tf.dispose([g.W, g.b]));
    c.gaussian?.logVar.dispose();
  };
  if (c.layers.length < L) {
    release();
    throw new Error(
      `Cannot use DBN checkpoint ${path.resolve(file)}: it holds ${c.layers.length} of ${L} layers (an interrupted pretraining); ` +
        `finish it with pretrainDBN(…, { checkpointDir: "${path.dirname(path.resolve(file))}" }).`,
    );
  }
  const want = opts.expect ?? {};
  if (
    (want.sizes && JSON.stringify(want.sizes) !== JSON.stringify(c.sizes)) ||
    (want.nLabels !== undefined && want.nLabels !== c.nLabels)
  ) {
    release();
    throw new Error(
      `Cannot use DBN checkpoint ${path.resolve(file)}: it holds a ${archName(c.sizes, c.nLabels)} DBN but ` +
        `${archName(want.sizes ?? c.sizes, want.nLabels ?? c.nLabels)} was expected; pick the checkpoint saved for this architecture.`,
    );
  }
  const dbn: DBN = { sizes: c.sizes, nLabels: c.nLabels, layers: c.layers, generative: c.generative, gaussian: c.gaussian };
  return { dbn, hyperparameters: c.hyperparameters, histories: c.histories, metadata: c.metadata };
}

/** `__metadata__.format` of a saved MLP. */
export const MLP_FORMAT = "rbm-notebooks/mlp";

/** The MLP file as a {@link FileKind}; files saved before the version key existed are read as version 1. */
export const MLP_FILE: FileKind = { format: MLP_FORMAT, version: "1", name: "MLP file", alsoReads: [undefined] };

/**
 * Saves an MLP as safetensors (`layer<l>.W` `[nIn, nOut]`, `layer<l>.b`), with metadata format
 * "rbm-notebooks/mlp", version "1", the sizes and `info` as JSON (NaN/±Infinity kept). Atomic;
 * replaces only an earlier MLP file.
 */
export function saveMLP(file: string, mlp: MLP, info: object = {}): void {
  const tensors: Record<string, SafeTensorInput> = {};
  mlp.layers.forEach((l, i) => {
    tensors[`layer${i}.W`] = tensorToSafe(l.W, `layer${i}.W`);
    tensors[`layer${i}.b`] = tensorToSafe(l.b, `layer${i}.b`);
  });
  writeModelFile(file, MLP_FILE, tensors, {
    sizes: JSON.stringify(mlpSizes(mlp)),
    ...jsonMetadata({ info }, `Cannot save ${path.resolve(file)}`),
  });
}

/** Loads an MLP saved by {@link saveMLP}; the caller disposes it ({@link disposeMLP}). */
export function loadMLP(file: string): { mlp: MLP; info: JsonObject } {
  const f = openModelFile(file, MLP_FILE, "MLP file");
  const { tensors } = f;
  const { info } = readJsonMetadata(f, { info: "object" });
  const layers: DenseLayer[] = [];
  for (let i = 0; tensors[`layer${i}.W`] !== undefined; i++) {
    const W = tensors[`layer${i}.W`];
    const b = tensors[`layer${i}.b`];
    if (
      !b ||
      W.shape.length !== 2 ||
      b.shape.length !== 1 ||
      b.shape[0] !== W.shape[1] ||
      (i > 0 && W.shape[0] !== layers[i - 1].W.shape[1])
    ) {
      disposeMLP({ layers });
      throw f.fail(`layer ${i} has inconsistent shapes`, "the file is corrupt; pick another file");
    }
    layers.push({ W: safeToTensor(W) as tf.Tensor2D, b: safeToTensor(b) as tf.Tensor1D });
  }
  if (layers.length === 0) throw f.fail("it holds no layers", "the file is corrupt; pick another file");
  return { mlp: { layers }, info: info as JsonObject };
}
