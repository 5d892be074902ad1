// Builds the optional native BLAS addon (native/blas → native/blas/build/Release/blas.node) that lets
// the wasm backend run matMul on OpenBLAS (lib/compute/blas.ts). Never fails: when a prerequisite is missing
// or the build breaks it prints ONE line saying why, and the library keeps using the wasm kernels.
// Idempotent: an addon newer than its sources that still loads is kept (use --force to rebuild).
//
// Needs: OpenBLAS headers and library (Debian/Ubuntu: `apt-get install -y libopenblas-dev`),
// python3, make and a C compiler (node-gyp), Node's headers (found next to the node binary, as in
// Debian's nodejs package or an nvm/official tarball install; nothing is downloaded).
// Usage: node scripts/build-native.mjs [--force] [--quiet]
//   --quiet prints nothing when the addon is already up to date.
// From another script: `import { buildNative } from "./build-native.mjs"` → { ok, message }.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SRC_DIR = path.join(ROOT, "native", "blas");
const ADDON = path.join(SRC_DIR, "build", "Release", "blas.node");
const SOURCES = ["blas.c", "cd.c", "gibbs.c", "tempering.c", "common.h", "binding.gyp"].map((f) => path.join(SRC_DIR, f));
const APT_HINT = "apt-get install -y libopenblas-dev";

function which(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** Directories that hold a cblas.h (multiarch, openblas subfolders). */
export function findCblasHeader() {
  const dirs = [
    "/usr/include",
    "/usr/local/include",
    "/usr/include/openblas",
    "/usr/local/include/openblas",
    "/opt/homebrew/opt/openblas/include",
  ];
  try {
    for (const d of readdirSync("/usr/include")) {
      if (/-linux-gnu$/.test(d)) dirs.push(path.join("/usr/include", d), path.join("/usr/include", d, "openblas-pthread"));
    }
  } catch {
    // no /usr/include
  }
  return dirs.find((d) => existsSync(path.join(d, "cblas.h"))) ?? null;
}

export function findOpenblasLib() {
  const dirs = ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/opt/homebrew/opt/openblas/lib"];
  try {
    for (const d of readdirSync("/usr/lib")) if (/-linux-gnu$/.test(d)) dirs.push(path.join("/usr/lib", d));
  } catch {
    // no /usr/lib
  }
  return dirs.find((d) => existsSync(path.join(d, "libopenblas.so")) || existsSync(path.join(d, "libopenblas.dylib"))) ?? null;
}

/** node-gyp's CLI: the one npm sets for scripts, else the one bundled with npm next to this node. */
function findNodeGyp() {
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/share/nodejs/node-gyp/bin/node-gyp.js",
  ];
  return candidates.find((c) => c?.endsWith(".js") && existsSync(c)) ?? null;
}

/** A folder with include/node/node_api.h, so node-gyp needs no download. */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), ".."), "/usr", "/usr/local"];
  return candidates.find((d) => d && existsSync(path.join(d, "include", "node", "node_api.h"))) ?? null;
}

/**
 * Loads the addon in a child (a broken build must not crash this process); its config() or null.
 * The "(core …)" part is dropped: the library picks OpenBLAS's kernel set when it loads the addon
 * (lib/compute/blas.ts), so the one this bare load reports is not the one used.
 */
function probe() {
  const r = spawnSync(process.execPath, ["-e", `console.log(require(${JSON.stringify(ADDON)}).config())`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().replace(/ \(core \w+\)$/, "") : null;
}

function upToDate() {
  if (!existsSync(ADDON)) return false;
  const built = statSync(ADDON).mtimeMs;
  return SOURCES.every((s) => existsSync(s) && statSync(s).mtimeMs <= built);
}

/** Builds (or keeps) the addon. Returns { ok, message }; never throws. */
export function buildNative({ force = false } = {}) {
  const skip = (why) => ({ ok: false, message: `native BLAS: skipped, ${why}; matMul stays on the wasm kernels` });
  try {
    if (!force && upToDate()) {
      const config = probe();
      if (config) return { ok: true, message: `native BLAS: up to date (${path.relative(ROOT, ADDON)}; ${config})`, unchanged: true };
    }
    if (process.platform === "win32") return skip("no Windows build (OpenBLAS via node-gyp is set up for Linux/macOS)");
    const include = findCblasHeader();
    if (!include) return skip(`OpenBLAS headers (cblas.h) not found; install them with \`${APT_HINT}\``);
    const libDir = findOpenblasLib();
    if (!libDir) return skip(`libopenblas.so not found; install it with \`${APT_HINT}\``);
    const nodeGyp = findNodeGyp();
    if (!nodeGyp) return skip("node-gyp not found (it ships with npm)");
    const nodeDir = findNodeDir();
    if (!nodeDir) return skip(`Node's headers (include/node/node_api.h) not found next to ${process.execPath}`);
    const missing = ["python3", "make", "cc"].filter((t) => !which(t));
    if (missing.length) return skip(`missing build tools: ${missing.join(", ")} (Debian: apt-get install -y python3 make gcc)`);
    const r = spawnSync(process.execPath, [nodeGyp, "rebuild", `--nodedir=${nodeDir}`], {
      cwd: SRC_DIR,
      encoding: "utf8",
      env: { ...process.env, npm_config_nodedir: nodeDir, RBM_CBLAS_INCLUDE: include, RBM_OPENBLAS_LIB: libDir },
      timeout: 300_000,
    });
    if (r.status !== 0) {
      const log = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.split("\n").filter((l) => /error|Error/.test(l) && !/^gyp info/.test(l));
      return skip(`node-gyp failed (${(log[0] ?? r.error?.message ?? `exit ${r.status}`).trim()})`);
    }
    const config = probe();
    if (!config) return skip("the built addon does not load");
    return { ok: true, message: `native BLAS: built ${path.relative(ROOT, ADDON)} (${config})` };
  } catch (err) {
    return skip(`unexpected error (${err instanceof Error ? err.message : String(err)})`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = buildNative({ force: process.argv.includes("--force") });
  if (!(result.unchanged && process.argv.includes("--quiet"))) console.log(result.message);
}
