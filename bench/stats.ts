/**
 * The statistics the benches report. Two summaries, kept apart on purpose:
 * - `median` summarises a few repeated runs (throughput benches, `--runs`, default 3);
 * - `stats` summarises many latency samples with nearest-rank percentiles.
 * For one list of numbers median() equals stats().p50: both take the lower middle value of an even
 * count (never the mean of the two middles), so a figure is always one that was measured.
 */

/** The middle value of `xs` (the lower of the two middles for an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface Stats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles, max and mean of latency samples. */
export function stats(values: ArrayLike<number>): Stats {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length,
  };
}

/** Rows per second, rounded to a whole row. */
export const rate = (rows: number, ms: number): number => Math.round(rows / (ms / 1000));

/** Two decimals: the precision bench/results.json keeps for milliseconds and ratios. */
export const round2 = (x: number): number => Math.round(x * 100) / 100;
