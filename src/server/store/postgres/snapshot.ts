import type pg from 'pg';
import type { Lsn } from '../../../protocol/index.js';
import { quoteIdentifier } from '../../../sql/index.js';
import type { SnapshotReader, SqlCondition } from '../store.js';
import { fromPostgresText, type PostgresTable } from './pg-values.js';
import { MARK_MESSAGE_PREFIX } from './wal-messages.js';

/** `pg_current_snapshot()` as text, `xmin:xmax:xip,...`: which transactions a snapshot sees. */
export interface TransactionSnapshot {
  xmin: bigint;
  xmax: bigint;
  inProgress: ReadonlySet<bigint>;
}

export function parseSnapshot(text: string): TransactionSnapshot {
  const [xmin, xmax, xip] = text.split(':');
  return { xmin: BigInt(xmin), xmax: BigInt(xmax), inProgress: new Set(xip ? xip.split(',').map(BigInt) : []) };
}

/** Whether transaction `xid` (an xid8) had committed when the snapshot was taken. */
export function visibleIn(snapshot: TransactionSnapshot, xid: bigint): boolean {
  return xid < snapshot.xmin || (xid < snapshot.xmax && !snapshot.inProgress.has(xid));
}

/**
 * One REPEATABLE READ transaction whose rows stand at a known place in the change log: every
 * transaction up to `lsn` is in them (see snapshotLsn), and `snapshot` says which later ones are.
 * `complete` when the replicator confirmed it stored every transaction the rows hold (then the
 * change log tells exactly what the rows hold); `release` commits and returns the connection.
 */
export interface ExactSnapshot {
  readonly client: pg.PoolClient;
  readonly lsn: Lsn;
  readonly snapshot: TransactionSnapshot;
  readonly complete: boolean;
  release(): void;
}

