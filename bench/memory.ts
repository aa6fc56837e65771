/**
 * bench/memory: the client's peak memory during an initial sync of 100,000 and of 1,000,000 rows.
 * The goal (issue 6): memory flat from 100k to 1M rows, i.e. no whole-snapshot buffering. The JS
 * heap peak should stay about the same, and RSS should grow only by the size of the database itself.
 *
 *   node bench/run.mjs memory [--sizes=100000,1000000] [--heap-profile]
 *
 * - Server: bench/seed-server.ts in its own process (forked), one file database per size, cached
 *   under node_modules/.cache/rxsync-bench/memory-server-<rows>.db. The first run seeds it (1M rows:
 *   about 20-40 s), and later runs reuse it. A `.ok` marker is written once a seed has completed,
 *   and a file without one is deleted and seeded again. One untimed bare-socket snapshot warms the
 *   server up before the client starts.
 * - Client: each size runs in a FRESH child process (this script again, with `--child`, node
 *   --expose-gc), so the peaks of one size never carry over to the next. The child runs
 *   `createSyncClient({ database: ':memory:', WebSocketCtor: ws })` and `initialize()`s it (this
 *   loads the wasm), collects garbage, then takes a baseline. It samples `process.memoryUsage()`
 *   every 20 ms, and again at every `initial_sync_progress` event, from `connect()` to `whenSynced()`.
 *   The timer only fires when the event loop gets a turn, about every 100-150 ms while a sync keeps
 *   it busy; the per-chunk samples cover the chunk boundaries. `v8.GCProfiler` also records every GC
 *   of the sync. The heap used just before a GC is a true local peak, so "peak heap" is the larger
 *   of that and the sampled heapUsed. What full GCs left alive ("live heap") is what the client
 *   really held, with garbage excluded: this figure shows buffering most directly.
 * - ':memory:' keeps the whole database in wasm linear memory, which counts in RSS but not in the JS
 *   heap. So the child also reports the database's size (`PRAGMA page_count × page_size`), and the
 *   wasm memory size (the `WebAssembly.Memory` of wa-sqlite's sync build, caught at instantiation).
 *   These separate "rows stored" from "engine buffering". Node has no other persistent option: a
 *   named database in Node means IndexedDB through fake-indexeddb, which keeps every page in the
 *   JS heap, and that would hide exactly what this bench looks for. So both sizes use ':memory:'.
 * - `--heap-profile`: the child also runs V8's sampling heap profiler during the sync. It prints the
 *   allocation sites that still hold memory at the end, to show where any growth comes from.
 *
 * Prints a table, and records `memory` in bench/results.json. The last line is the JSON it recorded.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { GCProfiler } from 'node:v8';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createSyncClient } from '../src/client/sync-client.js';
import { cachedSeedServer } from './cached-seed-server.js';
import { option } from './cli-options.js';
import { benchSchema, TABLE } from './fixtures.js';
import { inspectorSession } from './profiler.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { warmUp } from './snapshot-warm-up.js';
import { table } from './text-table.js';
import { loadAverage } from './machine.js';

// ---- options -------------------------------------------------------------------------------

const SIZES = (option('sizes') ?? '100000,1000000').split(',').map(Number);
const HEAP_PROFILE = option('heap-profile') !== undefined;

const MB = 1048576;
const toMB = (bytes: number) => Math.round(bytes / MB);
const now = () => performance.now();

// ---- child: one client, one initial sync ---------------------------------------------------

interface ChildReport {
  rows: number;
  syncMs: number;
  rssBefore: number;
  heapBefore: number;
  peakRss: number;
  peakHeapUsed: number;
  peakHeapTotal: number;
  peakExternal: number;
  peakArrayBuffers: number;
  heapAfterGc: number;
  dbBytes: number;
  wasmBytes: number;
  samples: number;
  /** The largest heap used size seen just before a GC during the sync (v8.GCProfiler). */
  gcPeakHeapUsed: number;
  gcs: number;
  /** Full (mark-compact) GCs during the sync, and the heap they left: the largest, and the last one's. */
  majorGcs: number;
  liveHeapMax: number;
  liveHeapLast: number;
  heapProfile?: string[];
}

