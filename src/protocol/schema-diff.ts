import type { SyncSchema } from './schema.js';

/** One way two schemas differ, named from this side (`ours`) against the other (`theirs`). */
export type SchemaDifference =
  | { kind: 'table_only_ours' | 'table_only_theirs'; table: string }
  | { kind: 'primary_key'; table: string; ours: string; theirs: string }
  | { kind: 'column_only_ours' | 'column_only_theirs'; table: string; column: string }
  | { kind: 'column_type'; table: string; column: string; ours: string; theirs: string };

/**
 * How two checked schemas differ, table by table and column by column, sorted by name: what a
 * client reports when the server's schema hash is not its own, so that the app can say which
 * side needs the upgrade. Both schemas must have passed `defineSchema` (their names are plain
 * identifiers, safe to show).
 */
export function schemaDifferences(ours: SyncSchema, theirs: SyncSchema): SchemaDifference[] {
  const differences: SchemaDifference[] = [];
  const tables = [...new Set([...ours.tableNames, ...theirs.tableNames])].sort();
  for (const table of tables) {
    // Own properties only: `constructor` is a plain identifier, and a table name.
    const mine = Object.hasOwn(ours.tables, table) ? ours.tables[table] : undefined;
    const other = Object.hasOwn(theirs.tables, table) ? theirs.tables[table] : undefined;
    if (!other) {
      differences.push({ kind: 'table_only_ours', table });
      continue;
    }
    if (!mine) {
      differences.push({ kind: 'table_only_theirs', table });
      continue;
    }
    if (mine.primaryKey !== other.primaryKey) differences.push({ kind: 'primary_key', table, ours: mine.primaryKey, theirs: other.primaryKey });
    const columns = [...new Set([...Object.keys(mine.columns), ...Object.keys(other.columns)])].sort();
    for (const column of columns) {
      const a = Object.hasOwn(mine.columns, column) ? mine.columns[column] : undefined;
      const b = Object.hasOwn(other.columns, column) ? other.columns[column] : undefined;
      if (b === undefined) differences.push({ kind: 'column_only_ours', table, column });
      else if (a === undefined) differences.push({ kind: 'column_only_theirs', table, column });
      else if (a !== b) differences.push({ kind: 'column_type', table, column, ours: a, theirs: b });
    }
  }
  return differences;
}
