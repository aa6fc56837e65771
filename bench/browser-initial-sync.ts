/**
 * bench/browser-initial-sync: the initial sync of 100,000 rows in headless Chromium, on both of
 * the browser's persistent storages, each against the ceiling of inserting the same rows straight
 * into the same VFS. Issue 15's goal: OPFS at >= 2x the IndexedDB client of the same run, and at
 * >= 0.8 of direct inserts into OPFS.
 *
 *   node bench/run.mjs browser-initial-sync [--rows=100000] [--runs=3] [--incognito] [--devtools]
 *                                           [--profile=DIR]
 *
 * - Browser: Chromium from /usr/bin/chromium (or CHROMIUM_PATH), with the browser specs' flags, as
 *   a process of its own with NO DevTools client attached, as a user's browser runs: the page takes
 *   the bench's calls over HTTP (browser-command-channel.ts). Under Playwright (`--devtools`, and
 *   `--profile`, which needs it) the DevTools Network domain is on and Chromium copies every
 *   WebSocket frame to it: the same 20 MB transfer took 580-850 ms there against 230-310 ms
 *   without, a tax on the client's side of the ratios only, so such runs are not recorded.
 *   In a PERSISTENT profile (a fresh user-data directory), as a user's
 *   browser is: in an off-the-record one (the specs' browser.newContext(), or `--incognito` here)
 *   OPFS lives in the browser process's memory and each sync access handle call is an IPC to it,
 *   ~25-100x slower per call (browser-harness.ts has the figures); `--incognito` figures are
 *   printed, not recorded. The page and the shipped bundle (dist/browser, or the current src/
 *   built into the bench cache when dist is stale) are served by this process. See
 *   browser-harness.ts. The page is bench/browser-page.ts.
 * - Server: bench/seed-server.ts in its own process (forked), on a cached file database
 *   (node_modules/.cache/rxsync-bench/browser-server-<rows>.db; seeded on first use). One untimed
 *   bare-socket snapshot warms it up.
 * - Client, IndexedDB: `createWorkerSyncClient({ storage: 'indexeddb' })`, the engine in the
 *   SharedWorker on IDBBatchAtomicVFS (wa-sqlite's async build). The SharedWorker lives on between
 *   runs, so only its run 1 is a cold JIT (reported alone as well).
 * - Client, OPFS: `createWorkerSyncClient` with storage left out, as an app would: a new name goes
 *   to OPFS, the engine in the tab's dedicated holder worker on AccessHandlePoolVFS (the sync
 *   build). That worker ends with cleanup(), so EVERY OPFS run starts a new worker: a cold JIT
 *   each time, where the IndexedDB engine's is warm from run 2 on (this is what a page load gets).
 * - Both clients: a FRESH database name per run; the clock runs on the page from connect() to the
 *   `initial_sync_complete` event and to whenSynced(); initialize(), which opens the database,
 *   runs before it. After each run the row count is checked, and so is where the rows are: the
 *   OPFS directory rxsync/db-<name> with the data and no IndexedDB database of that name, or the
 *   IndexedDB database and no OPFS directory (browser-stored.ts).
 * - Raw (the ceilings): the same rows as arrays, inserted through src/storage's openDatabase into a
 *   fresh name of the same storage with no engine: one transaction, one prepared INSERT (runMany),
 *   commit included (`rawInsertRowsPerSec`). IndexedDB on the page; OPFS in a dedicated worker
 *   (bench/browser-opfs-worker.ts; sync access handles exist only there), one worker kept for all
 *   runs. Both run the one function in bench/browser-raw-insert.ts. Beside each, for reference
 *   only: one transaction per 1000 rows (`rawChunkedRowsPerSec`), which tells the VFS's cost per
 *   commit apart from the engine's own work (the client commits every 10,000 rows or 500 ms).
 *   And for OPFS, like for like with the client (`freshRawInsertRowsPerSec`, `ratioToFreshRaw`):
 *   the same one-transaction insert in a NEW dedicated worker each run, ended after it, so that
 *   both sides start on a cold JIT, as the client's holder worker does in every run (measured
 *   here: 0.68-1.1 s in a fresh worker against 0.50-0.71 s in the kept one once warm).
 * - Socket only (`socketOnlyRowsPerSec`, reference): a bare WebSocket on the page that parses and
 *   acknowledges every frame and applies nothing (browser-socket-run.ts): what the server and
 *   Chromium's socket path deliver alone, which the client's time can be no less than.
 * - Runs alternate: client IndexedDB, client OPFS, raw IndexedDB (1 tx, per chunk), raw OPFS
 *   (1 tx, per chunk), then again. Every headline figure is the MEDIAN of `--runs` (default 3); a
 *   ratio is the ratio of two medians, and each run's own ratios are recorded beside it for the
 *   spread. Everything a run made (IndexedDB databases, meta stores, OPFS directories) is removed
 *   after it, and the bench fails if anything of its names is left at the end.
 *
 * `--profile=DIR`: a CPU profile of each OPFS client run's holder worker (where the engine runs),
 * from its start to the end of the sync, in DIR/opfs-client-run<N>-1.cpuprofile
 * (browser-worker-profiler.ts); the profiler slows the runs, so those figures are not recorded.
 *
 * Prints a table, and records `browser` in bench/results.json: the IndexedDB figures under the
 * keys they always had (rowsPerSec, rawInsertRowsPerSec, ratioToRaw, ...), the OPFS ones under
 * `opfs`. The last line is the JSON it recorded.
 */
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { BenchStorage, ClientRunResult, RawRunResult } from './browser-page.js';
import type { SocketRunResult } from './browser-socket-run.js';
import { openBenchBrowser } from './browser-harness.js';
import { WorkerProfiler } from './browser-worker-profiler.js';
import { cachedSeedServer } from './cached-seed-server.js';
import { option } from './cli-options.js';
import { loadAverage } from './machine.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { warmUp } from './snapshot-warm-up.js';
import { median, rate } from './stats.js';
import { fmtMs, fmtRate, table } from './text-table.js';

