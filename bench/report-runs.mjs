#!/usr/bin/env node
/**
 * The figures of several `npm run bench` passes side by side (bench/all.mjs --runs=N keeps each
 * pass's bench/results.json in bench/results-runs.json): for each goal of issue 15, the value of
 * every run, the median, the spread, and whether the goal held in every run, in some, or in none.
 * A single busy moment on a shared machine then does not decide a goal.
 *
 *   node bench/report-runs.mjs
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from './markdown-table.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const runsFile = join(root, 'bench', 'results-runs.json');

/** Each figure: how to read it from one run's results, and the goal it is held to. */
const FIGURES = [
  {
    figure: 'Node initial sync, 100k rows: ratio to raw wa-sqlite',
    section: 'initialSync',
    read: (r) => r.initialSync?.ratioToRaw,
    format: (v) => v.toFixed(3),
    goal: '>= 0.75 median, >= 0.65 worst',
    held: (values) => median(values) >= 0.75 && Math.min(...values) >= 0.65,
    each: (v) => v >= 0.65,
  },
  {
    figure: "Node initial sync: ratio to RxDB's best batch size",
    section: 'initialSync',
    read: (r) => {
      const best = Math.max(r.initialSync?.rxdbRowsPerSec ?? 0, r.initialSync?.rxdbDefaultBatchRowsPerSec ?? 0);
      return best && r.initialSync?.rowsPerSec ? r.initialSync.rowsPerSec / best : undefined;
    },
    format: (v) => `${v.toFixed(2)}x`,
    goal: '>= 4x',
    each: (v) => v >= 4,
  },
  {
    figure: 'watch(): server write -> emission, idle, p99',
    section: 'latency',
    read: (r) => r.latency?.rxsync?.idle?.watch?.p99,
    format: ms,
    goal: '<= 3 ms',
    each: (v) => v <= 3,
  },
  {
    figure: 'applied, under 5,000 changes/s, p99',
    section: 'latency',
    read: (r) => r.latency?.rxsync?.underLoad?.applied?.p99,
    format: ms,
    goal: '<= 10 ms',
    each: (v) => v <= 10,
  },
  {
    figure: 'fan-out, 1,000 sessions at 100 changes/s, p99',
    section: 'fanout',
    read: (r) => r.fanout?.deliveryP99Ms,
    format: ms,
    goal: '<= 60 ms in every run',
    each: (v) => v <= 60,
  },
  {
    figure: 'client heap, 100k -> 1M rows (growth)',
    section: 'memory',
    read: (r) => (r.memory?.rows100k && r.memory?.rows1M ? r.memory.rows1M.peakHeapMB / r.memory.rows100k.peakHeapMB : undefined),
    format: (v) => `x${v.toFixed(2)}`,
    goal: 'flat (x < 1.5)',
    each: (v) => v < 1.5,
  },
  {
    figure: 'two watches (top 20, whole table) on 50k rows, 200 writes/s: the worse p99',
    section: 'liveQueries',
    read: (r) => (r.liveQueries?.fold ? Math.max(r.liveQueries.fold.top.p99, r.liveQueries.fold.whole.p99) : undefined),
    format: ms,
    goal: 'both <= 10 ms',
    each: (v) => v <= 10,
  },
  // Issue 15's Chromium goal, both halves. Passes from before OPFS was measured have no
  // `browser.opfs` object (a string said it was not shipped): n/a there.
  {
    figure: 'Chromium initial sync, 100k rows: OPFS / IndexedDB client',
    section: 'browser',
    read: (r) => r.browser?.opfs?.ratioToIndexedDb,
    format: (v) => `${v.toFixed(2)}x`,
    goal: '>= 2x',
    each: (v) => v >= 2,
  },
  {
    figure: 'Chromium initial sync, 100k rows: OPFS client / direct inserts into OPFS',
    section: 'browser',
    read: (r) => r.browser?.opfs?.ratioToRaw,
    format: (v) => v.toFixed(2),
    goal: '>= 0.8',
    each: (v) => v >= 0.8,
  },
  // The same ratio like for like: the direct inserts in a new worker each run, a cold JIT as the
  // client's holder worker has (passes from before it was measured: n/a). Beside the goal's row, not instead.
  {
    figure: 'Chromium initial sync: OPFS client / direct inserts in a fresh worker (both JIT cold)',
    section: 'browser',
    read: (r) => r.browser?.opfs?.ratioToFreshRaw,
    format: (v) => v.toFixed(2),
    goal: '(reference) >= 0.8',
    each: (v) => v >= 0.8,
  },
];

function ms(v) {
  return `${v.toFixed(2)} ms`;
}

/** Whether `run` (a pass's results, stamped by bench/all.mjs) measured `section` itself. */
function measuredIn(run, section) {
  const at = run[section]?.measuredAt;
  return at !== undefined && (run.passStartedAt === undefined || at >= run.passStartedAt);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The table of `runs` (each a results.json object), as rows of text. */
export function runsTable(runs) {
  const rows = [['figure', ...runs.map((_, i) => `run ${i + 1}`), 'median', 'spread', 'goal', 'held']];
  for (const { figure, section, read, format, goal, held, each } of FIGURES) {
    // A figure counts for a pass only if that pass measured it (a bench left out keeps older figures).
    const values = runs.map((run) => (measuredIn(run, section) ? read(run) : undefined));
    const known = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (known.length === 0) {
      rows.push([figure, ...runs.map(() => 'n/a'), '', '', goal, '']);
      continue;
    }
    const passed = known.filter(each).length;
    const verdict = held
      ? `${held(known) ? 'yes' : 'NO'} (${passed} of ${known.length} runs above the worst bound)`
      : passed === known.length
        ? `in every run (${passed} of ${known.length})`
        : passed === 0
          ? `in no run (0 of ${known.length})`
          : `in some runs (${passed} of ${known.length})`;
    rows.push([
      figure,
      ...values.map((v) => (typeof v === 'number' ? format(v) : 'n/a')),
      format(median(known)),
      `${format(Math.min(...known))} - ${format(Math.max(...known))}`,
      goal,
      verdict,
    ]);
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!existsSync(runsFile)) {
    console.error('bench/report-runs: no bench/results-runs.json; run `node bench/all.mjs --runs=3` first');
    process.exit(2);
  }
  const runs = JSON.parse(readFileSync(runsFile, 'utf8'));
  console.log(`${runs.length} run(s), ${runs[0]?.machine?.cpu ?? ''}, ${runs[0]?.machine?.cores ?? '?'} cores\n`);
  console.log(table(runsTable(runs)));
}