/** wa-sqlite's WebAssembly.Memory, caught when emscripten instantiates the module. */
const wasmMemories: WebAssembly.Memory[] = [];
function catchWasmMemory(): void {
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...args: unknown[]) => Promise<unknown>;
  (WebAssembly as { instantiate: unknown }).instantiate = async (...args: unknown[]) => {
    const result = (await instantiate(...args)) as { instance?: WebAssembly.Instance } | WebAssembly.Instance;
    const instance = 'instance' in result && result.instance ? result.instance : (result as WebAssembly.Instance);
    for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) wasmMemories.push(value);
    return result;
  };
}

async function startHeapProfiler(): Promise<() => Promise<string[]>> {
  const session = inspectorSession();
  const post = session.post;
  await post('HeapProfiler.enable');
  // Every 32 KB allocated on average; keep objects that were collected too, so that transient
  // buffering (allocated and freed during the sync) shows up as well as what is retained.
  await post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    session.disconnect();
    // Self size per function (allocation site), summed over the call tree.
    // Sites in this bundle are mapped back to src/ through its source map.
    const mapFile = `${here}.map`;
    const sourceMap = existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : undefined;
    const bySite = new Map<string, number>();
    const walk = (node: any) => {
      const frame = node.callFrame;
      let where = `${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
      if (sourceMap && frame.url.endsWith(basename(here))) {
        const entry = sourceMap.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number };
        if (entry.originalSource) where = `${entry.originalSource.replace(/^.*?\/(src|bench)\//, '$1/')}:${entry.originalLine! + 1}`;
      }
      where = `${frame.functionName || '(anonymous)'} ${where}`;
      bySite.set(where, (bySite.get(where) ?? 0) + node.selfSize);
      for (const child of node.children) walk(child);
    };
    walk(profile.head);
    return [...bySite.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([site, bytes]) => `${(bytes / MB).toFixed(1).padStart(8)} MB  ${site}`);
  };
}

