/**
 * The one error type of the storage layer: every failure of SQLite (and of the wrapper's own
 * checks) surfaces as a {@link SqliteError} with the SQLite result code and the SQL involved.
 */

/** Names of SQLite's primary result codes, for messages (https://www.sqlite.org/rescode.html). */
const CODE_NAMES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  12: 'SQLITE_NOTFOUND',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  16: 'SQLITE_EMPTY',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH',
  24: 'SQLITE_FORMAT',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
  27: 'SQLITE_NOTICE',
  28: 'SQLITE_WARNING',
};

/** SQLite result codes the wrapper itself uses. */
export const SQLITE_ERROR = 1;
export const SQLITE_BUSY = 5;
export const SQLITE_IOERR = 10;
export const SQLITE_CANTOPEN = 14;
export const SQLITE_MISMATCH = 20;
export const SQLITE_MISUSE = 21;
export const SQLITE_RANGE = 25;

/** The longest piece of SQL an error carries. */
export const MAX_SQL_IN_ERROR = 200;

/** `SQLITE_CONSTRAINT` for a code or an extended code such as `SQLITE_CONSTRAINT_UNIQUE` (2067). */
export function sqliteCodeName(code: number): string {
  return CODE_NAMES[code & 0xff] ?? `SQLITE_${code}`;
}

export class SqliteError extends Error {
  override readonly name = 'SqliteError';
  /** SQLite result code (primary, or extended when SQLite reported an extended one). */
  readonly code: number;
  /** Its name, e.g. `SQLITE_CONSTRAINT`. */
  readonly codeName: string;
  /** The statement (or script) that failed, cut to its first 200 characters; undefined if none. */
  readonly sql: string | undefined;
  /** The bare message (SQLite's, or the wrapper's), without the code name and the SQL. */
  readonly detail: string;

  constructor(message: string, code: number, sql?: string, options?: { cause?: unknown }) {
    const codeName = sqliteCodeName(code);
    const shortSql = sql === undefined ? undefined : sql.slice(0, MAX_SQL_IN_ERROR);
    super(`${codeName}: ${message}${shortSql === undefined ? '' : ` (sql: ${shortSql})`}`, options);
    this.code = code;
    this.codeName = codeName;
    this.sql = shortSql;
    this.detail = message;
  }
}

/**
 * Turns whatever wa-sqlite (or anything under it) threw into a SqliteError for `sql`.
 * wa-sqlite's own SQLiteError carries `code` and SQLite's error message.
 */
export function toSqliteError(error: unknown, sql?: string): SqliteError {
  if (error instanceof SqliteError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'number' ? (error as { code: number }).code : SQLITE_ERROR;
  const message = error instanceof Error ? error.message : String(error);
  return new SqliteError(message, code, sql, { cause: error });
}

/** The same error with `prefix` before its detail (e.g. which row of a bulk insert failed). */
export function withDetailPrefix(error: unknown, prefix: string, sql?: string): SqliteError {
  const cause = toSqliteError(error, sql);
  return new SqliteError(`${prefix}${cause.detail}`, cause.code, sql, { cause: cause.cause ?? cause });
}
