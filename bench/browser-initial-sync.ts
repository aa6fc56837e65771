/**
 * bench/browser-initial-sync: the initial sync of 100,000 rows in headless Chromium, into the
 * IndexedDB VFS (wa-sqlite's IDBBatchAtomicVFS, the client's persistent storage in a browser),
 * against the ceiling of inserting the same rows straight into the same VFS on the same page.
 *
 *   node bench/run.mjs browser-initial-sync [--rows=100000] [--runs=3]
 *
 * - Browser: Chromium from /usr/bin/chromium (or CHROMIUM_PATH), driven by playwright-core, with
 *   the browser specs' flags (spec/support/browser/chromium.ts). One browser context is used, and
 *   the page is served by a small http server in this process (src/server's serveStatic).
 * - The client is the shipped browser bundle. It is dist/browser when that is at least as new as
 *   every file under src/. If dist/browser is missing, `node scripts/build-browser.mjs` builds it
 *   (what `npm run build:browser` does). If it is stale, the same script builds the current sources
 *   into the cache instead (as the browser specs do), and dist is left alone. The output names the
 *   bundle used. The bench page (bench/browser-page.ts) is bundled with esbuild into
 *   node_modules/.cache/rxsync-bench/browser-web/, next to a copy of the bundle.
 * - Server: bench/seed-server.ts in its own process (forked), on a cached file database
 *   (node_modules/.cache/rxsync-bench/browser-server-<rows>.db; seeded on first use). One untimed
 *   bare-socket snapshot warms it up.
 * - Client side: `createWorkerSyncClient` (SharedWorker `rxsync-worker.js`, the engine on
 *   IDBBatchAtomicVFS) on a FRESH IndexedDB database name per run. The clock runs on the page from
 *   connect() to the `initial_sync_complete` event and to whenSynced(). initialize(), which opens
 *   the database, runs before the clock starts. The row count is checked after each run. The
 *   worker lives on between runs, so run 1 is a cold JIT; it is reported alone as well.
 * - Raw side: the same rows as arrays, inserted on the page through src/storage's openDatabase
 *   (the async wa-sqlite build and IDBBatchAtomicVFS, the same code the worker runs) into a fresh
 *   IndexedDB name. One transaction and one prepared INSERT (runMany); commit is included. This is
 *   `rawInsertRowsPerSec`, the ceiling. Beside it, for reference only: the same with one transaction
 *   per 1000 rows (`rawChunkedRowsPerSec`), which is how the client commits (one per snapshot chunk),
 *   so that the VFS's per-commit cost can be told apart from the engine's own work.
 * - Runs alternate: client, raw, raw per chunk, then again. Every headline figure is the MEDIAN of
 *   `--runs` (default 3). Each run's IndexedDB database is deleted afterwards.
 * - OPFS is not measured. rxsync does not ship an OPFS VFS: the synchronous OPFS access handles are
 *   not available in a SharedWorker, where the engine runs. IndexedDB is the only persistent storage.
 *
 * Prints a table, and records `browser` in bench/results.json. The last line is the JSON it recorded.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Page } from 'playwright-core';
import { serveStatic } from '../src/server/static-files.js';
import type { ClientRunResult, RawRunResult } from './browser-page.js';
import { benchCacheDir, cachedSeedServer } from './cached-seed-server.js';
import { option } from './cli-options.js';
import { recordAndPrint } from './record-and-print.js';
import { resultsPath } from './results.js';
import { runMain } from './run-main.js';
import { warmUp } from './snapshot-warm-up.js';
import { median, rate } from './stats.js';
import { fmtMs, fmtRate, table } from './text-table.js';
import { loadAverage } from './machine.js';

// ---- options -------------------------------------------------------------------------------

const ROWS = Number(option('rows') ?? 100_000);
const RUNS = Math.max(1, Number(option('runs') ?? 3));
const VFS = 'IDBBatchAtomicVFS';
/** The server's default snapshotChunkRows: the client commits one transaction per chunk. */
const CHUNK_ROWS = 1000;

