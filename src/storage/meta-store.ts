/**
 * A small key-value store in IndexedDB (through the `idb` package) for what must be readable before
 * the SQLite database is: the client id, which storage backend holds the database (and its
 * format), and a copy of the last committed LSN (SQLite's value wins; guarantee 2 in
 * docs/architecture.md). Its names, its record of the backend and its read are in
 * meta-store-layout.ts, which the page reads too.
 *
 * `idb` relies on the IndexedDB globals (IDBRequest, IDBDatabase, ...) of the environment for its
 * wrappers; the factory itself is injected. The connection closes itself when another context
 * deletes or upgrades the database, so it never blocks that.
 */
import { unwrap, wrap, type IDBPDatabase } from 'idb';
import type { IndexedDbFactory } from './backend.js';
import { META_STORE, readMetaValue } from './meta-store-layout.js';

const VERSION = 1;

export interface MetaStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  close(): void;
}

/**
 * One write in its own transaction, settled by the transaction's outcome: a write that fails
 * (QuotaExceededError, ...) rejects once, with the transaction's error, and leaves no other
 * rejected promise behind (idb's put() would, through its transaction's `done`).
 */
function write(db: IDBDatabase, what: string, request: (store: IDBObjectStore) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(META_STORE, 'readwrite');
    tx.oncomplete = () => resolve();
    tx.onabort = () => {
      const cause = tx.error;
      reject(new Error(`cannot ${what} the meta store (${cause ? `${cause.name}: ${cause.message}` : 'the transaction was aborted'})`, { cause }));
    };
    request(tx.objectStore(META_STORE));
  });
}

export async function openMetaStore(indexedDB: IndexedDbFactory, dbName: string): Promise<MetaStore> {
  if (typeof (globalThis as { IDBRequest?: unknown }).IDBRequest !== 'function') {
    throw new Error('openMetaStore needs the IndexedDB globals (IDBRequest, IDBDatabase, ...) of the injected implementation');
  }
  const request = indexedDB.open(dbName, VERSION);
  request.addEventListener('upgradeneeded', () => {
    if (!request.result.objectStoreNames.contains(META_STORE)) request.result.createObjectStore(META_STORE);
  });
  const db = (await wrap(request)) as IDBPDatabase;
  let closed = false;
  db.addEventListener('versionchange', () => {
    closed = true;
    db.close();
  });
  const live = () => {
    if (closed) throw new Error(`meta store '${dbName}' is closed`);
    return db;
  };
  return {
    async get<T>(key: string) {
      return (await readMetaValue(unwrap(live()), key)) as T | undefined;
    },
    set(key: string, value: unknown) {
      return write(unwrap(live()), `save '${key}' in`, (store) => store.put(value, key));
    },
    delete(key: string) {
      return write(unwrap(live()), `delete '${key}' from`, (store) => store.delete(key));
    },
    close() {
      if (!closed) {
        closed = true;
        db.close();
      }
    },
  };
}
