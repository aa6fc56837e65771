/**
 * bench/browser-opfs-pragmas: where the time of an insert into OPFS goes, measured in the raw path
 * of bench/browser-initial-sync.ts (browser-raw-insert.ts, in the page's raw OPFS worker) with
 * other SQLite settings run before the clock. What src/storage/backends/opfs.ts opens with (journal
 * TRUNCATE; SQLite's defaults otherwise: synchronous FULL, a 2 MB page cache, NORMAL locking)
 * against one change at a time, each with one transaction for all rows and with one per 1,000
 * rows (how the client commits). IndexedDB's raw insert, as it is, is measured beside them in the
 * same run. `synchronous=OFF` is not a candidate (it gives up durability): it shows what the
 * flushes (FileSystemSyncAccessHandle.flush, an fsync) cost.
 *
 *   node bench/run.mjs browser-opfs-pragmas [--rows=100000] [--runs=3] [--chunk-rows=1000] [--only=LABEL,...] [--incognito]
 *
 * The profile is a persistent one unless `--incognito` (see browser-harness.ts).
 *
 * One untimed insert first warms the worker's JIT. Runs alternate over the settings (each run
 * every setting once, starting one further on each time); the figure is the median. The OPFS runs
 * also count their file operations (browser-opfs-io.ts): how many flushes (fsyncs), writes and
 * truncates a setting costs does not depend on the machine's load, and the ms beside them say
 * what they are worth here. Prints two tables; records nothing (bench/results.json holds the
 * shipped settings' figures only).
 */
import { loadavg } from 'node:os';
import type { OpfsIo } from './browser-opfs-io.js';
import type { BenchStorage, RawRunResult } from './browser-page.js';
import { openBenchBrowser } from './browser-harness.js';
import { option } from './cli-options.js';
import { loadAverage } from './machine.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { median, rate } from './stats.js';
import { fmtMs, fmtRate, table } from './text-table.js';

const ROWS = Number(option('rows') ?? 100_000);
const RUNS = Math.max(1, Number(option('runs') ?? 3));
/** Rows per transaction of the chunked figure; 1,000 is the server's default snapshot chunk, as the client commits. */
const CHUNK_ROWS = Number(option('chunk-rows') ?? 1000);

interface Setting {
  label: string;
  storage: BenchStorage;
  setup: string;
}

const SETTINGS: Setting[] = [
  { label: 'IndexedDB as shipped', storage: 'indexeddb', setup: '' },
  { label: 'OPFS as shipped (TRUNCATE)', storage: 'opfs', setup: '' },
  { label: 'synchronous=NORMAL', storage: 'opfs', setup: 'PRAGMA synchronous=NORMAL' },
  { label: 'synchronous=OFF (no flush)', storage: 'opfs', setup: 'PRAGMA synchronous=OFF' },
  { label: 'locking_mode=EXCLUSIVE', storage: 'opfs', setup: 'PRAGMA locking_mode=EXCLUSIVE' },
  { label: 'journal_mode=PERSIST', storage: 'opfs', setup: 'PRAGMA journal_mode=PERSIST' },
  { label: 'cache_size 64 MB', storage: 'opfs', setup: 'PRAGMA cache_size=-65536' },
  { label: 'EXCLUSIVE + synchronous=NORMAL', storage: 'opfs', setup: 'PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous=NORMAL' },
  { label: 'EXCLUSIVE + cache_size 64 MB', storage: 'opfs', setup: 'PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-65536' },
  { label: 'WAL (EXCLUSIVE)', storage: 'opfs', setup: 'PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL' },
  {
    label: 'WAL (EXCLUSIVE) + synchronous=NORMAL',
    storage: 'opfs',
    setup: 'PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL',
  },
];

/** `calls (ms)` of one kind of file operation, from a run that counted them. */
const ioCell = (result: RawRunResult, method: keyof OpfsIo) => (result.io ? `${result.io[method].calls} (${result.io[method].ms} ms)` : '');

