/**
 * How the meta store (meta-store.ts) lies in IndexedDB, for everyone who reads it: the engine,
 * through meta-store.ts, and the page, which looks up where a database lives before any engine
 * runs (worker/storage-choice.ts). The page reads it with plain IndexedDB calls: this module
 * imports nothing at run time, so that `idb` (and the rest of the storage layer) stays out of the
 * page's bundle.
 */
import type { StorageBackendKind } from './backend.js';

/** The IndexedDB database that holds the meta store of the database `name`. */
export function metaDatabaseName(name: string): string {
  return `rxsync-meta:${name}`;
}

/** Its one object store: values under out-of-line string keys. */
export const META_STORE = 'meta';

/** The key of the {@link StorageRecord}. */
export const STORAGE_KEY = 'storage';

/** What the meta store remembers of where a named database lives. */
export interface StorageRecord {
  backend: StorageBackendKind;
  /** The layout of the data in that backend, for migrations between backends and layouts. */
  format: number;
}

/** The layout of the data that this rxsync writes. */
export const STORAGE_FORMAT = 1;

/** The value under `key` (undefined if there is none), read in a readonly transaction of its own. */
export function readMetaValue(db: IDBDatabase, key: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = db.transaction(META_STORE, 'readonly').objectStore(META_STORE).get(key);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
