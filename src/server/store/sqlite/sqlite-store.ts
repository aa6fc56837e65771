import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { loadOptionalPeer } from '../../optional-peer.js';
import { compareLsn, tableOf } from '../../../protocol/index.js';
import type { ChangeOp, ChangeRecord, ClientChange, Key, Lsn, Row, SyncSchema } from '../../../protocol/index.js';
import { lastWriteWins } from '../conflict-policy.js';
import { rejectionCode } from '../rejection-code.js';
import { rowsAsOf } from '../rows-as-of.js';
import { checkBackendWrite, StoreListeners } from '../store-listeners.js';
import type {
  BackendWrite,
  Caller,
  CallerAccess,
  ConflictPolicy,
  RowsRead,
  SnapshotReader,
  SqlCondition,
  SqlDialect,
  StoreHealth,
  SyncStore,
  WriteResult,
} from '../store.js';
import { configure, ensureSchema } from './ddl.js';
import { formatLsn, parseLsn, StoreLog } from './log.js';
import { openSqliteSnapshot } from './snapshot.js';
import { SyncedTable } from './tables.js';
import { WalCheckpointer } from './wal-checkpointer.js';

export interface SqliteStoreOptions {
  schema: SyncSchema;
  /** ':memory:' (default) or a file path; a missing parent directory is created. */
  database?: string;
  /** How many changes the log keeps (default 100,000); older ones are pruned after each commit. */
  retention?: { maxChanges?: number };
  /** What a client write does to the current row; default `lastWriteWins(schema)`. */
  conflictPolicy?: ConflictPolicy;
  /** Called when a subscriber throws (the store and the other subscribers carry on). Default: console.error. */
  onListenerError?: (error: unknown) => void;
}

const DEFAULT_MAX_CHANGES = 100_000;

/** How per-user rules write SQL for this store. */
const SQLITE: SqlDialect = { dialect: 'sqlite', placeholder: () => '?' };

/**
 * The embedded SyncStore on better-sqlite3: synced tables created from the schema, a change log
 * with integer LSNs, idempotency records for client change ids, retention. See ../store.ts for
 * the contract; everything here is synchronous underneath and resolves at once. It has no
 * per-user rules yet, so it takes no `Caller` argument.
 */
export function createSqliteStore(options: SqliteStoreOptions): SyncStore {
  return new SqliteSyncStore(options);
}

/** What one transaction committed: its logged changes and the counters after it. */
interface Commit {
  records: ChangeRecord[];
  lastLsn: number;
  resumableFrom: number;
}

type Outcome = { result: WriteResult; record: ChangeRecord | null; lsn: number };

class SqliteSyncStore implements SyncStore {
  readonly schema: SyncSchema;
  private readonly db: Database.Database;
  private readonly tables = new Map<string, SyncedTable>();
  private readonly log: StoreLog;
  private readonly policy: ConflictPolicy;
  private readonly maxChanges: number;
  private readonly listeners: StoreListeners;
  /** Committed counters, mirrored from _rxsync_meta (updated only after a COMMIT). */
  private lastLsn = 0;
  private resumableFrom = 0;
  private closed = false;
  /** A file database's WAL checkpoints, in a worker thread (none for ':memory:'). */
  private checkpointer: WalCheckpointer | undefined;
  private readonly writeTx: (write: BackendWrite, table: SyncedTable) => Commit;
  private readonly applyTx: (clientId: string, changes: ClientChange[], access: CallerAccess | undefined) => { results: WriteResult[]; commit: Commit };
  /** One client change inside a SAVEPOINT: an SQLite error rolls back that change alone. */
  private readonly applyOneTx: (clientId: string, change: ClientChange, table: SyncedTable, lsn: number, access: CallerAccess | undefined) => Outcome;
  /** Statements the write rules' membership checks run, by their SQL. */
  private readonly ruleQueries = new Map<string, Database.Statement>();
  private readonly registerTx: (clientId: string) => boolean;

