import type pg from 'pg';
import type { ChangeOp, Key, Lsn, Origin, Row } from '../../../protocol/index.js';

/** One change of a source transaction as the replicator stores it. */
export interface LoggedChange {
  table: string;
  op: ChangeOp;
  key: Key;
  row: Row | null;
  /** The row before the change (null for an insert): per-user rules judge who could see it. */
  old: Row | null;
  origin: Origin | null;
}

/**
 * Appends a batch of one source transaction's changes to `rxsync.change_log` in one statement
 * (`unnest` of arrays: one round trip for up to a batch of rows), numbered from `firstSeq` inside
 * the transaction; the first change of a transaction carries its commit time (retention by age).
 */
export async function insertChanges(
  writer: pg.Client,
  transaction: { lsn: Lsn; xid8: string; commitTimeMs: number },
  firstSeq: number,
  batch: readonly LoggedChange[],
): Promise<void> {
  const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
  await writer.query(
    `INSERT INTO rxsync.change_log (lsn, seq, xid, table_name, op, key, row, client_id, change_id, committed_at, old_row)
     SELECT $1::pg_lsn, s, $2::bigint, t, o, k, r, c, i, CASE WHEN s = 0 THEN to_timestamp($10::float8 / 1000) END, p
       FROM unnest($3::int[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[], $8::text[], $9::text[], $11::jsonb[]) AS u(s, t, o, k, r, c, i, p)`,
    [
      transaction.lsn,
      transaction.xid8,
      batch.map((_, i) => firstSeq + i),
      batch.map((c) => c.table),
      batch.map((c) => c.op),
      batch.map((c) => JSON.stringify(c.key)),
      batch.map((c) => json(c.row)),
      batch.map((c) => c.origin?.clientId ?? null),
      batch.map((c) => c.origin?.changeId ?? null),
      transaction.commitTimeMs,
      batch.map((c) => json(c.old)),
    ],
  );
}
