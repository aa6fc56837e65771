import { real } from '../storage/index.js';
import type { Key, Row, SyncSchema, TableSchema } from '../protocol/index.js';
import { jsonToSql, tableStatements } from '../sql/index.js';

/**
 * Rows between their JSON form (the protocol, the public API) and SQLite: `json` columns are
 * stored as JSON text and `real` columns are bound as REAL even when whole (2.0 stays 2.0).
 * Statements are built once per table from schema identifiers only; values are always bound.
 */
export class TableCodec {
  readonly columns: readonly string[];
  readonly primaryKey: string;
  readonly upsertSql: string;
  /** `upsertSql` for many rows per statement: runMany's `batch`. */
  readonly upsertBatch: { sql: string; rows: number };
  readonly deleteSql: string;
  readonly selectSql: string;
  /** 0-based positions of REAL columns in `columns`, for runMany. */
  readonly realPositions: number[];
  private readonly jsonPositions: number[];

  constructor(
    readonly table: string,
    spec: TableSchema,
  ) {
    this.columns = Object.keys(spec.columns);
    this.primaryKey = spec.primaryKey;
    this.realPositions = this.columns.flatMap((c, i) => (spec.columns[c] === 'real' ? [i] : []));
    this.jsonPositions = this.columns.flatMap((c, i) => (spec.columns[c] === 'json' ? [i] : []));
    const sql = tableStatements(table, spec);
    this.upsertSql = sql.upsert;
    this.upsertBatch = sql.upsertBatch;
    this.deleteSql = sql.delete;
    this.selectSql = sql.selectOne;
  }

  /** A whole row as parameters in `columns` order (missing columns NULL). */
  toParams(row: Row): unknown[] {
    return this.columns.map((column, i) => this.toSql(i, row[column]));
  }

  /**
   * Values already in `columns` order (a snapshot chunk's row) as bind parameters: a copy where a
   * json column is encoded, because the values are the message's own, and a chunk applied again (a
   * retry, or chunks written again alone after their held transaction was lost) must find them as
   * they came, not encoded twice.
   */
  arrayToParams(values: unknown[]): unknown[] {
    if (this.jsonPositions.length === 0) return values;
    const params = values.slice();
    for (const i of this.jsonPositions) params[i] = jsonToSql(values[i]);
    return params;
  }

  fromSql(row: Record<string, unknown>): Row {
    const out: Row = {};
    for (let i = 0; i < this.columns.length; i++) {
      const column = this.columns[i];
      const value = row[column];
      out[column] = this.jsonPositions.includes(i) && typeof value === 'string' ? JSON.parse(value) : (value ?? null);
    }
    return out;
  }

  private toSql(i: number, value: unknown): unknown {
    if (this.jsonPositions.includes(i)) return jsonToSql(value);
    if (value === null || value === undefined) return null;
    if (this.realPositions.includes(i)) return real(value as number);
    return value;
  }
}

export function tableCodecs(schema: SyncSchema): Map<string, TableCodec> {
  return new Map(schema.tableNames.map((name) => [name, new TableCodec(name, schema.tables[name])]));
}

export const keyToJson = (key: Key): string => JSON.stringify(key);
export const keyFromJson = (json: string): Key => JSON.parse(json) as Key;
