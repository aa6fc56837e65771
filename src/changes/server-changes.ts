import type { SqliteExecutor } from '../storage/index.js';
import { quoteIdentifier } from '../sql/index.js';
import {
  checkKey,
  checkRow,
  checkValue,
  compareLsn,
  SyncProtocolError,
  type Changes,
  type Lsn,
  type SnapshotChunk,
  type SyncSchema,
} from '../protocol/index.js';
import type { AppliedOutcome } from './outbox.js';
import { readLsn, writeLsn, writeSetHash } from './local-schema.js';
import { keyFromJson, keyToJson, tableCodecs, type TableCodec } from './table-codec.js';
import { Rebase } from './rebase.js';

/**
 * Applying what the server sends. Each function runs inside ONE transaction the caller opened, so
 * a batch's rows, its `local_changes` records and its LSN commit together or not at all
 * (guarantee 2 in docs/architecture.md). Everything is checked against the schema first: a batch naming an unknown table
 * or column throws before a row is written, and the whole transaction rolls back.
 */
/**
 * The parts of a server transaction too large for one message, until its last part arrives and
 * the whole transaction is applied in one local transaction (keyed by place in the transaction, so
 * a part sent again replaces). Created when a first part arrives and dropped with the last: a
 * database that never gets a transaction in parts never has it.
 */
const STAGED_DDL =
  'CREATE TABLE IF NOT EXISTS _rxsync_staged (lsn TEXT NOT NULL, position INTEGER NOT NULL, change TEXT NOT NULL, PRIMARY KEY (lsn, position))';
const DROP_STAGED = 'DROP TABLE IF EXISTS _rxsync_staged';

export class ServerChanges {
  private readonly codecs: Map<string, TableCodec>;
  private readonly rebase: Rebase;

  constructor(
    private readonly schema: SyncSchema,
    private readonly clientId: () => string,
    private readonly now: () => number,
  ) {
    this.codecs = tableCodecs(schema);
    this.rebase = new Rebase(this.codecs);
  }

  codec(table: string): TableCodec {
    const codec = this.codecs.get(table);
    if (!codec) throw new SyncProtocolError('unknown_table', `the server sent rows of unknown table ${JSON.stringify(table.slice(0, 64))}`);
    return codec;
  }

  /**
   * Checks a whole batch against the schema and that its LSNs never go back (the changes of one
   * source transaction share its commit LSN); throws before anything is written.
   */
  check(batch: Changes): void {
    // An empty message only moves the checkpoint: with per-user rules, the commits up to its LSN
    // held nothing this client may see. A part of a transaction always carries changes.
    if (batch.changes.length === 0 && (batch.partial || batch.offset !== undefined)) {
      throw new SyncProtocolError('invalid_message', `a part of the transaction at ${batch.lsn} carries no change`);
    }
    let previous: Lsn | undefined;
    for (const change of batch.changes) {
      if (previous !== undefined && compareLsn(change.lsn, previous) < 0) {
        throw new SyncProtocolError('invalid_lsn', `changes out of LSN order: ${change.lsn} after ${previous}`);
      }
      previous = change.lsn;
      this.codec(change.table);
      checkKey(this.schema, change.table, change.key);
      if (change.op !== 'delete') {
        if (!change.row) throw new SyncProtocolError('invalid_message', `${change.op} of ${change.table} without a row`);
        checkRow(this.schema, change.table, change.row);
        const pk = this.schema.tables[change.table].primaryKey;
        if (change.row[pk] !== change.key) throw new SyncProtocolError('invalid_value', `${change.table}: the row's ${pk} is not the change's key`);
      }
    }
    // The batch's LSN may be past its last change: the commits between held nothing for this client.
    if (previous !== undefined && compareLsn(previous, batch.lsn) > 0) {
      throw new SyncProtocolError('invalid_lsn', `batch LSN ${batch.lsn} is before its last change's LSN ${previous}`);
    }
    if ((batch.partial || batch.offset !== undefined) && batch.changes.some((change) => change.lsn !== batch.lsn)) {
      throw new SyncProtocolError('invalid_lsn', `a part of the transaction at ${batch.lsn} carries changes of another transaction`);
    }
  }

