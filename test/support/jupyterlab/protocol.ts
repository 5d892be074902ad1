/**
 * What the JupyterLab test page (page.ts, bundled for Chromium) and the test that drives it
 * (test/e2e/jupyterlab.test.ts) exchange: plain JSON, no DOM types, so both sides compile against it.
 */
import type { OutputKind } from "./expect";

/** Where the page finds the project's Jupyter server. */
export interface ServerInfo {
  /** e.g. "http://127.0.0.1:8899/" */
  baseUrl: string;
  token: string;
  /** The notebook's path relative to the server's notebook folder (the kernel's working directory follows it). */
  path: string;
  /** Kernel spec name, "tslab". */
  kernel: string;
}

/** One code cell's run through the kernel. */
export interface CellRun {
  cell: number;
  /** execute_reply status: "ok", "error", "aborted", or "empty" for a cell with no code. */
  status: string;
  /** Milliseconds from the request to the reply. */
  ms: number;
  /** The error output's name and value, or the stderr text, when the cell failed. */
  error?: string;
}

/** The progress-bar outputs a cell updated in place (update_display_data). */
export interface DisplayUpdates {
  cell: number;
  /** update_display_data messages received for this cell. */
  updates: number;
  /** Distinct counts ("450/1000") the cell's bar showed in the page, read after each update. */
  distinctShown: number;
  /** Whether the page shows the last update's count now. */
  lastShown: boolean;
  /** The most outputs the cell had after any update (1 for a bar redrawn in place). */
  maxOutputs: number;
  /** The cell's outputs at the end. */
  outputs: number;
}

/** A chart container (`div#rbm-plot-*`, renamed `data-jupyter-id` by the sanitizer) as the page shows it. */
export interface ChartNode {
  plotly: boolean;
  mainSvgs: number;
  heatmapImages: number;
  barPaths: number;
  /** The static SVG fallback shown as an image: natural size after decoding (0 when it did not decode). */
  fallbackImg: { width: number; height: number } | null;
  /** An inline `<svg>` child of the container (what the sanitizer would shred into bare text). */
  inlineSvg: boolean;
  /** The container's rendered box. */
  width: number;
  height: number;
}

/** One output as JupyterLab rendered it. */
export interface OutputProbe {
  cell: number;
  output: number;
  /** nbformat output_type. */
  type: string;
  /** What the output is (classified from its JSON by expect.ts). */
  kind: OutputKind;
  /** A chart's plotly trace types and title. */
  traces: string[];
  title: string;
  /** The mime types the output carries. */
  offered: string[];
  /** The mime type JupyterLab rendered (`data-mime-type` of the rendered node), or null. */
  chosen: string | null;
  /** The first 160 characters of the rendered text. */
  text: string;
  /** Chart containers inside the output. */
  charts: ChartNode[];
  /** Natural sizes of the `<img>` elements (0 = did not decode). */
  images: { src: string; width: number; height: number }[];
  /** `<table>` elements. */
  tables: number;
  /** `<canvas>` elements (the model widget draws on them once its script has run). */
  canvases: number;
  /** The trees of plotly's SVG heatmap `<image>` elements: natural widths after decoding. */
  plotlyImageWidths: number[];
  /** The rendered box height (0: shows nothing). */
  height: number;
}

/** The whole notebook as rendered. */
export interface NotebookProbe {
  trusted: boolean;
  cells: number;
  outputs: OutputProbe[];
  plotlyLoaded: boolean;
  /** Text of the "This HTML output contains inline scripts" warnings JupyterLab shows. */
  scriptWarnings: number;
}

/** The page's API on `window.rbmJupyterLab`. */
export interface PageApi {
  /** Renders `notebook` (nbformat 4 JSON) in a JupyterLab notebook widget, each cell trusted or not. */
  open(notebook: object, trusted: boolean): Promise<number>;
  /** Starts a session for `server.path` with kernel `server.kernel`; resolves to the kernel's language. */
  connect(server: ServerInfo): Promise<string>;
  /** Runs code cell `cell` (index among all cells) as Shift+Enter does and waits for its reply. */
  run(cell: number): Promise<CellRun>;
  /** The code cells' indices. */
  codeCells(): number[];
  /** update_display_data per cell seen so far. */
  updates(): DisplayUpdates[];
  /** Describes every output (waits until rendering has settled and images decoded). */
  probe(): Promise<NotebookProbe>;
  /** The notebook model as nbformat JSON (what saving would write). */
  toJSON(): object;
  /** Shuts the session's kernel down and removes the widget. */
  close(): Promise<void>;
}
