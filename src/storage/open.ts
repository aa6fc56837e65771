/**
 * openDatabase: the storage layer's entry point. It picks the backend (backend.ts) and opens the
 * database there:
 * - ':memory:' (the default name), or `storage: 'memory'`: nothing persists;
 * - any other name: `storage: 'indexeddb'` (the default for a name), the database of that name in
 *   `indexedDB` (default globalThis.indexedDB).
 *
 * The wasm builds load lazily, once per process (see wasm.ts); `wasmBinary` / `locateFile` only
 * matter on the first open that needs a given build.
 */
import type { SqliteDatabase } from './database.js';
import { SQLITE_CANTOPEN, SqliteError } from './errors.js';
import type { StorageBackend, StorageBackendKind } from './backend.js';
import { indexedDbBackend } from './backends/indexeddb.js';
import { memoryBackend } from './backends/memory.js';
import type { WasmOptions } from './wasm.js';

export interface OpenDatabaseOptions extends WasmOptions {
  /** ':memory:' (default) keeps nothing; another name persists under that name. */
  name?: string;
  /** Where the database lives; default `memory` for ':memory:', else `indexeddb`. */
  storage?: StorageBackendKind;
  /** The IndexedDB factory for the `indexeddb` backend (default globalThis.indexedDB). */
  indexedDB?: IDBFactory;
}

/** The backend `options` choose (one option decides: `storage`, else the name). */
export function chooseBackend(options: OpenDatabaseOptions): StorageBackend {
  const storage = options.storage ?? (options.name === undefined || options.name === ':memory:' ? 'memory' : 'indexeddb');
  switch (storage) {
    case 'memory':
      return memoryBackend;
    case 'indexeddb':
      return indexedDbBackend(options.indexedDB);
    default:
      throw new SqliteError(`unknown storage ${JSON.stringify(storage)}: 'memory' or 'indexeddb'`, SQLITE_CANTOPEN);
  }
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<SqliteDatabase> {
  const name = options.name ?? ':memory:';
  if (typeof name !== 'string' || name === '') throw new SqliteError('database name must be a non-empty string', SQLITE_CANTOPEN);
  return chooseBackend(options).open(name, { wasmBinary: options.wasmBinary, locateFile: options.locateFile });
}
