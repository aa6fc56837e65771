/**
 * rxsync in a web app: the engine runs in a worker, one engine per database for every tab of the
 * origin, and the page gets a proxy with the SyncClient contract. Where the engine runs follows
 * from where the database lives (worker/storage-choice.ts): in OPFS, in one tab's dedicated worker
 * that holds the database, reached through the SharedWorker's broker and handed over when that tab
 * closes (worker/opfs-broker.ts); in IndexedDB, in the SharedWorker itself; without SharedWorker,
 * in this tab's own dedicated Worker.
 *
 * ```ts
 * import { createWorkerSyncClient, defineSchema } from 'rxsync/browser';
 * const client = await createWorkerSyncClient({ schema, database: 'todos-db' });
 * await client.connect('wss://example.com/api/sync');
 * client.watch('SELECT * FROM todos').subscribe(render);
 * ```
 *
 * Where the worker comes from: this module starts it with
 * `new SharedWorker(new URL('./browser/rxsync-worker.js', import.meta.url), { type: 'module', ... })`
 * (and a `new Worker(...)` of the same URL where there is no SharedWorker), written out literally.
 * A bundler that understands that pattern (Vite, webpack 5) bundles the worker script
 * (dist/browser/rxsync-worker.js) and emits it with wa-sqlite's two .wasm files, which the worker
 * names the same way: the app copies nothing and passes no URL. Vite's dev server, which moves
 * this module into its pre-bundle cache, is handled too (vitePrebundledWorkerUrl). esbuild leaves
 * the URL as it is, relative to the app's bundle, and the Angular CLI bundles only the workers the
 * app's own code starts: there the app starts the worker itself (`worker`, from a file of its own
 * that imports `rxsync/browser/rxsync-worker.js`) and imports the .wasm URLs for `wasmUrl`
 * (examples/angular), or serves copies and passes `workerUrl`. Without a bundler, serve
 * dist/browser/ and import its rxsync.js (this module, bundled, finds the worker next to itself).
 * `wasmUrl` overrides where the worker finds the .wasm files.
 *
 * A worker script or .wasm that is not served (a 404, or a server's HTML fallback page) fails
 * createWorkerSyncClient, respectively initialize() (or the first call that opens the database),
 * with an {@link AssetLoadError} naming the URL, what came back and the fix; a worker of another
 * rxsync version (a stale copy) fails createWorkerSyncClient with a {@link WorkerVersionError}.
 *
 * This entry carries no engine code: the engine is only in the worker script.
 */
import type { Endpoint } from 'comlink';
import { connectRemoteClient } from './worker/remote-client.js';
import { holdTabLock, newTabId } from './worker/tab-coordination.js';
import { linkToOpfsEngine, type OpfsEngineLink } from './worker/opfs-tab.js';
import { canHoldInOpfs, chooseBrowserStorage } from './worker/storage-choice.js';
import type { RemoteSyncClient, WasmFileUrls, WorkerSyncClientOptions } from './worker/types.js';
import type { SyncSchema } from './protocol/index.js';
import { AssetLoadError, answerOf, describeAnswer, looksLikeHtml, readHead, type ServedAnswer } from './served-file.js';

export type { EngineOptions, RemoteSyncClient, WasmFileUrls, WorkerDebugInfo, WorkerSyncClientOptions } from './worker/types.js';
export { connectRemoteClient, type ConnectRemoteOptions } from './worker/remote-client.js';
export { EngineMismatchError, WorkerVersionError, type SerializedError } from './worker/errors.js';
export { AssetLoadError } from './served-file.js';
export { VERSION } from './version.js';
export type { ConnectOptions } from './client/api.js';
export type { ServerUrls, UrlOrder } from './client/server-urls.js';
export { SYNC_EVENTS, type SyncEvent, type SyncEventMessage } from './streams/events.js';
export type { SyncEventMap, SyncEventListener, InitialSyncProgress, TableSyncProgress, SchemaMismatch } from './streams/events.js';
export type { ConnectionStatus, ConnectionState } from './streams/connection-state.js';
export type { SyncStatus } from './client/sync-status.js';
export type { ResultChanges } from './live/live-result.js';
export type { LocalChangeEntry } from './changes/outbox.js';
export * from './protocol/index.js';
export * from './errors.js';

/**
 * Name of the SharedWorker (with the script URL, it identifies the one worker of the origin). The
 * literal options below repeat it: a bundler reads them only when they are written out in full.
 */
const WORKER_NAME = 'rxsync';

/**
 * Starts (or joins) the worker and attaches this tab to the engine of `options.database`.
 * Resolves once attached; the engine opens its database on initialize() / connect() / the first call.
 */
