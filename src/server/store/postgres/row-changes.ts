import type { Pgoutput } from 'pg-logical-replication';
import type { ChangeOp, Key, Row } from '../../../protocol/index.js';
import { fromPostgresText, rowFromPostgresText, type PostgresTable } from './pg-values.js';

/**
 * A pgoutput row change of a synced table as the change-log entries it becomes: whole rows as
 * clients get them, keyed by primary key. With REPLICA IDENTITY FULL an update carries the old
 * row, so a primary key change shows, and becomes the old row gone and a new one there.
 */
export function rowChanges(
  message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete,
  table: PostgresTable,
): Array<{ op: ChangeOp; key: Key; row: Row | null; old: Row | null }> {
  const keyOf = (tuple: Record<string, unknown>) =>
    fromPostgresText(tuple[table.primaryKey] as string | null, table.byColumn.get(table.primaryKey)!, `${table.name}.${table.primaryKey}`) as Key;
  // The whole old row comes with REPLICA IDENTITY FULL (the set-up sets it); with only a key, none.
  const old = message.tag !== 'insert' && message.old ? rowFromPostgresText(table, message.old) : null;
  if (message.tag === 'delete') return [{ op: 'delete', key: keyOf((message.old ?? message.key)!), row: null, old }];
  const row = rowFromPostgresText(table, message.new);
  const key = row[table.primaryKey] as Key;
  if (message.tag === 'insert') return [{ op: 'insert', key, row, old: null }];
  const before = message.old ?? message.key;
  const oldKey = before ? keyOf(before) : key;
  if (oldKey !== key) {
    return [
      { op: 'delete', key: oldKey, row: null, old },
      { op: 'insert', key, row, old: null },
    ];
  }
  return [{ op: 'update', key, row, old }];
}
