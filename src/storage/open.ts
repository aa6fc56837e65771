/**
 * openDatabase: the storage layer's entry point.
 *
 * - ':memory:' (the default): wa-sqlite's sync build with its default in-memory VFS. Nothing persists.
 * - any other name: the async build with IDBBatchAtomicVFS over `indexedDB` (default
 *   globalThis.indexedDB); the data lives in the IndexedDB database of that name. See idb-vfs.ts for
 *   what the environment must provide (IDBKeyRange) and what is done where Web Locks are missing.
 *
 * The wasm builds load lazily, once per process (see wasm.ts); `wasmBinary` / `locateFile` only
 * matter on the first open that needs a given build.
 */
import { Database, type SqliteDatabase } from './database.js';
import { SQLITE_CANTOPEN, SqliteError, withDetailPrefix } from './errors.js';
import { registerIdbVfs, type IdbVfsHandle } from './idb-vfs.js';
import { loadSqlite, type WasmOptions } from './wasm.js';

const SQLITE_OPEN_READWRITE = 0x2;
const SQLITE_OPEN_CREATE = 0x4;

export const MEMORY = ':memory:';

export interface OpenDatabaseOptions extends WasmOptions {
  /** ':memory:' (default) keeps nothing; another name persists in IndexedDB under that name. */
  name?: string;
  /** The IndexedDB factory for a persistent database (default globalThis.indexedDB). */
  indexedDB?: IDBFactory;
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<SqliteDatabase> {
  const name = options.name ?? MEMORY;
  if (typeof name !== 'string' || name === '') throw new SqliteError('database name must be a non-empty string', SQLITE_CANTOPEN);
  const wasm: WasmOptions = { wasmBinary: options.wasmBinary, locateFile: options.locateFile };
  if (name === MEMORY) {
    const sqlite = await loadSqlite('sync', wasm);
    // Under the module's lane: opens interleaved with other calls into the module share its scratch state.
    const handle = await sqlite.lane!.run(() => openHandle(sqlite.api, MEMORY));
    return new Database(MEMORY, sqlite, handle);
  }
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw new SqliteError(
      `database '${name}' persists in IndexedDB, but no factory was given and globalThis.indexedDB is missing ` +
        `(pass the indexedDB option, e.g. fake-indexeddb in Node, or use ':memory:')`,
      SQLITE_CANTOPEN,
    );
  }
  const sqlite = await loadSqlite('async', wasm);
  const vfs: IdbVfsHandle = await sqlite.lane!.run(() => registerIdbVfs(sqlite.api, factory, name));
  try {
    const handle = await sqlite.lane!.run(() => openHandle(sqlite.api, vfs.fileName, vfs.vfsName, name));
    return new Database(name, sqlite, handle, vfs);
  } catch (error) {
    await vfs.close().catch(() => undefined);
    throw error;
  }
}

async function openHandle(api: SQLiteAPI, filename: string, vfsName?: string, label = filename): Promise<number> {
  try {
    return await api.open_v2(filename, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfsName);
  } catch (error) {
    throw withDetailPrefix(error, `cannot open database '${label}': `);
  }
}
