/**
 * A JupyterLab notebook in a bare page, for the browser test (test/e2e/jupyterlab.test.ts): JupyterLab's
 * own Notebook widget, its default renderers (`standardRendererFactories`: no plotly renderer, as in a
 * JupyterLab without extensions), its sanitizer for untrusted outputs, and @jupyterlab/services talking
 * to the project's Jupyter server. Bundled with esbuild (bundle.ts) and driven over the DevTools
 * protocol through `window.rbmJupyterLab` (protocol.ts). Compiled with DOM types (tsconfig.json here).
 */

import "@jupyterlab/theme-light-extension/style/variables.css";
import "@jupyterlab/theme-light-extension/style/theme.css";
import "@jupyterlab/notebook/style/index.css";
import { Sanitizer, SessionContext } from "@jupyterlab/apputils";

import { CodeCell } from "@jupyterlab/cells";
import {
  CodeMirrorEditorFactory,
  CodeMirrorMimeTypeService,
  EditorExtensionRegistry,
  EditorLanguageRegistry,
} from "@jupyterlab/codemirror";
import { createMarkdownParser } from "@jupyterlab/markedparser-extension";
import type * as nbformat from "@jupyterlab/nbformat";
import { Notebook, NotebookModel, StaticNotebook } from "@jupyterlab/notebook";
import { RenderMimeRegistry, standardRendererFactories } from "@jupyterlab/rendermime";
import { KernelManager, type KernelMessage, KernelSpecManager, ServerConnection, SessionManager } from "@jupyterlab/services";
import { Widget } from "@lumino/widgets";
import { describeOutput, type OutputJson } from "./expect";
import type { CellRun, ChartNode, DisplayUpdates, NotebookProbe, OutputProbe, PageApi, ServerInfo } from "./protocol";

const languages = new EditorLanguageRegistry();
for (const language of EditorLanguageRegistry.getDefaultLanguages()) languages.addLanguage(language);
const extensions = new EditorExtensionRegistry();
for (const extension of EditorExtensionRegistry.getDefaultExtensions()) extensions.addExtension(extension);
const editorFactory = new CodeMirrorEditorFactory({ extensions, languages });

const rendermime = new RenderMimeRegistry({
  initialFactories: standardRendererFactories,
  sanitizer: new Sanitizer(),
  markdownParser: createMarkdownParser(languages),
});

let notebook: Notebook | null = null;
let session: SessionContext | null = null;
const cellOfRequest = new Map<string, number>(); // execute_request msg_id → cell index
const updates = new Map<number, DisplayUpdates>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const frames = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

function need<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`${what} first`);
  return value;
}

function codeCell(index: number): CodeCell {
  const cell = need(notebook, "open a notebook").widgets[index];
  if (!(cell instanceof CodeCell)) throw new Error(`cell ${index} is not a code cell`);
  return cell;
}

