// The rxsync client package. The protocol (codecs, LSNs, schema) is shared with the server.
export { createSyncClient, SyncClient } from './client/sync-client.js';
export type { SyncClientOptions } from './client/options.js';
export type { ConnectOptions } from './client/api.js';
export type { ServerUrls, UrlOrder } from './client/server-urls.js';
export {
  initializeSync,
  connectToSyncServer,
  disconnectFromSyncServer,
  cleanupSync,
  resetLSN,
  onSyncEvent,
  offSyncEvent,
  getSyncClient,
} from './client/callback-facade.js';
export {
  SYNC_EVENTS,
  type SyncEvent,
  type SyncEventMessage,
  type SyncEventMap,
  type SyncEventListener,
  type InitialSyncProgress,
  type TableSyncProgress,
  type SchemaMismatch,
} from './streams/events.js';
export type { SyncStatus } from './client/sync-status.js';
export type { ResultChanges } from './live/live-result.js';
export type { ConnectionStatus, ConnectionState } from './streams/connection-state.js';
export type { LocalChangeEntry } from './changes/outbox.js';
export * from './protocol/index.js';
export * from './operators/index.js';
export * from './errors.js';
