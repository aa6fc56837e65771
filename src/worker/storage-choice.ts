/**
 * Where a tab's named database lives when the app does not say (`storage` left out), decided in the
 * tab because it decides where the engine runs (browser.ts):
 *
 * - a database opened before stays where it is: its small IndexedDB meta store (written by
 *   client/open-storage.ts, laid out as storage/meta-store-layout.ts says) names the backend that
 *   holds it. So an IndexedDB database made by an earlier rxsync keeps working, its outbox and
 *   checkpoint included; moving it to OPFS is the app's choice (README, "Where the database lives
 *   in a browser");
 * - a new database goes to OPFS where this tab can run a holder for it: a SharedWorker to broker
 *   between tabs, Web Locks to elect the holder, and an OPFS that opens (a private window's may not);
 * - else to IndexedDB (browsers without SharedWorker, such as Chrome on Android, or `shared: false`).
 *
 * No engine code: this runs in the page. It reads the meta store with plain IndexedDB calls, not
 * through meta-store.ts, which would bring `idb` into the page's bundle.
 */
import type { StorageBackendKind } from '../storage/backend.js';
import { META_STORE, metaDatabaseName, readMetaValue, STORAGE_KEY, type StorageRecord } from '../storage/meta-store-layout.js';

/** The parts of a page's global scope the choice reads (the page's own by default). */
export interface BrowserEnvironment {
  indexedDB?: IDBFactory;
  SharedWorker?: unknown;
  navigator?: { locks?: unknown; storage?: { getDirectory?: () => Promise<unknown> } };
}

const pageScope = (): BrowserEnvironment => globalThis as BrowserEnvironment;

/** True where this page can have an OPFS database held by one tab's dedicated worker for all tabs. */
export function canHoldInOpfs(shared: boolean, env: BrowserEnvironment = pageScope()): boolean {
  return shared && typeof env.SharedWorker === 'function' && !!env.navigator?.locks && typeof env.navigator?.storage?.getDirectory === 'function';
}

/** The backend the tab's database goes to (see the module comment); undefined: the engine's default (memory). */
export async function chooseBrowserStorage(
  database: string | undefined,
  storage: StorageBackendKind | undefined,
  shared: boolean,
  env: BrowserEnvironment = pageScope(),
): Promise<StorageBackendKind | undefined> {
  if (storage !== undefined) return storage;
  if (database === undefined || database === '' || database === ':memory:') return undefined;
  const stored = env.indexedDB ? await storedBackend(env.indexedDB, database) : undefined;
  if (stored) return stored;
  return canHoldInOpfs(shared, env) && (await opfsOpens(env)) ? 'opfs' : 'indexeddb';
}

/** OPFS is there but may refuse (Firefox's and Safari's private windows): then it is not used. */
async function opfsOpens(env: BrowserEnvironment): Promise<boolean> {
  try {
    await env.navigator!.storage!.getDirectory!();
    return true;
  } catch {
    return false;
  }
}

/** The backend the meta store of `database` records, if the database was opened before. */
async function storedBackend(factory: IDBFactory, database: string): Promise<StorageBackendKind | undefined> {
  if (typeof factory.databases !== 'function') return undefined;
  const names = new Set((await factory.databases()).map((info) => info.name));
  const metaName = metaDatabaseName(database);
  // IndexedDB data without a meta store: written by the IndexedDB VFS before there was one.
  if (!names.has(metaName)) return names.has(database) ? 'indexeddb' : undefined;
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(metaName);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    if (!db.objectStoreNames.contains(META_STORE)) return undefined;
    const record = (await readMetaValue(db, STORAGE_KEY)) as Partial<StorageRecord> | undefined;
    const backend: unknown = record?.backend;
    return backend === 'indexeddb' || backend === 'opfs' || backend === 'memory' ? backend : undefined;
  } finally {
    db.close();
  }
}
