import type pg from 'pg';
import { compareLsn, tableOf } from '../../../protocol/index.js';
import type { ChangeRecord, ClientChange, Lsn, Row, SyncSchema } from '../../../protocol/index.js';
import { isPlainIdentifier } from '../../../sql/index.js';
import { lastWriteWins } from '../conflict-policy.js';
import { checkBackendWrite, StoreListeners } from '../store-listeners.js';
import type { BackendWrite, Caller, ConflictPolicy, RowsRead, SnapshotReader, SqlCondition, StoreHealth, SyncStore, WriteResult } from '../store.js';
import { ChangeLogTail, readChangesSince } from './change-log.js';
import { createPool, type PostgresConnectionOptions } from './connection.js';
import { describeConnection } from './describe-connection.js';
import type { PostgresTable } from './pg-values.js';
import { Replicator } from './replicator.js';
import { checkPostgresSchema } from './schema-check.js';
import { readLease } from './replicator-lease.js';
import { ensureSyncSchema } from './setup.js';
import { rowsAtLsn } from './rows-at.js';
import { openPostgresSnapshot } from './snapshot.js';
import { POSTGRES, PostgresWriter } from './writes.js';

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  schema: SyncSchema;
  /** The logical replication slot (default `rxsync`). */
  slot?: string;
  /** The publication of the synced tables (default `rxsync`). */
  publication?: string;
  /** The Postgres schema the synced tables are in (default `public`). */
  namespace?: string;
  /**
   * How many changes the change log keeps (default 100,000) and, when given, for how long (by the
   * source commit time); older transactions are pruned whole, and their clients reset.
   */
  retention?: { maxChanges?: number; maxAgeMs?: number };
  /** What a client write does to the current row; default `lastWriteWins(schema)`. */
  conflictPolicy?: ConflictPolicy;
  /** Called when a subscriber throws. Default: console.error. */
  onListenerError?: (error: unknown) => void;
  /** Replication or change-log failures (the replicator starts again by itself). Default: console.error. */
  onError?: (error: unknown) => void;
  /** How often the change log is polled when no notification came (default 1000 ms). */
  pollMs?: number;
  /**
   * Whether this process's tail is woken by the replicator's NOTIFY (default true). False when its
   * connections go through a pooler that does not keep a session's LISTEN (PgBouncer in
   * transaction mode): it then reads the change log every `pollMs` only.
   */
  notifications?: boolean;
  /** How long the replicator waits before starting again after a failure (default 1000 ms). */
  restartDelayMs?: number;
  /** How often a process that does not replicate tries to become the replicator (default 1000 ms). */
  electionIntervalMs?: number;
  /** How long a stalled replicator keeps the slot before another process takes it (default 5000 ms; see replicator-lease.ts). */
  leaseMs?: number;
  /** Not ready (`/readyz`) when this process's view of the change log is older than this (default 10 s). */
  readyMaxLagSeconds?: number;
  /** Fault injection for specs: runs after a transaction is stored, before the slot is acknowledged. */
  beforeAcknowledge?: (lsn: Lsn) => Promise<void>;
}

const DEFAULT_MAX_CHANGES = 100_000;