export async function beginExactSnapshot(pool: pg.Pool, names: { slot: string; namespace: string }): Promise<ExactSnapshot> {
  const client = await pool.connect();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    void client.query('COMMIT').finally(() => client.release());
  };
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The snapshot is taken by this first statement; the WAL position is read after it, so every
    // transaction the snapshot holds committed before `wal`.
    const state = await client.query<{ snapshot: string; stored: string; wal: string }>(
      'SELECT pg_current_snapshot()::text AS snapshot, stored_lsn::text AS stored, pg_current_wal_lsn()::text AS wal FROM rxsync.replication_state WHERE slot = $1',
      [names.slot],
    );
    // Per-user rules name tables without their schema (their subqueries).
    await client.query(`SET LOCAL search_path TO ${quoteIdentifier(names.namespace)}`);
    const snapshot = parseSnapshot(state.rows[0].snapshot);
    const { lsn, complete } = await snapshotLsn(pool, client, snapshot, state.rows[0].stored, state.rows[0].wal, names.slot);
    return { client, lsn, snapshot, complete, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * A snapshot of the synced tables in one REPEATABLE READ transaction, read table by table in
 * chunks by primary key (keyset pagination), every value as its text converted like a WAL row.
 * A table may come with a filter (per-user rules: the rows its caller may read), with parameters
 * numbered from `$1` for the count, `$2` for the first chunk and `$3` for the next ones.
 *
 * Its LSN is where the rows stand in the change log (see snapshotLsn): the catch-up from it brings
 * every transaction the rows do not hold, and none they do.
 */
export async function openPostgresSnapshot(
  pool: pg.Pool,
  sources: ReadonlyArray<{ table: PostgresTable; filter?: (firstParam: number) => SqlCondition }>,
  names: { slot: string; namespace: string },
  chunkRows: number,
): Promise<SnapshotReader> {
  const qualified = (table: PostgresTable) => `${quoteIdentifier(names.namespace)}.${quoteIdentifier(table.name)}`;
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  const { client, lsn, release } = await beginExactSnapshot(pool, names);
  let released = false;
  const close = () => {
    released = true;
    release();
  };
  try {
    const summary: Array<{ table: string; rows: number; columns: readonly string[] }> = [];
    for (const { table, filter } of sources) {
      const where = filter?.(1);
      const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(table)}${where ? ` WHERE (${where.sql})` : ''}`, [
        ...(where?.params ?? []),
      ]);
      summary.push({ table: table.name, rows: Number(count.rows[0].n), columns: table.columns.map((c) => c.column) });
    }
    let index = 0;
    let after: string | null = null;
    const nextChunk = async () => {
      while (!released && index < sources.length) {
        const current = index;
        const { table, filter } = sources[current];
        const selected = table.columns.map((c) => `${quoteIdentifier(c.column)}::text`).join(', ');
        // By the table's own key column (`t.`): the text output column of the same name would sort as text.
        const key = `t.${quoteIdentifier(table.primaryKey)}`;
        const where = filter?.(after === null ? 2 : 3);
        const conditions = [...(after === null ? [] : [`${key} > $2`]), ...(where ? [`(${where.sql})`] : [])];
        const { rows } = await client.query<string[]>({
          text: `SELECT ${selected} FROM ${qualified(table)} AS t ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY ${key} LIMIT $1`,
          values: [...(after === null ? [chunkRows] : [chunkRows, after]), ...(where?.params ?? [])],
          rowMode: 'array',
        });
        const keyIndex = table.columns.findIndex((c) => c.column === table.primaryKey);
        if (rows.length < chunkRows) {
          index++;
          after = null;
        } else {
          after = rows[rows.length - 1][keyIndex];
        }
        if (rows.length > 0) {
          const values = rows.map((texts) => texts.map((text, i) => fromPostgresText(text, table.columns[i], `${table.name}.${table.columns[i].column}`)));
          return { table: table.name, columns: summary[current].columns, rows: values };
        }
      }
      close();
      return null;
    };
    return { lsn, tables: summary, nextChunk, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** How long a snapshot waits for the replicator to store what committed before it. */
const MARK_WAIT_MS = 5000;

/**
 * The snapshot's LSN: the last transaction such that it and every one before it are in the rows,
 * so that the catch-up after it brings each transaction exactly once. Transactions the snapshot
 * holds all committed before `wal`; the replicator is asked (a mark message) to say when it has
 * stored everything before that, and then the change log up to `wal` tells which ones: the LSN is
 * the last of the unbroken run of visible ones. A transaction not visible there (committed, in
 * the WAL, but not yet visible: a window of microseconds) ends the run and is replayed, as is
 * everything after it. Without the replicator's answer in time (it is restarting, or far behind)
 * the LSN is the stored position the snapshot sees, and the transactions in between are
 * replayed: that converges (whole-row upserts, deletes by key) but sends them twice.
 */
async function snapshotLsn(
  pool: pg.Pool,
  client: pg.PoolClient,
  snapshot: TransactionSnapshot,
  stored: Lsn,
  wal: Lsn,
  slot: string,
): Promise<{ lsn: Lsn; complete: boolean }> {
  const base = await consistentLsn(client, snapshot, stored);
  const { rows } = await pool.query<{ mark: string }>(`SELECT pg_logical_emit_message(false, $1, '')::text AS mark`, [MARK_MESSAGE_PREFIX]);
  const deadline = Date.now() + MARK_WAIT_MS;
  for (;;) {
    const marked = await pool.query<{ done: boolean }>('SELECT marked_lsn >= $1::pg_lsn AS done FROM rxsync.replication_state WHERE slot = $2', [
      rows[0].mark,
      slot,
    ]);
    if (marked.rows[0]?.done) break;
    if (Date.now() > deadline) return { lsn: base, complete: false };
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const after = await pool.query<{ lsn: string; xid: string }>(
    'SELECT DISTINCT c.lsn::text AS lsn, c.xid::text AS xid, c.lsn AS position FROM rxsync.change_log c WHERE c.lsn > $1 AND c.lsn <= $2 ORDER BY position',
    [stored, wal],
  );
  if (base !== stored) return { lsn: base, complete: true };
  let lsn = base;
  for (const transaction of after.rows) {
    if (!visibleIn(snapshot, BigInt(transaction.xid))) break;
    lsn = transaction.lsn;
  }
  return { lsn, complete: true };
}

/**
 * `stored` unless a transaction stored at or before it is not visible in the snapshot: then the
 * LSN of the last stored transaction before the first such one, so the catch-up brings it.
 */
async function consistentLsn(client: pg.PoolClient, snapshot: TransactionSnapshot, stored: Lsn): Promise<Lsn> {
  const { rows } = await client.query<{ lsn: string; xid: string }>(
    'SELECT DISTINCT c.lsn::text AS lsn, c.xid::text AS xid, c.lsn AS position FROM rxsync.change_log c WHERE c.lsn <= $1 AND c.xid >= $2 ORDER BY position',
    [stored, snapshot.xmin.toString()],
  );
  const unseen = rows.find((row) => !visibleIn(snapshot, BigInt(row.xid)));
  if (!unseen) return stored;
  const before = await client.query<{ lsn: string | null }>('SELECT max(lsn)::text AS lsn FROM rxsync.change_log WHERE lsn < $1', [unseen.lsn]);
  return before.rows[0].lsn ?? '0/0';
}