  constructor(options: SqliteStoreOptions) {
    this.schema = options.schema;
    this.policy = options.conflictPolicy ?? lastWriteWins(options.schema);
    this.maxChanges = options.retention?.maxChanges ?? DEFAULT_MAX_CHANGES;
    if (!Number.isSafeInteger(this.maxChanges) || this.maxChanges < 0) {
      throw new RangeError(`retention.maxChanges must be a non-negative integer, got ${this.maxChanges}`);
    }
    this.listeners = new StoreListeners(options.onListenerError ?? ((error) => console.error('rxsync: a store subscriber threw', error)));

    const database = options.database ?? ':memory:';
    if (database !== ':memory:' && database !== '') mkdirSync(dirname(database), { recursive: true });
    const BetterSqlite3 = loadOptionalPeer<typeof Database>('better-sqlite3', 'the embedded SQLite store (rxsync serve without --postgres)');
    this.db = new BetterSqlite3(database);
    try {
      configure(this.db);
      ensureSchema(this.db, this.schema);
      for (const name of this.schema.tableNames) this.tables.set(name, new SyncedTable(this.db, name, this.schema.tables[name]));
      this.log = new StoreLog(this.db);
      ({ lastLsn: this.lastLsn, resumableFrom: this.resumableFrom } = this.log.readCounters());
      this.writeTx = this.db.transaction((write: BackendWrite, table: SyncedTable) => this.writeInTx(write, table));
      this.applyTx = this.db.transaction((clientId: string, changes: ClientChange[], access: CallerAccess | undefined) =>
        this.applyInTx(clientId, changes, access),
      );
      this.applyOneTx = this.db.transaction((clientId: string, change: ClientChange, table: SyncedTable, lsn: number, access: CallerAccess | undefined) =>
        this.applyOneInTx(clientId, change, table, lsn, access),
      );
      this.registerTx = this.db.transaction((clientId: string) => this.log.registerClient(clientId, Date.now()));
      // A store reopened with a smaller retention prunes at once.
      this.afterCommit(this.db.transaction(() => this.finish([], this.lastLsn))());
      if (!this.db.memory) {
        this.checkpointer = new WalCheckpointer(this.db, { onError: (error) => console.warn(`rxsync: ${error.message}`) });
      }
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  currentLsn(): Lsn {
    return formatLsn(this.lastLsn);
  }

  oldestResumableLsn(): Lsn {
    return formatLsn(this.resumableFrom);
  }

  async openSnapshot(options: { chunkRows: number }, caller?: Caller): Promise<SnapshotReader> {
    this.assertOpen();
    const sources: Array<{ table: SyncedTable; filter?: SqlCondition }> = [];
    for (const name of this.schema.tableNames) {
      const filter = caller?.access ? caller.access.readFilter(name, SQLITE) : true;
      if (filter !== false) sources.push({ table: this.tables.get(name)!, ...(filter !== true && { filter }) });
    }
    return openSqliteSnapshot(this.currentLsn(), sources, options.chunkRows, () => this.assertOpen());
  }

  async rowsAt(lsn: Lsn, reads: readonly RowsRead[]): Promise<Row[][]> {
    this.assertOpen();
    const at = parseLsn(lsn);
    if (at < this.resumableFrom) throw new Error(`rowsAt ${lsn}: the change log no longer reaches back there (it starts after ${this.oldestResumableLsn()})`);
    return reads.map((read) => {
      const table = this.tables.get(read.table);
      if (!table) throw new Error(`rowsAt: unknown table ${JSON.stringify(read.table)}`);
      // Rows changed since `lsn` are taken as they were before their first change since then.
      return rowsAsOf(table.select(read.column, read.values), this.log.rowsBeforeChangesSince(at, read.table), table.primaryKey, read);
    });
  }

  async changesSince(lsn: Lsn, limit: number): Promise<ChangeRecord[]> {
    this.assertOpen();
    const after = parseLsn(lsn);
    if (!(limit > 0) || after >= this.lastLsn) return [];
    return this.log.changesSince(after, Math.floor(limit));
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
    const { results, commit } = this.applyTx(clientId, changes, caller?.access);
    this.afterCommit(commit);
    return results;
  }

  async write(write: BackendWrite): Promise<Lsn> {
    this.assertOpen();
    checkBackendWrite(this.schema, write);
    const table = this.tables.get(write.table)!;
    const commit = this.writeTx(write, table);
    this.afterCommit(commit);
    return formatLsn(commit.lastLsn);
  }

  async query<T = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.assertOpen();
    const statement = this.db.prepare(sql);
    if (!statement.reader || !statement.readonly) {
      throw new Error(`query() runs read-only statements only; refused: ${sql.trim().slice(0, 80)}`);
    }
    return statement.all(...params) as T[];
  }

  async catchUpTo(lsn: Lsn): Promise<boolean> {
    this.assertOpen();
    return compareLsn(lsn, this.currentLsn()) <= 0; // one process writes and reads its log
  }

  async health(): Promise<StoreHealth> {
    this.assertOpen();
    return { store: 'sqlite', role: 'replicator', ready: true, changeLogLagSeconds: 0, replicationLagSeconds: 0, replicationLagBytes: null };
  }

  async registerClient(clientId: string): Promise<boolean> {
    this.assertOpen();
    return this.registerTx(clientId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.checkpointer?.close();
    this.db.close();
  }

  // ---- inside transactions -------------------------------------------------------------------

  private writeInTx(write: BackendWrite, table: SyncedTable): Commit {
    const lsn = this.lastLsn + 1;
    let row: Row | null = null;
    let old: Row | null;
    if (write.op === 'insert') {
      row = table.whole(write.row);
      old = table.get(row[table.primaryKey] as Key);
      table.upsert(row);
    } else if (write.op === 'update') {
      old = table.get(write.key);
      if (!old) throw new Error(`update of ${write.table} ${JSON.stringify(write.key)}: no such row`);
      row = table.whole({ ...old, ...write.patch }, write.key);
      table.upsert(row);
    } else {
      old = table.get(write.key);
      if (!old || !table.delete(write.key)) throw new Error(`delete of ${write.table} ${JSON.stringify(write.key)}: no such row`);
    }
    const key = write.op === 'insert' ? (row![table.primaryKey] as Key) : write.key;
    return this.finish([this.log.appendChange(lsn, write.table, write.op, key, row, old)], lsn);
  }

  private applyInTx(clientId: string, changes: ClientChange[], access: CallerAccess | undefined): { results: WriteResult[]; commit: Commit } {
    let lsn = this.lastLsn;
    const results: WriteResult[] = [];
    const records: ChangeRecord[] = [];
    for (const change of changes) {
      const table = this.tables.get(change.table)!;
      // Answered before (in an earlier call, or earlier in this one: the record is in this transaction).
      const seen = this.log.findClientChange(clientId, change.id);
      if (seen) {
        results.push(
          seen.status === 'applied'
            ? { id: change.id, status: 'duplicate', lsn: formatLsn(seen.lsn) }
            : { id: change.id, status: 'rejected', reason: seen.reason, serverRow: table.get(change.key), code: rejectionCode(seen.reason) },
        );
        continue;
      }
      let outcome: Outcome;
      try {
        outcome = this.applyOneTx(clientId, change, table, lsn, access);
      } catch (error) {
        if (!isDataError(error)) throw error;
        const reason = `constraint: ${error.message}`;
        this.log.recordClientChangeResult(change.id, clientId, 'rejected', lsn, reason);
        outcome = { result: { id: change.id, status: 'rejected', reason, serverRow: table.get(change.key), code: 'constraint' }, record: null, lsn };
      }
      results.push(outcome.result);
      if (outcome.record) records.push(outcome.record);
      lsn = outcome.lsn;
    }
    return { results, commit: this.finish(records, lsn) };
  }

  private applyOneInTx(clientId: string, change: ClientChange, table: SyncedTable, lsn: number, access: CallerAccess | undefined): Outcome {
    const { id, key } = change;
    const current = table.get(key);
    const decision = this.policy({ clientId, change, current });
    if (decision.action === 'reject') return this.refuse(clientId, id, lsn, decision.reason, current);
    const forbidden = access && this.forbidden(access, change.table, current, decision.row, table, key);
    if (forbidden) return this.refuse(clientId, id, lsn, forbidden, current);
    if (decision.row === null && current === null) {
      // Deleting a row that is already gone: applied, and nothing to log.
      this.log.recordClientChangeResult(id, clientId, 'applied', lsn);
      return { result: { id, status: 'applied', lsn: formatLsn(lsn) }, record: null, lsn };
    }
    let op: ChangeOp = 'delete';
    let row: Row | null = null;
    if (decision.row === null) {
      table.delete(key);
    } else {
      row = table.whole(decision.row, key);
      table.upsert(row);
      op = change.op !== 'delete' ? change.op : current ? 'update' : 'insert';
    }
    const next = lsn + 1;
    const record = this.log.appendChange(next, change.table, op, key, row, current, { clientId, changeId: id });
    this.log.recordClientChangeResult(id, clientId, 'applied', next);
    return { result: { id, status: 'applied', lsn: record.lsn }, record, lsn: next };
  }

  private refuse(clientId: string, id: string, lsn: number, reason: string, current: Row | null): Outcome {
    this.log.recordClientChangeResult(id, clientId, 'rejected', lsn, reason);
    return { result: { id, status: 'rejected', reason, serverRow: current, code: rejectionCode(reason) }, record: null, lsn };
  }

  /**
   * Why the write rules refuse this change (undefined: they allow it), judged by what it does: a
   * row that appears is an insert, one that goes a delete, any other an update (so an "insert"
   * over someone else's row is checked as the update it is). Runs inside the push's transaction,
   * so membership checks see the push's earlier changes.
   */
  private forbidden(access: CallerAccess, tableName: string, before: Row | null, decided: Row | null, table: SyncedTable, key: Key): string | undefined {
    const after = decided === null ? null : table.whole(decided, key);
    if (before === null && after === null) return undefined; // deleting what is not there changes nothing
    const op: ChangeOp = before === null ? 'insert' : after === null ? 'delete' : 'update';
    const allowed = access.mayWrite({ table: tableName, op, before, after }, SQLITE, (query) => this.ruleQuery(query.sql).get(...query.params) !== undefined);
    if (typeof allowed !== 'boolean') throw new Error('rxsync: write rules must answer synchronously inside an SQLite transaction');
    return allowed ? undefined : `forbidden: the write rules do not allow this ${op} of ${tableName}`;
  }

  private ruleQuery(sql: string): Database.Statement {
    let statement = this.ruleQueries.get(sql);
    if (!statement) this.ruleQueries.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** Persists the counter and applies retention, in the committing transaction. */
  private finish(records: ChangeRecord[], lastLsn: number): Commit {
    if (records.length) this.log.saveLastLsn(lastLsn);
    let resumableFrom = this.resumableFrom;
    if (lastLsn - resumableFrom > this.maxChanges) {
      resumableFrom = lastLsn - this.maxChanges;
      this.log.prune(resumableFrom);
    }
    return { records, lastLsn, resumableFrom };
  }

  // ---- after COMMIT --------------------------------------------------------------------------

  private afterCommit(commit: Commit): void {
    this.lastLsn = commit.lastLsn;
    const pruned = commit.resumableFrom > this.resumableFrom;
    this.resumableFrom = commit.resumableFrom;
    if (pruned) this.listeners.reset(formatLsn(commit.resumableFrom));
    if (commit.records.length === 0) return;
    this.listeners.committed(commit.records);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('rxsync: the SQLite store is closed');
  }
}

/**
 * SQLite errors caused by one change's data (a constraint, a type mismatch, a value too big): they
 * reject that change only. Any other error (disk full, I/O, a bug) aborts the whole transaction.
 */
function isDataError(error: unknown): error is Error & { code: string } {
  // Duck-typed, not `instanceof Database.SqliteError`: the native addon keeps the class it was first
  // handed, so where modules load more than once per process (jest registries) that check misses.
  // Nor `instanceof Error`: jest runs each spec file in its own realm.
  if (typeof error !== 'object' || error === null || (error as Error).name !== 'SqliteError') return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG');
}
