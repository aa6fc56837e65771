import type Database from 'better-sqlite3';
import { lsnFromBigInt, lsnToBigInt } from '../../../protocol/index.js';
import type { ChangeOp, ChangeRecord, Key, Lsn, Origin, Row } from '../../../protocol/index.js';
import { withOldRow } from '../old-rows.js';

/**
 * The SQLite store's bookkeeping: the change log, the client-change (idempotency) records, the
 * clients table and the meta counters, each behind a prepared statement built once.
 *
 * LSNs are an integer counter n (1, 2, 3, ...), exposed as `lsnFromBigInt(BigInt(n))`. Log LSNs are
 * contiguous: every logged change takes the next number, and a rolled-back change gives its
 * number back, so the log always holds exactly the LSNs resumableFrom+1 .. lastLsn.
 */

/** `lsnFromBigInt(BigInt(n))`, without BigInt for the common case n < 2^32. */
export function formatLsn(n: number): Lsn {
  return n < 0x100000000 ? `0/${n.toString(16).toUpperCase()}` : lsnFromBigInt(BigInt(n));
}

/** The counter value of an LSN; anything past the counter's range reads as MAX_SAFE_INTEGER. */
export function parseLsn(lsn: Lsn): number {
  const value = lsnToBigInt(lsn);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

type ClientChangeRecord = { status: 'applied'; lsn: number; reason: null } | { status: 'rejected'; lsn: number; reason: string };

type LogRow = [
  lsn: number,
  table: string,
  op: ChangeOp,
  key: string,
  row: string | null,
  clientId: string | null,
  changeId: string | null,
  oldRow: string | null,
];

export class StoreLog {
  private readonly append: Database.Statement;
  private readonly since: Database.Statement;
  private readonly tableChangesSince: Database.Statement;
  private readonly pruneChanges: Database.Statement;
  private readonly pruneClientChanges: Database.Statement;
  private readonly findClientChangeStmt: Database.Statement;
  private readonly recordClientChange: Database.Statement;
  private readonly getMeta: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly maxLogLsn: Database.Statement;
  private readonly findClient: Database.Statement;
  private readonly upsertClient: Database.Statement;

  constructor(db: Database.Database) {
    this.append = db.prepare('INSERT INTO _rxsync_changes (lsn, tbl, op, key, row, client_id, change_id, old_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.since = db.prepare('SELECT lsn, tbl, op, key, row, client_id, change_id, old_row FROM _rxsync_changes WHERE lsn > ? ORDER BY lsn LIMIT ?').raw(true);
    this.tableChangesSince = db.prepare('SELECT key, old_row FROM _rxsync_changes WHERE lsn > ? AND tbl = ? ORDER BY lsn').raw(true);
    this.pruneChanges = db.prepare('DELETE FROM _rxsync_changes WHERE lsn <= ?');
    this.pruneClientChanges = db.prepare('DELETE FROM _rxsync_client_changes WHERE lsn <= ?');
    this.findClientChangeStmt = db.prepare('SELECT status, lsn, reason FROM _rxsync_client_changes WHERE client_id = ? AND change_id = ?');
    this.recordClientChange = db.prepare('INSERT INTO _rxsync_client_changes (change_id, client_id, status, lsn, reason) VALUES (?, ?, ?, ?, ?)');
    this.getMeta = db.prepare('SELECT value FROM _rxsync_meta WHERE key = ?').pluck();
    this.setMeta = db.prepare('UPDATE _rxsync_meta SET value = ? WHERE key = ?');
    this.maxLogLsn = db.prepare('SELECT COALESCE(MAX(lsn), 0) FROM _rxsync_changes').pluck();
    this.findClient = db.prepare('SELECT 1 FROM _rxsync_clients WHERE client_id = ?').pluck();
    this.upsertClient = db.prepare(
      'INSERT INTO _rxsync_clients (client_id, first_seen, last_seen) VALUES (?, ?, ?) ' +
        'ON CONFLICT (client_id) DO UPDATE SET last_seen = excluded.last_seen',
    );
  }

  /** The persisted counters, as the store starts from them. */
  readCounters(): { lastLsn: number; resumableFrom: number } {
    const lastLsn = Math.max(this.getMeta.get('last_lsn') as number, this.maxLogLsn.get() as number);
    return { lastLsn, resumableFrom: this.getMeta.get('resumable_from') as number };
  }

  saveLastLsn(lsn: number): void {
    this.setMeta.run(lsn, 'last_lsn');
  }

  /** Appends one change; `row` is the whole row after it (null for a delete), `old` the one before (null for an insert). */
  appendChange(lsn: number, table: string, op: ChangeOp, key: Key, row: Row | null, old: Row | null, origin?: Origin): ChangeRecord {
    this.append.run(
      lsn,
      table,
      op,
      JSON.stringify(key),
      row && JSON.stringify(row),
      origin?.clientId ?? null,
      origin?.changeId ?? null,
      old && JSON.stringify(old),
    );
    const record: ChangeRecord = { lsn: formatLsn(lsn), table, op, key };
    if (row) record.row = row;
    if (origin) record.origin = origin;
    return withOldRow(record, old);
  }

  /** Logged changes with LSN > `after`, in LSN order, at most `limit`. */
  changesSince(after: number, limit: number): ChangeRecord[] {
    const rows = this.since.all(after, limit) as LogRow[];
    const records = new Array<ChangeRecord>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [lsn, table, op, key, row, clientId, changeId, oldRow] = rows[i];
      const record: ChangeRecord = { lsn: formatLsn(lsn), table, op, key: JSON.parse(key) as Key };
      if (row !== null) record.row = JSON.parse(row) as Row;
      if (clientId !== null && changeId !== null) record.origin = { clientId, changeId };
      records[i] = withOldRow(record, oldRow === null ? null : (JSON.parse(oldRow) as Row));
    }
    return records;
  }

  /**
   * For every row of `table` changed after `after`: its key (as JSON) and how it was before the
   * first of those changes (null: it did not exist), which is how it was at `after`.
   */
  rowsBeforeChangesSince(after: number, table: string): Map<string, Row | null> {
    const before = new Map<string, Row | null>();
    for (const [key, oldRow] of this.tableChangesSince.all(after, table) as Array<[string, string | null]>) {
      if (!before.has(key)) before.set(key, oldRow === null ? null : (JSON.parse(oldRow) as Row));
    }
    return before;
  }

  /**
   * Deletes the log up to and including `upTo`, and with it the idempotency records of changes
   * answered at those LSNs, and remembers `upTo` as the new resumable-from point. A client that
   * resends a change id older than that is treated as new: it is far behind anyway (reset).
   */
  prune(upTo: number): void {
    this.pruneChanges.run(upTo);
    this.pruneClientChanges.run(upTo);
    this.setMeta.run(upTo, 'resumable_from');
  }

  findClientChange(clientId: string, changeId: string): ClientChangeRecord | undefined {
    return this.findClientChangeStmt.get(clientId, changeId) as ClientChangeRecord | undefined;
  }

  recordClientChangeResult(changeId: string, clientId: string, status: 'applied' | 'rejected', lsn: number, reason?: string): void {
    this.recordClientChange.run(changeId, clientId, status, lsn, reason ?? null);
  }

  /** Upserts a client (first_seen/last_seen in ms since the epoch); true if it was known before. */
  registerClient(clientId: string, now: number): boolean {
    const known = this.findClient.get(clientId) !== undefined;
    this.upsertClient.run(clientId, now, now);
    return known;
  }
}
