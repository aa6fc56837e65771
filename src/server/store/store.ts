import type { ChangeOp, ChangeRecord, ClientChange, Key, Lsn, Row, SyncSchema } from '../../protocol/index.js';

/**
 * The storage a sync server runs on. Sessions talk to storage only through this interface and
 * never see SQL, so that stores are interchangeable and pass the same contract suite
 * (spec/server/store-contract.ts). Each implementation has a folder beside this file:
 * `sqlite/` (embedded, the default) and, next, `postgres/` (logical replication, real WAL LSNs).
 *
 * LSNs are `X/Y` strings, increasing with every commit; the changes of one transaction may share
 * its commit LSN (Postgres) or have one each (SQLite). All methods are async
 * because a networked store is; the embedded one resolves at once.
 */
export interface SyncStore {
  readonly schema: SyncSchema;

  /** The LSN of the last committed change (`0/0` when nothing was ever written). */
  currentLsn(): Lsn;

  /**
   * Resolves true once this process has read the change log up to `lsn`; false at once when `lsn`
   * was never stored (ahead of the log: another deployment's, a restored database), or after
   * `timeoutMs`. Several processes share a Postgres change log, each following it a moment apart:
   * a client that moves from one to another may bring an LSN this one has not read yet.
   */
  catchUpTo(lsn: Lsn, timeoutMs: number): Promise<boolean>;

  /**
   * The oldest LSN a client may resume from: `changesSince(lsn)` is complete for any
   * `lsn >= oldestResumableLsn()`. Older clients must be reset (sent a fresh snapshot).
   */
  oldestResumableLsn(): Lsn;

  /**
   * A snapshot of every synced table, read in chunks. Changes committed after `lsn` may or may
   * not be visible in the chunks; the caller replays `changesSince(lsn)` afterwards, which is
   * idempotent (whole-row upserts and deletes by key), so the result converges either way.
   */
  openSnapshot(options: { chunkRows: number }, caller?: Caller): Promise<SnapshotReader>;

  /** Committed changes with LSN > `lsn`, in LSN order, at most `limit` of them. */
  changesSince(lsn: Lsn, limit: number, caller?: Caller): Promise<ChangeRecord[]>;

  /**
   * Calls `listener` after every commit with the changes it committed (in LSN order). Returns the
   * unsubscribe function. The server subscribes once for all its sessions (see fanout/), so this
   * call has no caller: per-session filtering of live changes belongs in the fan-out.
   */
  subscribe(listener: (changes: ChangeRecord[]) => void): () => void;

  /**
   * Calls `listener` with the new `oldestResumableLsn()` whenever it moves forward (retention
   * pruned the log, a TRUNCATE, a replication slot started afresh): a session whose client is
   * behind it can no longer be caught up from the log and must be reset. Returns the unsubscribe.
   */
  subscribeResets(listener: (oldestResumableLsn: Lsn) => void): () => void;

  /**
   * Applies one client's writes in ONE transaction and returns one result per change, in order.
   * Idempotent by change id: a change id seen before answers `duplicate` and applies nothing.
   * A rejected change does not abort the others. Input must already be checked against the schema.
   */
  applyClientWrites(clientId: string, changes: ClientChange[], caller?: Caller): Promise<WriteResult[]>;

  /**
   * The rows each read names, as they were at `lsn` (at or after `oldestResumableLsn()`): the
   * current rows with the changes after `lsn` undone. Per-user rules read a user's sets as of a
   * client's position, and the rows a set change brings or takes away as of that change. Rejects
   * when the log no longer reaches back to `lsn`.
   */
  rowsAt(lsn: Lsn, reads: readonly RowsRead[]): Promise<Row[][]>;

  /** A backend write (not from a sync client). Resolves to the LSN it committed at. */
  write(change: BackendWrite): Promise<Lsn>;

  /** Read-only SQL for the server's owner (tests, admin). Never reachable from a client. */
  query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;

  /**
   * What an operator checks (`GET /healthz` includes it, `/readyz` answers from `ready`): which
   * store, this process's role, and for a replicating one how far behind its source it is.
   * Rejects when the store cannot answer (its database is down).
   */
  health(): Promise<StoreHealth>;

  /** Records that a client id connected; true when the store already knew it. */
  registerClient(clientId: string): Promise<boolean>;

  close(): Promise<void>;
}

