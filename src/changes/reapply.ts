import type { SqliteExecutor } from '../storage/index.js';
import type { Row } from '../protocol/index.js';
import { keyFromJson, type TableCodec } from './row-values.js';

/**
 * Invariant 5, no silent overwrite: a server row never wipes a local change the server has not
 * yet answered (or whose echo has not come back). After server rows are written, every unsettled
 * local change on those rows is applied again on top, in local order.
 */
interface OpenChange {
  table_name: string;
  op: string;
  row_key: string;
  row: string | null;
}

const UNSETTLED = `SELECT table_name, op, row_key, row FROM local_changes WHERE settled = 0 AND source = 'local' ORDER BY seq`;

export async function reapplyOpenChanges(tx: SqliteExecutor, codecs: Map<string, TableCodec>): Promise<void> {
  for (const change of await tx.all<OpenChange>(UNSETTLED)) await applyLocalChange(tx, codecs.get(change.table_name)!, change);
}

/**
 * Only the unsettled changes on these rows (`[table, key JSON]`). Usually there are none: one cheap
 * query, and the row keys (a function, so a snapshot chunk does not build 1000 keys for nothing)
 * are only listed when there is something to match.
 */
export async function reapplyOpenChangesFor(
  tx: SqliteExecutor,
  codecs: Map<string, TableCodec>,
  rows: () => Array<[string, string]>,
): Promise<void> {
  const open = await tx.all<OpenChange>(UNSETTLED);
  if (open.length === 0) return;
  const wanted = new Set(rows().map(([table, key]) => `${table}\u0000${key}`));
  for (const change of open) {
    if (wanted.has(`${change.table_name}\u0000${change.row_key}`)) await applyLocalChange(tx, codecs.get(change.table_name)!, change);
  }
}

/** Applies one local change to its table: the same logic for a fresh write and a re-application. */
export async function applyLocalChange(tx: SqliteExecutor, codec: TableCodec, change: Pick<OpenChange, 'op' | 'row_key' | 'row'>): Promise<void> {
  const key = keyFromJson(change.row_key);
  const row = change.row === null ? null : (JSON.parse(change.row) as Row);
  switch (change.op) {
    case 'insert':
      await tx.run(codec.upsertSql, codec.toParams(row!));
      return;
    case 'update': {
      const current = await tx.get<Record<string, unknown>>(codec.selectSql, [key]);
      if (current) await tx.run(codec.upsertSql, codec.toParams({ ...codec.fromSql(current), ...row }));
      return;
    }
    case 'delete':
      await tx.run(codec.deleteSql, [key]);
      return;
  }
}
