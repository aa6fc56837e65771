/** The client's storage layer: wa-sqlite (in memory, in IndexedDB, or in a file in Node) and a small idb key-value store. */
export { openDatabase } from './open.js';
export type { StorageBackendKind } from './backend.js';
export type { HeldTransaction, SqliteDatabase, SqliteExecutor } from './database.js';
export { real } from './binding.js';
export { SqliteError } from './errors.js';
export { openMetaStore, type MetaStore } from './meta-store.js';
export { LocalLockManager } from './local-locks.js';
