/**
 * bench/live-queries: two live queries on a client holding 50,000 rows while the server inserts
 * 200 rows/s, as issue 15 measured them: a top 20 (`ORDER BY n DESC LIMIT 20`) and the whole table
 * (`ORDER BY updated_at DESC`), both on declared indexes. Each strategy in its own client:
 *
 * - fold: watch() as it is, folding each commit's changed rows into the result (src/live/);
 * - rerun: the same two queries written so that watch() cannot fold them (`LIMIT … OFFSET 0`,
 *   which returns the same rows), so it runs them again after every commit, as before.
 *
 * - tab-patches: the folded watches seen from a tab, through a worker core on a MessageChannel in
 *   this process (structured clone, as between a page and its worker): watch() sends each update's
 *   splices. (Whole lists, what a tab got before, fell 5 s behind: docs/benchmarks.md.)
 *
 *   node bench/run.mjs live-queries [--rows=50000] [--writes=1000] [--rate=200] [--only=STRATEGY]
 *
 * The server (bench/seed-server.ts, forked) holds `--rows` rows; the client syncs them, subscribes
 * both watches, and then the server writes `--writes` rows at `--rate`/s, each one commit, each
 * newest by `n` and by `updated_at`: it comes first in both results. A write counts for a watch at
 * the first emission whose first row is it (or a later one), from the server's wall-clock stamp
 * just before the write. p50/p99 in ms; also emissions per watch, and this process's CPU per write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observable } from 'rxjs';
import WebSocket from 'ws';
import { createSyncClient, type SyncClient } from '../src/client/sync-client.js';
import { defineSchema } from '../src/protocol/index.js';
import { connectRemoteClient } from '../src/worker/remote-client.js';
import { WorkerCore } from '../src/worker/worker-core.js';
import { benchSchema, TABLE } from './fixtures.js';
import { option } from './cli-options.js';
import { loadAverage, machineLine } from './machine.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { startBenchServer, type BenchServer } from './seed-server-process.js';
import { round2, stats, type Stats } from './stats.js';
import { table } from './text-table.js';
import { wallNow } from './wall-clock.js';
import { WatchProgress } from './watch-progress.js';

const ROWS = Number(option('rows') ?? 50_000);
const WRITES = Number(option('writes') ?? 1000);
const RATE = Number(option('rate') ?? 200);
/** Stamped rows' n starts past every seeded row's (benchRow(i).n = 7 i). */
const FIRST_N = 10_000_000;
const ONLY = option('only') as Strategy | undefined;

/** The bench table with the indexes the two queries want. */
const schema = defineSchema({
  tables: { [TABLE]: { ...benchSchema.tables[TABLE], indexes: ['n', 'updated_at'] } },
});

const FOLDED = { top: `SELECT * FROM ${TABLE} ORDER BY n DESC LIMIT 20`, whole: `SELECT * FROM ${TABLE} ORDER BY updated_at DESC` };
const QUERIES = {
  fold: FOLDED,
  rerun: {
    top: `SELECT * FROM ${TABLE} ORDER BY n DESC LIMIT 20 OFFSET 0`,
    whole: `SELECT * FROM ${TABLE} ORDER BY updated_at DESC LIMIT -1 OFFSET 0`,
  },
  // Through the worker boundary (a WorkerCore on a MessageChannel in this process, as a tab uses it).
  'tab-patches': FOLDED,
};
type Strategy = keyof typeof QUERIES;

/** What the bench subscribes to: a client in this process, or a tab of a worker core in it. */
interface Watcher {
  watch(sql: string): Observable<Row[]>;
  whenSynced(): Promise<void>;
  cleanup(): Promise<void>;
}

async function startWatcher(strategy: Strategy, url: string): Promise<Watcher> {
  const options = {
    schema,
    database: ':memory:',
    WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket,
    heartbeat: { intervalMs: 600_000, timeoutMs: 1_200_000 },
  };
  if (strategy === 'fold' || strategy === 'rerun') {
    const client: SyncClient = createSyncClient(options);
    if (!(await client.connect(url, { timeoutMs: 60_000 }))) throw new Error('the client did not connect');
    return { watch: (sql) => client.watch<Row>(sql), whenSynced: () => client.whenSynced({ timeoutMs: 120_000 }), cleanup: () => client.cleanup() };
  }
  const { WebSocketCtor, heartbeat } = options;
  const core = new WorkerCore({ defaults: { WebSocketCtor, heartbeat } });
  const { port1, port2 } = new MessageChannel();
  core.serve(port1);
  const tab = await connectRemoteClient(port2, { schema, database: ':memory:' });
  if (!(await tab.connect(url, { timeoutMs: 60_000 }))) throw new Error('the tab did not connect');
  return {
    watch: (sql) => tab.watch<Row>(sql),
    whenSynced: () => tab.whenSynced({ timeoutMs: 120_000 }),
    cleanup: async () => {
      await tab.cleanup();
      await core.close();
      port1.close();
      port2.close();
    },
  };
}

interface StrategyResult {
  top: Stats;
  whole: Stats;
  emissions: { top: number; whole: number };
  clientCpuPerWrite: number;
  initialSyncMs: number;
}

