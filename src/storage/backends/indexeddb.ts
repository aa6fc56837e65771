import { Database } from '../database.js';
import { SQLITE_CANTOPEN, SqliteError } from '../errors.js';
import { registerIdbVfs, type IdbVfsHandle } from '../idb-vfs.js';
import { loadSqlite, type WasmOptions } from '../wasm.js';
import type { StorageBackend } from '../backend.js';
import { openHandle } from './open-handle.js';

/**
 * The async build with IDBBatchAtomicVFS: the database lives in the IndexedDB database of its
 * name, in `indexedDB` (default globalThis.indexedDB). See idb-vfs.ts for what the environment
 * must provide (IDBKeyRange) and what is done where Web Locks are missing.
 */
export function indexedDbBackend(indexedDB: IDBFactory | undefined = (globalThis as { indexedDB?: IDBFactory }).indexedDB): StorageBackend {
  return {
    kind: 'indexeddb',
    async open(name: string, wasm: WasmOptions) {
      if (!indexedDB) {
        throw new SqliteError(
          `database '${name}' persists in IndexedDB, but no factory was given and globalThis.indexedDB is missing ` +
            `(pass the indexedDB option, e.g. fake-indexeddb in Node, or use ':memory:')`,
          SQLITE_CANTOPEN,
        );
      }
      const sqlite = await loadSqlite('async', wasm);
      const vfs: IdbVfsHandle = await sqlite.lane!.run(() => registerIdbVfs(sqlite.api, indexedDB, name));
      try {
        const handle = await sqlite.lane!.run(() => openHandle(sqlite.api, vfs.fileName, vfs.vfsName, name));
        return new Database(name, sqlite, handle, vfs);
      } catch (error) {
        await vfs.close().catch(() => undefined);
        throw error;
      }
    },
  };
}
