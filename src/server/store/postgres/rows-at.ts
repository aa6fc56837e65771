import type pg from 'pg';
import { compareLsn, type Lsn, type Row } from '../../../protocol/index.js';
import { quoteIdentifier } from '../../../sql/index.js';
import { rowsAsOf } from '../rows-as-of.js';
import type { RowsRead } from '../store.js';
import { toPostgresParameter, rowFromPostgresText, type PostgresTable } from './pg-values.js';
import { beginExactSnapshot } from './snapshot.js';

/**
 * The rows each read names as they were at `lsn` (SyncStore.rowsAt), on Postgres: the tables run
 * ahead of the change log (the replicator stores what they already hold), so the rows are read in
 * an exact snapshot, whose place in the log is known (every transaction up to its LSN is in it),
 * and moved to `lsn` with the log. Per row changed after the lower of the two: its row before its
 * first change after `lsn`, or, when none is after `lsn`, after its last change up to `lsn`. The log
 * is one linear history per key, so that is the row at `lsn` whichever transactions the snapshot saw.
 */
export async function rowsAtLsn(
  pool: pg.Pool,
  tables: ReadonlyMap<string, PostgresTable>,
  names: { slot: string; namespace: string },
  lsn: Lsn,
  reads: readonly RowsRead[],
): Promise<Row[][]> {
  const exact = await beginExactSnapshot(pool, names);
  try {
    // Without the replicator's word that it stored what the rows hold, the log cannot move them.
    if (!exact.complete) throw new Error('rxsync: the replicator did not confirm in time what it stored; try again');
    const from = compareLsn(lsn, exact.lsn) < 0 ? lsn : exact.lsn;
    const results: Row[][] = [];
    for (const read of reads) {
      const table = tables.get(read.table);
      if (!table) throw new Error(`rowsAt: unknown table ${JSON.stringify(read.table)}`);
      const current = await readRows(exact.client, table, names.namespace, read);
      // Read outside the snapshot: it may not see log entries stored after it began.
      const changed = await rowsChangedSince(pool, table, from, lsn);
      results.push(rowsAsOf(current, changed, table.primaryKey, read));
    }
    return results;
  } finally {
    exact.release();
  }
}

async function readRows(client: pg.PoolClient, table: PostgresTable, namespace: string, read: RowsRead): Promise<Row[]> {
  const selected = table.columns.map((c) => `${quoteIdentifier(c.column)}::text AS ${quoteIdentifier(c.column)}`).join(', ');
  const from = `${quoteIdentifier(namespace)}.${quoteIdentifier(table.name)}`;
  if (read.column === undefined) {
    const { rows } = await client.query<Record<string, string | null>>(`SELECT ${selected} FROM ${from}`);
    return rows.map((texts) => rowFromPostgresText(table, texts));
  }
  const conversion = table.byColumn.get(read.column);
  if (!conversion) throw new Error(`rowsAt: unknown column ${table.name}.${read.column}`);
  const values = (read.values ?? []).map((value) => toPostgresParameter(value, conversion));
  const { rows } = await client.query<Record<string, string | null>>(`SELECT ${selected} FROM ${from} WHERE ${quoteIdentifier(read.column)} = ANY($1)`, [
    values,
  ]);
  return rows.map((texts) => rowFromPostgresText(table, texts));
}

/** Each row of `table` the log changed after `from`, by its key as JSON: how it was at `lsn` (null: not there). */
async function rowsChangedSince(pool: pg.Pool, table: PostgresTable, from: Lsn, lsn: Lsn): Promise<Map<string, Row | null>> {
  const { rows } = await pool.query<{ key: string; row: string | null; old_row: string | null; after: boolean }>(
    `SELECT key::text AS key, row::text AS row, old_row::text AS old_row, lsn > $3::pg_lsn AS after
       FROM rxsync.change_log WHERE table_name = $1 AND lsn > $2::pg_lsn ORDER BY lsn, seq`,
    [table.name, from, lsn],
  );
  const state = new Map<string, Row | null>();
  const settled = new Set<string>();
  for (const entry of rows) {
    if (settled.has(entry.key)) continue;
    if (entry.after) {
      // Its first change after `lsn`: the row before it is the row at `lsn`.
      state.set(entry.key, entry.old_row === null ? null : (JSON.parse(entry.old_row) as Row));
      settled.add(entry.key);
    } else {
      state.set(entry.key, entry.row === null ? null : (JSON.parse(entry.row) as Row));
    }
  }
  return state;
}
