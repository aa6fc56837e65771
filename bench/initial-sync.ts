/**
 * bench/initial-sync: how fast a fresh client gets a 100,000-row table, against the ceiling of
 * inserting the same rows straight into wa-sqlite.
 *
 *   node bench/run.mjs initial-sync [--rows=100000] [--runs=3] [--chunk-rows=N] [--window=N]
 *                                   [--no-breakdown] [--sweep] [--only=client|raw]
 *                                   [--cpu-prof-client=FILE]
 *
 * - The reference server runs in its own process (bench/seed-server.ts, forked), on a temp file
 *   database seeded through its store; the temp directory is removed at the end.
 * - Client side (this process): a fresh `createSyncClient` ({ database: ':memory:' }, the `ws`
 *   package) per run; timed from connect() to `initial_sync_complete` and to whenSynced().
 *   The database is opened (initialize()) before the clock starts.
 * - Raw side: the same rows, pre-built as arrays, inserted into a fresh in-memory wa-sqlite database
 *   (a) with openDatabase + runMany in one transaction (one prepared INSERT), the "raw insert"
 *   figure, and (b) with a hand loop on the wa-sqlite API (prepare once, typed bind/step/reset).
 * - Every figure is the MEDIAN of `--runs` runs (default 3); best is shown beside it. Client
 *   run 1 is a cold JIT: it counts in the median and is also reported alone (firstRunRowsPerSec).
 * - `--sweep` retries other snapshotChunkRows / snapshotWindow values (server processes of their own).
 * - The breakdown replays the snapshot frames the server sent (captured by a bare socket client)
 *   stage by stage, in process, to show where the client's time goes.
 *
 * The last line of output is one JSON object (see docs/benchmarks.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { performance as nodePerformance } from 'node:perf_hooks';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createSyncClient } from '../src/client/sync-client.js';
import { asyncScheduler } from 'rxjs';
import { Checkpoint } from '../src/changes/checkpoint.js';
import { SyncedData, type ApplyMessage } from '../src/changes/synced-data.js';
import { syncedTablesDdl } from '../src/changes/local-schema.js';
import { tableCodecs } from '../src/changes/table-codec.js';
import { ServerChanges } from '../src/changes/server-changes.js';
import { decodeServerMessage, PROTOCOL_VERSION, SnapshotChunkCodec, type SnapshotChunk } from '../src/protocol/index.js';
import type { ServerLimits } from '../src/server/limits.js';
import { openDatabase, type SqliteDatabase, type SqliteExecutor } from '../src/storage/index.js';
import { loadSqlite } from '../src/storage/wasm.js';
import { EventBus } from '../src/streams/events.js';
import { benchRowArrays, benchSchema, TABLE } from './fixtures.js';
import { option } from './cli-options.js';
import { startCpuProfiler } from './profiler.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { startBenchServer, type BenchServer } from './seed-server-process.js';
import { median, rate } from './stats.js';
import { fmtMs, fmtRate, table } from './text-table.js';

// ---- options -------------------------------------------------------------------------------

const ROWS = Number(option('rows') ?? 100_000);
const RUNS = Math.max(1, Number(option('runs') ?? 3));
const ONLY = option('only');
const BREAKDOWN = option('no-breakdown') === undefined && ONLY === undefined;
const SWEEP = option('sweep') !== undefined;
/** Writes a V8 CPU profile of the client runs only (not seeding, not the baselines) to this file. */
const CLIENT_PROFILE = option('cpu-prof-client');
const baseLimits: Partial<ServerLimits> = {
  ...(option('chunk-rows') && { snapshotChunkRows: Number(option('chunk-rows')) }),
  ...(option('window') && { snapshotWindow: Number(option('window')) }),
};

// ---- small helpers -------------------------------------------------------------------------

const now = () => performance.now();
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;

/** Peak RSS / heap while a measurement runs: a timer every 20 ms (process.memoryUsage costs ~0.1 ms). */
class MemorySampler {
  peakRss = 0;
  peakHeapUsed = 0;
  peakExternal = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  sample(): void {
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHeapUsed = Math.max(this.peakHeapUsed, m.heapUsed);
    this.peakExternal = Math.max(this.peakExternal, m.external);
  }
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 20);
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

// ---- the server process --------------------------------------------------------------------

