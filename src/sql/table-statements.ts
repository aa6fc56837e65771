import type { TableSchema } from '../protocol/index.js';
import { quoteIdentifier } from './identifiers.js';

/** The SQL every store of a synced table needs, built once from schema identifiers only; values are always bound. */
export interface TableStatements {
  /** Column names in schema order: the order of every parameter list here. */
  readonly columns: readonly string[];
  /** `"a", "b", ...` in that order. */
  readonly columnList: string;
  /** Inserts a whole row, or overwrites the row with its key. */
  readonly upsert: string;
  /** Deletes the row with a key. */
  readonly delete: string;
  /** Selects the row with a key, columns in order. */
  readonly selectOne: string;
}

export function tableStatements(table: string, spec: TableSchema): TableStatements {
  const columns = Object.keys(spec.columns);
  const name = quoteIdentifier(table);
  const pk = quoteIdentifier(spec.primaryKey);
  const quoted = columns.map(quoteIdentifier);
  const columnList = quoted.join(', ');
  const updates = columns.filter((c) => c !== spec.primaryKey).map((c) => `${quoteIdentifier(c)} = excluded.${quoteIdentifier(c)}`);
  return {
    columns,
    columnList,
    upsert: `INSERT INTO ${name} (${columnList}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT (${pk}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
    delete: `DELETE FROM ${name} WHERE ${pk} = ?`,
    selectOne: `SELECT ${columnList} FROM ${name} WHERE ${pk} = ?`,
  };
}
