import type { SqliteDatabase, SqliteExecutor } from '../storage/index.js';
import {
  checkClientChange,
  compareLsn,
  SyncProtocolError,
  type ChangeOp,
  type ClientChange,
  type Key,
  type PushResultEntry,
  type Row,
  type SyncSchema,
} from '../protocol/index.js';
import { applyLocalChange, Rebase } from './rebase.js';
import { pruneSettledChanges, readLsn } from './local-schema.js';
import { keyFromJson, keyToJson, tableCodecs, type TableCodec } from './table-codec.js';

export interface OutboxOptions {
  /** Changes per push. */
  batchSize: number;
  /** Sends without an answer before a change is marked failed. */
  maxAttempts: number;
  /** A sent change with no answer after this long is sent again. */
  ackTimeoutMs: number;
  /** Applied and rejected entries kept in local_changes for inspection; older ones are pruned. */
  keepSettled: number;
}

export interface LocalChangeEntry {
  id: string;
  table: string;
  op: ChangeOp;
  key: Key;
  row: Row | null;
  status: 'pending' | 'sent' | 'applied' | 'rejected' | 'failed';
  attempts: number;
  errors: Array<{ at: number; message: string }>;
  lsn: string | null;
}

/** What a push_result did, for the event stream. */
export type OutboxOutcome = AppliedOutcome | RejectedOutcome;
/** The server applied a local change (its answer, or its echo on the stream). */
export type AppliedOutcome = { type: 'applied'; id: string; table: string; key: Key; lsn?: string };
/** The server refused a local change; it was undone locally. */
export type RejectedOutcome = { type: 'rejected'; id: string; table: string; key: Key; reason: string; serverRow: Row | null };

interface EntryRow {
  id: string;
  table_name: string;
  op: ChangeOp;
  row_key: string;
  row: string | null;
  status: LocalChangeEntry['status'];
  attempts: number;
  errors: string;
  lsn: string | null;
  sent_at: number | null;
  settled: number;
}

/**
 * The outbox: every local write commits its row change and its `local_changes` entry in ONE
 * transaction before the write resolves (guarantee 4 in docs/architecture.md), then goes to the server in batches, in
 * local order, by change id (the server's idempotency key). Entries move pending → sent →
 * applied | rejected | failed; a sent entry with no answer within ackTimeoutMs goes out again.
 */
