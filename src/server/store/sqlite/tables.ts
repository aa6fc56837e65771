import type Database from 'better-sqlite3';
import type { Key, Row, TableSchema } from '../../../protocol/index.js';
import type { SqlCondition } from '../store.js';
import { jsonToSql, quoteIdentifier, tableStatements } from '../../../sql/index.js';

/**
 * One synced table: its prepared statements (built once, when the store opens) and the mapping
 * between rows as the protocol sees them and SQLite values. `json` columns hold
 * JSON.stringify(value) as TEXT (a null value is SQL NULL); every other type is stored as is.
 */
export class SyncedTable {
  /** Column names in schema order: the order of snapshot arrays and of every statement here. */
  readonly columns: readonly string[];
  readonly primaryKey: string;
  readonly keyIndex: number;
  /** Indexes (in `columns`) of the json columns, decoded in place when read. */
  private readonly jsonIndexes: number[];
  private readonly isJson: boolean[];
  private readonly selectOne: Database.Statement;
  private readonly upsertRow: Database.Statement;
  private readonly deleteRow: Database.Statement;
  private readonly countRows: Database.Statement;
  private readonly firstChunk: Database.Statement;
  private readonly nextChunk: Database.Statement;
  private readonly statements = new Map<string, Database.Statement>();
  /** `"a", "b", ...`: the columns in `columns` order, quoted. */
  private readonly columnList: string;

  constructor(
    private readonly db: Database.Database,
    readonly name: string,
    spec: TableSchema,
  ) {
    this.columns = Object.freeze(Object.keys(spec.columns));
    this.primaryKey = spec.primaryKey;
    this.keyIndex = this.columns.indexOf(spec.primaryKey);
    this.isJson = this.columns.map((column) => spec.columns[column] === 'json');
    this.jsonIndexes = this.columns.flatMap((_, i) => (this.isJson[i] ? [i] : []));

    const sql = tableStatements(name, spec);
    const table = quoteIdentifier(name);
    const pk = quoteIdentifier(spec.primaryKey);
    const list = (this.columnList = sql.columnList);
    this.selectOne = db.prepare(sql.selectOne).raw(true);
    this.upsertRow = db.prepare(sql.upsert);
    this.deleteRow = db.prepare(sql.delete);
    this.countRows = db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck();
    this.firstChunk = db.prepare(`SELECT ${list} FROM ${table} ORDER BY ${pk} LIMIT ?`).raw(true);
    this.nextChunk = db.prepare(`SELECT ${list} FROM ${table} WHERE ${pk} > ? ORDER BY ${pk} LIMIT ?`).raw(true);
  }

  /** The current row with that key (json columns decoded), or null. */
  get(key: Key): Row | null {
    const values = this.selectOne.get(key) as unknown[] | undefined;
    return values ? this.toRows([values])[0] : null;
  }

  /**
   * The whole row: every column in schema order, missing ones NULL, the key set to `key` when
   * given (a row always belongs to the key it was written under). Only schema columns are kept.
   */
  whole(row: Row, key?: Key): Row {
    const whole: Row = {};
    for (const column of this.columns) whole[column] = row[column] ?? null;
    if (key !== undefined) whole[this.primaryKey] = key;
    return whole;
  }

  /** Inserts or overwrites a whole row (see `whole`). */
  upsert(row: Row): void {
    const params = new Array<unknown>(this.columns.length);
    for (let i = 0; i < params.length; i++) {
      const value = row[this.columns[i]] ?? null;
      params[i] = this.isJson[i] ? jsonToSql(value) : value;
    }
    this.upsertRow.run(params);
  }

  /** Deletes the row with that key; true if there was one. */
  delete(key: Key): boolean {
    return this.deleteRow.run(key).changes > 0;
  }

  count(): number {
    return this.countRows.get() as number;
  }

  /** The rows whose `column` holds one of `values` (every row without a column), json columns decoded. */
  select(column: string | undefined, values: readonly unknown[] = []): Row[] {
    const list = this.columnList;
    const table = quoteIdentifier(this.name);
    if (column === undefined) return this.toRows(this.statement(`SELECT ${list} FROM ${table}`).raw(true).all() as unknown[][]);
    const rows: Row[] = [];
    // In slices: a statement takes a bounded number of parameters.
    for (let i = 0; i < values.length; i += 500) {
      const slice = values.slice(i, i + 500);
      const sql = `SELECT ${list} FROM ${table} WHERE ${quoteIdentifier(column)} IN (${slice.map(() => '?').join(', ')})`;
      rows.push(
        ...this.toRows(
          this.statement(sql)
            .raw(true)
            .all(...slice) as unknown[][],
        ),
      );
    }
    return rows;
  }

  /** How many rows `filter` (a condition over this table's columns) lets through. */
  countWhere(filter: SqlCondition): number {
    return this.statement(`SELECT COUNT(*) FROM ${quoteIdentifier(this.name)} WHERE (${filter.sql})`)
      .pluck()
      .get(...filter.params) as number;
  }

  /** As `chunk`, of the rows `filter` lets through. */
  chunkWhere(filter: SqlCondition, after: Key | undefined, limit: number): unknown[][] {
    const pk = quoteIdentifier(this.primaryKey);
    const base = `SELECT ${this.columnList} FROM ${quoteIdentifier(this.name)} WHERE (${filter.sql})`;
    const rows = (
      after === undefined
        ? this.statement(`${base} ORDER BY ${pk} LIMIT ?`)
            .raw(true)
            .all(...filter.params, limit)
        : this.statement(`${base} AND ${pk} > ? ORDER BY ${pk} LIMIT ?`)
            .raw(true)
            .all(...filter.params, after, limit)
    ) as unknown[][];
    if (this.jsonIndexes.length) for (const values of rows) this.decode(values);
    return rows;
  }

  /** A statement by its SQL, prepared once: every user of the same rules reads with the same SQL. */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= 256) this.statements.clear();
      this.statements.set(sql, (statement = this.db.prepare(sql)));
    }
    return statement;
  }

  private toRows(arrays: unknown[][]): Row[] {
    return arrays.map((values) => {
      this.decode(values);
      const row: Row = {};
      for (let i = 0; i < values.length; i++) row[this.columns[i]] = values[i];
      return row;
    });
  }

  /**
   * Up to `limit` rows as arrays in `columns` order, ordered by primary key, after the key `after`
   * (from the start when undefined): keyset pagination, so every chunk is an index range scan.
   */
  chunk(after: Key | undefined, limit: number): unknown[][] {
    const rows = (after === undefined ? this.firstChunk.all(limit) : this.nextChunk.all(after, limit)) as unknown[][];
    if (this.jsonIndexes.length) for (const values of rows) this.decode(values);
    return rows;
  }

  /** Parses the json columns of one row of values, in place. */
  private decode(values: unknown[]): void {
    for (const i of this.jsonIndexes) {
      const text = values[i];
      if (typeof text === 'string') values[i] = JSON.parse(text);
    }
  }
}
