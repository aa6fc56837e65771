import type { SqliteDatabase } from './database.js';
import type { WasmOptions } from './wasm.js';

/**
 * Where a database lives. `memory` keeps nothing; `indexeddb` persists in the IndexedDB database
 * of its name; `file` (Node) persists in the SQLite file at its name, a path.
 */
export type StorageBackendKind = 'memory' | 'indexeddb' | 'opfs' | 'file';

/**
 * The IndexedDB factory type (`IDBFactory`) where the DOM lib is loaded, as in rxsync's own build
 * and a browser app's; `never` in a Node program compiled without it (which has no IndexedDB to
 * give), whose type check would otherwise fail on rxsync's declarations (TS2304).
 */
export type IndexedDbFactory = typeof globalThis extends { indexedDB: infer F } ? F : never;

/**
 * One place a wa-sqlite database can live: it opens the database of a name there. The client
 * picks one with a single option (`storage`, or the database name and the environment: see
 * open.ts); a new place (OPFS, ...) is one more implementation of this, in backends/.
 */
export interface StorageBackend {
  readonly kind: StorageBackendKind;
  open(name: string, wasm: WasmOptions): Promise<SqliteDatabase>;
}
