export { createSyncServer, SYNC_PATH, type SyncServer, type SyncServerOptions } from './server.js';
export type { SessionStats } from './session.js';
export { createSqliteStore } from './sqlite-store.js';
export { lastWriteWins } from './conflict-policy.js';
export { DEFAULT_LIMITS, type ServerLimits } from './limits.js';
export type { SyncStore, SnapshotReader, BackendWrite, WriteResult, ConflictPolicy } from './store.js';
export { defineSchema, type SyncSchema, type SchemaDefinition } from '../protocol/index.js';
export { demoSchema } from './demo-schema.js';
