import { createSyncClient, type SyncClient } from './sync-client.js';
import type { SyncClientOptions } from './options.js';
import type { SyncEvent, SyncEventListener } from '../streams/events.js';
import { demoSchema } from '../protocol/demo-schema.js';
import type { ConnectOptions } from './api.js';
import type { ServerUrls } from './server-urls.js';

/**
 * The seed's callback-style facade over one default client. `initializeSync` creates it (the
 * demo todo schema unless `schema` is given) and starts opening its database; the other calls act
 * on it. Prefer `createSyncClient` in new code: it gives the full API with Observables.
 */
let client: SyncClient | undefined;

export function initializeSync(options: Partial<SyncClientOptions> = {}): boolean {
  if (client) return false;
  client = createSyncClient({ schema: demoSchema, ...options });
  void client.initialize().catch(() => undefined); // failures surface on connect and as 'error' events
  return true;
}

function current(): SyncClient {
  if (!client) throw new Error('call initializeSync() first');
  return client;
}

export const getSyncClient = (): SyncClient => current();
/**
 * `wsUrl`: one URL, a list of equivalent servers, or a function answering the URL (see
 * SyncClient.connect). Resolves true once welcomed; with `timeoutMs`, false after that long
 * without a welcome (a server that is down), while the connection keeps trying in the background.
 */
export const connectToSyncServer = (wsUrl: ServerUrls, options?: ConnectOptions): Promise<boolean> => current().connect(wsUrl, options);
export const disconnectFromSyncServer = (reason?: string): void => current().disconnect(reason);
export const resetLSN = (): Promise<void> => current().resetLSN();
/** Calls `callback` with the data of every `event` (SyncEventMap says what each carries). */
export const onSyncEvent = <E extends SyncEvent>(event: E, callback: SyncEventListener<E>): void => current().on(event, callback);
export const offSyncEvent = <E extends SyncEvent>(event: E, callback: SyncEventListener<E>): void => current().off(event, callback);

/** Closes the default client; `initializeSync` may be called again after. Returns when it is closed. */
export function cleanupSync(): Promise<void> {
  const closing = client?.cleanup() ?? Promise.resolve();
  client = undefined;
  return closing;
}
