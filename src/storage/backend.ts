import type { SqliteDatabase } from './database.js';
import type { WasmOptions } from './wasm.js';

/** Where a database lives. `memory` keeps nothing; the others persist under the database's name. */
export type StorageBackendKind = 'memory' | 'indexeddb';

/**
 * One place a wa-sqlite database can live: it opens the database of a name there. The client
 * picks one with a single option (`storage`, or the database name: ':memory:' means `memory`);
 * a new place (OPFS, a file in Node) is one more implementation of this, in backends/.
 */
export interface StorageBackend {
  readonly kind: StorageBackendKind;
  open(name: string, wasm: WasmOptions): Promise<SqliteDatabase>;
}
