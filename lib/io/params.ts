/**
 * Chapter parameters: a default written in the notebook's parameters cell, overridden by an
 * environment variable of the same name (`npm run chapter -- 03 --set EPOCHS=15`, or `EPOCHS=15`
 * in the shell that starts Jupyter).
 *
 * `Number(process.env.EPOCHS ?? 3)` turns a typo (`EPOCHS=1O`) into NaN without a word, and a
 * variable left set in the shell silently wins over a default edited in the cell. {@link param}
 * validates the value (one error naming the variable, the bad value and what is allowed) and
 * prints one line for every value that is not the cell's default, saying where it came from.
 *
 * Profiles: a chapter's defaults are sized to show real results in a few minutes. A parameter may
 * also name a smaller `quick` value (and a larger `full` one, the full-scale run the chapter quotes);
 * the one environment variable {@link PROFILE_VARIABLE} (`RBM_PROFILE=quick` or `full`) selects them
 * for every parameter at once. The notebook tests run every chapter with `RBM_PROFILE=quick`.
 * Precedence: the parameter's own environment variable, then the selected profile's value, then
 * the cell's default.
 */
import * as path from "node:path";

/** Constraints on a numeric parameter (or on each number of a list). */
export interface NumberParamOptions {
  /** Only whole numbers. */
  integer?: boolean;
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

/** Constraints on a list of numbers such as `SIZES=784,500,500`. */
export interface ListParamOptions extends NumberParamOptions {
  /** Least number of entries. */
  minLength?: number;
}

/** The environment variable that selects a profile for every parameter at once. */
export const PROFILE_VARIABLE = "RBM_PROFILE";

/** The environment variable that moves the chapters' checkpoint folder ({@link checkpointDir}). */
export const CHECKPOINTS_VARIABLE = "RBM_CHECKPOINTS";

/** The profiles {@link PROFILE_VARIABLE} may select; `default` is the cells' own defaults. */
export const PROFILES = ["default", "quick", "full"] as const;

/** A parameter profile: `default` (the cell's value), `quick` (a smoke run) or `full` (full scale). */
export type Profile = (typeof PROFILES)[number];

/** A parameter's values in the non-default profiles; a missing one falls back to the default. */
export interface ProfileValues<T> {
  /** Used when `RBM_PROFILE=quick`: small enough to run the chapter in seconds (the tests' setting). */
  quick?: T;
  /** Used when `RBM_PROFILE=full`: the full-scale setting whose numbers the chapter quotes. */
  full?: T;
}

/**
 * The profile selected by {@link PROFILE_VARIABLE} in `env` (default `process.env`); `default`
 * when it is unset or empty.
 * @throws ParamError when the variable names no profile
 */
export function activeProfile(env: Readonly<Record<string, string | undefined>> = process.env): Profile {
  const raw = env[PROFILE_VARIABLE]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return "default";
  const found = PROFILES.find((p) => p === raw);
  if (found === undefined) {
    throw new ParamError(
      `${PROFILE_VARIABLE}=${JSON.stringify(env[PROFILE_VARIABLE])} (from the environment) is not allowed: expected one of ` +
        `${PROFILES.map((p) => JSON.stringify(p)).join(", ")}. Fix or unset ${PROFILE_VARIABLE} to use the cells' defaults.`,
    );
  }
  return found;
}

/** Where {@link param} reads and reports; the defaults are `process.env` and `console.log`. */
export interface ParamSource {
  /** The environment to read; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Receives the line saying where a non-default value came from; default `console.log`. */
  log?: (line: string) => void;
}

/** A parameter's environment value (or its default) is not allowed. */
export class ParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParamError";
  }
}

const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];

function describeNumber(o: NumberParamOptions): string {
  const kind = o.integer ? "an integer" : "a number";
  if (o.min !== undefined && o.max !== undefined) return `${kind} from ${o.min} to ${o.max}`;
  if (o.min !== undefined) return `${kind} ≥ ${o.min}`;
  if (o.max !== undefined) return `${kind} ≤ ${o.max}`;
  return kind;
}

function numberOk(v: number, o: NumberParamOptions): boolean {
  return (
    Number.isFinite(v) && (!o.integer || Number.isInteger(v)) && !(o.min !== undefined && v < o.min) && !(o.max !== undefined && v > o.max)
  );
}

/** A number from text: trimmed, not empty, finite; NaN when it is not one. */
function parseNumber(text: string): number {
  const t = text.trim();
  return t === "" ? NaN : Number(t);
}

function show(v: number | string | boolean | readonly number[]): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

/**
 * Read a numeric parameter: the environment variable `name` if set, else `fallback`.
 * @example const EPOCHS = rbmlib.param("EPOCHS", 3, { integer: true, min: 1 });
 * @throws ParamError naming the variable, its value and what is allowed (also for a bad default)
 */
