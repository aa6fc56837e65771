/**
 * rxsync in a web app: the engine runs in a worker (a SharedWorker shared by every tab of the
 * origin where the browser has one, else a dedicated Worker), and the page gets a proxy with the
 * SyncClient contract.
 *
 * ```ts
 * import { createWorkerSyncClient, defineSchema } from 'rxsync/browser';
 * const client = await createWorkerSyncClient({
 *   schema, database: 'todos-db',
 *   workerUrl: new URL('rxsync-worker.js', import.meta.url),   // dist/browser/rxsync-worker.js
 * });
 * await client.connect('wss://example.com/api/sync');
 * client.watch('SELECT * FROM todos').subscribe(render);
 * ```
 *
 * The worker script loads wa-sqlite's `wa-sqlite.wasm` and `wa-sqlite-async.wasm` from its own
 * directory (dist/browser/ holds all four files: serve them together), or from `wasmUrl`.
 *
 * This entry carries no engine code: the engine is only in the worker script.
 */
import type { Endpoint } from 'comlink';
import { connectRemoteClient } from './worker/remote-client.js';
import { holdTabLock, newTabId } from './worker/tab-coordination.js';
import type { RemoteSyncClient, WorkerSyncClientOptions } from './worker/types.js';

export type { EngineOptions, RemoteSyncClient, WorkerDebugInfo, WorkerSyncClientOptions } from './worker/types.js';
export { connectRemoteClient, type ConnectRemoteOptions } from './worker/remote-client.js';
export { EngineMismatchError, type SerializedError } from './worker/errors.js';
export type { ConnectOptions } from './client/api.js';
export type { ServerUrls, UrlOrder } from './client/server-urls.js';
export { SYNC_EVENTS, type SyncEvent, type SyncEventMessage } from './streams/events.js';
export type { ConnectionStatus, ConnectionState } from './streams/connection-state.js';
export type { LocalChangeEntry } from './changes/outbox.js';
export * from './protocol/index.js';
export * from './errors.js';

/** Name of the SharedWorker (with the script URL, it identifies the one worker of the origin). */
const WORKER_NAME = 'rxsync';

/**
 * Starts (or joins) the worker and attaches this tab to the engine of `options.database`.
 * Resolves once attached; the engine opens its database on initialize() / connect() / the first call.
 */
export async function createWorkerSyncClient(options: WorkerSyncClientOptions): Promise<RemoteSyncClient> {
  const { workerUrl, shared = true, wasmUrl, ...rest } = options;
  const engine = { ...rest, ...(wasmUrl !== undefined && { wasmUrl: String(wasmUrl) }) };
  const SharedWorkerCtor = (globalThis as { SharedWorker?: typeof SharedWorker }).SharedWorker;
  let failedWith!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (failedWith = reject));
  failed.catch(() => undefined);
  const loadError = (event: Event) =>
    failedWith(new Error(`the rxsync worker (${String(workerUrl)}) failed to start: ${(event as ErrorEvent).message ?? 'load error'}`));

  if (shared && typeof SharedWorkerCtor === 'function') {
    const worker = new SharedWorkerCtor(workerUrl, { type: 'module', name: WORKER_NAME });
    worker.addEventListener('error', loadError);
    const tabId = newTabId();
    // Held while this tab lives: the worker notices a closed tab when the lock is released.
    const releaseLock = await holdTabLock(tabId);
    worker.port.start();
    return connectRemoteClient(worker.port as Endpoint, engine, {
      tabId,
      failed,
      onClose: () => {
        worker.removeEventListener('error', loadError);
        releaseLock();
      },
    });
  }
  const worker = new Worker(workerUrl, { type: 'module', name: WORKER_NAME });
  worker.addEventListener('error', loadError);
  return connectRemoteClient(worker as Endpoint, engine, {
    failed,
    onClose: () => worker.terminate(),
  });
}