  /**
   * Applies the part of a batch after the checkpoint, read in this transaction, and moves the
   * checkpoint to the batch's LSN; returns the tables touched, the number of changes applied and
   * this client's own changes it confirmed (see confirmOwnChanges), or undefined when the whole batch
   * is at or below the checkpoint. Batches are dropped upstream when already applied, but only
   * against the checkpoint as it was when they arrived: one still being applied from the previous
   * connection can commit after the next connection's hello, so the server resends from the older
   * LSN, in batches cut differently (a live commit then, a page of the log now). Changes at or
   * below the checkpoint are the very log entries already applied: skipping them here, where the
   * checkpoint cannot move underneath, is what makes each apply exactly once.
   *
   * Row writes keep batch order; consecutive writes of one kind (upserts of one table, deletes of
   * one table) share one prepared statement (runMany), and the batch's `local_changes` records go
   * in with one more: preparing a statement costs far more than binding and stepping it, and a
   * live batch is mostly rows of one table (5,000 changes/s took ~95% of the client's event loop
   * with a statement per row).
   */
  async applyBatch(
    tx: SqliteExecutor,
    batch: Changes,
  ): Promise<{ tables: Set<string>; rows: Map<string, Set<string>>; count: number; confirmed: AppliedOutcome[] } | undefined> {
    this.check(batch);
    const checkpoint = await readLsn(tx);
    if (compareLsn(batch.lsn, checkpoint) <= 0) return undefined;
    if (batch.offset !== undefined) batch = await this.withStagedParts(tx, batch);
    let first = 0;
    while (first < batch.changes.length && compareLsn(batch.changes[first].lsn, checkpoint) <= 0) first++;
    const touched = new Set<string>();
    const keys: Array<[string, string]> = [];
    const records: unknown[][] = [];
    const own: unknown[][] = [];
    const now = this.now();
    const me = this.clientId();
    let run: { sql: string; rows: unknown[][]; realColumns?: readonly number[] } | undefined;
    for (let i = first; i < batch.changes.length; i++) {
      const change = batch.changes[i];
      const codec = this.codec(change.table);
      const sql = change.op === 'delete' ? codec.deleteSql : codec.upsertSql;
      if (run?.sql !== sql) {
        if (run) await tx.runMany(run.sql, run.rows, { realColumns: run.realColumns });
        run = { sql, rows: [], realColumns: change.op === 'delete' ? undefined : codec.realPositions };
      }
      run.rows.push(change.op === 'delete' ? [change.key] : codec.toParams(change.row!));
      touched.add(change.table);
      const rowKey = keyToJson(change.key);
      keys.push([change.table, rowKey]);
      // Our own change came back at its LSN: the rows now include it, so it is no longer re-applied,
      // and the server has applied it, whatever became of its push_result (see confirmOwnChanges).
      if (change.origin?.clientId === me) own.push([change.lsn, now, change.origin.changeId]);
      records.push([`server:${change.lsn}:${i}`, change.table, change.op, rowKey, change.row ? JSON.stringify(change.row) : null, change.lsn, now, now]);
    }
    if (run) await tx.runMany(run.sql, run.rows, { realColumns: run.realColumns });
    const confirmed = own.length ? await confirmOwnChanges(tx, own) : [];
    await tx.runMany(
      `INSERT OR IGNORE INTO local_changes (id, source, table_name, op, row_key, row, status, settled, lsn, created_at, updated_at)
       VALUES (?, 'server', ?, ?, ?, ?, 'applied', 1, ?, ?, ?)`,
      records,
    );
    // The rows are now the server's as of batch.lsn: local changes it applied at or before that
    // LSN are in them (or were overwritten by later server changes) and must not be applied again.
    const settled = await confirmCoveredChanges(tx, batch.lsn);
    await this.rebase.afterServerRows(tx, () => keys, settled);
    await writeLsn(tx, batch.lsn);
    // The rows this commit may have changed: the server's, and the ones rebuilt from local changes it settled.
    const rows = new Map<string, Set<string>>();
    for (const [table, rowKey] of [...keys, ...settled]) {
      touched.add(table);
      let inTable = rows.get(table);
      if (!inTable) rows.set(table, (inTable = new Set()));
      inTable.add(rowKey);
    }
    return { tables: touched, rows, count: batch.changes.length - first, confirmed };
  }

