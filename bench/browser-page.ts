/**
 * The page of bench/browser-initial-sync.ts. bench/browser-initial-sync.ts bundles it for the
 * browser into node_modules/.cache/rxsync-bench/browser-web/bench-page.js, and serves it as
 * index.html's module script. It exposes `window.rxsyncBench`:
 *
 * - `clientRun`: the shipped browser client. It uses rxsync.js from the built bundle, loaded at run
 *   time from /browser/, and its workers (/browser/rxsync-worker.js). The client gets a fresh
 *   database name and runs an initial sync from the bench server, timed on this page from
 *   connect() to the `initial_sync_complete` event and to whenSynced(). initialize(), which opens
 *   the database, runs before the clock starts. `storage`: 'indexeddb' is passed as is (the engine
 *   in the SharedWorker on IDBBatchAtomicVFS); 'opfs' leaves storage out, as an app would, and a new
 *   name then goes to OPFS (the engine in this tab's dedicated holder worker). Either way, where
 *   the rows really are is checked before cleanup (browser-stored.ts).
 * - `rawRun`: the ceiling, the same rows inserted with no engine (browser-raw-insert.ts): on this
 *   page for IndexedDB, in a dedicated worker (bench-opfs-worker.js) for OPFS.
 * - `socketRun`: the transport alone (browser-socket-run.ts): what the client's time can be no less than.
 * - `removeDatabase` / `leftovers`: what each run made goes, and the bench checks it did.
 *
 * With `?channel` in its URL the page takes these calls from the bench over HTTP
 * (browser-page-commands.ts), so that no DevTools client is attached while it measures.
 */
import type { RemoteSyncClient, WorkerSyncClientOptions } from '../src/worker/types.js';
import { BUNDLE, rawInsert, type RawInsertRequest, type RawRunResult } from './browser-raw-insert.js';
import { serveBenchCommands } from './browser-page-commands.js';
import { socketRun } from './browser-socket-run.js';
import { assertStoredIn, leftovers, removeDatabase } from './browser-stored.js';
import { benchSchema, TABLE } from './fixtures.js';

export type { RawRunResult } from './browser-raw-insert.js';
export type BenchStorage = RawInsertRequest['storage'];

export interface ClientRunResult {
  completeMs: number;
  syncedMs: number;
  firstChunkMs: number;
  rows: number;
  progressEvents: number;
  /** Bytes of the database's OPFS directory (OPFS runs), as checked before cleanup. */
  opfsBytes?: number;
}

let createWorkerSyncClient: ((options: WorkerSyncClientOptions) => Promise<RemoteSyncClient>) | undefined;

async function clientRun(url: string, database: string, rows: number, storage: BenchStorage): Promise<ClientRunResult> {
  // The shipped main-thread entry, as an app would load it (external to this bundle).
  createWorkerSyncClient ??= ((await import(/* @vite-ignore */ `${BUNDLE}rxsync.js`)) as { createWorkerSyncClient: typeof createWorkerSyncClient })
    .createWorkerSyncClient;
  const client = await createWorkerSyncClient!({
    schema: benchSchema,
    database,
    // OPFS: rxsync's default for a new name; the check below makes sure it was taken.
    ...(storage === 'indexeddb' && { storage }),
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
    const stored = await assertStoredIn(database, storage, rows);
    // With --profile the bench stops its worker profiles here, while the OPFS holder still lives.
    await (window as { rxsyncBenchBeforeCleanup?: () => Promise<void> }).rxsyncBenchBeforeCleanup?.();
    return { completeMs: completeAt - t0, syncedMs: syncedAt - t0, firstChunkMs: firstChunkAt - t0, rows: count, progressEvents, opfsBytes: stored.opfsBytes };
  } finally {
    await client.cleanup();
  }
}

let opfsWorker: Worker | undefined;
const newOpfsWorker = () => new Worker('/bench-opfs-worker.js', { type: 'module', name: 'rxsync-bench-opfs-raw' });

/**
 * The raw insert in a dedicated worker: the one that serves every OPFS raw run (kept warm, as this
 * page is), or with `fresh` a new one, ended after the run: a cold JIT, as the OPFS client's
 * holder worker has in every run.
 */
async function rawInOpfsWorker(request: RawInsertRequest, fresh: boolean): Promise<RawRunResult> {
  if (!fresh) return rawInWorker((opfsWorker ??= newOpfsWorker()), request);
  const worker = newOpfsWorker();
  try {
    return await rawInWorker(worker, request);
  } finally {
    worker.terminate();
  }
}

function rawInWorker(worker: Worker, request: RawInsertRequest): Promise<RawRunResult> {
  return new Promise((resolve, reject) => {
    const settle = (event: MessageEvent<{ result?: RawRunResult; error?: string }>) => {
      worker.removeEventListener('message', settle);
      worker.removeEventListener('error', failed);
      if (event.data.result) resolve(event.data.result);
      else reject(new Error(`raw OPFS run: ${event.data.error}`));
    };
    const failed = (event: ErrorEvent) => {
      worker.removeEventListener('message', settle);
      worker.removeEventListener('error', failed);
      reject(new Error(`the raw OPFS worker failed: ${event.message || 'it did not start (is bench-opfs-worker.js served?)'}`));
    };
    worker.addEventListener('message', settle);
    worker.addEventListener('error', failed);
    worker.postMessage(request);
  });
}

/** The ceiling: see browser-raw-insert.ts. `chunkRows` and `setup` as there; `freshWorker` (OPFS): see rawInOpfsWorker. */
async function rawRun(request: RawInsertRequest & { freshWorker?: boolean }): Promise<RawRunResult> {
  const { freshWorker = false, ...insert } = request;
  const result = insert.storage === 'opfs' ? await rawInOpfsWorker(insert, freshWorker) : await rawInsert(insert);
  await assertStoredIn(insert.database, insert.storage, insert.rows);
  return result;
}

declare global {
  interface Window {
    rxsyncBench: {
      clientRun: typeof clientRun;
      rawRun: typeof rawRun;
      socketRun: typeof socketRun;
      removeDatabase: typeof removeDatabase;
      leftovers: typeof leftovers;
      userAgent: string;
    };
  }
}

window.rxsyncBench = { clientRun, rawRun, socketRun, removeDatabase, leftovers, userAgent: navigator.userAgent };
// Driven without DevTools (browser-command-channel.ts): the bench's commands come over HTTP.
if (new URLSearchParams(location.search).has('channel')) serveBenchCommands({ ...window.rxsyncBench, userAgent: () => navigator.userAgent });