async function main(): Promise<void> {
  const only = option('only')?.split(',');
  const settings = only ? SETTINGS.filter((s) => only.includes(s.label)) : SETTINGS;
  const loadBefore = loadavg()[0];
  const bench = await openBenchBrowser({ incognito: option('incognito') === 'true' });
  try {
    console.log(
      `browser-opfs-pragmas: ${ROWS.toLocaleString('en-US')} rows, ${RUNS} run(s), chromium ${bench.chromium}, ${bench.profile}, load average ${loadAverage()}`,
    );
    const runs = new Map(settings.map((s) => [s.label, { one: [] as RawRunResult[], chunked: [] as RawRunResult[] }]));
    const prefix = `bench-pragmas-${Date.now().toString(36)}-`;
    let serial = 0;
    const raw = async ({ storage, setup }: Setting, chunkRows?: number) => {
      const database = `${prefix}${serial++}`;
      const request = { database, storage, rows: ROWS, chunkRows, setup, countIo: storage === 'opfs' };
      const result = await bench.call<RawRunResult>('rawRun', request);
      await bench.call<void>('removeDatabase', database);
      return result;
    };
    // Untimed: the first insert of a worker runs on a cold JIT (up to 2x slower), whichever setting it has.
    for (const storage of new Set(settings.map((s) => s.storage))) await raw({ label: 'warm-up', storage, setup: '' });
    for (let i = 0; i < RUNS; i++) {
      // Each run starts one setting further on, so that no setting always follows the same one.
      for (let k = 0; k < settings.length; k++) {
        const setting = settings[(i + k) % settings.length];
        const one = await raw(setting);
        const chunked = await raw(setting, CHUNK_ROWS);
        runs.get(setting.label)!.one.push(one);
        runs.get(setting.label)!.chunked.push(chunked);
        console.log(
          `run ${i + 1}, ${setting.label}: 1 tx ${fmtMs(one.ms)}, 1 tx per ${CHUNK_ROWS} rows ${fmtMs(chunked.ms)} (journal_mode ${one.journalMode})`,
        );
      }
    }
    const left = await bench.call<string[]>('leftovers', prefix);
    if (left.length) throw new Error(`the bench left behind: ${left.join(', ')}`);
    if (bench.pageErrors.length) console.warn(`page errors: ${bench.pageErrors.join('; ')}`);

    const out = [['raw insert, Chromium', '1 tx: median rows/s', 'runs (ms)', `1 tx per ${CHUNK_ROWS}: median rows/s`, 'runs (ms)']];
    // The file operations of the first run (the counts are the same in every run; the ms are not).
    const io = [
      [
        'file operations, first run',
        'flush, 1 tx',
        'write, 1 tx',
        `flush, per ${CHUNK_ROWS}`,
        `write, per ${CHUNK_ROWS}`,
        `truncate, per ${CHUNK_ROWS}`,
        `read, per ${CHUNK_ROWS}`,
      ],
    ];
    const figures: Record<string, { rowsPerSec: number; chunkedRowsPerSec: number; io?: { one?: OpfsIo; chunked?: OpfsIo } }> = {};
    const times = (rs: RawRunResult[]) => rs.map((r) => r.ms);
    const list = (rs: RawRunResult[]) =>
      times(rs)
        .map((t) => t.toFixed(0))
        .join(' / ');
    for (const { label, storage } of settings) {
      const { one, chunked } = runs.get(label)!;
      figures[label] = { rowsPerSec: rate(ROWS, median(times(one))), chunkedRowsPerSec: rate(ROWS, median(times(chunked))) };
      out.push([label, fmtRate(figures[label].rowsPerSec), list(one), fmtRate(figures[label].chunkedRowsPerSec), list(chunked)]);
      if (storage !== 'opfs') continue;
      figures[label].io = { one: one[0].io, chunked: chunked[0].io };
      io.push([
        label,
        ioCell(one[0], 'flush'),
        ioCell(one[0], 'write'),
        ...(['flush', 'write', 'truncate', 'read'] as const).map((m) => ioCell(chunked[0], m)),
      ]);
    }
    console.log(`\n${table(out)}\n\n${table(io)}`);
    console.log(`\nload average ${loadBefore.toFixed(2)} at the start, ${loadAverage()} at the end (other load on the machine skews every figure)`);
    recordAndPrint(
      'browser-opfs-pragmas',
      'browserOpfsPragmas',
      { rows: ROWS, runs: RUNS, chunkRows: CHUNK_ROWS, statistic: 'median', figures },
      { record: false },
    );
  } finally {
    await bench.close();
  }
}

runMain(main);
