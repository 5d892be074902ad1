/** Chapter parameters: defaults, environment overrides, validation errors and the provenance line. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { activeProfile, checkpointDir, ParamError, type ParamSource, param } from "../../lib/io/params";

/** A source with the given environment, collecting the printed lines. */
function source(env: Record<string, string>): ParamSource & { lines: string[] } {
  const lines: string[] = [];
  return { env, log: (l) => lines.push(l), lines };
}

test("without an environment variable the default is returned and nothing is printed", () => {
  const s = source({});
  assert.equal(param("EPOCHS", 3, { integer: true, min: 1, ...s }), 3);
  assert.equal(param("LR", 0.1, s), 0.1);
  assert.equal(param("FAST", false, s), false);
  assert.equal(param("OPTIMIZER", "adam", { oneOf: ["adam", "momentum"], ...s }), "adam");
  assert.equal(param("DBN_FILE", "", s), "");
  assert.deepEqual(param("SIZES", [784, 500], { integer: true, min: 1, minLength: 2, ...s }), [784, 500]);
  assert.deepEqual(s.lines, []);
});

test("an environment value wins and says where it came from", () => {
  const s = source({ EPOCHS: " 10 ", LR: "1e-2", FAST: "yes", OPTIMIZER: "momentum", SIZES: "784, 300,20" });
  assert.equal(param("EPOCHS", 3, { integer: true, min: 1, ...s }), 10);
  assert.equal(param("LR", 0.1, s), 0.01);
  assert.equal(param("FAST", false, s), true);
  const opt: "adam" | "momentum" = param("OPTIMIZER", "adam", { oneOf: ["adam", "momentum"], ...s });
  assert.equal(opt, "momentum");
  assert.deepEqual(param("SIZES", [784, 500], { integer: true, minLength: 2, ...s }), [784, 300, 20]);
  assert.deepEqual(s.lines, [
    "EPOCHS = 10 (from the environment; default 3)",
    "LR = 0.01 (from the environment; default 0.1)",
    "FAST = true (from the environment; default false)",
    'OPTIMIZER = "momentum" (from the environment; default "adam")',
    "SIZES = 784,300,20 (from the environment; default 784,500)",
  ]);
});

test("an environment value equal to the default prints nothing", () => {
  const s = source({ EPOCHS: "3", SIZES: "784,500" });
  assert.equal(param("EPOCHS", 3, s), 3);
  assert.deepEqual(param("SIZES", [784, 500], s), [784, 500]);
  assert.deepEqual(s.lines, []);
});

test("a bad value throws one error naming the variable, the value and what is allowed", () => {
  const bad = (env: Record<string, string>, read: (s: ParamSource) => unknown, message: RegExp) =>
    assert.throws(
      () => read(source(env)),
      (e: unknown) => e instanceof ParamError && message.test(e.message),
    );
  bad(
    { EPOCHS: "1O" },
    (s) => param("EPOCHS", 3, { integer: true, min: 1, ...s }),
    /^EPOCHS="1O" \(from the environment\) is not allowed: expected an integer ≥ 1\b.*default 3/,
  );
  bad({ EPOCHS: "" }, (s) => param("EPOCHS", 3, s), /EPOCHS="" .*expected a number/);
  bad({ EPOCHS: "2.5" }, (s) => param("EPOCHS", 3, { integer: true, ...s }), /expected an integer/);
  bad({ EPOCHS: "0" }, (s) => param("EPOCHS", 3, { integer: true, min: 1, ...s }), /expected an integer ≥ 1/);
  bad({ P: "1.5" }, (s) => param("P", 0, { min: 0, max: 1, ...s }), /^P="1.5".*expected a number from 0 to 1/);
  bad({ LR: "Infinity" }, (s) => param("LR", 0.1, s), /LR="Infinity"/);
  bad({ FAST: "maybe" }, (s) => param("FAST", false, s), /FAST="maybe".*expected true or false/);
  bad(
    { OPTIMIZER: "sgd" },
    (s) => param("OPTIMIZER", "adam", { oneOf: ["adam", "momentum"], ...s }),
    /OPTIMIZER="sgd".*one of "adam", "momentum"/,
  );
  bad({ SIZES: "784,,500" }, (s) => param("SIZES", [784, 500], { integer: true, min: 1, ...s }), /SIZES="784,,500".*each an integer ≥ 1/);
  bad({ SIZES: "784" }, (s) => param("SIZES", [784, 500], { minLength: 2, ...s }), /at least 2/);
});

