import type { ConflictPolicy } from './store.js';
import type { Row, SyncSchema } from '../../protocol/index.js';

/**
 * The default conflict policy: server order, last write wins. Client writes are applied in the
 * order the server receives them, each on top of whatever the row is then:
 * - insert: the row as sent (missing columns NULL); an existing row with that key is overwritten;
 * - update: the patch is merged into the current row; if the row is gone, the change is rejected
 *   with reason `not_found` (an update must not resurrect a row someone deleted);
 * - delete: removes the row; deleting a row that is already gone is applied and changes nothing.
 */
export function lastWriteWins(schema: SyncSchema): ConflictPolicy {
  return ({ change, current }) => {
    const table = schema.tables[change.table];
    switch (change.op) {
      case 'insert':
        return { action: 'apply', row: wholeRow(Object.keys(table.columns), change.row ?? {}) };
      case 'update':
        if (!current) return { action: 'reject', reason: 'not_found' };
        return { action: 'apply', row: { ...current, ...change.row, [table.primaryKey]: change.key } };
      case 'delete':
        return { action: 'apply', row: null };
    }
  };
}

function wholeRow(columns: string[], row: Row): Row {
  const whole: Row = {};
  for (const column of columns) whole[column] = row[column] ?? null;
  return whole;
}