export function param(name: string, fallback: number, opts?: NumberParamOptions & ParamSource & ProfileValues<number>): number;
/** A boolean parameter; the environment may say true/false, 1/0, yes/no or on/off. */
export function param(name: string, fallback: boolean, opts?: ParamSource & ProfileValues<boolean>): boolean;
/**
 * A parameter that is one of a list of strings; its type is the union of them.
 * @example const OPTIMIZER = rbmlib.param("OPTIMIZER", "adam", { oneOf: ["adam", "momentum"] });
 */
export function param<T extends string>(name: string, fallback: T, opts: { oneOf: readonly T[] } & ParamSource & ProfileValues<T>): T;
/** A free-text parameter, e.g. a file name. */
export function param(name: string, fallback: string, opts?: ParamSource & ProfileValues<string>): string;
/**
 * A comma-separated list of numbers, each checked against the number options.
 * @example const SIZES = rbmlib.param("SIZES", [784, 500, 500], { integer: true, min: 1, minLength: 2 });
 */
export function param(
  name: string,
  fallback: readonly number[],
  opts?: ListParamOptions & ParamSource & ProfileValues<readonly number[]>,
): number[];
export function param(
  name: string,
  fallback: number | boolean | string | readonly number[],
  opts: ListParamOptions & ParamSource & ProfileValues<number | boolean | string | readonly number[]> & { oneOf?: readonly string[] } = {},
): number | boolean | string | number[] {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => console.log(line));
  const raw = env[name];

  // What is allowed, and the parsed value of a text (undefined when not allowed).
  let allowed: string;
  let parse: (text: string) => number | boolean | string | number[] | undefined;
  let valid: (v: typeof fallback) => boolean;
  if (typeof fallback === "number") {
    allowed = describeNumber(opts);
    parse = (t) => {
      const v = parseNumber(t);
      return numberOk(v, opts) ? v : undefined;
    };
    valid = (v) => typeof v === "number" && numberOk(v, opts);
  } else if (typeof fallback === "boolean") {
    allowed = `true or false (also ${TRUE.slice(1).join("/")} or ${FALSE.slice(1).join("/")})`;
    parse = (t) => {
      const s = t.trim().toLowerCase();
      return TRUE.includes(s) ? true : FALSE.includes(s) ? false : undefined;
    };
    valid = () => true;
  } else if (typeof fallback === "string") {
    const oneOf = opts.oneOf;
    allowed = oneOf ? `one of ${oneOf.map((s) => JSON.stringify(s)).join(", ")}` : "any text";
    parse = (t) => (!oneOf || oneOf.includes(t) ? t : undefined);
    valid = (v) => typeof v === "string" && (!oneOf || oneOf.includes(v));
  } else {
    const minLength = opts.minLength ?? 1;
    allowed = `a comma-separated list of at least ${minLength} value(s), each ${describeNumber(opts)}`;
    const listOk = (xs: readonly number[]) => xs.length >= minLength && xs.every((x) => numberOk(x, opts));
    parse = (t) => {
      const xs = t.split(",").map(parseNumber);
      return listOk(xs) ? xs : undefined;
    };
    valid = (v) => Array.isArray(v) && listOk(v);
  }

  if (!valid(fallback)) throw new ParamError(`${name}: the default ${show(fallback)} is not allowed: expected ${allowed}`);
  for (const p of ["quick", "full"] as const) {
    const v = opts[p];
    if (v !== undefined && (typeof v !== typeof fallback || !valid(v))) {
      throw new ParamError(`${name}: the ${p} profile's value ${show(v)} is not allowed: expected ${allowed}`);
    }
  }
  if (raw === undefined) {
    const profile = activeProfile(env);
    const chosen = profile === "default" ? undefined : opts[profile];
    if (chosen === undefined || show(chosen) === show(fallback)) return typeof fallback === "object" ? [...fallback] : fallback;
    log(`${name} = ${show(chosen)} (${profile} profile, ${PROFILE_VARIABLE}=${profile}; default ${show(fallback)})`);
    return typeof chosen === "object" ? [...chosen] : chosen;
  }

  const value = parse(raw);
  if (value === undefined) {
    throw new ParamError(
      `${name}=${JSON.stringify(raw)} (from the environment) is not allowed: expected ${allowed}. ` +
        `Fix or unset the environment variable ${name} to use the default ${show(fallback)}.`,
    );
  }
  if (show(value) !== show(fallback)) log(`${name} = ${show(value)} (from the environment; default ${show(fallback)})`);
  return value;
}

/**
 * The folder where the chapters save their models and look for the models of earlier chapters and
 * of the full runs: `$RBM_CHECKPOINTS` when it is set, else `../checkpoints` (the repository's, as
 * seen from notebooks/). Under `RBM_PROFILE=quick` it is the `quick/` folder inside it, so that a
 * quick run — the tests' — never replaces a model you trained at the defaults, nor picks one up.
 */
export function checkpointDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const given = env[CHECKPOINTS_VARIABLE]?.trim();
  const base = given ? given : "../checkpoints";
  return activeProfile(env) === "quick" ? path.join(base, "quick") : base;
}
