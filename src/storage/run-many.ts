/**
 * The bulk path behind `runMany`: one statement run for many parameter rows.
 *
 * Row by row, each row costs a bind, a `step` and a `reset`, and the last two are promises even in
 * the sync build: at ~300k rows/s that round trip is a third of an insert. A statement written for
 * `batch.rows` rows at once (`INSERT ... VALUES (...), (...), ...`) takes one step per group, so
 * an initial sync's 100,000 rows take 1,000 steps instead of 100,000 (measured in Node: ~0.7 of
 * the time, 100 rows of 6 columns per step).
 *
 * Batching changes nothing a caller can see, for the statements it is offered for (an INSERT or
 * an upsert): SQLite inserts a VALUES list's rows in order, as if each were its own statement, so a
 * key repeated within a group updates as it would row by row. A failed statement leaves none of
 * its rows behind (SQLite undoes the statement, not the transaction), so a group that fails is run
 * again row by row, and the error names the row, as it does without batching. Where the failure
 * ended the transaction itself (SQLite rolls back on I/O errors, a full disk, no memory), nothing
 * may run after it: the error is thrown at once.
 */
import { bindRow, bindValue, realFlagsFor } from './binding.js';
import { SQLITE_MISUSE, SqliteError, withDetailPrefix } from './errors.js';
import { isDataChange, type RunResult, type UseStatement } from './statements.js';
import type { SqliteApi } from './wa-sqlite-types.js';

export interface RunManyOptions {
  /** 0-based parameter positions to bind as REAL even when the number is whole. */
  realColumns?: readonly number[];
  /**
   * The same statement written for `rows` rows at once, each row's parameters in turn: full groups
   * of rows run through it, the rest through the one-row statement. Only for an INSERT or upsert
   * (see the module comment).
   */
  batch?: { sql: string; rows: number };
}

type Rows = readonly (readonly unknown[])[];

export function runManyRows(api: SqliteApi, db: number, use: UseStatement, sql: string, rows: Rows, options: RunManyOptions = {}): Promise<RunResult> {
  const { batch } = options;
  if (batch && batch.rows > 1 && rows.length >= batch.rows) return runInGroups(api, db, use, sql, batch, rows, options.realColumns);
  return use(sql, (stmt) => stepEachRow(api, db, stmt, sql, rows, 0, rows.length, options.realColumns));
}

/** Rows `from` to `to` (excluded), one bind/step/reset each, on `stmt` (the one-row statement). */
async function stepEachRow(
  api: SqliteApi,
  db: number,
  stmt: number,
  sql: string,
  rows: Rows,
  from: number,
  to: number,
  realColumns: readonly number[] | undefined,
): Promise<RunResult> {
  const count = api.bind_parameter_count(stmt);
  const realFlags = realFlagsFor(realColumns, count);
  const countChanges = isDataChange(sql);
  let changes = 0;
  let index = from;
  try {
    for (; index < to; index++) {
      bindRow(api, stmt, rows[index]!, count, realFlags);
      await api.step(stmt);
      if (countChanges) changes += api.changes(db);
      await api.reset(stmt);
    }
  } catch (error) {
    throw withDetailPrefix(error, `row ${index}: `, sql);
  }
  return { changes };
}

async function runInGroups(
  api: SqliteApi,
  db: number,
  use: UseStatement,
  sql: string,
  batch: { sql: string; rows: number },
  rows: Rows,
  realColumns: readonly number[] | undefined,
): Promise<RunResult> {
  return use(sql, (single) =>
    use(batch.sql, async (grouped) => {
      const width = api.bind_parameter_count(single);
      if (api.bind_parameter_count(grouped) !== width * batch.rows) {
        throw new SqliteError(
          `the batch statement has ${api.bind_parameter_count(grouped)} parameters, not ${batch.rows} rows of ${width}`,
          SQLITE_MISUSE,
          batch.sql,
        );
      }
      const realFlags = realFlagsFor(realColumns, width);
      const inTransaction = api.get_autocommit(db) === 0;
      let changes = 0;
      let start = 0;
      for (; start + batch.rows <= rows.length; start += batch.rows) {
        try {
          bindGroup(api, grouped, rows, start, batch.rows, width, realFlags);
          await api.step(grouped);
        } catch (error) {
          await api.reset(grouped).catch(() => undefined);
          // The transaction is gone (I/O error, full disk): nothing may run after it.
          if (inTransaction && api.get_autocommit(db) !== 0) throw withDetailPrefix(error, `rows ${start}-${start + batch.rows - 1}: `, batch.sql);
          // Nothing of the group was written: row by row, the rows before the bad one are written and
          // the bad one fails with its own error, exactly as without batching.
          changes += (await stepEachRow(api, db, single, sql, rows, start, start + batch.rows, realColumns)).changes;
          continue;
        }
        changes += api.changes(db);
        await api.reset(grouped);
      }
      changes += (await stepEachRow(api, db, single, sql, rows, start, rows.length, realColumns)).changes;
      return { changes };
    }),
  );
}

/** Binds rows `start` to `start + count` (excluded) to the group statement, each row after the last. */
function bindGroup(api: SqliteApi, stmt: number, rows: Rows, start: number, count: number, width: number, realFlags: boolean[] | undefined): void {
  for (let r = 0; r < count; r++) {
    const row = rows[start + r]!;
    if (row.length !== width) throw new SqliteError(`expected ${width} parameter(s), got ${row.length}`, SQLITE_MISUSE);
    const base = r * width + 1;
    for (let i = 0; i < width; i++) bindValue(api, stmt, base + i, row[i], realFlags !== undefined && realFlags[i] === true);
  }
}
