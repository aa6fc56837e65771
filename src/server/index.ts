export { createSyncServer, SYNC_PATH, type SyncServer } from './server.js';
export type { SyncServerOptions } from './options.js';
export type { SessionStats } from './session/session.js';
export { createSqliteStore } from './store/sqlite/sqlite-store.js';
export { lastWriteWins } from './store/conflict-policy.js';
export { DEFAULT_LIMITS, type ServerLimits } from './limits.js';
export type { SyncStore, SnapshotReader, BackendWrite, WriteResult, ConflictPolicy, Caller, Principal } from './store/store.js';
export { defineSchema, type SyncSchema, type SchemaDefinition } from '../protocol/index.js';
export { demoSchema } from '../protocol/demo-schema.js';
