import type { ColumnType, Row, TableSchema } from '../../../protocol/index.js';

/**
 * Values between Postgres and the sync schema (docs/postgres.md, Types). Postgres values arrive
 * here as their text output, the same way from a snapshot read (`column::text`) and from pgoutput
 * (text format), so one conversion serves both and a row reads the same from either. The
 * connections set `TimeZone=UTC` and `DateStyle=ISO` (see connection.ts) so that timestamps have
 * one spelling whatever the server's defaults.
 */

/** A value Postgres holds that the schema type cannot carry exactly. */
export class UnsyncableValueError extends Error {
  override readonly name = 'UnsyncableValueError';
}

/** How one column converts: its schema type and the Postgres type it has (`format_type` names). */
export interface ColumnConversion {
  readonly column: string;
  readonly type: ColumnType;
  readonly pgType: string;
  /** The Postgres type's oid, as pgoutput names it: a change of type mid-stream is schema drift. */
  readonly typeOid: number;
}

/** Postgres text output of one value (null for SQL NULL) to the value clients get. */
export function fromPostgresText(text: string | null, conversion: ColumnConversion, where: string): unknown {
  if (text === null) return null;
  switch (conversion.type) {
    case 'text':
      return text;
    case 'json':
      return JSON.parse(text);
    case 'integer': {
      if (conversion.pgType === 'boolean') return text === 't' || text === 'true' ? 1 : 0;
      const value = Number(text);
      if (!Number.isSafeInteger(value)) {
        throw new UnsyncableValueError(
          `${where}: ${conversion.pgType} value ${text} is outside ±2^53 and cannot sync as integer (see docs/postgres.md, Types)`,
        );
      }
      return value;
    }
    case 'real': {
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw new UnsyncableValueError(`${where}: ${conversion.pgType} value ${text} is not a finite number and cannot sync as real`);
      }
      return value;
    }
  }
}

/** A value clients sent (already checked against the schema) as a bound parameter for its column. */
export function toPostgresParameter(value: unknown, conversion: ColumnConversion): unknown {
  if (value === null || value === undefined) return null;
  if (conversion.type === 'json') return JSON.stringify(value);
  if (conversion.pgType === 'boolean') return value !== 0;
  return value;
}

/** One synced table as Postgres has it: the schema's columns (sorted) with their Postgres types. */
export interface PostgresTable {
  readonly name: string;
  readonly primaryKey: string;
  /** Sorted, as snapshots list them. */
  readonly columns: readonly ColumnConversion[];
  readonly byColumn: ReadonlyMap<string, ColumnConversion>;
}

export function postgresTable(name: string, spec: TableSchema, pgTypes: ReadonlyMap<string, { pgType: string; typeOid: number }>): PostgresTable {
  const columns = Object.keys(spec.columns)
    .sort()
    .map((column) => ({ column, type: spec.columns[column], ...pgTypes.get(column)! }));
  return { name, primaryKey: spec.primaryKey, columns, byColumn: new Map(columns.map((c) => [c.column, c])) };
}

/** A row read as text (by column name) to the row clients get, with only the schema's columns. */
export function rowFromPostgresText(table: PostgresTable, texts: Record<string, string | null | undefined>): Row {
  const row: Row = {};
  for (const conversion of table.columns) {
    row[conversion.column] = fromPostgresText(texts[conversion.column] ?? null, conversion, `${table.name}.${conversion.column}`);
  }
  return row;
}
