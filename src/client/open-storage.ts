import { openDatabase, openMetaStore, SqliteError, type MetaStore, type SqliteDatabase, type StorageBackendKind } from '../storage/index.js';
import { SQLITE_CANTOPEN } from '../storage/errors.js';
import { defaultStorage } from '../storage/open.js';
import { metaDatabaseName, STORAGE_FORMAT, STORAGE_KEY, type StorageRecord } from '../storage/meta-store-layout.js';
import type { SyncClientOptions } from './options.js';

/**
 * Opens the client's database on the backend its options choose (see storage/open.ts: in Node
 * without an IndexedDB, a name is a file path), and, for an IndexedDB one, its small IndexedDB
 * store (the client id, where the database lives, the checkpoint's copy), as has an OPFS one.
 * A named database opened before on another backend is refused: its data is there, not here. A file keeps everything in
 * itself (the client id and the checkpoint are in its `_rxsync_state`): it has no such store.
 */
export async function openStorage(
  config: Pick<SyncClientOptions, 'database' | 'storage' | 'indexedDB' | 'wasm'>,
): Promise<{ db: SqliteDatabase; meta: MetaStore | undefined }> {
  const indexedDB = config.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  const name = config.database ?? ':memory:';
  const storage: StorageBackendKind = config.storage ?? defaultStorage(name, indexedDB);
  // A memory database keeps nothing, its client id included: each such client is a new client.
  const meta =
    (storage === 'indexeddb' || storage === 'opfs') && indexedDB && typeof (globalThis as { IDBRequest?: unknown }).IDBRequest === 'function'
      ? await openMetaStore(indexedDB, metaDatabaseName(name))
      : undefined;
  try {
    const stored = await meta?.get<StorageRecord>(STORAGE_KEY);
    if (stored && stored.backend !== storage) {
      throw new SqliteError(
        `database '${name}' lives in ${stored.backend} storage, not ${storage}: open it with storage: '${stored.backend}'`,
        SQLITE_CANTOPEN,
      );
    }
    const db = await openDatabase({ name, storage, indexedDB, ...config.wasm });
    if (meta && !stored) await meta.set(STORAGE_KEY, { backend: storage, format: STORAGE_FORMAT } satisfies StorageRecord);
    return { db, meta };
  } catch (error) {
    meta?.close();
    throw error;
  }
}
