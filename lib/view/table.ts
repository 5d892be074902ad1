/**
 * Training histories as tables: a danfo DataFrame for analysis, our own HTML/text rendering for
 * display (danfo's `print` is terminal-only), and CSV files written atomically.
 *
 * danfojs-node takes ~0.8 s to load, so it is required lazily inside {@link historyTable} only.
 */
import type { DataFrame } from "danfojs-node";
import { writeFileAtomic } from "../io/durable";
import { displayBundle, escapeXml, inNotebook } from "./display";
/** One row of a history, e.g. `{ epoch: 3, recon: 0.0312, sampler: "PCD" }`; undefined = missing. */
export type Row = Record<string, number | string | undefined>;

/** Rows, or a danfo DataFrame. */
export type Table = Row[] | DataFrame;

/** Column names in order of first appearance across all rows. */
export function columnsOf(rows: Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/**
 * A danfo DataFrame of the rows; a key missing from a row becomes NaN, so rows logged at
 * different intervals (e.g. validation every 5 epochs) still line up.
 */
export function historyTable(rows: Row[]): DataFrame {
  const dfd = require("danfojs-node") as typeof import("danfojs-node");
  const cols = columnsOf(rows);
  return new dfd.DataFrame(
    rows.map((r) => cols.map((c) => r[c] ?? NaN)),
    { columns: cols },
  );
}

/** Rows of a table, whatever its form (DataFrame cells → number|string). */
export function toRows(table: Table): Row[] {
  if (Array.isArray(table)) return table;
  const cols = table.columns;
  const values = table.values as unknown[][];
  return values.map((vals) =>
    Object.fromEntries(cols.map((c, j) => [c, typeof vals[j] === "number" ? (vals[j] as number) : String(vals[j])])),
  );
}

/** A cell for display: `digits` significant digits, exponent notation for tiny/huge values. */
export function formatCell(v: number | string | undefined, digits = 4): string {
  if (v === undefined) return "";
  if (typeof v === "string" || Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a < 1e-4 || a >= 1e6 ? v.toExponential(digits - 1) : String(Number(v.toPrecision(digits)));
}

/** Options of {@link tableHtml}, {@link tableText} and {@link showTable}. */
export interface TableOptions {
  caption?: string;
  /** Significant digits of non-integer numbers; default 4. */
  digits?: number;
  /** Longer tables show the first and last maxRows/2 rows; default 40. */
  maxRows?: number;
}

/** Cells as strings (with a "…" row where rows were elided), and which columns are numeric. */
function cells(table: Table, o: TableOptions): { cols: string[]; body: string[][]; numeric: boolean[] } {
  const rows = toRows(table);
  const cols = columnsOf(rows);
  const max = o.maxRows ?? 40;
  const shown = rows.length > max ? [...rows.slice(0, Math.ceil(max / 2)), null, ...rows.slice(rows.length - Math.floor(max / 2))] : rows;
  const body = shown.map((r) => cols.map((c) => (r ? formatCell(r[c], o.digits) : "…")));
  const numeric = cols.map((c) => rows.every((r) => typeof r[c] !== "string"));
  return { cols, body, numeric };
}

/** An HTML table with formatted numbers (right-aligned, tabular digits). */
export function tableHtml(table: Table, o: TableOptions = {}): string {
  const { cols, body, numeric } = cells(table, o);
  const cell = (tag: string, s: string, j: number) =>
    `<${tag} style="padding:2px 8px;text-align:${numeric[j] ? "right" : "left"}">${escapeXml(s)}</${tag}>`;
  return [
    `<table style="border-collapse:collapse;font-variant-numeric:tabular-nums">`,
    o.caption ? `<caption style="caption-side:top;text-align:left;font-weight:bold">${escapeXml(o.caption)}</caption>` : "",
    `<thead><tr style="border-bottom:1px solid #888">${cols.map((c, j) => cell("th", c, j)).join("")}</tr></thead>`,
    `<tbody>${body.map((r) => `<tr>${r.map((s, j) => cell("td", s, j)).join("")}</tr>`).join("")}</tbody>`,
    `</table>`,
  ].join("\n");
}

/** A plain-text table with aligned columns (numbers right-aligned). */
export function tableText(table: Table, o: TableOptions = {}): string {
  const { cols, body, numeric } = cells(table, o);
  const widths = cols.map((c, j) => Math.max(c.length, ...body.map((r) => r[j].length)));
  const line = (r: string[]) =>
    r
      .map((s, j) => (numeric[j] ? s.padStart(widths[j]) : s.padEnd(widths[j])))
      .join("  ")
      .trimEnd();
  const lines = [line(cols), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)];
  return (o.caption ? [o.caption, ...lines] : lines).join("\n");
}

/** Show a table: HTML (with a text fallback) in a notebook, aligned text on stdout in a terminal. */
export function showTable(table: Table, o: TableOptions = {}): void {
  if (inNotebook()) displayBundle({ "text/html": tableHtml(table, o), "text/plain": tableText(table, o) });
  else console.log(tableText(table, o));
}

/** RFC 4180 CSV (header + one line per row; full-precision numbers; missing cells empty). */
export function toCsv(table: Table): string {
  const rows = toRows(table);
  const cols = columnsOf(rows);
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [cols.map(quote), ...rows.map((r) => cols.map((c) => (r[c] === undefined ? "" : quote(String(r[c])))))];
  return `${lines.map((l) => l.join(",")).join("\n")}\n`;
}

/**
 * Save a table as CSV, atomically. Refuses to replace an existing file unless
 * `opts.overwrite === true` (it may be a result the user saved).
 */
export function saveCsv(table: Table, file: string, opts: { overwrite?: boolean } = {}): void {
  writeFileAtomic(file, toCsv(table), { overwrite: opts.overwrite === true });
}