/** Where Chromium is: the browser specs' candidates (spec/support/browser/chromium.ts). */
const CHROMIUM = (
  process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable']
).find((p) => existsSync(p));
/** The browser specs' flags (spec/support/browser/chromium.ts CHROMIUM_ARGS). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const now = () => performance.now();
const root = join(dirname(resultsPath()), '..');
const webDir = join(benchCacheDir, 'browser-web');

// ---- the bundle and the page ---------------------------------------------------------------

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const BUNDLE_FILES = ['rxsync.js', 'rxsync-worker.js', 'wa-sqlite.wasm', 'wa-sqlite-async.wasm'];

/** Puts the browser bundle in webDir/browser/ and says where it came from. */
function prepareBundle(): string {
  const dist = join(root, 'dist', 'browser');
  const target = join(webDir, 'browser');
  rmSync(target, { recursive: true, force: true });
  const buildInto = (outdir: string) => {
    const run = spawnSync(process.execPath, [join(root, 'scripts', 'build-browser.mjs'), '--outdir', outdir], { cwd: root, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`node scripts/build-browser.mjs --outdir ${outdir} failed:\n${run.stdout}\n${run.stderr}`);
  };
  let source: string;
  if (!BUNDLE_FILES.every((file) => existsSync(join(dist, file)))) {
    buildInto(dist);
    source = 'dist/browser (missing: built now with scripts/build-browser.mjs)';
  } else if (statSync(join(dist, 'rxsync-worker.js')).mtimeMs < newestMtime(join(root, 'src'))) {
    buildInto(target);
    return 'the current src/, built by scripts/build-browser.mjs into the bench cache (dist/browser is older than src/ and was left alone)';
  } else {
    source = 'dist/browser';
  }
  mkdirSync(target, { recursive: true });
  for (const file of readdirSync(dist)) copyFileSync(join(dist, file), join(target, file));
  return source;
}

async function preparePage(): Promise<void> {
  mkdirSync(webDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'bench', 'browser-page.ts')],
    outfile: join(webDir, 'bench-page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: 'linked',
    // The shipped main-thread entry is loaded at run time from the bundle directory; ws and node:*
    // are never reached in a browser (as in scripts/build-browser.mjs).
    external: ['/browser/*', 'ws', 'node:*'],
    logLevel: 'warning',
  });
  writeFileSync(
    join(webDir, 'index.html'),
    '<!doctype html>\n<meta charset="utf-8">\n<title>rxsync browser bench</title>\n<link rel="icon" href="data:,">\n<script type="module" src="/bench-page.js"></script>\n<p>rxsync browser initial-sync bench</p>\n',
  );
}