type Row = { n: number | null };

async function measure(strategy: Strategy, server: BenchServer, from: number): Promise<StrategyResult> {
  const t0 = performance.now();
  const client = await startWatcher(strategy, server.url);
  try {
    await client.whenSynced();
    const initialSyncMs = performance.now() - t0;
    const top = new WatchProgress(`${strategy} top 20`);
    const whole = new WatchProgress(`${strategy} whole table`);
    const emissions = { top: 0, whole: 0 };
    const watch = (sql: string, progress: WatchProgress, name: 'top' | 'whole') =>
      client.watch(sql).subscribe((rows) => {
        const at = wallNow();
        emissions[name]++;
        const n = rows[0]?.n;
        if (typeof n === 'number' && n >= FIRST_N) progress.saw(n - FIRST_N, at);
      });
    const subscriptions = [watch(QUERIES[strategy].top, top, 'top'), watch(QUERIES[strategy].whole, whole, 'whole')];
    // Both first results in, then a warm-up of 100 writes (JIT), untimed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.request({ type: 'stamped', count: 100, periodMs: 1000 / RATE, prefix: `${strategy}-w-`, from: FIRST_N + from }, 'stamped_done');
    await top.shown(from + 99, 60_000);
    await whole.shown(from + 99, 60_000);
    const emitted = { ...emissions };
    const cpu = process.cpuUsage();
    const done = await server.request<{ writes: Array<{ n: number; t: number }> }>(
      { type: 'stamped', count: WRITES, periodMs: 1000 / RATE, prefix: `${strategy}-`, from: FIRST_N + from + 100 },
      'stamped_done',
    );
    const last = from + 100 + WRITES - 1;
    await top.shown(last, 120_000);
    await whole.shown(last, 120_000);
    const used = process.cpuUsage(cpu);
    subscriptions.forEach((subscription) => subscription.unsubscribe());
    const latencies = (progress: WatchProgress) => done.writes.map((write) => progress.shownAt.get(write.n - FIRST_N)! - write.t);
    return {
      top: stats(latencies(top)),
      whole: stats(latencies(whole)),
      emissions: { top: emissions.top - emitted.top, whole: emissions.whole - emitted.whole },
      clientCpuPerWrite: (used.user + used.system) / 1000 / WRITES,
      initialSyncMs,
    };
  } finally {
    await client.cleanup();
  }
}

const fmt = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-live-queries-'));
  console.log(`live-queries bench: ${ROWS.toLocaleString('en-US')} rows, ${WRITES} writes at ${RATE}/s, ${machineLine()}, load average ${loadAverage()}`);
  const server = await startBenchServer('live-queries', { database: join(dir, 'server.db'), rows: ROWS });
  try {
    const results: Partial<Record<Strategy, StrategyResult>> = {};
    let from = 0;
    const strategies = ONLY ? [ONLY] : (['fold', 'rerun', 'tab-patches'] as const);
    for (const strategy of strategies) {
      results[strategy] = await measure(strategy, server, from);
      from += 100 + WRITES;
      const r = results[strategy]!;
      console.log(
        `${strategy}: top 20 p50 ${fmt(r.top.p50)} p99 ${fmt(r.top.p99)} ms (${r.emissions.top} emissions), whole table p50 ${fmt(r.whole.p50)} p99 ${fmt(r.whole.p99)} ms (${r.emissions.whole} emissions), client CPU ${fmt(r.clientCpuPerWrite)} ms per write; initial sync ${(r.initialSyncMs / 1000).toFixed(1)} s`,
      );
    }
    const out: string[][] = [['server write -> emission (ms)', 'p50', 'p90', 'p99', 'max', 'emissions', 'client CPU / write']];
    for (const strategy of strategies) {
      const r = results[strategy]!;
      out.push([`${strategy}: top 20`, fmt(r.top.p50), fmt(r.top.p90), fmt(r.top.p99), fmt(r.top.max), String(r.emissions.top), fmt(r.clientCpuPerWrite)]);
      out.push([`${strategy}: whole table`, fmt(r.whole.p50), fmt(r.whole.p90), fmt(r.whole.p99), fmt(r.whole.max), String(r.emissions.whole), '']);
    }
    console.log(`\n${table(out)}`);
    console.log(`goal: both watches p99 <= 10 ms (fold). Load average ${loadAverage()}\n`);
    const pick = (r: StrategyResult) => ({
      top: { p50: round2(r.top.p50), p99: round2(r.top.p99) },
      whole: { p50: round2(r.whole.p50), p99: round2(r.whole.p99) },
      emissions: r.emissions,
      clientCpuPerWriteMs: round2(r.clientCpuPerWrite),
    });
    recordAndPrint(
      'live-queries',
      'liveQueries',
      {
        ...Object.fromEntries(Object.entries(results).map(([strategy, result]) => [strategy, pick(result)])),
        rows: ROWS,
        writes: WRITES,
        rate: RATE,
      },
      {
        record: !ONLY && ROWS === 50_000 && WRITES === 1000 && RATE === 200,
        notRecordedNote: '(not recorded in bench/results.json: a partial run, or not the default rows/writes/rate)',
      },
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
