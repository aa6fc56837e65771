import type pg from 'pg';
import type { ClientChange, Key, Lsn, Row } from '../../../protocol/index.js';
import { quoteIdentifier } from '../../../sql/index.js';
import { rejectionCode } from '../rejection-code.js';
import type { BackendWrite, CallerAccess, ConflictPolicy, SqlDialect, WriteResult } from '../store.js';
import type { ChangeLogTail } from './change-log.js';
import { rowFromPostgresText, toPostgresParameter, type PostgresTable } from './pg-values.js';
import { ORIGIN_MESSAGE_PREFIX } from './wal-messages.js';

/**
 * Writes to the synced Postgres tables: client pushes (with the conflict policy, idempotent by
 * change id through `rxsync.applied_changes` in the same transaction) and backend writes. A write
 * is not a change-log entry: the replicator sees it in the WAL like any other, and its LSN is the
 * commit LSN the replicator stores it at, which the writer waits for (by transaction id) so that
 * it can answer with it. A client change is announced in the WAL by a transactional logical
 * message just before its row change, which is how the echo in the stream names its origin.
 */
export class PostgresWriter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly tables: ReadonlyMap<string, PostgresTable>,
    private readonly namespace: string,
    private readonly policy: ConflictPolicy,
    private readonly tail: ChangeLogTail,
  ) {}

  /** Input must already be checked against the schema (the store checks the tables). `access`: the caller's write rules. */
  async applyClientWrites(clientId: string, changes: ClientChange[], access?: CallerAccess): Promise<WriteResult[]> {
    return this.transaction(async (client, xid) => {
      // The rules' subqueries name tables without their schema.
      if (access) await client.query(`SET LOCAL search_path TO ${quoteIdentifier(this.namespace)}`);
      const results: WriteResult[] = [];
      /** Results that take this transaction's commit LSN, once it is known. */
      const atCommit: Array<{ id: string; status: 'applied' | 'duplicate' }> = [];
      let changed = false;
      for (const change of changes) {
        const table = this.tables.get(change.table)!;
        const seen = await client.query<{ status: 'applied' | 'rejected'; reason: string | null; lsn: string | null; xid: string | null }>(
          'SELECT status, reason, lsn::text, xid::text FROM rxsync.applied_changes WHERE client_id = $1 AND change_id = $2',
          [clientId, change.id],
        );
        if (seen.rows.length > 0) {
          const earlier = seen.rows[0];
          if (earlier.status === 'rejected') {
            results.push({
              id: change.id,
              status: 'rejected',
              reason: earlier.reason ?? 'rejected',
              serverRow: await this.current(client, table, change.key, false),
              code: rejectionCode(earlier.reason ?? ''),
            });
          } else if (earlier.xid === xid) {
            const duplicate = { id: change.id, status: 'duplicate' as const };
            atCommit.push(duplicate);
            results.push(duplicate);
          } else {
            results.push(earlier.lsn === null ? { id: change.id, status: 'duplicate' } : { id: change.id, status: 'duplicate', lsn: earlier.lsn });
          }
          continue;
        }
        const outcome = await this.applyOne(client, clientId, change, table, xid, access);
        results.push(outcome.result);
        if (outcome.changed) {
          changed = true;
          atCommit.push(outcome.result as { id: string; status: 'applied' });
        }
      }
      return { changed, finish: (lsn: Lsn) => results.map((r) => (atCommit.includes(r as never) ? { ...r, lsn } : r) as WriteResult) };
    });
  }

  async write(write: BackendWrite): Promise<Lsn> {
    return this.transaction(async (client) => {
      const table = this.tables.get(write.table)!;
      let changed = true;
      if (write.op === 'insert') {
        changed = await this.upsert(client, table, this.whole(table, write.row));
      } else if (write.op === 'update') {
        const current = await this.current(client, table, write.key, true);
        if (!current) throw new Error(`update of ${write.table} ${JSON.stringify(write.key)}: no such row`);
        changed = await this.upsert(client, table, { ...current, ...write.patch, [table.primaryKey]: write.key });
      } else {
        const deleted = await client.query(`DELETE FROM ${this.qualified(table)} WHERE ${quoteIdentifier(table.primaryKey)} = $1`, [write.key]);
        if (deleted.rowCount === 0) throw new Error(`delete of ${write.table} ${JSON.stringify(write.key)}: no such row`);
      }
      return { changed, finish: (lsn: Lsn) => lsn };
    });
  }

  /**
   * Runs `body` in one transaction and, when it changed a synced table, resolves with what `finish`
   * makes of the commit LSN the replicator stored it at.
   */
  private async transaction<T>(body: (client: pg.PoolClient, xid: string) => Promise<{ changed: boolean; finish: (lsn: Lsn) => T }>): Promise<T> {
    const client = await this.pool.connect();
    let waiting: ReturnType<ChangeLogTail['waitFor']> | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      const xid = rows[0].xid;
      const { changed, finish } = await body(client, xid);
      // Waiting starts before COMMIT, so that the stored transaction cannot be missed.
      if (changed) waiting = this.tail.waitFor(xid);
      await client.query('COMMIT');
      return finish(waiting ? await waiting.lsn : this.tail.head);
    } catch (error) {
      waiting?.cancel();
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async applyOne(
    client: pg.PoolClient,
    clientId: string,
    change: ClientChange,
    table: PostgresTable,
    xid: string,
    access: CallerAccess | undefined,
  ): Promise<{ result: WriteResult; changed: boolean }> {
    const record = (status: 'applied' | 'rejected', reason: string | null, changed: boolean) =>
      client.query('INSERT INTO rxsync.applied_changes (client_id, change_id, status, reason, xid, lsn) VALUES ($1, $2, $3, $4, $5, $6)', [
        clientId,
        change.id,
        status,
        reason,
        changed ? xid : null,
        status === 'applied' && !changed ? this.tail.head : null,
      ]);
    await client.query('SAVEPOINT change');
    try {
      const current = await this.current(client, table, change.key, true);
      const decision = this.policy({ clientId, change, current });
      if (decision.action === 'reject') {
        await record('rejected', decision.reason, false);
        await client.query('RELEASE SAVEPOINT change');
        return { result: { id: change.id, status: 'rejected', reason: decision.reason, serverRow: current, code: 'conflict' }, changed: false };
      }
      const forbidden = access && (await this.forbidden(client, access, table, current, decision.row, change.key));
      if (forbidden) {
        await record('rejected', forbidden, false);
        await client.query('RELEASE SAVEPOINT change');
        return { result: { id: change.id, status: 'rejected', reason: forbidden, serverRow: current, code: 'forbidden' }, changed: false };
      }
      if (decision.row === null && current === null) {
        // Deleting a row that is already gone: applied, and nothing to log.
        await record('applied', null, false);
        await client.query('RELEASE SAVEPOINT change');
        return { result: { id: change.id, status: 'applied', lsn: this.tail.head }, changed: false };
      }
      const origin = JSON.stringify({ table: table.name, key: change.key, clientId, changeId: change.id });
      await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [ORIGIN_MESSAGE_PREFIX, origin]);
      const wrote =
        decision.row === null
          ? (await client.query(`DELETE FROM ${this.qualified(table)} WHERE ${quoteIdentifier(table.primaryKey)} = $1`, [change.key])).rowCount! > 0
          : await this.upsert(client, table, { ...this.whole(table, decision.row), [table.primaryKey]: change.key });
      await record('applied', null, wrote);
      await client.query('RELEASE SAVEPOINT change');
      return { result: { id: change.id, status: 'applied', lsn: this.tail.head }, changed: wrote };
    } catch (error) {
      if (!isDataError(error)) throw error;
      // The change's own data broke a constraint or a type: that change alone is rejected.
      await client.query('ROLLBACK TO SAVEPOINT change');
      const reason = `constraint: ${(error as Error).message}`;
      await record('rejected', reason, false);
      await client.query('RELEASE SAVEPOINT change');
      return {
        result: { id: change.id, status: 'rejected', reason, serverRow: await this.current(client, table, change.key, false), code: 'constraint' },
        changed: false,
      };
    }
  }

  /**
   * Why the write rules refuse this change (undefined: they allow it), judged by what it does (an
   * "insert" over an existing row is the update it is), in this transaction: a change sees the
   * push's earlier changes. The same judgement as the SQLite store's.
   */
  private async forbidden(
    client: pg.PoolClient,
    access: CallerAccess,
    table: PostgresTable,
    before: Row | null,
    decided: Row | null,
    key: Key,
  ): Promise<string | undefined> {
    const after = decided === null ? null : { ...this.whole(table, decided), [table.primaryKey]: key };
    if (before === null && after === null) return undefined;
    const op = before === null ? 'insert' : after === null ? 'delete' : 'update';
    const allowed = await access.mayWrite({ table: table.name, op, before, after }, POSTGRES, async (query) => {
      const { rowCount } = await client.query(query.sql, [...query.params]);
      return (rowCount ?? 0) > 0;
    });
    return allowed ? undefined : `forbidden: the write rules do not allow this ${op} of ${table.name}`;
  }

  private qualified(table: PostgresTable): string {
    return `${quoteIdentifier(this.namespace)}.${quoteIdentifier(table.name)}`;
  }

  /** Every schema column, missing ones NULL. */
  private whole(table: PostgresTable, row: Row): Row {
    return Object.fromEntries(table.columns.map((c) => [c.column, row[c.column] ?? null]));
  }

  private async current(client: pg.PoolClient, table: PostgresTable, key: Key, lock: boolean): Promise<Row | null> {
    const selected = table.columns.map((c) => `${quoteIdentifier(c.column)}::text AS ${quoteIdentifier(c.column)}`).join(', ');
    const { rows } = await client.query<Record<string, string | null>>(
      `SELECT ${selected} FROM ${this.qualified(table)} WHERE ${quoteIdentifier(table.primaryKey)} = $1${lock ? ' FOR UPDATE' : ''}`,
      [key],
    );
    return rows.length === 0 ? null : rowFromPostgresText(table, rows[0]);
  }

  /** The whole row (schema columns): inserted, or written over the row with its key. */
  private async upsert(client: pg.PoolClient, table: PostgresTable, row: Row): Promise<boolean> {
    const columns = table.columns.map((c) => c.column);
    const names = columns.map(quoteIdentifier).join(', ');
    const values = columns.map((_, i) => `$${i + 1}`).join(', ');
    const others = columns.filter((c) => c !== table.primaryKey).map((c) => `${quoteIdentifier(c)} = EXCLUDED.${quoteIdentifier(c)}`);
    const onConflict = others.length ? `DO UPDATE SET ${others.join(', ')}` : 'DO NOTHING';
    const written = await client.query(
      `INSERT INTO ${this.qualified(table)} (${names}) VALUES (${values}) ON CONFLICT (${quoteIdentifier(table.primaryKey)}) ${onConflict}`,
      table.columns.map((c) => toPostgresParameter(row[c.column], c)),
    );
    return written.rowCount! > 0; // DO NOTHING on a key-only table writes nothing
  }
}

/** How per-user rules write SQL for Postgres. */
export const POSTGRES: SqlDialect = { dialect: 'postgres', placeholder: (index) => `$${index}` };

/**
 * Postgres errors caused by one change's data (SQLSTATE class 22, data exception, and 23,
 * integrity constraint violation): they reject that change only. Anything else aborts the call.
 */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
