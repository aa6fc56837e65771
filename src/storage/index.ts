/** The client's storage layer: wa-sqlite (in memory or in IndexedDB) and a small idb key-value store. */
export { openDatabase, MEMORY, type OpenDatabaseOptions } from './open.js';
export type { SqliteDatabase, SqliteExecutor } from './database.js';
export type { RunResult, RunManyOptions } from './statements.js';
export { real, SqlReal } from './binding.js';
export { SqliteError, sqliteCodeName } from './errors.js';
export { quoteIdentifier, isPlainIdentifier } from './identifiers.js';
export { openMetaStore, type MetaStore } from './meta-store.js';
export { LocalLockManager, type LockManagerSubset } from './local-locks.js';
export type { WasmOptions } from './wasm.js';