function startServer(database: string, limits: Partial<ServerLimits>): Promise<BenchServer> {
  return startBenchServer('initial-sync', { database, rows: ROWS, limits });
}

// ---- client side ---------------------------------------------------------------------------

interface ClientRun {
  /** Share of the run the client's event loop was busy (performance.eventLoopUtilization). */
  busy: number;
  /** CPU time of this process (all threads) during the run: less sensitive to other load than wall time. */
  cpuMs: number;
  welcomeMs: number;
  firstChunkMs: number;
  completeMs: number;
  syncedMs: number;
  rows: number;
  rssBefore: number;
  peakRss: number;
  heapBefore: number;
  peakHeapUsed: number;
}

async function clientRun(url: string): Promise<ClientRun> {
  const client = createSyncClient({
    schema: benchSchema,
    database: ':memory:',
    WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 },
  });
  const errors: unknown[] = [];
  client.on('error', (error) => errors.push(error));
  await client.initialize();
  const memory = new MemorySampler();
  let firstChunkAt = 0;
  let completeAt = 0;
  const complete = new Promise<void>((resolve) => {
    client.on('initial_sync_progress', () => {
      firstChunkAt ||= now();
    });
    client.on('initial_sync_complete', () => {
      completeAt = now();
      resolve();
    });
  });
  global.gc?.();
  const before = process.memoryUsage();
  memory.start();
  const elu = nodePerformance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const t0 = now();
  const ok = await client.connect(url, { timeoutMs: 30_000 });
  if (!ok) throw new Error(`client did not connect: ${JSON.stringify(errors)}`);
  const welcomeAt = now();
  await complete;
  await client.whenSynced({ timeoutMs: 60_000 });
  const syncedAt = now();
  const busy = nodePerformance.eventLoopUtilization(elu).utilization;
  const used = process.cpuUsage(cpu);
  memory.stop();
  const [{ count }] = await client.query<{ count: number }>(`SELECT count(*) AS count FROM ${TABLE}`);
  await client.cleanup();
  if (count !== ROWS) throw new Error(`client holds ${count} rows, expected ${ROWS}; errors: ${JSON.stringify(errors)}`);
  if (errors.length) console.warn(`  (the client reported ${errors.length} error event(s): ${JSON.stringify(errors[0])})`);
  return {
    busy,
    cpuMs: (used.user + used.system) / 1000,
    welcomeMs: welcomeAt - t0,
    firstChunkMs: firstChunkAt - t0,
    completeMs: completeAt - t0,
    syncedMs: syncedAt - t0,
    rows: count,
    rssBefore: before.rss,
    peakRss: memory.peakRss,
    heapBefore: before.heapUsed,
    peakHeapUsed: memory.peakHeapUsed,
  };
}

/**
 * A bare socket client: hello, then JSON.parse every frame and ack every chunk at once, applying
 * nothing. Measures what the server and the socket alone can deliver; keeps the frames on request.
 */
function transportRun(url: string, keepFrames = false): Promise<{ ms: number; rows: number; frames: string[]; bytes: number }> {
  return new Promise((resolve, reject) => {
    const frames: string[] = [];
    let rows = 0;
    let bytes = 0;
    const t0 = now();
    const ws = new WebSocket(url);
    ws.on('open', () =>
      ws.send(
        JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: `bench-transport-${Math.random()}`, lsn: '0/0', schemaHash: benchSchema.hash }),
      ),
    );
    ws.on('message', (data) => {
      const text = data.toString();
      bytes += text.length;
      const message = JSON.parse(text) as { type: string; seq?: number; rows?: unknown[] };
      if (message.type.startsWith('snapshot_') && keepFrames) frames.push(text);
      if (message.type === 'snapshot_chunk') {
        rows += message.rows!.length;
        ws.send(JSON.stringify({ type: 'snapshot_ack', seq: message.seq }));
      } else if (message.type === 'snapshot_end') {
        const ms = now() - t0;
        ws.close();
        resolve({ ms, rows, frames, bytes });
      } else if (message.type === 'error') reject(new Error(text));
    });
    ws.on('error', reject);
  });
}

// ---- raw baselines -------------------------------------------------------------------------

