import { SyncProtocolError } from './errors.js';
import type { ColumnType, SyncSchema, TableSchema } from './schema.js';
import type { ClientChange, Key, Row } from './messages.js';

/**
 * Checks of data against the schema. These run before anything touches SQL, on both sides, so an
 * unknown table or column (a hostile identifier included) never reaches a statement, and a value
 * that does not fit its column is refused with a clear error instead of being coerced.
 */
export function tableOf(schema: SyncSchema, table: string): TableSchema {
  if (!Object.prototype.hasOwnProperty.call(schema.tables, table)) {
    throw new SyncProtocolError('unknown_table', `unknown table ${JSON.stringify(table.slice(0, 64))}`, { table });
  }
  return schema.tables[table];
}

/**
 * Text a database can store as it is. A lone UTF-16 surrogate has no UTF-8 form: SQLite stores
 * bytes that read back as U+FFFD. A U+0000 cuts the text short in the client's storage (wa-sqlite
 * binds and reads C strings), and Postgres text refuses it. Either way the stored row would differ
 * from what was written (and from the change log): both are refused.
 */
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const isText = (value: unknown): value is string => typeof value === 'string' && !UNSTORABLE.test(value);

/**
 * How deep a json value may nest (arrays and objects). Every store has a ceiling — SQLite's JSON
 * functions stop at 1000, JSON.stringify runs out of stack in the tens of thousands — and hitting
 * one inside the write's transaction looked like an internal, retryable failure that fails the
 * same way on every retry. App data nests a few levels; 100 refuses only the hostile or broken.
 */
export const MAX_JSON_DEPTH = 100;

/** True if `value` nests arrays/objects at most `limit` deep; stops descending past the limit. */
function jsonDepthWithin(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (limit === 0) return false;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) if (!jsonDepthWithin(child, limit - 1)) return false;
  return true;
}

export function checkValue(type: ColumnType, value: unknown, where: string): void {
  if (value === null) return;
  const ok =
    type === 'text'
      ? isText(value)
      : type === 'integer'
        ? typeof value === 'number' && Number.isSafeInteger(value)
        : type === 'real'
          ? typeof value === 'number' && Number.isFinite(value)
          : value !== undefined && jsonDepthWithin(value, MAX_JSON_DEPTH); // json: any JSON value not nested too deep
  if (!ok) {
    if (type === 'json' && value !== undefined) {
      throw new SyncProtocolError('invalid_value', `${where}: json nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    throw new SyncProtocolError('invalid_value', `${where}: expected ${type}, got ${describe(value)}`);
  }
}

export function checkKey(schema: SyncSchema, table: string, key: unknown): Key {
  const spec = tableOf(schema, table);
  const type = spec.columns[spec.primaryKey];
  const ok = type === 'text' ? isText(key) && key.length > 0 : typeof key === 'number' && Number.isSafeInteger(key);
  if (!ok) throw new SyncProtocolError('invalid_value', `${table}.${spec.primaryKey}: key must be ${type}, got ${describe(key)}`);
  return key as Key;
}

/**
 * Checks a row (whole, or a patch when `partial`). A whole row must carry its primary key; a
 * patch must not change it. Missing non-key columns are NULL.
 */
export function checkRow(schema: SyncSchema, table: string, row: Row, options: { partial?: boolean } = {}): Row {
  const spec = tableOf(schema, table);
  for (const column of Object.keys(row)) {
    if (!Object.prototype.hasOwnProperty.call(spec.columns, column)) {
      throw new SyncProtocolError('unknown_column', `unknown column ${table}.${JSON.stringify(column.slice(0, 64))}`, { table, column });
    }
    checkValue(spec.columns[column], row[column], `${table}.${column}`);
  }
  if (!options.partial) checkKey(schema, table, row[spec.primaryKey]);
  return row;
}

/** Checks one client change in full: table, key, and the row or patch its op needs. */
export function checkClientChange(schema: SyncSchema, change: ClientChange): void {
  const spec = tableOf(schema, change.table);
  checkKey(schema, change.table, change.key);
  if (change.op === 'delete') return;
  if (!change.row) throw new SyncProtocolError('invalid_value', `${change.op} of ${change.table} needs a row`);
  checkRow(schema, change.table, change.row, { partial: change.op === 'update' });
  const pk = change.row[spec.primaryKey];
  if (pk !== undefined && pk !== change.key) {
    throw new SyncProtocolError('invalid_value', `${change.table}: row's ${spec.primaryKey} differs from the change's key`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = Array.isArray(value) ? '[...]' : typeof value; // nested too deep to serialise
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