async function child(url: string, rows: number): Promise<ChildReport> {
  catchWasmMemory();
  const client = createSyncClient({
    schema: benchSchema,
    database: ':memory:',
    WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 },
  });
  const errors: unknown[] = [];
  client.on('error', (error) => errors.push(error));
  await client.initialize();
  let peakRss = 0;
  let peakHeapUsed = 0;
  let peakHeapTotal = 0;
  let peakExternal = 0;
  let peakArrayBuffers = 0;
  let samples = 0;
  const sample = () => {
    const m = process.memoryUsage();
    samples++;
    peakRss = Math.max(peakRss, m.rss);
    peakHeapUsed = Math.max(peakHeapUsed, m.heapUsed);
    peakHeapTotal = Math.max(peakHeapTotal, m.heapTotal);
    peakExternal = Math.max(peakExternal, m.external);
    peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
  };
  client.on('initial_sync_progress', sample);
  const complete = new Promise<void>((resolve) => client.on('initial_sync_complete', () => resolve()));
  global.gc?.();
  const before = process.memoryUsage();
  const stopProfiler = HEAP_PROFILE ? await startHeapProfiler() : undefined;
  const gcProfiler = new GCProfiler();
  gcProfiler.start();
  const timer = setInterval(sample, 20);
  sample();
  const t0 = now();
  const ok = await client.connect(url, { timeoutMs: 60_000 });
  if (!ok) throw new Error(`client did not connect: ${JSON.stringify(errors)}`);
  await complete;
  await client.whenSynced({ timeoutMs: 300_000 });
  const syncMs = now() - t0;
  clearInterval(timer);
  // The heap's used size just before each GC is a local maximum: their max is the true peak, which
  // the sampler can miss (its timer only runs when the event loop gets a turn between chunks).
  const gcs = gcProfiler.stop()?.statistics ?? [];
  const gcPeakHeapUsed = Math.max(0, ...gcs.map((gc) => gc.beforeGC.heapStatistics.usedHeapSize));
  // What a full GC left alive during the sync: the data the engine really held at that moment.
  const liveAfterMajorGc = gcs.filter((gc) => gc.gcType === 'MarkSweepCompact').map((gc) => gc.afterGC.heapStatistics.usedHeapSize);
  sample();
  const heapProfile = await stopProfiler?.();
  global.gc?.();
  const heapAfterGc = process.memoryUsage().heapUsed;
  const [{ count }] = await client.query<{ count: number }>(`SELECT count(*) AS count FROM ${TABLE}`);
  const [{ page_count: pages }] = await client.query<{ page_count: number }>('PRAGMA page_count');
  const [{ page_size: pageSize }] = await client.query<{ page_size: number }>('PRAGMA page_size');
  const wasmBytes = wasmMemories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0);
  await client.cleanup();
  if (count !== rows) throw new Error(`client holds ${count} rows, expected ${rows}; errors: ${JSON.stringify(errors)}`);
  if (errors.length) console.warn(`  (the client reported ${errors.length} error event(s): ${JSON.stringify(errors[0])})`);
  return {
    rows: count,
    syncMs,
    rssBefore: before.rss,
    heapBefore: before.heapUsed,
    peakRss,
    peakHeapUsed,
    peakHeapTotal,
    peakExternal,
    peakArrayBuffers,
    heapAfterGc,
    dbBytes: pages * pageSize,
    wasmBytes,
    samples,
    gcPeakHeapUsed,
    gcs: gcs.length,
    majorGcs: liveAfterMajorGc.length,
    liveHeapMax: Math.max(0, ...liveAfterMajorGc),
    liveHeapLast: liveAfterMajorGc.at(-1) ?? 0,
    heapProfile,
  };
}

// ---- parent: servers and children ----------------------------------------------------------