/**
 * A SyncStore on an existing Postgres database (docs/postgres.md): the app's own tables, checked
 * against the schema at start; a replicator consuming a `pgoutput` slot into `rxsync.change_log`;
 * a tail following that log for this process's sessions; snapshots in REPEATABLE READ; client
 * writes applied to the tables in one transaction. LSNs are the source transactions' real commit
 * LSNs, shared by the changes of one transaction.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<SyncStore> {
  const names = {
    slot: options.slot ?? 'rxsync',
    publication: options.publication ?? 'rxsync',
    namespace: options.namespace ?? 'public',
  };
  for (const [what, name] of Object.entries(names)) {
    if (!isPlainIdentifier(name)) throw new Error(`rxsync: postgres.${what} must be a plain identifier (letters, digits, _), got ${JSON.stringify(name)}`);
  }
  const maxChanges = options.retention?.maxChanges ?? DEFAULT_MAX_CHANGES;
  if (!Number.isSafeInteger(maxChanges) || maxChanges < 0) throw new RangeError(`retention.maxChanges must be a non-negative integer, got ${maxChanges}`);
  const maxAgeMs = options.retention?.maxAgeMs;
  if (maxAgeMs !== undefined && !(maxAgeMs > 0)) throw new RangeError(`retention.maxAgeMs must be a positive number of milliseconds, got ${maxAgeMs}`);
  const pool = createPool(options);
  pool.on('error', (error) => (options.onError ?? report)(error)); // an idle client's connection broke: the pool replaces it
  try {
    const tables = await checkPostgresSchema(pool, options.schema, names.namespace);
    // The slot is the elected replicator's to create (under its lock, the change log restarted there).
    await ensureSyncSchema(pool, options.schema, names);
    const store = new PostgresSyncStore(options, pool, tables, names, maxChanges);
    await store.start();
    return store;
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (error instanceof Error && /ECONNREFUSED|password authentication|does not exist|ENOTFOUND/.test(error.message)) {
      throw new Error(`rxsync: could not use ${describeConnection(options.connectionString)}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

const report = (error: unknown) => console.error('rxsync: Postgres source:', error instanceof Error ? error.message : error);

class PostgresSyncStore implements SyncStore {
  readonly schema: SyncSchema;
  private readonly tail: ChangeLogTail;
  private readonly replicator: Replicator;
  private readonly writer: PostgresWriter;
  private readonly listeners: StoreListeners;
  private closed = false;
  private readonly readyMaxLagSeconds: number;

  constructor(
    options: PostgresStoreOptions,
    private readonly pool: pg.Pool,
    private readonly tables: ReadonlyMap<string, PostgresTable>,
    private readonly names: { slot: string; publication: string; namespace: string },
    maxChanges: number,
  ) {
    this.schema = options.schema;
    const onError = options.onError ?? report;
    this.listeners = new StoreListeners(options.onListenerError ?? ((error) => console.error('rxsync: a store subscriber threw', error)));
    this.tail = new ChangeLogTail(
      pool,
      options,
      names.slot,
      (records) => this.listeners.committed(records),
      (lsn) => this.listeners.reset(lsn),
      onError,
      options.pollMs,
      options.notifications,
    );
    const { restartDelayMs, beforeAcknowledge, electionIntervalMs, leaseMs } = options;
    const maxAgeMs = options.retention?.maxAgeMs;
    this.readyMaxLagSeconds = options.readyMaxLagSeconds ?? 10;
    this.replicator = new Replicator({
      connection: options,
      tables,
      ...names,
      maxChanges,
      maxAgeMs,
      onError,
      restartDelayMs,
      beforeAcknowledge,
      electionIntervalMs,
      leaseMs,
    });
    this.writer = new PostgresWriter(pool, tables, names.namespace, options.conflictPolicy ?? lastWriteWins(options.schema), this.tail);
  }

  /**
   * The replicator first: elected, it may create the slot and restart the change log there, and
   * the tail then starts from that position instead of seeing it move as a reset.
   */
  async start(): Promise<void> {
    await this.replicator.start();
    try {
      await this.tail.start();
    } catch (error) {
      await this.replicator.stop();
      throw error;
    }
  }

  currentLsn(): Lsn {
    return this.tail.head;
  }

  oldestResumableLsn(): Lsn {
    return this.tail.resumable;
  }

  async catchUpTo(lsn: Lsn, timeoutMs: number): Promise<boolean> {
    this.assertOpen();
    return this.tail.catchUpTo(lsn, timeoutMs);
  }

  async openSnapshot(options: { chunkRows: number }, caller?: Caller): Promise<SnapshotReader> {
    this.assertOpen();
    const sources: Array<{ table: PostgresTable; filter?: (firstParam: number) => SqlCondition }> = [];
    for (const name of this.schema.tableNames) {
      const access = caller?.access;
      const readable = access ? access.readFilter(name, POSTGRES) : true;
      if (readable === false) continue;
      // Compiled once per numbering (the count's, the first chunk's, the next chunks'), not per chunk.
      const compiled = new Map<number, SqlCondition>();
      const filter = (first: number) => {
        let condition = compiled.get(first);
        if (!condition) compiled.set(first, (condition = access!.readFilter(name, POSTGRES, first) as SqlCondition));
        return condition;
      };
      sources.push({ table: this.tables.get(name)!, ...(readable !== true && { filter }) });
    }
    return openPostgresSnapshot(this.pool, sources, this.names, options.chunkRows);
  }

  async changesSince(lsn: Lsn, limit: number): Promise<ChangeRecord[]> {
    this.assertOpen();
    if (!(limit > 0)) return [];
    return readChangesSince(this.pool, lsn, Math.floor(limit));
  }

  subscribe(listener: (changes: ChangeRecord[]) => void): () => void {
    this.assertOpen();
    return this.listeners.subscribe(listener);
  }

  subscribeResets(listener: (oldestResumableLsn: Lsn) => void): () => void {
    this.assertOpen();
    return this.listeners.subscribeResets(listener);
  }

  async applyClientWrites(clientId: string, changes: ClientChange[], caller?: Caller): Promise<WriteResult[]> {
    this.assertOpen();
    for (const change of changes) tableOf(this.schema, change.table);
    if (changes.length === 0) return [];
    return this.writer.applyClientWrites(clientId, changes, caller?.access);
  }

  async write(write: BackendWrite): Promise<Lsn> {
    this.assertOpen();
    checkBackendWrite(this.schema, write);
    return this.writer.write(write);
  }

  async query<T = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.assertOpen();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      const { rows } = await client.query(sql, params);
      return rows as T[];
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  async rowsAt(lsn: Lsn, reads: readonly RowsRead[]): Promise<Row[][]> {
    this.assertOpen();
    if (compareLsn(lsn, this.tail.resumable) < 0) throw new Error(`rowsAt ${lsn}: the change log no longer reaches back there`);
    return rowsAtLsn(this.pool, this.tables, this.names, lsn, reads);
  }

  /**
   * A database behind a silent network cut leaves this pending: the server's callers (`/readyz`,
   * `/metrics`, the readiness watch) bound it with ops/routes.ts's storeHealth.
   */
  async health(): Promise<StoreHealth> {
    this.assertOpen();
    const [slots, lease] = await Promise.all([
      this.pool.query<{ active: boolean; wal_status: string | null; lag_bytes: string | null }>(
        `SELECT active, wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag_bytes FROM pg_replication_slots WHERE slot_name = $1`,
        [this.names.slot],
      ),
      readLease(this.pool, this.names.slot),
    ]);
    const slot = slots.rows[0];
    const role = this.replicator.role;
    const lagBytes = slot?.lag_bytes === null || slot === undefined ? null : Number(slot.lag_bytes);
    const changeLogLagSeconds = this.tail.lagSeconds;
    const ready = changeLogLagSeconds <= this.readyMaxLagSeconds;
    return {
      store: 'postgres',
      role,
      ready,
      ...(!ready && { reason: `this process has not read the change log for ${Math.round(changeLogLagSeconds)} s` }),
      changeLogLagSeconds,
      // The replicator knows its own lag; the others read what it reported with its last lease renewal.
      replicationLagSeconds: role === 'replicator' ? this.replicator.lagSeconds() : lease.lagSeconds,
      replicationLagBytes: lagBytes,
      replication: {
        slot: this.names.slot,
        slotActive: slot?.active ?? false,
        walStatus: slot?.wal_status ?? 'missing',
        // Seconds since the replicator (in whichever process) renewed its lease; null before the first one.
        leaseAgeSeconds: lease.ageSeconds,
        storedLsn: this.tail.head,
        oldestResumableLsn: this.tail.resumable,
      },
    };
  }

  async registerClient(clientId: string): Promise<boolean> {
    this.assertOpen();
    const inserted = await this.pool.query('INSERT INTO rxsync.clients (client_id) VALUES ($1) ON CONFLICT DO NOTHING', [clientId]);
    return inserted.rowCount === 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.replicator.stop();
    await this.tail.close();
    await this.pool.end();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('rxsync: the Postgres store is closed');
  }
}