/** What `SyncStore.health()` answers; a store may add fields of its own (all JSON). */
export interface StoreHealth {
  store: string;
  /**
   * `replicator`: this process writes the change log (one per Postgres source, chosen by an
   * advisory lock); `follower`: it serves clients from the log another process writes. The
   * embedded SQLite store writes its own log: always `replicator`.
   */
  role: 'replicator' | 'follower';
  /** Whether this process should get new clients: its database answers and its view of the log is recent. */
  ready: boolean;
  /** Why it is not ready, in words an operator can act on (never a secret). */
  reason?: string;
  /** Seconds this process's view of the change log trails what is stored in it (0 for SQLite). */
  changeLogLagSeconds: number;
  /** Seconds the change log trails the source database's commits (0 for SQLite). */
  replicationLagSeconds: number;
  /** WAL bytes the source has that the change log has not stored; null when unknown or not replicating. */
  replicationLagBytes: number | null;
  [field: string]: unknown;
}

/**
 * Who a session acts for: what the server's `authenticate` hook returned for its client when that
 * was truthy (for instance a token's verified claims), or `undefined` when the server has no
 * hook. The server keeps it as it is and never looks inside; per-user rules will.
 */
export type Principal = unknown;

/**
 * Who a store call is made for. Sessions pass it with every call that reads or writes data for
 * their client, so that per-user rules can filter what a client reads and refuse what it writes.
 * Calls without one come from the server's owner (backend writes, tests, admin).
 */
export interface Caller {
  readonly principal: Principal;
  /** The per-user rules as they apply to this caller, on a server that has rules. */
  readonly access?: CallerAccess;
}

/** One read of `rowsAt`: the rows of `table` whose `column` holds one of `values` (every row without a column). */
export interface RowsRead {
  readonly table: string;
  readonly column?: string;
  readonly values?: readonly unknown[];
}

/** A condition in a store's SQL dialect, its values as bound parameters. */
export interface SqlCondition {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** How a store writes SQL: which dialect, and its placeholder for the n-th parameter (1-based). */
export interface SqlDialect {
  readonly dialect: 'sqlite' | 'postgres';
  placeholder(index: number): string;
}

/** One change a client asks for, with the row before and after it (null: none). */
export interface WriteAttempt {
  readonly table: string;
  readonly op: ChangeOp;
  readonly before: Row | null;
  readonly after: Row | null;
}

/**
 * What per-user rules let one caller read and write (src/server/rules/). Stores ask it while they
 * read a snapshot and apply a push; they never see the rules themselves.
 */
export interface CallerAccess {
  /**
   * The rows of `table` the caller may read, as a condition over the table's columns (the table
   * is not aliased; parameters numbered from `firstParam`): true for every row, false for none.
   */
  readFilter(table: string, dialect: SqlDialect, firstParam?: number): SqlCondition | boolean;
  /**
   * Whether the caller may make this change. `exists` runs a query in the store's transaction
   * (so a change sees the earlier changes of its push) and says whether it returned a row; when
   * `exists` answers synchronously (an embedded store inside its transaction), so does this.
   */
  mayWrite(attempt: WriteAttempt, dialect: SqlDialect, exists: (query: SqlCondition) => boolean | Promise<boolean>): boolean | Promise<boolean>;
}

export interface SnapshotReader {
  /** The snapshot's LSN: catch up from here once every chunk is applied. */
  readonly lsn: Lsn;
  /** Every synced table (schema order) with its row count when the snapshot opened. */
  readonly tables: ReadonlyArray<{ table: string; rows: number; columns: readonly string[] }>;
  /** The next chunk of rows (arrays in `columns` order), or null when every table is done. */
  nextChunk(): Promise<{ table: string; columns: readonly string[]; rows: unknown[][] } | null>;
  close(): void;
}

export type BackendWrite =
  { op: 'insert'; table: string; row: Row } | { op: 'update'; table: string; key: Key; patch: Row } | { op: 'delete'; table: string; key: Key };

export type WriteResult =
  | { id: string; status: 'applied'; lsn: Lsn }
  | { id: string; status: 'duplicate'; lsn?: Lsn }
  | { id: string; status: 'rejected'; reason: string; serverRow: Row | null; code?: 'forbidden' | 'conflict' | 'constraint' };

/**
 * Decides what a client write does to the current server row. The default is server order, last
 * write wins (see conflict-policy.ts); a server may pass its own.
 */
export type ConflictPolicy = (input: {
  clientId: string;
  change: ClientChange;
  current: Row | null;
}) => { action: 'apply'; row: Row | null } | { action: 'reject'; reason: string };