  /**
   * A part of a transaction too large for one message (`partial`): kept in `_rxsync_staged`, by
   * its place in the transaction, until the last part comes (see withStagedParts). Nothing of it
   * is visible in the synced tables before then, and staging costs no memory: a 100,000-row
   * transaction waits in the database, not in the heap. Parts of another transaction still staged
   * (a connection lost mid-transaction) are dropped: that transaction is sent again whole.
   */
  async stagePart(tx: SqliteExecutor, batch: Changes): Promise<void> {
    this.check(batch);
    if (compareLsn(batch.lsn, await readLsn(tx)) <= 0) return;
    await tx.exec(STAGED_DDL);
    await tx.run('DELETE FROM _rxsync_staged WHERE lsn <> ?', [batch.lsn]);
    const offset = batch.offset ?? 0;
    await tx.runMany(
      'INSERT OR REPLACE INTO _rxsync_staged (lsn, position, change) VALUES (?, ?, ?)',
      batch.changes.map((change, i) => [batch.lsn, offset + i, JSON.stringify(change)]),
    );
  }

  /** The last part of a transaction with the parts staged before it: the whole transaction. */
  private async withStagedParts(tx: SqliteExecutor, last: Changes): Promise<Changes> {
    const offset = last.offset ?? 0;
    await tx.exec(STAGED_DDL);
    const staged = await tx.all<{ change: string }>('SELECT change FROM _rxsync_staged WHERE lsn = ? AND position < ? ORDER BY position', [last.lsn, offset]);
    if (staged.length !== offset) {
      throw new SyncProtocolError(
        'invalid_message',
        `the transaction at ${last.lsn} ends with change ${offset}, but ${staged.length} of the changes before it arrived`,
      );
    }
    await tx.exec(DROP_STAGED);
    return { type: 'changes', lsn: last.lsn, changes: [...staged.map((row) => JSON.parse(row.change) as Changes['changes'][number]), ...last.changes] };
  }

  /** Snapshot start (initial sync or reset): empties the synced tables, keeping local pending writes visible. */
  async beginSnapshot(tx: SqliteExecutor, snapshotLsn: Lsn = '0/0'): Promise<void> {
    for (const codec of this.codecs.values()) await tx.run(`DELETE FROM ${quoteIdentifier(codec.table)}`);
    await tx.exec(DROP_STAGED);
    await writeLsn(tx, '0/0');
    await confirmCoveredChanges(tx, snapshotLsn); // the snapshot holds what the server applied up to its LSN
    await this.rebase.forgetServerRows(tx);
  }