const ROWS = Number(option('rows') ?? 100_000);
const RUNS = Math.max(1, Number(option('runs') ?? 3));
const INCOGNITO = option('incognito') === 'true';
const PROFILE_DIR = option('profile');
/** Drive the page with Playwright (a DevTools client, Network domain on) rather than over HTTP; --profile needs it. */
const DEVTOOLS = option('devtools') === 'true' || PROFILE_DIR !== undefined;
/** The server's default snapshotChunkRows: the client commits one transaction per chunk. */
const CHUNK_ROWS = 1000;
const VFS: Record<BenchStorage, string> = { indexeddb: 'IDBBatchAtomicVFS', opfs: 'AccessHandlePoolVFS' };
const STORAGES: BenchStorage[] = ['indexeddb', 'opfs'];
const LABEL: Record<BenchStorage, string> = { indexeddb: 'IndexedDB', opfs: 'OPFS' };

/** Each storage's runs, in run order. */
interface Side {
  client: ClientRunResult[];
  raw: RawRunResult[];
  rawChunked: RawRunResult[];
  /** OPFS only: the raw insert in a fresh worker (cold JIT), as the client's holder worker is in every run. */
  rawFresh: RawRunResult[];
}

/** Three decimals: the precision bench/results.json keeps for these ratios. */
const round3 = (x: number) => Number(x.toFixed(3));
const ratio = (a: number, b: number) => round3(a / b);

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg()[0];
  const bench = await openBenchBrowser({ incognito: INCOGNITO, devtools: DEVTOOLS });
  const server = await cachedSeedServer('browser-server', ROWS, 'browser-initial-sync');
  try {
    console.log(
      `browser-initial-sync bench: ${ROWS.toLocaleString('en-US')} rows, ${RUNS} run(s) per side, ${cpus().length} CPU(s), load average ${loadAverage()}`,
    );
    console.log(`bundle: ${bench.bundle}`);
    console.log(`chromium ${bench.chromium} (${bench.chromiumPath}), ${bench.profile}, driven by ${bench.driver}`);
    console.log(
      `server: ${ROWS.toLocaleString('en-US')} rows ${server.seedMs > 100 ? `seeded in ${(server.seedMs / 1000).toFixed(1)} s` : 'reused from the cache'}, ${server.url}`,
    );
    console.log(`storage: IndexedDB (${VFS.indexeddb}, SharedWorker) and OPFS (${VFS.opfs}, the tab's dedicated holder worker)`);
    await warmUp(server.url);

    const sides: Record<BenchStorage, Side> = {
      indexeddb: { client: [], raw: [], rawChunked: [], rawFresh: [] },
      opfs: { client: [], raw: [], rawChunked: [], rawFresh: [] },
    };
    const socketOnly: number[] = [];
    const prefix = `bench-${Date.now().toString(36)}-`;
    const remove = (name: string) => bench.call<void>('removeDatabase', name);
    /** With --profile: where the next OPFS client run's holder profile goes (the page calls back before cleanup). */
    let profileTo: string | undefined;
    if (PROFILE_DIR) {
      mkdirSync(PROFILE_DIR, { recursive: true });
      const page = bench.page!; // --profile drives the page with Playwright
      const profiler = await WorkerProfiler.attach(page, 'rxsync-worker.js');
      await page.exposeFunction('rxsyncBenchBeforeCleanup', async () => {
        if (profileTo) console.log(`  CPU profile of the OPFS holder: ${(await profiler.stop(profileTo)).join(', ')}`);
      });
    }
    for (let i = 0; i < RUNS; i++) {
      for (const storage of STORAGES) {
        const name = `${prefix}client-${storage}-${i}`;
        profileTo = PROFILE_DIR && storage === 'opfs' ? join(PROFILE_DIR, `opfs-client-run${i + 1}`) : undefined;
        const run = await bench.call<ClientRunResult>('clientRun', server.url, name, ROWS, storage);
        await remove(name);
        sides[storage].client.push(run);
        console.log(
          `client ${LABEL[storage]} run ${i + 1}: complete ${fmtMs(run.completeMs)} (${fmtRate(rate(ROWS, run.completeMs))}), synced ${fmtMs(run.syncedMs)}, first chunk ${fmtMs(run.firstChunkMs)}, ${run.progressEvents} progress events${run.opfsBytes === undefined ? '' : `, ${(run.opfsBytes / 2 ** 20).toFixed(1)} MB in OPFS`}`,
        );
      }
      const socket = await bench.call<SocketRunResult>('socketRun', server.url);
      if (socket.rows !== ROWS) throw new Error(`the bare socket got ${socket.rows} rows, expected ${ROWS}`);
      socketOnly.push(socket.ms);
      console.log(
        `socket only run ${i + 1}: ${fmtMs(socket.ms)} (${fmtRate(rate(ROWS, socket.ms))}), ${socket.frames} frames, parsed and acknowledged, nothing applied`,
      );
      for (const storage of STORAGES) {
        const raw = async (label: string, chunkRows?: number, freshWorker?: boolean) => {
          const database = `${prefix}raw-${label}-${storage}-${i}`;
          const result = await bench.call<RawRunResult>('rawRun', { database, storage, rows: ROWS, chunkRows, freshWorker });
          await remove(database);
          return result;
        };
        const one = await raw('1tx');
        const chunked = await raw('chunked', CHUNK_ROWS);
        const fresh = storage === 'opfs' ? await raw('fresh', undefined, true) : undefined;
        sides[storage].raw.push(one);
        sides[storage].rawChunked.push(chunked);
        if (fresh) sides[storage].rawFresh.push(fresh);
        console.log(
          `raw ${LABEL[storage]} run ${i + 1}: ${fmtMs(one.ms)} (${fmtRate(rate(ROWS, one.ms))}); one tx per ${CHUNK_ROWS} rows ${fmtMs(chunked.ms)} (${fmtRate(rate(ROWS, chunked.ms))})` +
            `${fresh ? `; in a fresh worker ${fmtMs(fresh.ms)} (${fmtRate(rate(ROWS, fresh.ms))})` : ''}; journal_mode ${one.journalMode}`,
        );
      }
    }
    const left = await bench.call<string[]>('leftovers', prefix);
    if (left.length) throw new Error(`the bench left behind: ${left.join(', ')}`);
    if (bench.pageErrors.length) console.warn(`page errors: ${bench.pageErrors.join('; ')}`);

    const out: string[][] = [['measurement (Chromium)', 'median', 'best', 'median rows/s', 'runs (ms)']];
    const line = (label: string, times: number[]) =>
      out.push([label, fmtMs(median(times)), fmtMs(Math.min(...times)), fmtRate(rate(ROWS, median(times))), times.map((t) => t.toFixed(0)).join(' / ')]);
    for (const storage of STORAGES) {
      const { client, raw, rawChunked } = sides[storage];
      const where = `${LABEL[storage]} (${VFS[storage]})`;
      line(
        `client, ${where}: connect() -> initial_sync_complete`,
        client.map((r) => r.completeMs),
      );
      line(
        `client, ${where}: connect() -> whenSynced()`,
        client.map((r) => r.syncedMs),
      );
      out.push([
        `client, ${where}: connect() -> first chunk applied`,
        fmtMs(median(client.map((r) => r.firstChunkMs))),
        '',
        '',
        client.map((r) => r.firstChunkMs.toFixed(0)).join(' / '),
      ]);
      line(
        `raw, ${where}: runMany INSERT, 1 tx`,
        raw.map((r) => r.ms),
      );
      line(
        `raw, ${where}: runMany INSERT, 1 tx per ${CHUNK_ROWS} rows`,
        rawChunked.map((r) => r.ms),
      );
      if (sides[storage].rawFresh.length) {
        line(
          `raw, ${where}: runMany INSERT, 1 tx, in a fresh worker`,
          sides[storage].rawFresh.map((r) => r.ms),
        );
      }
    }
    line('socket only, on the page: parse and ack every frame, apply nothing', socketOnly);
    console.log('');
    console.log(table(out));

    /** One storage's figures: medians, and the cold first client run. */
    const figures = (storage: BenchStorage) => {
      const { client, raw, rawChunked } = sides[storage];
      const rowsPerSec = rate(ROWS, median(client.map((r) => r.completeMs)));
      const rawInsertRowsPerSec = rate(ROWS, median(raw.map((r) => r.ms)));
      return {
        rowsPerSec,
        rawInsertRowsPerSec,
        ratioToRaw: ratio(rowsPerSec, rawInsertRowsPerSec),
        vfs: VFS[storage],
        syncedRowsPerSec: rate(ROWS, median(client.map((r) => r.syncedMs))),
        firstRunRowsPerSec: rate(ROWS, client[0].completeMs),
        bestRowsPerSec: rate(ROWS, Math.min(...client.map((r) => r.completeMs))),
        bestRawInsertRowsPerSec: rate(ROWS, Math.min(...raw.map((r) => r.ms))),
        // The raw side's run 1 is its JIT's first insert: what the OPFS client meets in every run.
        firstRawInsertRowsPerSec: rate(ROWS, raw[0].ms),
        rawChunkedRowsPerSec: rate(ROWS, median(rawChunked.map((r) => r.ms))),
        journalMode: raw[0].journalMode,
      };
    };
    const indexedDb = figures('indexeddb');
    const opfs = figures('opfs');
    // Each run's own ratios (same iteration), for the spread beside the ratio of medians.
    const perRun = (f: (i: number) => number) => Array.from({ length: RUNS }, (_, i) => round3(f(i)));
    const runRatiosToIndexedDb = perRun((i) => sides.indexeddb.client[i].completeMs / sides.opfs.client[i].completeMs);
    const runRatiosToRaw = perRun((i) => sides.opfs.raw[i].ms / sides.opfs.client[i].completeMs);
    const ratioToIndexedDb = ratio(opfs.rowsPerSec, indexedDb.rowsPerSec);
    // Like for like: the client's holder worker is new in every run, and so is this raw insert's worker.
    const freshRawInsertRowsPerSec = rate(ROWS, median(sides.opfs.rawFresh.map((r) => r.ms)));
    const ratioToFreshRaw = ratio(opfs.rowsPerSec, freshRawInsertRowsPerSec);
    const runRatiosToFreshRaw = perRun((i) => sides.opfs.rawFresh[i].ms / sides.opfs.client[i].completeMs);

    console.log(
      `\nIndexedDB: ratioToRaw ${indexedDb.ratioToRaw} (median client rows/s over median raw rows/s); first (cold) client run ${fmtRate(indexedDb.firstRunRowsPerSec)}`,
    );
    console.log(
      `OPFS: ${ratioToIndexedDb}x the IndexedDB client (goal >= 2; runs ${runRatiosToIndexedDb.join(' / ')}), ` +
        `${opfs.ratioToRaw} of direct inserts into OPFS (goal >= 0.8; runs ${runRatiosToRaw.join(' / ')}); ` +
        `${ratioToFreshRaw} of direct inserts in a fresh worker, each side's JIT cold (runs ${runRatiosToFreshRaw.join(' / ')})`,
    );
    console.log(
      `total bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`,
    );

    const data = {
      rows: ROWS,
      runs: RUNS,
      statistic: 'median',
      // IndexedDB under the keys bench/report*.mjs have always read.
      ...indexedDb,
      opfs: { ...opfs, ratioToIndexedDb, runRatiosToIndexedDb, runRatiosToRaw, freshRawInsertRowsPerSec, ratioToFreshRaw, runRatiosToFreshRaw },
      socketOnlyRowsPerSec: rate(ROWS, median(socketOnly)),
      chromium: bench.chromium,
      profile: INCOGNITO ? 'incognito' : 'persistent',
      devtoolsAttached: DEVTOOLS,
      loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
    };
    recordAndPrint('browser-initial-sync', 'browser', data, {
      record: !INCOGNITO && !DEVTOOLS,
      notRecordedNote: `not recorded in bench/results.json: ${
        INCOGNITO
          ? 'an off-the-record profile (--incognito) is not what the figures there measure'
          : PROFILE_DIR
            ? 'the CPU profiler (--profile) slowed the OPFS runs'
            : 'a DevTools client (--devtools) taxes every WebSocket frame'
      }`,
    });
  } finally {
    await bench.close();
    await server.close();
  }
}

runMain(main);
