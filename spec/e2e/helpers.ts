import { fakeIndexedDB } from '../storage/helpers/fake-indexeddb.js';
import WebSocket from 'ws';
import { createSyncClient, type SyncClient } from '../../src/index.js';
import type { SyncClientOptions } from '../../src/client-options.js';
import { testSchema } from '../helpers/test-schema.js';

const live = new Set<SyncClient>();

/** Cleans up every client a spec made, whatever happened in it. */
export async function cleanupClients(): Promise<void> {
  await Promise.all([...live].map((client) => client.cleanup()));
  live.clear();
}

/** A client over a real `ws` socket; fast heartbeat and reconnect so specs do not wait long. */
export function testClient(options: Partial<SyncClientOptions> = {}): SyncClient {
  const client = createSyncClient({
    schema: testSchema,
    WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 },
    changes: { ackTimeoutMs: 500 },
    apply: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
  live.add(client);
  return client;
}

/** A fresh fake IndexedDB, standing in for one browser profile. */
export const freshIndexedDB = (): IDBFactory => fakeIndexedDB();

export { until } from '../support/until.js';