const here = fileURLToPath(import.meta.url);
function runChild(url: string, rows: number): Promise<ChildReport> {
  const args = [`--child=${url}`, `--rows=${rows}`, ...(HEAP_PROFILE ? ['--heap-profile'] : [])];
  const proc = fork(here, args, { execArgv: ['--expose-gc'], stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    let report: ChildReport | undefined;
    proc.on('message', (message: ChildReport) => (report = message));
    proc.once('error', reject);
    proc.once('exit', (code) => (report && code === 0 ? resolve(report) : reject(new Error(`the client process exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const started = now();
  console.log(
    `memory bench: sizes ${SIZES.map((s) => s.toLocaleString('en-US')).join(', ')}, node ${process.version}, ${cpus().length} CPU(s), load average ${loadAverage()}`,
  );
  const reports: ChildReport[] = [];
  /** The JS heap's peak: the sampled peak, or the used size before a GC when that was higher. */
  const peakHeap = (r: ChildReport) => Math.max(r.peakHeapUsed, r.gcPeakHeapUsed);
  for (const rows of SIZES) {
    const server = await cachedSeedServer('memory-server', rows, 'memory');
    try {
      console.log(
        `server: ${rows.toLocaleString('en-US')} rows ${server.seedMs > 100 ? `seeded in ${(server.seedMs / 1000).toFixed(1)} s` : 'reused from the cache'}, ${server.url}`,
      );
      await warmUp(server.url);
      const report = await runChild(server.url, rows);
      reports.push(report);
      console.log(
        `client ${rows.toLocaleString('en-US')} rows: synced in ${(report.syncMs / 1000).toFixed(1)} s (${Math.round(rows / (report.syncMs / 1000)).toLocaleString('en-US')} rows/s), ` +
          `peak RSS ${toMB(report.peakRss)} MB (${toMB(report.rssBefore)} before), peak heap ${toMB(peakHeap(report))} MB (${toMB(report.heapBefore)} before), ` +
          `${report.samples} samples, ${report.gcs} GCs (${report.majorGcs} full: live heap after them at most ${toMB(report.liveHeapMax)} MB, after the last ${toMB(report.liveHeapLast)} MB)`,
      );
      if (report.heapProfile) {
        console.log(
          `  sampling heap profile: bytes allocated during the sync, by site (mostly garbage collected since; "heap after sync+GC" below is what stays):`,
        );
        for (const line of report.heapProfile) console.log(`  ${line}`);
      }
    } finally {
      await server.close();
    }
  }

  const out: string[][] = [
    [
      'rows',
      'sync',
      'peak RSS',
      'RSS before',
      'peak heap',
      'sampled heapUsed',
      'heap before',
      'live heap (full GCs)',
      'heap after sync+GC',
      'peak external',
      'database (pages)',
      'wasm memory',
    ],
  ];
  for (const r of reports) {
    out.push([
      r.rows.toLocaleString('en-US'),
      `${(r.syncMs / 1000).toFixed(1)} s`,
      `${toMB(r.peakRss)} MB`,
      `${toMB(r.rssBefore)} MB`,
      `${toMB(peakHeap(r))} MB`,
      `${toMB(r.peakHeapUsed)} MB`,
      `${toMB(r.heapBefore)} MB`,
      r.majorGcs ? `${toMB(r.liveHeapMax)} MB` : 'no full GC',
      `${toMB(r.heapAfterGc)} MB`,
      `${toMB(r.peakExternal)} MB`,
      `${toMB(r.dbBytes)} MB`,
      `${toMB(r.wasmBytes)} MB`,
    ]);
  }
  console.log('');
  console.log(table(out));
  console.log(
    'peak heap: the larger of heapUsed sampled every 20 ms and at every chunk, and the heap used just before a GC (v8.GCProfiler).\n' +
      'live heap: the most a full (mark-compact) GC during the sync left alive, i.e. what the client really held, garbage excluded.\n' +
      "peak external includes the wasm memory. database = PRAGMA page_count x page_size of the client's ':memory:' database (held in the wasm memory).",
  );
  const small = reports.find((r) => r.rows === 100_000);
  const large = reports.find((r) => r.rows === 1_000_000);
  if (small && large) {
    const rssAbove = (r: ChildReport) => r.peakRss - r.rssBefore;
    console.log(
      `\n100k -> 1M rows: peak heap ${toMB(peakHeap(small))} -> ${toMB(peakHeap(large))} MB; ` +
        `peak RSS above the pre-sync baseline ${toMB(rssAbove(small))} -> ${toMB(rssAbove(large))} MB (+${toMB(rssAbove(large) - rssAbove(small))} MB), ` +
        `against database +${toMB(large.dbBytes - small.dbBytes)} MB and wasm memory +${toMB(large.wasmBytes - small.wasmBytes)} MB.`,
    );
  }
  console.log(`total bench time ${((now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()}\n`);
  const entry = (r: ChildReport | undefined) =>
    r && {
      peakRssMB: toMB(r.peakRss),
      peakHeapMB: toMB(peakHeap(r)),
      dbMB: toMB(r.dbBytes),
      wasmMB: toMB(r.wasmBytes),
      rssBeforeMB: toMB(r.rssBefore),
      heapBeforeMB: toMB(r.heapBefore),
      heapAfterGcMB: toMB(r.heapAfterGc),
      liveHeapMB: toMB(r.liveHeapMax),
      syncRowsPerSec: Math.round(r.rows / (r.syncMs / 1000)),
    };
  const data = { rows100k: entry(small), rows1M: entry(large), database: ':memory:', sampleEveryMs: 20 };
  recordAndPrint('memory', 'memory', data, {
    record: Boolean(small && large),
    notRecordedNote: '(not recorded: bench/results.json takes the 100k and 1M sizes together)',
  });
}

const childUrl = option('child');
if (childUrl) {
  child(childUrl, Number(option('rows'))).then(
    (report) => process.send!(report, () => process.exit(0)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  runMain(main);
}