function serveWeb(): Promise<{ url: string; server: Server }> {
  const handler = serveStatic(webDir);
  const server = createServer((request, response) => {
    if (!handler(request, response)) {
      response.statusCode = 404;
      response.end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server })),
  );
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!CHROMIUM) throw new Error('no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)');
  const started = now();
  const loadBefore = loadavg()[0];
  const bundle = prepareBundle();
  await preparePage();
  const web = await serveWeb();
  const server = await cachedSeedServer('browser-server', ROWS, 'browser-initial-sync');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
  try {
    console.log(
      `browser-initial-sync bench: ${ROWS.toLocaleString('en-US')} rows, ${RUNS} run(s) per side, ${cpus().length} CPU(s), load average ${loadAverage()}`,
    );
    console.log(`bundle: ${bundle}`);
    console.log(
      `server: ${ROWS.toLocaleString('en-US')} rows ${server.seedMs > 100 ? `seeded in ${(server.seedMs / 1000).toFixed(1)} s` : 'reused from the cache'}, ${server.url}`,
    );
    console.log(
      `storage: IndexedDB (${VFS}); OPFS is not measured: rxsync ships no OPFS VFS, since OPFS sync access handles are unavailable in a SharedWorker`,
    );
    await warmUp(server.url);

    const context = await browser.newContext();
    const page: Page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
      else if (message.type() === 'warning') console.warn(`  (page: ${message.text()})`);
    });
    await page.goto(web.url);
    await page.waitForFunction(() => Boolean(window.rxsyncBench), undefined, { timeout: 15_000 });
    const userAgent = await page.evaluate(() => window.rxsyncBench.userAgent);
    const chromeVersion = /Chrome\/([\d.]+)/.exec(userAgent)?.[1] ?? 'unknown';
    console.log(`chromium ${chromeVersion} (${CHROMIUM})`);

    const clientRuns: ClientRunResult[] = [];
    const rawRuns: RawRunResult[] = [];
    const rawChunkedRuns: RawRunResult[] = [];
    const stamp = Date.now().toString(36);
    for (let i = 0; i < RUNS; i++) {
      const clientDb = `bench-client-${stamp}-${i}`;
      const run = await page.evaluate(([url, name, rows]) => window.rxsyncBench.clientRun(url, name, rows), [server.url, clientDb, ROWS] as [
        string,
        string,
        number,
      ]);
      clientRuns.push(run);
      await page.evaluate((name) => window.rxsyncBench.deleteDatabase(name), clientDb);
      console.log(
        `client run ${i + 1}: complete ${fmtMs(run.completeMs)} (${fmtRate(rate(ROWS, run.completeMs))}), synced ${fmtMs(run.syncedMs)}, first chunk ${fmtMs(run.firstChunkMs)}, ${run.progressEvents} progress events`,
      );
      const rawDb = `bench-raw-${stamp}-${i}`;
      const raw = await page.evaluate(([name, rows]) => window.rxsyncBench.rawRun(name, rows), [rawDb, ROWS] as [string, number]);
      rawRuns.push(raw);
      await page.evaluate((name) => window.rxsyncBench.deleteDatabase(name), rawDb);
      const chunkedDb = `bench-raw-chunked-${stamp}-${i}`;
      const chunked = await page.evaluate(([name, rows, chunk]) => window.rxsyncBench.rawRun(name, rows, chunk), [chunkedDb, ROWS, CHUNK_ROWS] as [
        string,
        number,
        number,
      ]);
      rawChunkedRuns.push(chunked);
      await page.evaluate((name) => window.rxsyncBench.deleteDatabase(name), chunkedDb);
      console.log(
        `raw run ${i + 1}: ${fmtMs(raw.ms)} (${fmtRate(rate(ROWS, raw.ms))}); one tx per ${CHUNK_ROWS} rows ${fmtMs(chunked.ms)} (${fmtRate(rate(ROWS, chunked.ms))})`,
      );
    }
    await context.close();
    if (pageErrors.length) console.warn(`page errors: ${pageErrors.join('; ')}`);

    const rowsPerSec = rate(ROWS, median(clientRuns.map((r) => r.completeMs)));
    const syncedRowsPerSec = rate(ROWS, median(clientRuns.map((r) => r.syncedMs)));
    const rawInsertRowsPerSec = rate(ROWS, median(rawRuns.map((r) => r.ms)));
    const ratioToRaw = Number((rowsPerSec / rawInsertRowsPerSec).toFixed(3));
    const out: string[][] = [['measurement (Chromium, IndexedDB VFS)', 'median', 'best', 'median rows/s', 'runs (ms)']];
    const line = (label: string, times: number[]) =>
      out.push([label, fmtMs(median(times)), fmtMs(Math.min(...times)), fmtRate(rate(ROWS, median(times))), times.map((t) => t.toFixed(0)).join(' / ')]);
    line(
      'client (SharedWorker): connect() -> initial_sync_complete',
      clientRuns.map((r) => r.completeMs),
    );
    line(
      'client (SharedWorker): connect() -> whenSynced()',
      clientRuns.map((r) => r.syncedMs),
    );
    out.push([
      'client: connect() -> first chunk applied',
      fmtMs(median(clientRuns.map((r) => r.firstChunkMs))),
      '',
      '',
      clientRuns.map((r) => r.firstChunkMs.toFixed(0)).join(' / '),
    ]);
    line(
      'raw (page): openDatabase + runMany INSERT, 1 tx',
      rawRuns.map((r) => r.ms),
    );
    line(
      `raw (page): runMany INSERT, 1 tx per ${CHUNK_ROWS} rows`,
      rawChunkedRuns.map((r) => r.ms),
    );
    console.log('');
    console.log(table(out));
    console.log(
      `\nratioToRaw ${ratioToRaw} (median client rows/s over median raw rows/s); first (cold) client run ${fmtRate(rate(ROWS, clientRuns[0].completeMs))}`,
    );
    console.log(`OPFS: not measured (not shipped: no synchronous OPFS access handles in a SharedWorker); IndexedDB only.`);
    console.log(`total bench time ${((now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`);

    const data = {
      rows: ROWS,
      runs: RUNS,
      statistic: 'median',
      rowsPerSec,
      rawInsertRowsPerSec,
      ratioToRaw,
      vfs: VFS,
      opfs: 'not shipped (no sync access handles in a SharedWorker)',
      syncedRowsPerSec,
      firstRunRowsPerSec: rate(ROWS, clientRuns[0].completeMs),
      bestRowsPerSec: rate(ROWS, Math.min(...clientRuns.map((r) => r.completeMs))),
      bestRawInsertRowsPerSec: rate(ROWS, Math.min(...rawRuns.map((r) => r.ms))),
      rawChunkedRowsPerSec: rate(ROWS, median(rawChunkedRuns.map((r) => r.ms))),
      chromium: chromeVersion,
      loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
    };
    recordAndPrint('browser-initial-sync', 'browser', data);
  } finally {
    await browser.close();
    await server.close();
    web.server.close();
  }
}

runMain(main);
