// Types for scripts/jupyter-env.mjs, so TypeScript tests can import it under `strict`.

export declare const ROOT: string;
export declare const NOTEBOOKS_DIR: string;
export declare const JUPYTER_DIR: string;
export declare const KERNEL_NAME: string;
export declare const KERNEL_JSON: string;
export declare const TSLAB_BIN: string;
export declare const RUN_NOTEBOOK_PY: string;

export interface Frontend {
  module: string;
  command: "lab" | "notebook";
  label: string;
}

export declare function jupyterEnv(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
export declare function which(name: string): string | null;

export type FindJupyterResult =
  | { ok: true; python: string; jupyter: string[]; frontend: Frontend }
  | { ok: false; tried: { python: string; missing: string[] }[] };
export declare function findJupyter(): FindJupyterResult;
