// Types for scripts/system-deps.mjs, so TypeScript tests can import it under `strict`.

export declare const NUMPY_PYTHON: string;
export declare function findChromium(env?: NodeJS.ProcessEnv): string | null;
export declare function chromiumMissingMessage(env?: NodeJS.ProcessEnv): string;
