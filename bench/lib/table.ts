/**
 * The one output format of `npm run bench`: one row per figure, each with its sample count and
 * spread, and the issue-7 target beside it so a reader sees at once what is met.
 */
import type { Summary } from "./stats.js";

export interface Figure {
  /** Which benchmark produced it, e.g. "MSN→Matrix". */
  group: string;
  /** What was measured, e.g. "latency @ 50 msg/s". */
  name: string;
  unit: string;
  summary: Summary;
  /** The target from issue 7, as text ("≤ 1 ms p50"), or "" when the issue sets none. */
  target: string;
}

/** Enough significant digits to compare runs, without pretending to more precision. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toString();
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function renderTable(figures: readonly Figure[]): string {
  const header = ["benchmark", "figure", "unit", "runs", "p50", "p99", "min", "max", "target (issue 7)"];
  const rows = figures.map((f) => [
    f.group,
    f.name,
    f.unit,
    String(f.summary.n),
    formatNumber(f.summary.p50),
    formatNumber(f.summary.p99),
    formatNumber(f.summary.min),
    formatNumber(f.summary.max),
    f.target,
  ]);
  const numeric = new Set([3, 4, 5, 6, 7]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
