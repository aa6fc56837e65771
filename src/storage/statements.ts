/**
 * SQL execution over one wa-sqlite connection (api + db handle): prepare, bind, step, read, finalize.
 * No queuing here: callers (SqliteDatabase) decide when these may run.
 */
import { bindRow, readRow } from './binding.js';
import { SQLITE_MISUSE, SqliteError, toSqliteError } from './errors.js';
import type { SqliteApi } from './wa-sqlite-types.js';

export const SQLITE_ROW = 100;

export interface RunResult {
  /** Rows inserted, updated or deleted (0 for statements that are not INSERT/UPDATE/DELETE/REPLACE). */
  changes: number;
}

const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
const DML_VERB = /^(?:insert|update|delete|replace)\b/i;
const DML_ANYWHERE = /\b(?:insert|update|delete|replace)\b/i;

/** Whether `sql` is a data-changing statement, i.e. whether sqlite3_changes() speaks about it. */
export function isDataChange(sql: string): boolean {
  const body = sql.replace(LEADING_NOISE, '');
  if (DML_VERB.test(body)) return true;
  return /^with\b/i.test(body) && DML_ANYWHERE.test(body);
}

/**
 * Prepares `sql`, which must hold exactly one statement, and returns the statement (the caller
 * finalizes it). Every failure comes out as a SqliteError carrying `sql`.
 */
export async function prepareOne(api: SqliteApi, db: number, sql: string): Promise<number> {
  const str = api.str_new(db, sql);
  let first: { stmt: number; sql: number } | null = null;
  let second: { stmt: number; sql: number } | null = null;
  try {
    first = await api.prepare_v2(db, api.str_value(str));
    if (!first) throw new SqliteError('no SQL statement to run', SQLITE_MISUSE, sql);
    let more: boolean;
    try {
      second = await api.prepare_v2(db, first.sql);
      more = second !== null;
    } catch {
      more = true; // whatever follows does not even prepare: still a second statement
    }
    if (more) throw new SqliteError('more than one statement: use exec() for scripts', SQLITE_MISUSE, sql);
    const { stmt } = first;
    first = null;
    return stmt;
  } catch (error) {
    throw toSqliteError(error, sql);
  } finally {
    if (second) await api.finalize(second.stmt);
    if (first) await api.finalize(first.stmt);
    api.str_finish(str);
  }
}

/** Runs `fn` with a statement prepared for this call alone (see prepareOne), then finalizes it. */
export async function withStatement<T>(api: SqliteApi, db: number, sql: string, fn: (stmt: number) => Promise<T>): Promise<T> {
  const stmt = await prepareOne(api, db, sql);
  try {
    return await fn(stmt);
  } catch (error) {
    throw toSqliteError(error, sql);
  } finally {
    await api.finalize(stmt);
  }
}

/** Where a statement comes from: prepared for the call (withStatement) or kept (StatementCache.use). */
export type UseStatement = <T>(sql: string, fn: (stmt: number) => Promise<T>) => Promise<T>;

/** Runs every statement of `sql` in turn (DDL, scripts). No parameters. */
export async function execScript(api: SqliteApi, db: number, sql: string): Promise<void> {
  const str = api.str_new(db, sql);
  try {
    let prepared: { stmt: number; sql: number } | null = { stmt: 0, sql: api.str_value(str) };
    while ((prepared = await api.prepare_v2(db, prepared.sql))) {
      try {
        while ((await api.step(prepared.stmt)) === SQLITE_ROW);
      } finally {
        await api.finalize(prepared.stmt);
      }
    }
  } catch (error) {
    throw toSqliteError(error, sql);
  } finally {
    api.str_finish(str);
  }
}

/** Runs one statement with `params`; rows it may return are ignored. */
export function runStatement(api: SqliteApi, db: number, use: UseStatement, sql: string, params: readonly unknown[]): Promise<RunResult> {
  return use(sql, async (stmt) => {
    bindRow(api, stmt, params, api.bind_parameter_count(stmt));
    while ((await api.step(stmt)) === SQLITE_ROW);
    return { changes: isDataChange(sql) ? api.changes(db) : 0 };
  });
}

/** Runs one statement with `params` and returns its rows as objects (at most `limit` of them). */
export function queryRows<T>(api: SqliteApi, use: UseStatement, sql: string, params: readonly unknown[], limit = Infinity): Promise<T[]> {
  return use(sql, async (stmt) => {
    bindRow(api, stmt, params, api.bind_parameter_count(stmt));
    const rows: T[] = [];
    // The names are read once a row is there: a kept statement is prepared again by SQLite inside
    // step() when the schema changed (`SELECT *` after a column was added has one column more).
    let columns: string[] | undefined;
    while (rows.length < limit && (await api.step(stmt)) === SQLITE_ROW) rows.push(readRow(api, stmt, (columns ??= api.column_names(stmt))) as T);
    return rows;
  });
}
