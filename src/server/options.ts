import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SyncSchema } from '../protocol/index.js';
import type { ServerLimits } from './limits.js';
import type { PostgresStoreOptions } from './store/postgres/postgres-store.js';
import { createSqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
import type { ConflictPolicy, SyncStore } from './store/store.js';

export interface SyncServerOptions {
  schema: SyncSchema;
  /** 0 (the default) picks any free port. */
  port?: number;
  /** Default 127.0.0.1; use 0.0.0.0 to accept connections from other machines. */
  host?: string;
  /** A store of your own; the server closes it on close(). Default: the embedded SQLite store. */
  store?: SyncStore;
  /**
   * Serve an existing Postgres database (wal_level=logical) instead of the embedded store: logical
   * replication into a change log in that database, real WAL LSNs (docs/postgres.md).
   */
  postgres?: Pick<PostgresStoreOptions, 'connectionString' | 'slot' | 'publication' | 'namespace' | 'retention' | 'poolSize' | 'pollMs' | 'restartDelayMs'>;
  /** The embedded SQLite store's settings; ignored when `store` is given. */
  sqlite?: Pick<SqliteStoreOptions, 'database' | 'retention'>;
  /** Shorthand for `sqlite.database` (which wins when both are given): ':memory:' (default) or a file path. */
  database?: string;
  /** Shorthand for `sqlite.retention` (which wins when both are given). */
  retention?: SqliteStoreOptions['retention'];
  /**
   * Checks a client's hello token. Falsy (or a throw) refuses the client with `unauthorized` and
   * CloseCode.unauthorized; anything else is kept as the session's principal and passed to every store call
   * made for it (see `Principal` in store/store.ts), so that per-user rules can use it.
   */
  authenticate?: (token: string | undefined, request: IncomingMessage) => unknown | Promise<unknown>;
  limits?: Partial<ServerLimits>;
  /** What a client write does to the current row; default last write wins. A given `store` applies its own. */
  conflictPolicy?: ConflictPolicy;
  /** Extra HTTP routes (the demo's static files); return false to fall through to 404. */
  httpHandler?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
  /** Called with failures of the server itself (not of clients' input). Default: console.error. */
  onError?: (error: unknown) => void;
}

/** The store the options ask for: the one given, else Postgres when asked for, else the embedded SQLite store. */
export async function openStore(options: SyncServerOptions, onError: (error: unknown) => void): Promise<SyncStore> {
  if (options.store) return options.store;
  if (options.postgres) {
    // Loaded only when asked for: the embedded default does not load pg.
    const { createPostgresStore } = await import('./store/postgres/postgres-store.js');
    return createPostgresStore({ ...options.postgres, schema: options.schema, conflictPolicy: options.conflictPolicy, onError });
  }
  return createSqliteStore({
    schema: options.schema,
    database: options.sqlite?.database ?? options.database,
    retention: options.sqlite?.retention ?? options.retention,
    conflictPolicy: options.conflictPolicy,
  });
}
