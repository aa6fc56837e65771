import { fakeIndexedDB } from './fake-indexeddb.js';
import WebSocket from 'ws';
import { createSyncClient, type SyncClient } from '../../src/index.js';
import type { SyncClientOptions } from '../../src/client/options.js';
import { testSchema } from './test-schema.js';

const live = new Set<SyncClient>();

/** Cleans up every client a spec made, whatever happened in it. */
export async function cleanupClients(): Promise<void> {
  await Promise.all([...live].map((client) => client.cleanup()));
  live.clear();
}

/** The `ws` package as the client's WebSocket (Node has no global one). */
export const wsWebSocket = WebSocket as unknown as typeof globalThis.WebSocket;

/** Client options for specs: a real `ws` socket, fast reconnect, resend and apply retries, so specs do not wait long. */
export const fastClientOptions = {
  WebSocketCtor: wsWebSocket,
  reconnect: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 },
  changes: { ackTimeoutMs: 500 },
  apply: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
} satisfies Partial<SyncClientOptions>;

/** A client of the test schema with fastClientOptions (and `options` on top); cleanupClients() cleans it up. */
export function testClient(options: Partial<SyncClientOptions> = {}): SyncClient {
  const client = createSyncClient({ schema: testSchema, ...fastClientOptions, ...options });
  live.add(client);
  return client;
}

/** A fresh fake IndexedDB, standing in for one browser profile. */
export const freshIndexedDB = (): IDBFactory => fakeIndexedDB();

export { until } from './until.js';