const LOCAL_DDL = syncedTablesDdl(benchSchema);
const COLUMNS = Object.keys(benchSchema.tables[TABLE].columns);
const PLAIN_INSERT = `INSERT INTO "${TABLE}" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;
const CODEC = tableCodecs(benchSchema).get(TABLE)!;

async function freshDb(): Promise<SqliteDatabase> {
  const db = await openDatabase({ name: ':memory:' });
  await db.exec(LOCAL_DDL);
  return db;
}

async function countRows(db: SqliteDatabase): Promise<number> {
  return (await db.get<{ n: number }>(`SELECT count(*) AS n FROM "${TABLE}"`))!.n;
}

/** openDatabase + runMany, one transaction, one prepared statement. Returns ms. */
async function runManyOnce(values: unknown[][], sql = PLAIN_INSERT, chunkRows = Infinity): Promise<number> {
  const db = await freshDb();
  const t0 = now();
  if (chunkRows === Infinity) {
    await db.transaction((tx) => tx.runMany(sql, values, { realColumns: CODEC.realPositions }));
  } else {
    for (let i = 0; i < values.length; i += chunkRows) {
      const slice = values.slice(i, i + chunkRows);
      await db.transaction((tx) => tx.runMany(sql, slice, { realColumns: CODEC.realPositions }));
    }
  }
  const ms = now() - t0;
  const n = await countRows(db);
  await db.close();
  if (n !== values.length) throw new Error(`runMany inserted ${n} rows, expected ${values.length}`);
  return ms;
}

/** The wa-sqlite API by hand: prepare once, typed bind, step, reset; BEGIN/COMMIT around. */
async function rawLoopOnce(values: unknown[][]): Promise<number> {
  const { api } = await loadSqlite('sync');
  const db = await api.open_v2(':memory:');
  await api.exec(db, LOCAL_DDL);
  const kinds = COLUMNS.map((c) => benchSchema.tables[TABLE].columns[c]);
  const t0 = now();
  await api.exec(db, 'BEGIN');
  const str = api.str_new(db, PLAIN_INSERT);
  const prepared = (await api.prepare_v2(db, api.str_value(str)))!;
  const stmt = prepared.stmt;
  for (let r = 0; r < values.length; r++) {
    const row = values[r];
    for (let i = 0; i < kinds.length; i++) {
      const v = row[i];
      if (v === null) api.bind_null(stmt, i + 1);
      else if (kinds[i] === 'integer') api.bind_int(stmt, i + 1, v as number);
      else if (kinds[i] === 'real') api.bind_double(stmt, i + 1, v as number);
      else api.bind_text(stmt, i + 1, v as string);
    }
    await api.step(stmt);
    await api.reset(stmt);
  }
  await api.finalize(stmt);
  api.str_finish(str);
  await api.exec(db, 'COMMIT');
  const ms = now() - t0;
  let n = 0;
  await api.exec(db, `SELECT count(*) FROM "${TABLE}"`, (row) => void (n = row[0] as number));
  await api.close(db);
  if (n !== values.length) throw new Error(`raw loop inserted ${n} rows, expected ${values.length}`);
  return ms;
}

// ---- breakdown -----------------------------------------------------------------------------

/** A SqliteExecutor that runs nothing: isolates the JS work of applyChunk from SQLite. */
const nullExecutor: SqliteExecutor = {
  exec: async () => undefined,
  run: async () => ({ changes: 0 }),
  all: async () => [],
  get: async () => undefined,
  runMany: async () => ({ changes: 0 }),
};

async function breakdown(frames: string[], clientCompleteMs: number): Promise<string[][]> {
  const chunkFrames = frames.filter((f) => f.startsWith('{"type":"snapshot_chunk"'));
  const medianOf = async (fn: () => Promise<number> | number, runs = RUNS) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await fn());
    return median(times);
  };
  // Per frame: parse (timed), then io-ts on that parse (timed), so each figure is its own cost.
  const parseAndIoTs = () => {
    let parse = 0;
    let ioTs = 0;
    for (const f of chunkFrames) {
      const t0 = now();
      const parsed = JSON.parse(f);
      const t1 = now();
      const ok = SnapshotChunkCodec.decode(parsed)._tag === 'Right';
      ioTs += now() - t1;
      parse += t1 - t0;
      if (!ok) throw new Error('frame does not decode');
    }
    return { parse, ioTs };
  };
  const split: Array<{ parse: number; ioTs: number }> = [];
  for (let i = 0; i < RUNS; i++) split.push(parseAndIoTs());
  const parseMs = median(split.map((s) => s.parse));
  const ioTsMs = median(split.map((s) => s.ioTs));
  const decodeMs = await medianOf(() => {
    const t0 = now();
    for (const f of chunkFrames) if (!decodeServerMessage(f).ok) throw new Error('frame does not decode');
    return now() - t0;
  });
  const decoded = () =>
    frames.map((f) => {
      const d = decodeServerMessage(f);
      if (!d.ok) throw d.error;
      return d.value as ApplyMessage;
    });
  const jsApplyMs = await medianOf(async () => {
    const server = new ServerChanges(
      benchSchema,
      () => 'bench',
      () => 0,
    );
    const chunks = decoded().filter((m): m is SnapshotChunk => m.type === 'snapshot_chunk');
    const t0 = now();
    for (const chunk of chunks) await server.applyChunk(nullExecutor, chunk);
    return now() - t0;
  });
  const chunkRows = JSON.parse(chunkFrames[0]).rows.length as number;
  const values = benchRowArrays(ROWS).values;
  const upsertOneTxMs = await medianOf(() => runManyOnce(values, CODEC.upsertSql));
  const upsertPerChunkMs = await medianOf(() => runManyOnce(values, CODEC.upsertSql, chunkRows));
  const insertPerChunkMs = await medianOf(() => runManyOnce(values, PLAIN_INSERT, chunkRows));
  const applyAllMs = await medianOf(async () => {
    const db = await openDatabase({ name: ':memory:' });
    const events = new EventBus(() => Date.now());
    const changes = new SyncedData(
      db,
      new Checkpoint(events, asyncScheduler, () => undefined),
      benchSchema,
      events,
      { batchSize: 100, maxAttempts: 10, ackTimeoutMs: 10_000, keepSettled: 1000 },
      () => 'bench',
      () => Date.now(),
      () => `${Math.random()}`,
    );
    await changes.initialize();
    const messages = decoded();
    const t0 = now();
    for (const message of messages) await changes.apply(message);
    const ms = now() - t0;
    const n = await countRows(db);
    await db.close();
    if (n !== ROWS) throw new Error(`SyncedData applied ${n} rows`);
    return ms;
  });
  const pipelineMs = decodeMs + applyAllMs;
  const share = (ms: number) => `${((100 * ms) / clientCompleteMs).toFixed(0)}%`;
  return [
    ['stage (all chunks, medians)', 'ms', 'rows/s alone', 'of client sync'],
    ['JSON.parse of the frames', fmtMs(parseMs), fmtRate(rate(ROWS, parseMs)), share(parseMs)],
    ['io-ts SnapshotChunkCodec.decode', fmtMs(ioTsMs), fmtRate(rate(ROWS, ioTsMs)), share(ioTsMs)],
    ['decodeServerMessage (parse + io-ts)', fmtMs(decodeMs), fmtRate(rate(ROWS, decodeMs)), share(decodeMs)],
    ['applyChunk JS only (value checks, params, keys)', fmtMs(jsApplyMs), fmtRate(rate(ROWS, jsApplyMs)), share(jsApplyMs)],
    ['runMany upsert SQL, one transaction', fmtMs(upsertOneTxMs), fmtRate(rate(ROWS, upsertOneTxMs)), share(upsertOneTxMs)],
    [`runMany upsert SQL, one tx per ${chunkRows} rows`, fmtMs(upsertPerChunkMs), fmtRate(rate(ROWS, upsertPerChunkMs)), share(upsertPerChunkMs)],
    [`runMany plain INSERT, one tx per ${chunkRows} rows`, fmtMs(insertPerChunkMs), fmtRate(rate(ROWS, insertPerChunkMs)), share(insertPerChunkMs)],
    ['SyncedData.apply of every message', fmtMs(applyAllMs), fmtRate(rate(ROWS, applyAllMs)), share(applyAllMs)],
    ['decode + apply, no socket (in-process ceiling)', fmtMs(pipelineMs), fmtRate(rate(ROWS, pipelineMs)), share(pipelineMs)],
  ];
}

/**
 * Other snapshotChunkRows / snapshotWindow values, each on its own server process over the same
 * database file (the main server stays up, idle). Run right after the main client runs, before
 * the breakdown's data grows this process's heap, so that the heap figures compare.
 */
async function sweepLimits(database: string): Promise<string[][]> {
  const sweepRuns = Math.min(RUNS, 2);
  const sweep: string[][] = [
    ['snapshotChunkRows', 'snapshotWindow', `client complete (best of ${sweepRuns})`, 'rows/s', 'server+socket only', 'client peak heap'],
  ];
  for (const [chunkRows, window] of [
    [1000, 4],
    [1000, 16],
    [250, 4],
    [2500, 4],
    [5000, 4],
    [5000, 2],
    [10000, 2],
  ]) {
    const s = await startServer(database, { snapshotChunkRows: chunkRows, snapshotWindow: window });
    const times: number[] = [];
    const transport: number[] = [];
    let peakHeap = 0;
    try {
      for (let i = 0; i < sweepRuns; i++) {
        transport.push((await transportRun(s.url)).ms);
        const run = await clientRun(s.url);
        times.push(run.completeMs);
        peakHeap = Math.max(peakHeap, run.peakHeapUsed);
      }
    } finally {
      await s.close();
    }
    sweep.push([
      String(chunkRows),
      String(window),
      fmtMs(Math.min(...times)),
      fmtRate(rate(ROWS, Math.min(...times))),
      fmtRate(rate(ROWS, Math.min(...transport))),
      mb(peakHeap),
    ]);
    console.log(`  sweep ${chunkRows}/${window}: ${times.map((t) => t.toFixed(0)).join(' / ')} ms`);
  }
  return sweep;
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-bench-'));
  const database = join(dir, 'server.db');
  const started = now();
  let server: BenchServer | undefined;
  try {
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');
    const loadBefore = loadavg()[0];
    console.log(
      `initial-sync bench: ${ROWS.toLocaleString('en-US')} rows, ${RUNS} run(s) per side, node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ''}, load average ${load()}`,
    );
    const results: Record<string, number> = {};
    const out: string[][] = [['measurement', 'median', 'best', 'median rows/s', 'runs (ms)']];
    const best: Record<string, number> = {};
    const row = (label: string, times: number[]) => {
      best[label] = rate(ROWS, Math.min(...times));
      out.push([label, fmtMs(median(times)), fmtMs(Math.min(...times)), fmtRate(rate(ROWS, median(times))), times.map((t) => t.toFixed(0)).join(' / ')]);
      return rate(ROWS, median(times));
    };

    const clientRuns: ClientRun[] = [];
    let sweepTable: string[][] | undefined;
    let frames: string[] = [];
    if (ONLY !== 'raw') {
      server = await startServer(database, baseLimits);
      console.log(`server: seeded ${server.rows.toLocaleString('en-US')} rows in ${fmtMs(server.seedMs)} (lsn ${server.lsn}), ${server.url}`);
      if (server.rows !== ROWS) throw new Error(`the server holds ${server.rows} rows`);
      // Warm the server up (a long-running server is warm): one bare-socket snapshot, not timed.
      await transportRun(server.url);
      const stopProfiler = CLIENT_PROFILE ? await startCpuProfiler(CLIENT_PROFILE) : undefined;
      for (let i = 0; i < RUNS; i++) {
        const run = await clientRun(server.url);
        clientRuns.push(run);
        console.log(
          `client run ${i + 1}: complete ${fmtMs(run.completeMs)}, synced ${fmtMs(run.syncedMs)}, peak RSS ${mb(run.peakRss)} (${mb(run.rssBefore)} before), peak heap ${mb(run.peakHeapUsed)} (${mb(run.heapBefore)} before), event loop busy ${(100 * run.busy).toFixed(0)}%, CPU ${fmtMs(run.cpuMs)}`,
        );
      }
      await stopProfiler?.();
      if (SWEEP) sweepTable = await sweepLimits(database);
      const transport: number[] = [];
      // After the client runs, so that the frames kept for the breakdown do not weigh on their memory.
      for (let i = 0; ONLY !== 'client' && i < RUNS; i++) {
        const run = await transportRun(server.url, i === 0 && BREAKDOWN);
        if (run.rows !== ROWS) throw new Error(`transport run got ${run.rows} rows`);
        if (i === 0) frames = run.frames;
        transport.push(run.ms);
        if (i === 0) console.log(`snapshot on the wire: ${mb(run.bytes)} of JSON`);
      }
      results.rowsPerSec = row(
        'client: connect() -> initial_sync_complete',
        clientRuns.map((r) => r.completeMs),
      );
      results.syncedRowsPerSec = row(
        'client: connect() -> whenSynced()',
        clientRuns.map((r) => r.syncedMs),
      );
      out.push([
        'client: connect() -> welcome',
        fmtMs(median(clientRuns.map((r) => r.welcomeMs))),
        '',
        '',
        clientRuns.map((r) => r.welcomeMs.toFixed(0)).join(' / '),
      ]);
      out.push([
        'client: connect() -> first chunk applied',
        fmtMs(median(clientRuns.map((r) => r.firstChunkMs))),
        '',
        '',
        clientRuns.map((r) => r.firstChunkMs.toFixed(0)).join(' / '),
      ]);
      if (transport.length) results.transportRowsPerSec = row('server + socket only (parse, ack, no apply)', transport);
    }

    if (ONLY !== 'client') {
      const { values } = benchRowArrays(ROWS);
      const runMany: number[] = [];
      const rawLoop: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        runMany.push(await runManyOnce(values));
        rawLoop.push(await rawLoopOnce(values));
      }
      results.rawInsertRowsPerSec = row('raw: openDatabase + runMany INSERT, 1 tx', runMany);
      results.rawLoopRowsPerSec = row('raw: wa-sqlite API loop (bind/step/reset), 1 tx', rawLoop);
    }
    console.log('');
    console.log(table(out));

    if (BREAKDOWN && frames.length) {
      console.log('');
      console.log(table(await breakdown(frames, median(clientRuns.map((r) => r.completeMs)))));
    }

    if (sweepTable) {
      console.log('');
      console.log(table(sweepTable));
    }

    const peakRss = clientRuns.length ? Math.max(...clientRuns.map((r) => r.peakRss)) : undefined;
    const peakHeapUsed = clientRuns.length ? Math.max(...clientRuns.map((r) => r.peakHeapUsed)) : undefined;
    if (clientRuns.length) console.log(`\nclient peak RSS ${mb(peakRss!)}, peak heapUsed ${mb(peakHeapUsed!)} (process-wide, sampled every 20 ms)`);
    console.log(`total bench time ${((now() - started) / 1000).toFixed(1)} s, load average ${load()} (other load on the machine skews every figure)\n`);
    const summary = {
      rows: ROWS,
      runs: RUNS,
      statistic: 'median',
      rowsPerSec: results.rowsPerSec,
      rawInsertRowsPerSec: results.rawInsertRowsPerSec,
      ratioToRaw: results.rowsPerSec && results.rawInsertRowsPerSec ? Number((results.rowsPerSec / results.rawInsertRowsPerSec).toFixed(3)) : undefined,
      rawLoopRowsPerSec: results.rawLoopRowsPerSec,
      ratioToRawLoop: results.rowsPerSec && results.rawLoopRowsPerSec ? Number((results.rowsPerSec / results.rawLoopRowsPerSec).toFixed(3)) : undefined,
      bestRowsPerSec: best['client: connect() -> initial_sync_complete'],
      firstRunRowsPerSec: clientRuns.length ? rate(ROWS, clientRuns[0].completeMs) : undefined,
      bestRawInsertRowsPerSec: best['raw: openDatabase + runMany INSERT, 1 tx'],
      syncedRowsPerSec: results.syncedRowsPerSec,
      clientCpuMs: clientRuns.length ? Math.round(median(clientRuns.map((r) => r.cpuMs))) : undefined,
      transportRowsPerSec: results.transportRowsPerSec,
      peakRssMB: peakRss && Math.round(peakRss / 1048576),
      peakHeapUsedMB: peakHeapUsed && Math.round(peakHeapUsed / 1048576),
      limits: { snapshotChunkRows: baseLimits.snapshotChunkRows ?? 1000, snapshotWindow: baseLimits.snapshotWindow ?? 4 },
      node: process.version,
      loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
    };
    // A partial run (--only) has no ratio to record; a full one is the figure `npm run bench` reports.
    // A profiled run is slowed by the profiler: printed, not recorded.
    recordAndPrint('initial-sync', 'initialSync', summary, {
      record: ONLY === undefined && CLIENT_PROFILE === undefined,
      notRecordedNote:
        CLIENT_PROFILE === undefined ? undefined : 'not recorded in bench/results.json: the CPU profiler (--cpu-prof-client) slowed the client runs',
    });
  } finally {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
