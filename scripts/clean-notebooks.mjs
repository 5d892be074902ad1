// Strip execution results from notebooks/*.ipynb so that only sources are committed.
//
//   node scripts/clean-notebooks.mjs          rewrite notebooks in place
//   node scripts/clean-notebooks.mjs --check  list notebooks that carry outputs; exit 1 if any
//
// Removes code cells' outputs, execution counts and the timing metadata nbclient records
// (metadata.execution). Writes JSON the way Jupyter does (sorted keys, 1-space indent,
// trailing newline), so opening and saving a clean notebook in Jupyter yields no diff.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { NOTEBOOKS_DIR, ROOT } from "./jupyter-env.mjs";

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys(value[k])]),
  );
}

/** Returns true if the notebook carried outputs, execution counts or execution metadata. */
function clean(nb) {
  let dirty = false;
  for (const cell of nb.cells ?? []) {
    if (cell.cell_type !== "code") continue;
    if (cell.outputs?.length || cell.execution_count != null || cell.metadata?.execution) dirty = true;
    cell.outputs = [];
    cell.execution_count = null;
    delete cell.metadata?.execution;
  }
  return dirty;
}

const check = process.argv.includes("--check");
const files = readdirSync(NOTEBOOKS_DIR)
  .filter((f) => f.endsWith(".ipynb"))
  .sort();
const withOutputs = [];
let invalid = false;
for (const file of files) {
  const fullPath = path.join(NOTEBOOKS_DIR, file);
  const rel = path.relative(ROOT, fullPath);
  const original = readFileSync(fullPath, "utf8");
  let nb;
  try {
    nb = JSON.parse(original);
  } catch (err) {
    console.error(`${rel}: not valid JSON (${err.message})`);
    invalid = true;
    continue;
  }
  if (clean(nb)) withOutputs.push(rel);
  const cleaned = `${JSON.stringify(sortKeys(nb), null, 1)}\n`;
  if (!check && cleaned !== original) {
    writeFileSync(fullPath, cleaned);
    console.log(`cleaned ${rel}`);
  }
}

if (check && withOutputs.length > 0) {
  console.error(`Notebooks with outputs (run \`npm run clean-notebooks\`):\n  ${withOutputs.join("\n  ")}`);
  process.exit(1);
}
if (invalid) process.exit(1);
if (check) console.log(`${files.length} notebook(s) without outputs`);
