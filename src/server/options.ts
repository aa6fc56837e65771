import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SyncSchema } from '../protocol/index.js';
import type { JwtOptions } from './auth/jwt-verifier.js';
import type { ServerLimits } from './limits.js';
import type { CompiledRules } from './rules/ast.js';
import { compileRules } from './rules/compile-rules.js';
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
  postgres?: Pick<
    PostgresStoreOptions,
    | 'connectionString'
    | 'slot'
    | 'publication'
    | 'namespace'
    | 'retention'
    | 'poolSize'
    | 'pollMs'
    | 'restartDelayMs'
    | 'notifications'
    | 'electionIntervalMs'
    | 'leaseMs'
    | 'readyMaxLagSeconds'
  >;
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
  /**
   * Verify hello tokens as JWTs (HS256 secret, PEM public key or JWKS URL; docs/rules.md): a
   * refused token gets no session, and the session ends when its token expires. The verified
   * claims are what the rules read. With `authenticate` too, the hook runs after the verification.
   */
  jwt?: JwtOptions;
  /**
   * Per-user rules (docs/rules.md): the streams each user syncs and the writes each may make, as
   * the object a rules file holds (or compiled with loadRules). A table no stream names is synced to
   * no one; a write no rule allows is refused.
   */
  rules?: unknown;
  limits?: Partial<ServerLimits>;
  /** What a client write does to the current row; default last write wins. A given `store` applies its own. */
  conflictPolicy?: ConflictPolicy;
  /** Extra HTTP routes (the demo's static files); return false to fall through to 404. */
  httpHandler?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
  /**
   * Called with failures of the server itself (not of clients' input). Default: console.error,
   * unless a `logger` is given (which logs them).
   */
  onError?: (error: unknown) => void;
  /**
   * A pino logger for JSON logs (docs/operations.md): failures at error, draining steps at info,
   * sessions opening and closing at debug (ids and close codes; never tokens or claims). Default: none.
   */
  logger?: Logger;
  /**
   * Serve the process's own metrics at `/metrics` too: prom-client's default metrics (event-loop
   * lag, memory, CPU, GC, as `nodejs_*` and `process_*`). Off by default: once started they run
   * for the life of the process (an event-loop monitor and a GC observer nothing can stop), and an
   * app that embeds the server may collect them already. The CLI turns them on.
   */
  processMetrics?: boolean;
  /**
   * How long the store may stay not ready (`/readyz` failing: its database unreachable, its view of
   * the change log stale) before this server closes its sessions with 1012, so that their clients
   * reconnect to another server, and refuses new ones until the store is ready again (default
   * 10,000 ms; `Infinity` keeps them). Several processes over one Postgres: docs/deploy.md.
   */
  closeSessionsWhenNotReadyMs?: number;
}

/** The options' rules, checked against the schema (a RulesError says what is wrong), or undefined. */
export function resolveRules(options: SyncServerOptions): CompiledRules | undefined {
  if (options.rules === undefined) return undefined;
  return isCompiled(options.rules) ? options.rules : compileRules(options.rules, options.schema);
}

function isCompiled(rules: unknown): rules is CompiledRules {
  const candidate = rules as Partial<CompiledRules>;
  return typeof candidate.hash === 'string' && Array.isArray(candidate.subqueries) && candidate.writes instanceof Map;
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
