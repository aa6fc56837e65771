/**
 * How JS values become SQLite values (binding) and back (reading rows).
 *
 * Binding, by JS type:
 * - `null` / `undefined` -> NULL
 * - `string` -> TEXT
 * - `number`: a safe integer (Number.isSafeInteger) -> INTEGER (32- or 64-bit bind); any other
 *   number -> REAL (`bind_double`)
 * - `boolean` -> INTEGER 0/1
 * - `bigint` -> INTEGER (64-bit; out of range is an error)
 * - `Uint8Array` / `ArrayBuffer` -> BLOB (an empty one binds as NULL: a wa-sqlite limitation)
 * - {@link SqlReal} (from {@link real}) -> REAL, whatever the number
 * - anything else (objects, Dates, ...) -> SqliteError SQLITE_MISMATCH; serialize it yourself.
 *
 * REAL columns: a whole-number JS number (2.0 === 2) would bind as INTEGER. Say that it is real
 * either per value, with `real(x)` (any method), or per parameter position for `runMany`, with
 * `{ realColumns: [i, ...] }` (0-based positions; no wrapper objects on the hot path).
 *
 * Reading: INTEGER -> number, or bigint beyond Number's safe range; REAL -> number; TEXT -> string;
 * BLOB -> Uint8Array (a copy); NULL -> null.
 */
import { SQLITE_MISMATCH, SQLITE_MISUSE, SQLITE_RANGE, SqliteError } from './errors.js';
import type { SqliteApi } from './wa-sqlite-types.js';

/** A number to bind as REAL even when it is whole. Make one with {@link real}. */
export class SqlReal {
  constructor(readonly value: number) {}
}

/** Marks `value` to be bound as REAL (`bind_double`), e.g. `db.run(sql, [real(2)])` stores 2.0. */
export function real(value: number): SqlReal {
  return new SqlReal(value);
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

/** Binds `value` to parameter `index` (1-based). `asReal` forces numbers to REAL. */
export function bindValue(api: SqliteApi, stmt: number, index: number, value: unknown, asReal = false): void {
  switch (typeof value) {
    case 'string':
      api.bind_text(stmt, index, value);
      return;
    case 'number':
      if (asReal || !Number.isSafeInteger(value)) api.bind_double(stmt, index, value);
      else if (value >= INT32_MIN && value <= INT32_MAX) api.bind_int(stmt, index, value);
      else api.bind_int64(stmt, index, BigInt(value));
      return;
    case 'undefined':
      api.bind_null(stmt, index);
      return;
    case 'boolean':
      api.bind_int(stmt, index, value ? 1 : 0);
      return;
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new SqliteError(`bigint out of the 64-bit range at parameter ${index}`, SQLITE_RANGE);
      }
      if (asReal) api.bind_double(stmt, index, Number(value));
      else api.bind_int64(stmt, index, value);
      return;
    default:
      if (value === null) api.bind_null(stmt, index);
      else if (value instanceof SqlReal) api.bind_double(stmt, index, value.value);
      else if (value instanceof Uint8Array) api.bind_blob(stmt, index, value);
      else if (value instanceof ArrayBuffer) api.bind_blob(stmt, index, new Uint8Array(value));
      else {
        throw new SqliteError(`cannot bind a value of type ${describe(value)} at parameter ${index}`, SQLITE_MISMATCH);
      }
  }
}

/**
 * Binds one row of positional parameters. `realFlags[i]` true binds position i as REAL.
 * The row must have exactly as many values as the statement has parameters.
 */
export function bindRow(api: SqliteApi, stmt: number, params: readonly unknown[], parameterCount: number, realFlags?: readonly boolean[]): void {
  if (params.length !== parameterCount) {
    throw new SqliteError(`expected ${parameterCount} parameter(s), got ${params.length}`, SQLITE_MISUSE);
  }
  if (realFlags) {
    for (let i = 0; i < parameterCount; i++) bindValue(api, stmt, i + 1, params[i], realFlags[i] === true);
  } else {
    for (let i = 0; i < parameterCount; i++) bindValue(api, stmt, i + 1, params[i]);
  }
}

/** `realColumns` (0-based positions) as flags by position, checked against the parameter count. */
export function realFlagsFor(realColumns: readonly number[] | undefined, parameterCount: number): boolean[] | undefined {
  if (!realColumns || realColumns.length === 0) return undefined;
  const flags = new Array<boolean>(parameterCount).fill(false);
  for (const position of realColumns) {
    if (!Number.isInteger(position) || position < 0 || position >= parameterCount) {
      throw new SqliteError(`realColumns: ${position} is not a parameter position (0..${parameterCount - 1})`, SQLITE_MISUSE);
    }
    flags[position] = true;
  }
  return flags;
}

/**
 * Decodes TEXT ourselves: wa-sqlite's `column_text` goes through emscripten's UTF8ToString, whose
 * TextDecoder strips a leading U+FEFF from strings over 16 bytes, so a value the server holds with
 * a BOM would read back without it. `ignoreBOM` keeps every code point as stored.
 */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** sqlite3_column_type's answers for the two types read here (sqlite3.h: SQLITE_TEXT, SQLITE_BLOB). */
const SQLITE_TEXT = 3;
const SQLITE_BLOB = 4;

/** One column of the current row, as `api.row` would give it but for TEXT (see `utf8`). */
function readColumn(api: SqliteApi, stmt: number, i: number): unknown {
  const type = api.column_type(stmt, i);
  if (type === SQLITE_TEXT) return utf8.decode(api.column_blob(stmt, i));
  if (type === SQLITE_BLOB) return api.column_blob(stmt, i).slice(); // a copy: the view is into wasm memory
  return api.column(stmt, i);
}

/** The current row of `stmt` as an object keyed by `columns` (a later duplicate name wins). */
export function readRow(api: SqliteApi, stmt: number, columns: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]!] = readColumn(api, stmt, i);
  return row;
}
