import type { LocalChangeEntry } from '../changes/outbox.js';
import type { InsertRowOf, KeyOf, PatchOf, SyncSchema, TableName } from '../protocol/index.js';
import type { ServerUrls, UrlOrder } from './server-urls.js';

/** Options of connect(). */
export interface ConnectOptions {
  /**
   * connect() resolves false after this long without a welcome, instead of waiting for one (for
   * ever, while the server is down); the connection keeps trying in the background, and status$
   * and the `connected` event say when it gets through.
   */
  timeoutMs?: number;
  /** The order a list of URLs is tried in: `'shuffled'` (default, spreads clients) or `'listed'`. */
  urlOrder?: UrlOrder;
}

/**
 * The client's calls, described once. SyncClient implements them; the worker's tab API and the
 * main thread's proxy (src/worker/types.ts) are derived from this, so a call added here is a
 * compile error in every shape that lacks it.
 *
 * `S`, the schema's type, types the writes: with a schema defined in code, a table name it lacks,
 * a column a table lacks or a value of the wrong type is a compile error (see RowOf). With the
 * wide SyncSchema (a schema read at run time) any table name and any row compile, and are checked
 * at run time as always.
 */
export interface SyncClientCalls<S extends SyncSchema = SyncSchema> {
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
  /**
   * Writes a row locally (with its outbox entry, in one transaction) and syncs it. A row whose
   * key already exists is overwritten, like an upsert (not refused, as SQL's INSERT would): the
   * columns given replace the stored ones and those left out become NULL, locally at once and on
   * the server (whose default conflict policy, lastWriteWins, does the same). Use `update` to
   * change some columns only.
   */
  insert<T extends TableName<S>>(table: T, row: InsertRowOf<S, T>): Promise<void>;
  /** Changes the columns in `patch` of the row with `key`; rejects if there is no such row locally. */
  update<T extends TableName<S>>(table: T, key: KeyOf<S, T>, patch: PatchOf<S, T>): Promise<void>;
  /** Deletes the row with `key` (nothing if there is none). */
  delete<T extends TableName<S>>(table: T, key: KeyOf<S, T>): Promise<void>;
  /**
   * Runs SQL on the local database (reads: writes made here never sync). `R` is the row type the
   * caller expects (not checked): e.g. `StoredRowOf<typeof schema, 'todos'>` for `SELECT *`.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
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

/**
 * The same calls answering with a Promise each (what crosses a worker boundary). A call that
 * already answers with one keeps its signature as it is (and its type parameters).
 */
export type Promisified<T> = {
  [K in keyof T]: T[K] extends (...args: any[]) => Promise<unknown>
    ? T[K]
    : T[K] extends (...args: infer A) => infer R
      ? (...args: A) => Promise<Awaited<R>>
      : never;
};