test("a default that breaks its own rules is an error too", () => {
  assert.throws(() => param("EPOCHS", 0, { min: 1, env: {} }), /EPOCHS: the default 0 is not allowed: expected a number ≥ 1/);
  assert.throws(() => param("OPTIMIZER", "sgd" as "adam", { oneOf: ["adam"], env: {} }), /the default "sgd" is not allowed/);
});

test("the default list is copied, so editing the result leaves the default alone", () => {
  const def = [784, 500];
  const sizes = param("SIZES", def, { env: {} });
  sizes.push(10);
  assert.deepEqual(def, [784, 500]);
});

test("RBM_PROFILE selects each parameter's quick or full value, and says so", () => {
  const quick = source({ RBM_PROFILE: "quick" });
  assert.equal(param("EPOCHS", 10, { integer: true, min: 1, quick: 1, full: 40, ...quick }), 1);
  assert.deepEqual(param("SIZES", [784, 500, 500], { quick: [784, 50, 50], ...quick }), [784, 50, 50]);
  assert.equal(param("LR", 0.1, quick), 0.1, "a parameter without a quick value keeps its default");
  assert.deepEqual(quick.lines, [
    "EPOCHS = 1 (quick profile, RBM_PROFILE=quick; default 10)",
    "SIZES = 784,50,50 (quick profile, RBM_PROFILE=quick; default 784,500,500)",
  ]);
  const full = source({ RBM_PROFILE: " Full " });
  assert.equal(param("EPOCHS", 10, { quick: 1, full: 40, ...full }), 40);
  assert.equal(param("N_TRAIN", 5000, { quick: 500, ...full }), 5000, "no full value: the default");
  const none = source({});
  assert.equal(param("EPOCHS", 10, { quick: 1, full: 40, ...none }), 10);
  assert.deepEqual(none.lines, []);
});

test("a parameter's own environment variable wins over the profile", () => {
  const s = source({ RBM_PROFILE: "quick", EPOCHS: "7" });
  assert.equal(param("EPOCHS", 10, { quick: 1, ...s }), 7);
  assert.deepEqual(s.lines, ["EPOCHS = 7 (from the environment; default 10)"]);
});

test("an unknown profile, or a profile value that breaks the rules, is one clear error", () => {
  assert.equal(activeProfile({}), "default");
  assert.equal(activeProfile({ RBM_PROFILE: "" }), "default");
  assert.throws(
    () => param("EPOCHS", 10, { quick: 1, env: { RBM_PROFILE: "fast" } }),
    (e: unknown) =>
      e instanceof ParamError && /^RBM_PROFILE="fast" .*one of "default", "quick", "full"\. Fix or unset RBM_PROFILE/.test(e.message),
  );
  assert.throws(
    () => param("EPOCHS", 10, { min: 1, quick: 0, env: {} }),
    /EPOCHS: the quick profile's value 0 is not allowed: expected a number ≥ 1/,
  );
  const sizes = param("SIZES", [784, 500], { quick: [784, 20], env: { RBM_PROFILE: "quick" }, log: () => {} });
  sizes.push(1);
  assert.deepEqual(param("SIZES", [784, 500], { quick: [784, 20], env: { RBM_PROFILE: "quick" }, log: () => {} }), [784, 20]);
});

test("checkpointDir: ../checkpoints, its quick/ folder under RBM_PROFILE=quick (a test run never replaces a model of the defaults), RBM_CHECKPOINTS moves it", () => {
  assert.equal(checkpointDir({}), "../checkpoints");
  assert.equal(checkpointDir({ RBM_PROFILE: "full" }), "../checkpoints");
  assert.equal(checkpointDir({ RBM_PROFILE: "quick" }), "../checkpoints/quick");
  assert.equal(checkpointDir({ RBM_CHECKPOINTS: "/tmp/models" }), "/tmp/models");
  assert.equal(checkpointDir({ RBM_CHECKPOINTS: "/tmp/models", RBM_PROFILE: "quick" }), "/tmp/models/quick");
  assert.equal(checkpointDir({ RBM_CHECKPOINTS: "  " }), "../checkpoints", "a blank value is unset");
});
