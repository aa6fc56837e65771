import type { Row } from '../../protocol/index.js';
import type { RowsRead } from './store.js';

/**
 * One read of `SyncStore.rowsAt`, put together: the rows the read selects now (`current`), except
 * those changed since the LSN, which are taken as they were then (`changedSince`, by key as JSON;
 * null: the row was not there), when they match the read. Both stores find the two parts their
 * own way and meet here.
 */
export function rowsAsOf(current: readonly Row[], changedSince: ReadonlyMap<string, Row | null>, primaryKey: string, read: RowsRead): Row[] {
  const wanted = read.column === undefined ? undefined : new Set(read.values);
  const rows = current.filter((row) => !changedSince.has(JSON.stringify(row[primaryKey])));
  for (const row of changedSince.values()) if (row && (wanted === undefined || wanted.has(row[read.column!]))) rows.push(row);
  return rows;
}