const countOf = (text: string) => /(\d+\/\d+) \[/.exec(text)?.[1];
const lastCount = new Map<number, string>();
const shown = new Map<number, Set<string>>();

const entryOf = (cell: number): DisplayUpdates => {
  const entry = updates.get(cell) ?? { cell, updates: 0, distinctShown: 0, lastShown: false, maxOutputs: 0, outputs: 0 };
  updates.set(cell, entry);
  return entry;
};

/** An update_display_data for a cell: counted, and the count ("450/1000") it carries remembered. */
function onUpdate(cell: number, msg: KernelMessage.IUpdateDisplayDataMsg) {
  const entry = entryOf(cell);
  entry.updates++;
  const count = countOf(String(msg.content.data["text/plain"] ?? ""));
  if (count) lastCount.set(cell, count);
}

/**
 * Watches a cell's output area while it runs: after every change of its DOM, how many outputs it has
 * and which count its bar shows. A MutationObserver sees each redraw however fast the cell sends its
 * updates (a timer sampling the page after each message missed the redraws of a quick cell).
 */
function watchOutputs(cell: number): MutationObserver {
  const area = codeCell(cell).outputArea;
  const seen = shown.get(cell) ?? new Set<string>();
  shown.set(cell, seen);
  const look = () => {
    const onScreen = countOf(area.node.textContent ?? "");
    if (!onScreen) return;
    seen.add(onScreen);
    const entry = entryOf(cell);
    entry.maxOutputs = Math.max(entry.maxOutputs, area.model.length);
    entry.distinctShown = seen.size;
  };
  const observer = new MutationObserver(look);
  observer.observe(area.node, { childList: true, subtree: true, characterData: true });
  return observer;
}

function chartNodes(root: Element, images: Map<string, { width: number; height: number }>): ChartNode[] {
  const containers = [...root.querySelectorAll('div[id^="rbm-plot-"], div[data-jupyter-id^="rbm-plot-"]')];
  return containers.map((div) => {
    const r = div.getBoundingClientRect();
    const img = div.querySelector(':scope > img[src^="data:image/svg+xml"]') as HTMLImageElement | null;
    return {
      plotly: div.classList.contains("js-plotly-plot"),
      mainSvgs: div.querySelectorAll("svg.main-svg").length,
      heatmapImages: div.querySelectorAll("g.hm image").length,
      barPaths: div.querySelectorAll("g.trace.bars path").length,
      fallbackImg: img ? (images.get(img.src) ?? { width: 0, height: 0 }) : null,
      inlineSvg: div.querySelector(":scope > svg") !== null,
      width: r.width,
      height: r.height,
    };
  });
}

/**
 * What the Jupyter server's contents API does to a notebook it reads (nbformat's `rejoin_lines`): the
 * multi-line strings of the file (arrays of lines) become strings, which is what JupyterLab's model expects.
 */
function rejoinLines(nb: nbformat.INotebookContent): nbformat.INotebookContent {
  const join = (v: nbformat.MultilineString) => (Array.isArray(v) ? v.join("") : v);
  for (const cell of nb.cells) {
    cell.source = join(cell.source);
    for (const output of (cell.outputs ?? []) as nbformat.IOutput[]) {
      if (output.output_type === "stream") output.text = join(output.text as nbformat.MultilineString);
      const data = (output.data ?? {}) as Record<string, unknown>;
      for (const [mime, value] of Object.entries(data)) {
        if (!/json$/.test(mime) && Array.isArray(value)) data[mime] = value.join("");
      }
    }
  }
  return nb;
}

async function decode(src: string): Promise<{ width: number; height: number }> {
  const img = new Image();
  img.src = src;
  try {
    await img.decode();
  } catch {
    return { width: 0, height: 0 };
  }
  return { width: img.naturalWidth, height: img.naturalHeight };
}

async function probeOutputs(nb: Notebook): Promise<OutputProbe[]> {
  const out: OutputProbe[] = [];
  for (const [index, cell] of nb.widgets.entries()) {
    if (!(cell instanceof CodeCell)) continue;
    const area = cell.outputArea;
    for (let j = 0; j < area.model.length; j++) {
      const model = area.model.get(j);
      const node = area.widgets[j]?.node;
      const rendered = node?.querySelector("[data-mime-type]") as HTMLElement | null;
      const sources = [...(node?.querySelectorAll("img") ?? [])].map((i) => i.src);
      const decoded = new Map<string, { width: number; height: number }>();
      for (const src of sources) decoded.set(src, await decode(src));
      const hrefs = [...(node?.querySelectorAll("g.hm image") ?? [])].map(
        (i) => i.getAttribute("href") ?? i.getAttribute("xlink:href") ?? "",
      );
      const json = model.toJSON() as nbformat.IOutput;
      out.push({
        cell: index,
        output: j,
        type: json.output_type,
        ...describeOutput(json as OutputJson),
        offered: Object.keys(model.data),
        chosen: rendered?.dataset.mimeType ?? null,
        text: (rendered?.textContent ?? node?.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 160),
        charts: node ? chartNodes(node, decoded) : [],
        images: sources.map((src) => ({ src: src.slice(0, 40), ...(decoded.get(src) ?? { width: 0, height: 0 }) })),
        tables: node?.querySelectorAll("table").length ?? 0,
        canvases: node?.querySelectorAll("canvas").length ?? 0,
        plotlyImageWidths: await Promise.all(hrefs.map(async (h) => (await decode(h)).width)),
        height: node?.getBoundingClientRect().height ?? 0,
      });
    }
  }
  return out;
}

const api: PageApi = {
  async open(content, trusted) {
    await api.close();
    lastCount.clear();
    shown.clear();
    const json = rejoinLines(structuredClone(content) as nbformat.INotebookContent);
    for (const cell of json.cells) cell.metadata = { ...cell.metadata, trusted };
    const model = new NotebookModel();
    model.fromJSON(json);
    const nb = new Notebook({
      rendermime,
      contentFactory: new Notebook.ContentFactory({ editorFactory: editorFactory.newInlineEditor }),
      mimeTypeService: new CodeMirrorMimeTypeService(languages),
      notebookConfig: StaticNotebook.defaultNotebookConfig,
    });
    nb.model = model;
    nb.node.style.height = "100vh";
    Widget.attach(nb, document.body);
    notebook = nb;
    updates.clear();
    await frames();
    return nb.widgets.length;
  },

  async connect(server: ServerInfo) {
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: server.baseUrl,
      wsUrl: server.baseUrl.replace(/^http/, "ws"),
      token: server.token,
      appendToken: true,
    });
    const kernelManager = new KernelManager({ serverSettings });
    const ctx = new SessionContext({
      kernelManager,
      sessionManager: new SessionManager({ kernelManager, serverSettings }),
      specsManager: new KernelSpecManager({ serverSettings }),
      path: server.path,
      name: server.path,
      type: "notebook",
      kernelPreference: { name: server.kernel, autoStartDefault: false, shouldStart: true },
    });
    await ctx.initialize();
    const kernel = ctx.session?.kernel;
    if (!kernel) throw new Error(`no kernel started for ${server.path} (kernel spec ${server.kernel})`);
    ctx.iopubMessage.connect((_, msg) => {
      const cell = cellOfRequest.get(String((msg.parent_header as { msg_id?: string }).msg_id ?? ""));
      if (msg.header.msg_type === "update_display_data" && cell !== undefined) {
        onUpdate(cell, msg as KernelMessage.IUpdateDisplayDataMsg);
      }
    });
    session = ctx;
    const info = await kernel.info;
    return info.language_info.name;
  },

  async run(index) {
    const cell = codeCell(index);
    const ctx = need(session, "connect");
    if (!cell.model.sharedModel.getSource().trim()) return { cell: index, status: "empty", ms: 0 };
    const t0 = performance.now();
    const observer = watchOutputs(index);
    const pending = CodeCell.execute(cell, ctx);
    // The request goes out synchronously: its id tells which cell later output belongs to.
    const msgId = cell.outputArea.future?.msg.header.msg_id;
    if (msgId) cellOfRequest.set(msgId, index);
    const reply = await pending.catch((error: unknown) => {
      observer.disconnect();
      throw error;
    });
    const ms = Math.round(performance.now() - t0);
    await frames(); // the last redraw is on the page before the observer stops
    observer.disconnect();
    const status = reply ? reply.content.status : "no reply";
    const run: CellRun = { cell: index, status, ms };
    if (status !== "ok") {
      const outputs = cell.outputArea.model.toJSON();
      const error = outputs.find((o) => o.output_type === "error") as nbformat.IError | undefined;
      const stderr = outputs
        .filter((o) => o.output_type === "stream" && o.name === "stderr")
        .map((o) => [(o as nbformat.IStream).text].flat().join(""))
        .join("");
      run.error = error ? `${error.ename}: ${error.evalue}\n${stderr}` : stderr || JSON.stringify(reply?.content ?? null);
    }
    return run;
  },

  codeCells() {
    const nb = need(notebook, "open a notebook");
    return nb.widgets.flatMap((cell, i) => (cell instanceof CodeCell ? [i] : []));
  },

  updates() {
    for (const entry of updates.values()) {
      const area = codeCell(entry.cell).outputArea;
      const last = lastCount.get(entry.cell);
      entry.outputs = area.model.length;
      entry.lastShown = last !== undefined && (area.node.textContent ?? "").includes(last);
    }
    return [...updates.values()];
  },

  async probe(): Promise<NotebookProbe> {
    const nb = need(notebook, "open a notebook");
    // JupyterLab renders cells on idle time: wait until none is a placeholder and every output has its widget.
    const rendered = () =>
      nb.widgets.every(
        (c) => !c.isPlaceholder() && (!(c instanceof CodeCell) || c.outputArea.widgets.length === c.outputArea.model.length),
      );
    for (let waited = 0; !rendered() && waited < 30_000; waited += 100) await sleep(100);
    if (!rendered()) throw new Error("JupyterLab had not rendered every cell after 30 s");
    // Let pending renders (async renderers, plotly) and layout settle.
    for (let i = 0; i < 3; i++) {
      await frames();
      await sleep(100);
    }
    const win = window as unknown as { Plotly?: { newPlot?: unknown } };
    return {
      trusted: nb.widgets.every((c) => c.model.trusted),
      cells: nb.widgets.length,
      outputs: await probeOutputs(nb),
      plotlyLoaded: typeof win.Plotly?.newPlot === "function",
      scriptWarnings: [...nb.node.querySelectorAll("pre")].filter((p) => (p.textContent ?? "").includes("contains inline scripts")).length,
    };
  },

  toJSON() {
    return (need(notebook, "open a notebook").model?.toJSON() ?? {}) as object;
  },

  async close() {
    cellOfRequest.clear();
    if (session) {
      const ctx = session;
      session = null;
      await ctx.shutdown().catch(() => {});
      ctx.dispose();
    }
    if (notebook) {
      const nb = notebook;
      notebook = null;
      Widget.detach(nb);
      nb.model?.dispose();
      nb.dispose();
    }
  },
};

(window as unknown as { rbmJupyterLab: PageApi }).rbmJupyterLab = api;
document.title = "rbm-notebooks: JupyterLab test page (ready)";
