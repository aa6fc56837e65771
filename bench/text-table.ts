/**
 * The benches' printed tables (Markdown, so they paste into docs/benchmarks.md as they are), and
 * how a duration or a rate is written in them.
 */

/** rows[0] is the header; the first column is left-aligned, the figures right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}

export const fmtRate = (r: number): string => `${Math.round(r).toLocaleString('en-US')} rows/s`;
export const fmtMs = (ms: number): string => `${ms.toFixed(0)} ms`;