export async function createWorkerSyncClient<S extends SyncSchema = SyncSchema>(
  options: WorkerSyncClientOptions & { schema: S },
): Promise<RemoteSyncClient<S>> {
  const { workerUrl, worker: startOwnWorker, holderWorker, shared = true, wasmUrl, ...rest } = options;
  // OPFS needs two workers of rxsync's script (the broker and this tab's candidate holder): an
  // app that starts its own `worker` starts the candidate too (`holderWorker`), or has no OPFS.
  const opfsPossible = canHoldInOpfs(shared && (startOwnWorker === undefined || holderWorker !== undefined));
  if (rest.storage === 'opfs' && !opfsPossible) {
    throw new Error(
      "storage: 'opfs' needs a SharedWorker, Web Locks and OPFS in this browser, shared not false, and with an app's own `worker` its `holderWorker` too; " +
        "leave storage out to have rxsync choose, or use storage: 'indexeddb'",
    );
  }
  const storage = await chooseBrowserStorage(rest.database, rest.storage, opfsPossible);
  const engine = { ...rest, ...(storage && { storage }), ...(wasmUrl !== undefined && { wasmUrl: wasmUrlStrings(wasmUrl) }) };
  const { worker, url } = startWorker(shared && typeof SharedWorker === 'function', workerUrl, startOwnWorker);
  let failWith!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (failWith = reject));
  failed.catch(() => undefined);
  // Until attached, an error event means the script did not start: find out why, for the caller.
  const onError = (event: Event) => void workerStartError(url, event).then(failWith);
  worker.addEventListener('error', onError);
  // The proxy types its rows by the schema given (RowOf); the worker checks them at run time.
  const attached = (client: Promise<RemoteSyncClient>) => client.finally(() => worker.removeEventListener('error', onError)) as Promise<RemoteSyncClient<S>>;

  if (!('port' in worker)) {
    return attached(connectRemoteClient(worker as Endpoint, engine, { failed, workerUrl: url, onClose: () => worker.terminate() }));
  }
  const tabId = newTabId();
  // Held while this tab lives: the worker notices a closed tab when the lock is released.
  const releaseLock = await holdTabLock(tabId);
  worker.port.start();
  if (storage !== 'opfs') {
    return attached(connectRemoteClient(worker.port as Endpoint, engine, { tabId, failed, workerUrl: url, onClose: releaseLock }));
  }
  // OPFS: the SharedWorker brokers, the engine runs in one tab's worker (worker/opfs-broker.ts).
  const candidate = startWorker(false, workerUrl, holderWorker).worker as Worker;
  candidate.addEventListener('error', onError);
  let link: OpfsEngineLink;
  try {
    link = await Promise.race([linkToOpfsEngine(worker.port as Endpoint, candidate, String(rest.database), url), failed]);
  } catch (error) {
    candidate.terminate();
    releaseLock();
    throw error;
  }
  return attached(
    connectRemoteClient(link.endpoints$, engine, {
      tabId,
      failed,
      workerUrl: url,
      onClose: () => {
        link.close();
        releaseLock();
      },
    }),
  ).finally(() => candidate.removeEventListener('error', onError));
}

/**
 * The worker, and the URL of its script when it can be known. The default worker's URL is written
 * inline in each constructor call, options included, because that is the only form bundlers
 * recognise (Vite needs `new SharedWorker(new URL('…', import.meta.url), {...})` with nothing in
 * between, and static options); they replace it with the URL of the file they emit. So the URL is
 * read where the constructor turns it into a string: a Symbol.toPrimitive on URL.prototype for the
 * duration of the call (left alone if the page already has one).
 */
function startWorker(
  shared: boolean,
  workerUrl: string | URL | undefined,
  startOwnWorker: (() => SharedWorker | Worker) | undefined,
): { worker: SharedWorker | Worker; url: string | undefined } {
  const proto = URL.prototype as { [Symbol.toPrimitive]?: unknown };
  const reading = !Object.hasOwn(proto, Symbol.toPrimitive);
  let url = workerUrl === undefined ? undefined : new URL(workerUrl, globalThis.location?.href).href;
  if (reading) {
    Object.defineProperty(proto, Symbol.toPrimitive, {
      configurable: true,
      value(this: URL) {
        url = this.href;
        return url;
      },
    });
  }
  try {
    // The app's own constructor call, which its bundler rewrote: the URL is read the same way.
    if (startOwnWorker) return { worker: startOwnWorker(), url };
    const given = workerUrl ?? vitePrebundledWorkerUrl();
    const options: WorkerOptions = { type: 'module', name: WORKER_NAME };
    if (given !== undefined) return { worker: shared ? new SharedWorker(given, options) : new Worker(given, options), url };
    // Written out in full, each: the forms bundlers recognise (see above). A tab's candidate holder
    // of an OPFS database is the dedicated one (worker-entry.ts serves both roles), so a bundler
    // that emits one file per constructor and name (webpack) emits the worker twice, not three times.
    const worker = shared
      ? new SharedWorker(new URL('./browser/rxsync-worker.js', import.meta.url), { type: 'module', name: 'rxsync' })
      : new Worker(new URL('./browser/rxsync-worker.js', import.meta.url), { type: 'module', name: 'rxsync' });
    return { worker, url };
  } finally {
    if (reading) delete proto[Symbol.toPrimitive];
  }
}

