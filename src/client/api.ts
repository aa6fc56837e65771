import type { LocalChangeEntry } from '../changes/outbox.js';
import type { Key, Row } from '../protocol/index.js';
import type { ServerUrls, UrlOrder } from './server-urls.js';

/** Options of connect(). */
export interface ConnectOptions {
  /** connect() resolves false after this long without a welcome (it keeps trying in the background). */
  timeoutMs?: number;
  /** The order a list of URLs is tried in: `'shuffled'` (default, spreads clients) or `'listed'`. */
  urlOrder?: UrlOrder;
}

/**
 * The client's calls, described once. SyncClient implements them; the worker's tab API and the
 * main thread's proxy (src/worker/types.ts) are derived from this, so a call added here is a
 * compile error in every shape that lacks it.
 */
export interface SyncClientCalls {
  /** Opens the database and loads the client id and the LSN. Idempotent. */
  initialize(): Promise<void>;
  /**
   * Connects (and keeps reconnecting); true once a server welcomed this client. `url`: one URL, a
   * list of equivalent servers (tried in turn), or a function asked before every try.
   */
  connect(url: ServerUrls, options?: ConnectOptions): Promise<boolean>;
  /** Closes the connection and cancels any pending reconnect. */
  disconnect(reason?: string): void;
  /** Drops the synced data and the LSN, then syncs afresh. Local pending writes are kept. */
  resetLSN(): Promise<void>;
  insert(table: string, row: Row): Promise<void>;
  update(table: string, key: Key, patch: Row): Promise<void>;
  delete(table: string, key: Key): Promise<void>;
  /** Runs SQL on the local database (reads: writes made here never sync). */
  query(sql: string, params?: unknown[]): Promise<unknown[]>;
  /** Resolves when the outbox is empty and the LSN has reached the server's. */
  whenSynced(options?: { timeoutMs?: number }): Promise<void>;
  /** Local changes (the outbox and its history). */
  localChanges(filter?: { status?: LocalChangeEntry['status'] }): Promise<LocalChangeEntry[]>;
  /** Retries a server batch that sync paused on. */
  resumeSync(): void;
}

/** Every call's name, checked against the interface both ways (missing or extra is a compile error). */
export const SYNC_CLIENT_CALLS = [
  'initialize',
  'connect',
  'disconnect',
  'resetLSN',
  'insert',
  'update',
  'delete',
  'query',
  'whenSynced',
  'localChanges',
  'resumeSync',
] as const satisfies ReadonlyArray<keyof SyncClientCalls>;
type Unlisted = Exclude<keyof SyncClientCalls, (typeof SYNC_CLIENT_CALLS)[number]>;
const everyCallListed: [Unlisted] extends [never] ? true : never = true;
void everyCallListed;

/** The same calls answering with a Promise each (what crosses a worker boundary). */
export type Promisified<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };
