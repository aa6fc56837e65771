/**
 * The page of bench/browser-initial-sync.ts. bench/browser-initial-sync.ts bundles it for the
 * browser into node_modules/.cache/rxsync-bench/browser-web/bench-page.js, and serves it as
 * index.html's module script. It exposes `window.rxsyncBench`:
 *
 * - `clientRun`: the shipped browser client. It uses rxsync.js from the built bundle, loaded at run
 *   time from /browser/, and its SharedWorker /browser/rxsync-worker.js, which runs the engine on
 *   IDBBatchAtomicVFS. The client gets a fresh IndexedDB database and runs an initial sync from the
 *   bench server. It is timed on this page from connect() to the `initial_sync_complete` event and
 *   to whenSynced(). initialize(), which opens the database, runs before the clock starts.
 * - `rawRun`: the ceiling. The same rows go into the same VFS on this page: src/storage's
 *   openDatabase on a fresh IndexedDB name, which uses wa-sqlite's async build and
 *   IDBBatchAtomicVFS, the same code the worker bundles. One transaction, one prepared INSERT
 *   (runMany). The rows are built as arrays before the clock starts. With `chunkRows`, one
 *   transaction per that many rows instead, as the client commits one per snapshot chunk.
 */
import { syncedTablesDdl } from '../src/changes/local-schema.js';
import { tableCodecs } from '../src/changes/table-codec.js';
import { openDatabase } from '../src/storage/index.js';
import type { RemoteSyncClient, WorkerSyncClientOptions } from '../src/worker/types.js';
import { benchRowArrays, benchSchema, TABLE } from './fixtures.js';

const BUNDLE = '/browser/';
const COLUMNS = Object.keys(benchSchema.tables[TABLE].columns);
const PLAIN_INSERT = `INSERT INTO "${TABLE}" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;
const CODEC = tableCodecs(benchSchema).get(TABLE)!;

export interface ClientRunResult {
  completeMs: number;
  syncedMs: number;
  firstChunkMs: number;
  rows: number;
  progressEvents: number;
}

export interface RawRunResult {
  ms: number;
  rows: number;
}

let createWorkerSyncClient: ((options: WorkerSyncClientOptions) => Promise<RemoteSyncClient>) | undefined;

async function clientRun(url: string, database: string, rows: number): Promise<ClientRunResult> {
  // The shipped main-thread entry, as an app would load it (external to this bundle).
  createWorkerSyncClient ??= ((await import(/* @vite-ignore */ `${BUNDLE}rxsync.js`)) as { createWorkerSyncClient: typeof createWorkerSyncClient })
    .createWorkerSyncClient;
  const client = await createWorkerSyncClient!({
    schema: benchSchema,
    database,
    workerUrl: `${BUNDLE}rxsync-worker.js`,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 },
  });
  try {
    await client.initialize();
    let firstChunkAt = 0;
    let completeAt = 0;
    let progressEvents = 0;
    const complete = new Promise<void>((resolve) => {
      client.on('initial_sync_progress', () => {
        progressEvents++;
        firstChunkAt ||= performance.now();
      });
      client.on('initial_sync_complete', () => {
        completeAt = performance.now();
        resolve();
      });
    });
    // A round trip, so the worker has set up the event subscriptions before the sync starts.
    await client.currentStatus;
    const t0 = performance.now();
    const ok = await client.connect(url, { timeoutMs: 30_000 });
    if (!ok) throw new Error('the client did not connect');
    await client.whenSynced({ timeoutMs: 120_000 });
    const syncedAt = performance.now();
    await Promise.race([complete, new Promise((_, reject) => setTimeout(() => reject(new Error('no initial_sync_complete event')), 10_000))]);
    const [{ count }] = await client.query<{ count: number }>(`SELECT count(*) AS count FROM "${TABLE}"`);
    if (count !== rows) throw new Error(`the client holds ${count} rows, expected ${rows}`);
    return { completeMs: completeAt - t0, syncedMs: syncedAt - t0, firstChunkMs: firstChunkAt - t0, rows: count, progressEvents };
  } finally {
    await client.cleanup();
  }
}

let rowCache: { rows: number; values: unknown[][] } | undefined;

/** `chunkRows`: one transaction per that many rows (as the client commits one per snapshot chunk); default one in all. */
async function rawRun(database: string, rows: number, chunkRows = Infinity): Promise<RawRunResult> {
  if (rowCache?.rows !== rows) rowCache = { rows, values: benchRowArrays(rows).values };
  const { values } = rowCache;
  const db = await openDatabase({ name: database, locateFile: (file) => `${BUNDLE}${file}` });
  try {
    await db.exec(syncedTablesDdl(benchSchema));
    const t0 = performance.now();
    if (chunkRows >= values.length) {
      await db.transaction((tx) => tx.runMany(PLAIN_INSERT, values, { realColumns: CODEC.realPositions }));
    } else {
      for (let i = 0; i < values.length; i += chunkRows) {
        const slice = values.slice(i, i + chunkRows);
        await db.transaction((tx) => tx.runMany(PLAIN_INSERT, slice, { realColumns: CODEC.realPositions }));
      }
    }
    const ms = performance.now() - t0;
    const count = (await db.get<{ n: number }>(`SELECT count(*) AS n FROM "${TABLE}"`))!.n;
    if (count !== rows) throw new Error(`the raw insert left ${count} rows, expected ${rows}`);
    return { ms, rows: count };
  } finally {
    await db.close();
  }
}

/**
 * Deletes an IndexedDB database (a finished run's), so runs do not pile up on disk. A connection
 * still open elsewhere blocks it until closed; after 10 s the bench goes on without waiting.
 */
function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    const timer = setTimeout(() => {
      console.warn(`IndexedDB database ${name} is still open elsewhere: not deleted yet`);
      resolve();
    }, 10_000);
    request.onsuccess = () => {
      clearTimeout(timer);
      resolve();
    };
    request.onerror = () => {
      clearTimeout(timer);
      reject(request.error);
    };
  });
}

declare global {
  interface Window {
    rxsyncBench: {
      clientRun: typeof clientRun;
      rawRun: typeof rawRun;
      deleteDatabase: typeof deleteDatabase;
      userAgent: string;
    };
  }
}

window.rxsyncBench = { clientRun, rawRun, deleteDatabase, userAgent: navigator.userAgent };