  /** One snapshot chunk: rows upserted with one prepared statement, pending local writes on top. */
  async applyChunk(tx: SqliteExecutor, chunk: SnapshotChunk): Promise<void> {
    const codec = this.codec(chunk.table);
    const positions = codec.columns.map((column) => chunk.columns.indexOf(column));
    const pk = codec.columns.indexOf(codec.primaryKey);
    const unknown = chunk.columns.find((column) => !codec.columns.includes(column));
    if (unknown !== undefined)
      throw new SyncProtocolError('unknown_column', `the server sent unknown column ${chunk.table}.${JSON.stringify(unknown.slice(0, 64))}`);
    if (positions[pk] === -1) {
      throw new SyncProtocolError('invalid_message', `snapshot chunk of ${chunk.table} lacks its primary key`);
    }
    const inOrder = positions.every((p, i) => p === i) && chunk.columns.length === codec.columns.length;
    const spec = this.schema.tables[chunk.table];
    const types = codec.columns.map((column) => spec.columns[column]);
    const labels = codec.columns.map((column) => `${chunk.table}.${column}`);
    const params = chunk.rows.map((values) => {
      if (values.length !== chunk.columns.length)
        throw new SyncProtocolError('invalid_message', `a ${chunk.table} row has ${values.length} values for ${chunk.columns.length} columns`);
      const ordered = inOrder ? values : positions.map((p) => (p === -1 ? null : values[p]));
      // The same checks as any row, done on the arrays to stay on the fast path.
      checkKey(this.schema, chunk.table, ordered[pk]);
      for (let i = 0; i < types.length; i++) checkValue(types[i], ordered[i], labels[i]);
      return codec.arrayToParams(ordered);
    });
    await tx.runMany(codec.upsertSql, params, { realColumns: codec.realPositions, batch: codec.upsertBatch });
    // Keys are only listed when some row is being rebased (rare): not 1000 JSON.stringify per chunk.
    await this.rebase.afterServerRows(tx, () => params.map((p) => [chunk.table, keyToJson(p[pk] as string | number)] as [string, string]));
  }

  /** Snapshot end: the LSN the snapshot was read at becomes the checkpoint, with what chose its rows. */
  async endSnapshot(tx: SqliteExecutor, lsn: Lsn, setHash?: string): Promise<void> {
    await this.rebase.afterServerRows(tx, () => [], await confirmCoveredChanges(tx, lsn));
    await writeLsn(tx, lsn);
    await writeSetHash(tx, setHash);
  }
}

/**
 * Local changes the server applied (push_result) but whose echo we have not seen: once the
 * checkpoint passes their LSN, the rows we hold include them, so they need no more re-applying.
 */
async function confirmCoveredChanges(tx: SqliteExecutor, lsn: Lsn): Promise<Array<[string, string]>> {
  const open = await tx.all<{ id: string; lsn: string; table_name: string; row_key: string }>(
    `SELECT id, lsn, table_name, row_key FROM local_changes WHERE settled = 0 AND status = 'applied'`,
  );
  const settled: Array<[string, string]> = [];
  for (const change of open) {
    if (compareLsn(change.lsn, lsn) > 0) continue;
    await tx.run(`UPDATE local_changes SET settled = 1 WHERE id = ?`, [change.id]);
    settled.push([change.table_name, change.row_key]);
  }
  return settled;
}

/**
 * Marks this client's changes that came back in the server's stream as applied. The echo is proof
 * the server applied them, and it is the proof that cannot be lost: a push_result can be (the
 * connection drops between the two, or answers to resends are held behind a paused apply), and an
 * entry that waited for it would be resent until the outbox gave up on a write the server has.
 * Returns the entries whose status this changed, for `client_change_applied` events; the
 * push_result that may still come finds them applied and is ignored.
 */
async function confirmOwnChanges(tx: SqliteExecutor, own: unknown[][]): Promise<AppliedOutcome[]> {
  const confirmed: AppliedOutcome[] = [];
  for (const [lsn, , id] of own) {
    const row = await tx.get<{ table_name: string; row_key: string }>(
      `SELECT table_name, row_key FROM local_changes WHERE id = ? AND source = 'local' AND status IN ('pending', 'sent', 'failed')`,
      [id],
    );
    if (row) confirmed.push({ type: 'applied', id: id as string, table: row.table_name, key: keyFromJson(row.row_key), lsn: lsn as string });
  }
  await tx.runMany(
    `UPDATE local_changes SET settled = 1, lsn = ?, updated_at = ?, status = CASE WHEN status = 'rejected' THEN status ELSE 'applied' END WHERE id = ? AND source = 'local'`,
    own,
  );
  return confirmed;
}