export class Outbox {
  private readonly codecs: Map<string, TableCodec>;
  private readonly rebase: Rebase;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly schema: SyncSchema,
    private readonly options: OutboxOptions,
    private readonly now: () => number,
    private readonly newId: () => string,
  ) {
    this.codecs = tableCodecs(schema);
    this.rebase = new Rebase(this.codecs);
  }

  /** Applies a local write and records it, atomically. Resolves once both are committed. */
  async write(op: ChangeOp, table: string, key: Key, row: Row | null): Promise<string> {
    const id = this.newId();
    const change: ClientChange = { id, table, op, key, ...(row && { row }) };
    checkClientChange(this.schema, change); // unknown tables/columns and wrong types never reach SQL
    const codec = this.codecs.get(table)!;
    const now = this.now();
    await this.db.transaction(async (tx) => {
      if (op === 'update' && !(await tx.get(codec.selectSql, [key]))) {
        throw new SyncProtocolError('invalid_value', `update of ${table} ${JSON.stringify(key)}: no such row`);
      }
      const stored = op === 'insert' ? wholeRow(codec, row!) : row;
      const entry = { op, row_key: keyToJson(key), row: stored ? JSON.stringify(stored) : null };
      await this.rebase.beforeLocalWrite(tx, codec, entry.row_key);
      await applyLocalChange(tx, codec, entry);
      await tx.run(
        `INSERT INTO local_changes (id, source, table_name, op, row_key, row, status, created_at, updated_at)
         VALUES (?, 'local', ?, ?, ?, ?, 'pending', ?, ?)`,
        [id, table, op, entry.row_key, entry.row, now, now],
      );
    });
    return id;
  }

  /**
   * The next batch to push, in local order: pending entries, and sent ones whose answer is
   * overdue. An entry past maxAttempts is marked failed (with the reason in its history) instead,
   * but only if it was sent on this connection and the server has answered a message sent after
   * it (`answeredUpTo`, a ping's send time): a server that reads our messages but never answers
   * this change is a reason to give up; a silent network, or one that carries only the server's
   * messages, is not, and the heartbeat and reconnect deal with that.
   */
  async takeBatch(limit = this.options.batchSize, answeredUpTo = Infinity): Promise<{ changes: ClientChange[]; failed: LocalChangeEntry[] }> {
    const now = this.now();
    const due = now - this.options.ackTimeoutMs;
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<EntryRow>(`SELECT * FROM local_changes WHERE status = 'pending' OR (status = 'sent' AND sent_at <= ?) ORDER BY seq LIMIT ?`, [
        due,
        limit,
      ]);
      const changes: ClientChange[] = [];
      const failed: LocalChangeEntry[] = [];
      for (const row of rows) {
        const errors = JSON.parse(row.errors) as LocalChangeEntry['errors'];
        if (row.status === 'sent') errors.push({ at: now, message: `no answer within ${this.options.ackTimeoutMs} ms` });
        // Only a change sent on this connection can be given up: a pending one with attempts behind
        // it was sent on an earlier connection (requeued at the welcome), and a ping answered on this
        // one says nothing of what the old one delivered; it goes out once more first.
        if (row.status === 'sent' && row.attempts >= this.options.maxAttempts && row.sent_at !== null && answeredUpTo > row.sent_at) {
          errors.push({ at: now, message: `gave up after ${row.attempts} attempts` });
          await tx.run(`UPDATE local_changes SET status = 'failed', settled = 1, errors = ?, updated_at = ? WHERE id = ?`, [
            JSON.stringify(errors),
            now,
            row.id,
          ]);
          failed.push(toEntry({ ...row, status: 'failed', errors: JSON.stringify(errors) }));
          continue;
        }
        await tx.run(`UPDATE local_changes SET status = 'sent', attempts = attempts + 1, sent_at = ?, errors = ?, updated_at = ? WHERE id = ?`, [
          now,
          JSON.stringify(errors),
          now,
          row.id,
        ]);
        const key = keyFromJson(row.row_key);
        changes.push({ id: row.id, table: row.table_name, op: row.op, key, ...(row.row !== null && { row: JSON.parse(row.row) }) });
      }
      return { changes, failed };
    });
  }

  /**
   * Records the server's answers. A rejected change is undone locally: the row is rebuilt from
   * the server's version the client holds, with the other unsettled local changes on top.
   */
  async applyResults(tx: SqliteExecutor, results: PushResultEntry[]): Promise<OutboxOutcome[]> {
    const now = this.now();
    const checkpoint = await readLsn(tx);
    const outcomes: OutboxOutcome[] = [];
    for (const result of results) {
      const row = await tx.get<EntryRow>(`SELECT * FROM local_changes WHERE id = ? AND source = 'local'`, [result.id]);
      if (!row || row.status === 'applied' || row.status === 'rejected') continue; // an answer to a resend
      const key = keyFromJson(row.row_key);
      const ref: [string, string] = [row.table_name, row.row_key];
      if (result.status === 'rejected') {
        const errors = [...JSON.parse(row.errors), { at: now, message: `rejected: ${result.reason}` }];
        await tx.run(`UPDATE local_changes SET status = 'rejected', settled = 1, errors = ?, updated_at = ? WHERE id = ?`, [
          JSON.stringify(errors),
          now,
          row.id,
        ]);
        // Undo it: the row is rebuilt from the server's version we hold, without this change. The
        // result's serverRow is not used for that: it may be older than rows the stream already
        // brought (the echo of a later change can arrive before this answer), and the stream
        // brings anything newer anyway.
        await this.rebase.rebuild(tx, ref);
        outcomes.push({ type: 'rejected', id: row.id, table: row.table_name, key, reason: result.reason, serverRow: result.serverRow });
      } else {
        // Applied (or a duplicate of one applied earlier). It stays unsettled until its echo or the
        // checkpoint passes its LSN, so an older server row cannot hide it meanwhile; if the
        // checkpoint is already past it, the rows we hold include it: settle it now.
        const lsn = result.lsn ?? null;
        const covered = lsn === null || compareLsn(lsn, checkpoint) <= 0;
        await tx.run(`UPDATE local_changes SET status = 'applied', lsn = ?, settled = ?, updated_at = ? WHERE id = ?`, [
          lsn,
          covered || row.settled ? 1 : 0,
          now,
          row.id,
        ]);
        if (covered) await this.rebase.rebuild(tx, ref);
        outcomes.push({ type: 'applied', id: row.id, table: row.table_name, key, ...(lsn && { lsn }) });
      }
    }
    await pruneSettledChanges(tx, this.options.keepSettled);
    return outcomes;
  }

  /** Entries still waiting for an answer (pending or sent). */
  async openCount(): Promise<number> {
    const row = await this.db.get<{ n: number }>(`SELECT count(*) AS n FROM local_changes WHERE status IN ('pending', 'sent')`);
    return row?.n ?? 0;
  }

  async entries(filter: { status?: LocalChangeEntry['status'] } = {}): Promise<LocalChangeEntry[]> {
    const rows = filter.status
      ? await this.db.all<EntryRow>(`SELECT * FROM local_changes WHERE source = 'local' AND status = ? ORDER BY seq`, [filter.status])
      : await this.db.all<EntryRow>(`SELECT * FROM local_changes WHERE source = 'local' ORDER BY seq`);
    return rows.map(toEntry);
  }

  /** Puts sent entries back to pending: after a reconnect their answers will never come. */
  async requeueSent(): Promise<void> {
    await this.db.run(`UPDATE local_changes SET status = 'pending' WHERE status = 'sent'`);
  }
}

function wholeRow(codec: TableCodec, row: Row): Row {
  return Object.fromEntries(codec.columns.map((column) => [column, row[column] ?? null]));
}

function toEntry(row: EntryRow): LocalChangeEntry {
  return {
    id: row.id,
    table: row.table_name,
    op: row.op,
    key: keyFromJson(row.row_key),
    row: row.row === null ? null : JSON.parse(row.row),
    status: row.status,
    attempts: row.attempts,
    errors: JSON.parse(row.errors),
    lsn: row.lsn,
  };
}
