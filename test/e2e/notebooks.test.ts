// The course notebooks: committed clean, and every one runs top to bottom in a real tslab kernel.
//
// Execution goes through scripts/run_notebook.py with CI=true and RBM_PROFILE=quick, which selects
// each parameter's quick value (lib/io/params.ts) in place of the chapter's default. A failure message carries the failing cell's source, the error, the cell's
// stderr and the kernel's own output. Executed copies land in test-artifacts/notebooks/, where
// test/e2e/browser.test.ts (run after this file by npm test) takes them to render every chapter.
// Needs `npm run setup` (npm test runs it first).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { findJupyter, jupyterEnv, NOTEBOOKS_DIR, ROOT, RUN_NOTEBOOK_PY } from "../../scripts/jupyter-env.mjs";
import { CHAPTER_FILES } from "../support/chapters";

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
}

const CELL_TIMEOUT_S = 600;
const NOTEBOOK_TIMEOUT_MS = 30 * 60 * 1000;
const ARTIFACTS_DIR = path.join(ROOT, "test-artifacts", "notebooks");
// Each notebook gets its own kernel process; a few at once use the cores without running out
// of memory. NOTEBOOK_TEST_CONCURRENCY=1 runs them one by one.
const CONCURRENCY = Number(process.env.NOTEBOOK_TEST_CONCURRENCY) || Math.min(4, Math.max(1, Math.floor(os.availableParallelism() / 2)));

const notebooks = readdirSync(NOTEBOOKS_DIR)
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

const sourceOf = (cell: Cell) => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);

/** Runs a command, resolving to its exit code and its stdout and stderr interleaved. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    // SIGTERM on abort (test timeout): run_notebook.py then shuts its kernel down.
    const child = spawn(cmd, args, { env, signal, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

test("notebooks/ contains the course notebooks", () => {
  assert.deepEqual(
    notebooks,
    CHAPTER_FILES,
    `the .ipynb files in ${NOTEBOOKS_DIR} are not the course's chapters (a new chapter goes into test/support/chapters.ts)`,
  );
});

describe("committed notebooks are clean", () => {
  for (const file of notebooks) {
    test(file, () => {
      const text = readFileSync(path.join(NOTEBOOKS_DIR, file), "utf8");
      let nb: { metadata?: { kernelspec?: { name?: string } }; cells?: Cell[] };
      try {
        nb = JSON.parse(text);
      } catch (err) {
        assert.fail(`${file} is not valid JSON: ${(err as Error).message}`);
      }
      assert.equal(nb.metadata?.kernelspec?.name, "tslab", `${file}: kernelspec name must be "tslab"`);
      const codeCells = (nb.cells ?? []).filter((c) => c.cell_type === "code");
      const dirty = codeCells.filter((c) => (c.outputs?.length ?? 0) > 0 || c.execution_count != null);
      assert.equal(
        dirty.length,
        0,
        `${file}: ${dirty.length} code cell(s) carry outputs or execution counts; run \`npm run clean-notebooks\``,
      );
      assert.ok(
        codeCells.length > 0 && sourceOf(codeCells[0]).includes("rbmlib.param("),
        `${file}: the first code cell must be the parameters cell, reading its parameters with rbmlib.param`,
      );
    });
  }
});

describe("notebooks execute top to bottom (RBM_PROFILE=quick)", { concurrency: CONCURRENCY }, () => {
  const jupyter = findJupyter();
  for (const file of notebooks) {
    test(file, { timeout: NOTEBOOK_TIMEOUT_MS }, async (t) => {
      assert.ok(jupyter.ok, "no usable Jupyter found: run `npm run setup`");
      const { code, output } = await run(
        jupyter.python,
        [RUN_NOTEBOOK_PY, path.join(NOTEBOOKS_DIR, file), "--timeout", String(CELL_TIMEOUT_S), "--output", path.join(ARTIFACTS_DIR, file)],
        jupyterEnv({ ...process.env, CI: "true", RBM_PROFILE: "quick" }),
        t.signal,
      );
      assert.equal(code, 0, `${file} failed (run_notebook.py exit ${code}):\n${output}`);
      t.diagnostic(output.trimEnd().split("\n").at(-1) ?? "");
    });
  }
});
