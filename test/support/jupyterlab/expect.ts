/**
 * What each output of an executed notebook is (chart, picture, progress bar, table…), what JupyterLab
 * must show for it trusted and untrusted, and the table of the mime types it chose.
 */
import type { OutputProbe } from "./protocol";

/** The kinds of output the chapters make. */
export type OutputKind =
  | "chart" // plotly JSON + SVG + HTML (div with the static picture, swapped for plotly by its script)
  | "static chart" // plotly JSON + SVG, no HTML (a live chart's intermediate redraw)
  | "plotly.js" // the one HTML output embedding plotly.js
  | "progress bar"
  | "picture" // image/png grid
  | "widget" // the model widget: HTML page with its script, a static PNG inside and beside it
  | "table"
  | "html"
  | "text"
  | "stream"
  | "error";

/** One output of the notebook JSON, classified. */
export interface OutputInfo {
  cell: number;
  output: number;
  kind: OutputKind;
  /** Plotly trace types of a chart. */
  traces: string[];
  title: string;
}

export interface OutputJson {
  output_type: string;
  data?: Record<string, unknown>;
}
interface NotebookJson {
  cells: { cell_type: string; outputs?: OutputJson[] }[];
}

const text = (v: unknown) => [v ?? ""].flat().join("");

function kindOf(o: OutputJson): OutputKind {
  if (o.output_type === "error" || o.output_type === "stream") return o.output_type;
  const data = o.data ?? {};
  const html = text(data["text/html"]);
  if (data["application/vnd.plotly.v1+json"]) return html ? "chart" : "static chart";
  if (html.includes("window.PlotlyConfig")) return "plotly.js";
  if (html.includes('class="rbm-widget"')) return "widget";
  if (data["image/png"]) return "picture";
  if (/\d+\/\d+ \[/.test(text(data["text/plain"])) && html.includes("font-family:monospace")) return "progress bar";
  if (/<table[\s>]/i.test(html)) return "table";
  return html ? "html" : "text";
}

/** What one output (nbformat JSON) is: its kind, and a chart's trace types and title. */
export function describeOutput(o: OutputJson): Pick<OutputInfo, "kind" | "traces" | "title"> {
  const fig = o.data?.["application/vnd.plotly.v1+json"] as { data: { type: string }[]; layout: { title?: { text: string } } } | undefined;
  return { kind: kindOf(o), traces: fig?.data.map((t) => t.type) ?? [], title: fig?.layout.title?.text ?? "" };
}

/** Every output of `nb` (as the file holds them: JupyterLab joins consecutive stream outputs). */
export function classify(nb: NotebookJson): OutputInfo[] {
  return nb.cells.flatMap((cell, c) => (cell.outputs ?? []).map((o, j) => ({ cell: c, output: j, ...describeOutput(o) })));
}

/** What is wrong with how JupyterLab rendered one output, or null. */
export function renderProblem(got: OutputProbe, trusted: boolean): string | null {
  const info = got;
  const want = (ok: boolean, what: string) => (ok ? null : what);
  const chart = got.charts[0];
  switch (info.kind) {
    case "error":
      return `the cell failed: ${got.text}`;
    case "chart":
      if (got.chosen !== "text/html") return `JupyterLab chose ${got.chosen}, expected text/html`;
      if (!chart) return "no chart container (div#rbm-plot-*) in the output";
      if (trusted) {
        if (!chart.plotly || chart.mainSvgs === 0) return `plotly did not draw it: ${JSON.stringify(chart)}`;
        if (info.traces.includes("heatmap") && (chart.heatmapImages === 0 || !got.plotlyImageWidths.every((w) => w > 0))) {
          return `the heatmap image is missing or does not decode: ${JSON.stringify(chart)} ${got.plotlyImageWidths}`;
        }
        return want(!info.traces.includes("bar") || chart.barPaths > 0, `no bars: ${JSON.stringify(chart)}`);
      }
      if (chart.plotly) return "plotly ran in an untrusted output";
      if (chart.inlineSvg) return "an inline <svg> reached the page (the sanitizer strips it to bare text)";
      return want(
        chart.fallbackImg !== null && chart.fallbackImg.width > 100 && chart.fallbackImg.height > 100 && chart.height > 100,
        `no visible static picture: ${JSON.stringify(chart)}`,
      );
    case "static chart":
      return trusted ? want(got.chosen === "image/svg+xml" && got.images.every((i) => i.width > 0), "its SVG is not shown") : null;
    case "picture":
      return want(
        got.chosen === "image/png" && got.images.length === 1 && got.images[0].width > 0 && got.images[0].height > 0,
        `the PNG did not render or decode (${got.chosen}, ${JSON.stringify(got.images)})`,
      );
    case "widget":
      if (got.chosen !== "text/html") return `JupyterLab chose ${got.chosen}, expected the widget's text/html`;
      if (trusted) return want(got.canvases > 0, `the widget's script did not build its canvases (${got.canvases})`);
      return want(
        got.canvases === 0 && got.images.length >= 1 && got.images.every((i) => i.width > 0 && i.height > 0),
        `untrusted, the widget must show its static picture and run nothing (${got.canvases} canvases, ${JSON.stringify(got.images)})`,
      );
    case "progress bar":
      return want(
        got.chosen === "text/html" && /\d+\/\d+ \[/.test(got.text),
        `the bar does not show its count (${got.chosen}: "${got.text}")`,
      );
    case "table":
      return want(got.chosen === "text/html" && got.tables > 0, `no <table> shown (${got.chosen})`);
    default:
      return want(got.chosen !== null, "JupyterLab found no renderer for it");
  }
}

/** Mime types chosen per output kind, e.g. `chart: text/html ×4`. */
export function chosenByKind(probes: OutputProbe[]): Map<OutputKind, Map<string, number>> {
  const table = new Map<OutputKind, Map<string, number>>();
  for (const probe of probes) {
    const row = table.get(probe.kind) ?? new Map<string, number>();
    table.set(probe.kind, row);
    const chosen = probe.chosen ?? "(nothing)";
    row.set(chosen, (row.get(chosen) ?? 0) + 1);
  }
  return table;
}
