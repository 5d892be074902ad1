/**
 * Gaussian–Bernoulli RBM files, under the rules every model file of io/checkpoint.ts shares (format
 * and version checked, JSON metadata, refusal to overwrite other formats, one error per problem).
 * Tensors W `[nVisible, nHidden]`, b, c, logVar = log σ² (F32), and the standardisation the model
 * was trained under (`standardize.mean`, `standardize.std`, when given), so that a loaded model maps
 * its samples back to pixels.
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { assertFiniteGaussianRBM, disposeGaussianRBM, type GaussianRBM } from "../core/gaussian";
import { type FileKind, jsonMetadata, openModelFile, rbmFromTensors, rbmToTensors, readJsonMetadata, writeModelFile } from "./checkpoint";
import { type JsonObject, type SafeTensorInput, safeToTensor, tensorToSafe } from "./safetensors";
import type { Standardizer } from "./standardize";

/** `__metadata__.format` of a Gaussian–Bernoulli RBM file. */
export const GAUSSIAN_FORMAT = "rbm-notebooks/gaussian-rbm";

const GAUSSIAN_FILE: FileKind = { format: GAUSSIAN_FORMAT, version: "1", name: "Gaussian–Bernoulli RBM checkpoint" };

/** What {@link saveGaussianCheckpoint} stores. */
export interface GaussianCheckpointData {
  rbm: GaussianRBM;
  /** Plain JSON settings (as saveCheckpoint's). Default `{}`. */
  hyperparameters?: object;
  /** One plain record per epoch. Default `[]`. */
  history?: readonly object[];
  /** The standardisation of the training data, if any. */
  standardizer?: Standardizer;
}

/** What {@link loadGaussianCheckpoint} returns; the caller disposes `rbm` ({@link disposeGaussianRBM}). */
export interface GaussianCheckpoint {
  rbm: GaussianRBM;
  hyperparameters: JsonObject;
  history: JsonObject[];
  standardizer?: Standardizer;
}

/** Saves a Gaussian–Bernoulli RBM (atomic; an existing file is replaced only if it is one too). */
export function saveGaussianCheckpoint(
  file: string,
  data: GaussianCheckpointData,
  opts: { overwrite?: boolean | "sameFormat" } = {},
): void {
  const abs = path.resolve(file);
  const where = `Cannot save Gaussian checkpoint ${abs}`;
  try {
    assertFiniteGaussianRBM(data.rbm);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  const tensors: Record<string, SafeTensorInput> = { ...rbmToTensors(data.rbm), logVar: tensorToSafe(data.rbm.logVar, "logVar") };
  const meta: Record<string, unknown> = { hyperparameters: data.hyperparameters ?? {}, history: data.history ?? [] };
  const s = data.standardizer;
  if (s) {
    if (s.mean.length !== data.rbm.b.shape[0] || s.std.length !== s.mean.length) {
      throw new Error(`${where}: the standardizer is for ${s.mean.length} pixels but the model has nVisible = ${data.rbm.b.shape[0]}.`);
    }
    tensors["standardize.mean"] = { dtype: "F32", shape: [s.mean.length], data: s.mean };
    tensors["standardize.std"] = { dtype: "F32", shape: [s.std.length], data: s.std };
    meta.standardize = { mode: s.mode };
  }
  writeModelFile(abs, GAUSSIAN_FILE, tensors, jsonMetadata(meta, where), { overwrite: opts.overwrite });
}

/** Loads a file written by {@link saveGaussianCheckpoint}, validating format, shapes and values. */
export function loadGaussianCheckpoint(file: string): GaussianCheckpoint {
  const f = openModelFile(file, GAUSSIAN_FILE, "Gaussian checkpoint");
  const { hyperparameters, history, standardize } = readJsonMetadata(f, {
    hyperparameters: "object",
    history: "array",
    standardize: "object",
  });
  const z = f.tensors.logVar;
  const base = rbmFromTensors(f.tensors, "", f.source);
  if (z?.shape.length !== 1 || z.shape[0] !== base.W.shape[0] || (z.dtype !== "F32" && z.dtype !== "F64")) {
    tf.dispose([base.W, base.b, base.c]);
    throw f.fail(`it needs a tensor logVar [${base.W.shape[0]}] (F32) beside W, b, c`);
  }
  const rbm: GaussianRBM = { ...base, logVar: safeToTensor(z) as tf.Tensor1D };
  try {
    assertFiniteGaussianRBM(rbm, f.source);
  } catch (e) {
    disposeGaussianRBM(rbm);
    throw e;
  }
  let standardizer: Standardizer | undefined;
  const mean = f.tensors["standardize.mean"];
  const std = f.tensors["standardize.std"];
  if (mean && std) {
    const mode = (standardize as JsonObject).mode;
    if ((mode !== "pixel" && mode !== "global") || mean.shape[0] !== base.W.shape[0] || std.shape[0] !== base.W.shape[0]) {
      disposeGaussianRBM(rbm);
      throw f.fail(
        `its standardisation (mode ${JSON.stringify(mode)}, ${mean.shape[0]} means, ${std.shape[0]} spreads) does not fit the model`,
      );
    }
    standardizer = { mode, mean: Float32Array.from(mean.data as ArrayLike<number>), std: Float32Array.from(std.data as ArrayLike<number>) };
  }
  return { rbm, hyperparameters: hyperparameters as JsonObject, history: history as JsonObject[], standardizer };
}
