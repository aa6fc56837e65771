/**
 * openDatabase: the storage layer's entry point. It picks the backend (backend.ts) and opens the
 * database there. `storage` chooses; without it, the name and the environment do:
 * - ':memory:' (the default name): `memory`, nothing persists;
 * - another name, where there is an IndexedDB (the `indexedDB` option, or globalThis.indexedDB:
 *   browsers, workers, a Node test with fake-indexeddb): `indexeddb`, the IndexedDB database of
 *   that name;
 * - another name in Node without an IndexedDB: `file`, the SQLite file at that path (relative to
 *   the working directory);
 * - anywhere else: `indexeddb`, which then says that IndexedDB is missing.
 * `opfs` is only taken when asked for: it needs a dedicated worker that holds the database alone,
 * which rxsync's browser entry arranges (and chooses by itself there; see worker/storage-choice.ts).
 *
 * The wasm builds load lazily, once per process (see wasm.ts); `wasmBinary` / `locateFile` only
 * matter on the first open that needs a given build.
 */
import type { SqliteDatabase } from './database.js';
import { SQLITE_CANTOPEN, SqliteError } from './errors.js';
import type { IndexedDbFactory, StorageBackend, StorageBackendKind } from './backend.js';
import { fileBackend } from './backends/file.js';
import { indexedDbBackend } from './backends/indexeddb.js';
import { memoryBackend } from './backends/memory.js';
import { opfsBackend } from './backends/opfs.js';
import type { NodeFileSystem } from './node-fs.js';
import { isNodeLike } from './node-wasm.js';
import type { WasmOptions } from './wasm.js';

export interface OpenDatabaseOptions extends WasmOptions {
  /** ':memory:' (default) keeps nothing; another name persists under that name (a file path for `file`). */
  name?: string;
  /** Where the database lives; default: see {@link defaultStorage}. */
  storage?: StorageBackendKind;
  /** The IndexedDB factory for the `indexeddb` backend (default globalThis.indexedDB). */
  indexedDB?: IndexedDbFactory;
  /** For specs: the node:fs functions the `file` backend calls (default node:fs). */
  fileSystem?: NodeFileSystem;
}

/** The backend a database of `name` lives in when no `storage` is given (see the module comment). */
export function defaultStorage(name: string | undefined, indexedDB: IndexedDbFactory | undefined): StorageBackendKind {
  if (name === undefined || name === ':memory:') return 'memory';
  if (indexedDB ?? (globalThis as { indexedDB?: IndexedDbFactory }).indexedDB) return 'indexeddb';
  return isNodeLike() ? 'file' : 'indexeddb';
}

/** The backend `options` choose (one option decides: `storage`, else the name and the environment). */
export function chooseBackend(options: OpenDatabaseOptions): StorageBackend {
  const storage = options.storage ?? defaultStorage(options.name, options.indexedDB);
  switch (storage) {
    case 'memory':
      return memoryBackend;
    case 'indexeddb':
      return indexedDbBackend(options.indexedDB);
    case 'opfs':
      return opfsBackend;
    case 'file':
      return fileBackend(options.fileSystem);
    default:
      throw new SqliteError(`unknown storage ${JSON.stringify(storage)}: 'memory', 'indexeddb', 'opfs' or 'file'`, SQLITE_CANTOPEN);
  }
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<SqliteDatabase> {
  const name = options.name ?? ':memory:';
  if (typeof name !== 'string' || name === '') throw new SqliteError('database name must be a non-empty string', SQLITE_CANTOPEN);
  return chooseBackend(options).open(name, { wasmBinary: options.wasmBinary, locateFile: options.locateFile });
}