/** The wasm URLs as the worker takes them (strings cross postMessage; URL objects are not kept as such). */
function wasmUrlStrings(wasmUrl: string | URL | WasmFileUrls): string | WasmFileUrls<string> {
  if (typeof wasmUrl === 'string' || wasmUrl instanceof URL) return String(wasmUrl);
  const files: WasmFileUrls<string> = {};
  for (const file of ['wa-sqlite.wasm', 'wa-sqlite-async.wasm'] as const) {
    const url = wasmUrl[file];
    if (url !== undefined) files[file] = new URL(url, globalThis.location?.href).href;
  }
  return files;
}

/**
 * Vite's dev server pre-bundles dependencies into node_modules/.vite/deps/, away from the worker
 * (its production build has no such step, and finds the worker by itself). Run from there, this
 * module takes the worker from the package, in the node_modules that holds Vite's cache, as the dev
 * server serves it. The path is not a literal on purpose: no bundler must take it for a file to emit.
 */
function vitePrebundledWorkerUrl(): URL | undefined {
  // Not `new URL(path, import.meta.url)`: webpack would take that for a file to bundle, and warn.
  const here = new URL(import.meta.url);
  if (!/\/node_modules\/\.vite\/deps(?:_[^/]*)?\/[^/]+$/.test(here.pathname)) return undefined;
  return new URL('../../rxsync/dist/browser/rxsync-worker.js', here);
}

/** Why the worker script did not start, in words: what its URL answers, and what to do. */
async function workerStartError(url: string | undefined, event: Event): Promise<Error> {
  const reported = (event as ErrorEvent).message || 'load error';
  const fix =
    "Serve rxsync's dist/browser/rxsync-worker.js and its two .wasm files at that URL, or pass workerUrl. A bundler that " +
    'bundles the workers a module starts from a literal URL (relative to import.meta.url), such as Vite or webpack 5, emits ' +
    "them by itself when the app imports 'rxsync/browser' and leaves workerUrl out. esbuild and the Angular CLI do not: " +
    "start the worker from a file of the app that imports 'rxsync/browser/rxsync-worker.js' (the `worker` option) and " +
    "pass the .wasm URLs as wasmUrl (rxsync's README, Angular).";
  if (url === undefined) return new AssetLoadError(`the rxsync worker script did not start (${reported}); its URL is unknown here. ${fix}`);
  const prebundled = url.includes('/.vite/deps/')
    ? " Vite's dev server pre-bundled rxsync into node_modules/.vite/deps/, away from its worker: add optimizeDeps: { exclude: ['rxsync'] } to the Vite config."
    : '';
  let answer: ServedAnswer;
  try {
    const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
    answer = answerOf(url, response, await readHead(response));
  } catch (error) {
    return new AssetLoadError(
      `the rxsync worker script ${url} did not start (${reported}), and fetching it failed too (${(error as Error)?.message}). ${fix}${prebundled}`,
      {
        url,
      },
    );
  }
  const context = { url, status: answer.status, contentType: answer.contentType };
  const served = answer.status >= 200 && answer.status < 300;
  const html = looksLikeHtml(answer);
  if (served && !html && /javascript|ecmascript/i.test(answer.contentType)) {
    return new AssetLoadError(
      `the rxsync worker script ${url} is served (${describeAnswer(answer)}) but did not start (${reported}): see the browser console for the worker's error.`,
      context,
    );
  }
  const verdict = !served
    ? ''
    : html
      ? ": an HTML page (a server's fallback for a missing file?), not the script"
      : ', not JavaScript (a module worker needs a JavaScript content type)';
  return new AssetLoadError(
    `the rxsync worker script ${url} did not start (${reported}): it answered ${describeAnswer(answer)}${verdict}. ${fix}${prebundled}`,
    context,
  );
}
