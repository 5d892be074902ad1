/**
 * Builds the JupyterLab test page (page.ts + the CSS of the JupyterLab packages it uses) with esbuild
 * into a folder of its own: index.html, page.js, page.css and the fonts and icons the CSS refers to.
 * Built at test time into a temporary folder, never committed.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { build, type Plugin } from "esbuild";

const ENTRY = path.join(__dirname, "page.ts");

/** webpack's `@import url('~pkg/...')` (JupyterLab's CSS): the package path without the `~`. */
const tildeImports: Plugin = {
  name: "tilde-imports",
  setup(b) {
    b.onResolve({ filter: /^~/ }, (args) => b.resolve(args.path.slice(1), { kind: args.kind, resolveDir: args.resolveDir }));
  },
};

/** What {@link bundlePage} wrote. */
export interface PageBundle {
  dir: string;
  /** index.html inside `dir`. */
  html: string;
  /** Bytes of page.js and page.css. */
  jsBytes: number;
  cssBytes: number;
}

/** Bundles the page into `dir` (which must exist). */
export async function bundlePage(dir: string): Promise<PageBundle> {
  const result = await build({
    entryPoints: { page: ENTRY },
    bundle: true,
    outdir: dir,
    format: "iife",
    platform: "browser",
    target: "chrome120",
    minify: true,
    sourcemap: false,
    metafile: true,
    logLevel: "silent",
    // JupyterLab's JS imports its icons as SVG text; its CSS refers to fonts and SVGs by url().
    loader: { ".svg": "text", ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".png": "dataurl", ".gif": "dataurl" },
    define: { "process.env.NODE_ENV": '"production"' },
    plugins: [tildeImports],
  });
  const size = (name: string) => Object.entries(result.metafile.outputs).find(([file]) => path.basename(file) === name)?.[1].bytes ?? 0;
  const html = path.join(dir, "index.html");
  writeFileSync(
    html,
    [
      "<!doctype html>",
      '<html lang="en"><head><meta charset="utf-8"><title>rbm-notebooks: JupyterLab test page</title>',
      '<link rel="icon" href="data:,"><link rel="stylesheet" href="page.css"></head>',
      '<body class="jp-ThemedContainer" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">',
      '<script src="page.js"></script></body></html>',
    ].join("\n"),
  );
  return { dir, html, jsBytes: size("page.js"), cssBytes: size("page.css") };
}
