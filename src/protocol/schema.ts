import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { formatDecodeErrors } from './decode-errors.js';
import { fnv1a64Hex } from './hash.js';
import { isPlainIdentifier } from '../sql/identifiers.js';
import type { Key } from './messages.js';

/** Column types a synced table may use. `json` is any JSON value, stored as text in SQLite. */
export const ColumnTypeCodec = t.keyof({ text: null, integer: null, real: null, json: null });
export type ColumnType = t.TypeOf<typeof ColumnTypeCodec>;

/**
 * An index of a synced table: one column, or several in order (as in RxDB's schemas). rxsync names
 * and creates it in the client's database and in the reference server's SQLite store.
 */
export const IndexDeclarationCodec = t.union([t.string, t.readonlyArray(t.string)]);
export type IndexDeclaration = t.TypeOf<typeof IndexDeclarationCodec>;

export const TableSchemaCodec = t.intersection([
  t.type({
    primaryKey: t.string,
    columns: t.record(t.string, ColumnTypeCodec),
  }),
  t.partial({
    /** Indexes for the queries the app runs (`ORDER BY updated_at DESC LIMIT 20` wants `['updated_at']`). */
    indexes: t.readonlyArray(IndexDeclarationCodec),
  }),
]);
export type TableSchema = t.TypeOf<typeof TableSchemaCodec>;

/** The schema as written by users and shipped in JSON files (`rxsync serve --schema`). */
export const SchemaDefinitionCodec = t.type({ tables: t.record(t.string, TableSchemaCodec) });
export type SchemaDefinition = t.TypeOf<typeof SchemaDefinitionCodec>;

/** A schema's tables, by name. */
export type SchemaTables = SchemaDefinition['tables'];

/** Type-only (no value has it): where a SyncSchema keeps the type of its tables as declared. */
declare const declaredTables: unique symbol;

/**
 * A checked schema: identifiers validated, frozen, with its stable hash computed once. `Tables`
 * is its tables as written where the compiler saw them (`defineSchema({ tables: { ... } })` in
 * code), so that a client's rows are typed from it ({@link RowOf}); a schema read at run time (a
 * JSON file) has the wide default, and takes any table name and any row.
 */
export interface SyncSchema<Tables extends SchemaTables = SchemaTables> {
  /** Every table by name; indexable by any string (check the name with `tableOf` or `tableNames`). */
  readonly tables: SchemaTables & Tables;
  readonly hash: string;
  readonly tableNames: readonly string[];
  /** Never set: carries the declared tables' type for {@link TableName} and {@link RowOf}. */
  readonly [declaredTables]?: Tables;
}

/**
 * Identifiers reach SQL (quoted) only after they were checked against the schema; the schema
 * itself only allows plain identifiers, so a hostile name cannot even be declared.
 */
const MAX_IDENTIFIER_LENGTH = 63;
const RESERVED_PREFIXES = ['sqlite_', '_rxsync'];

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  readonly code = 'invalid_schema';
}

export function isIdentifier(name: string): boolean {
  return isPlainIdentifier(name) && name.length <= MAX_IDENTIFIER_LENGTH && !RESERVED_PREFIXES.some((p) => name.toLowerCase().startsWith(p));
}

/**
 * Checks a schema definition (from code or a JSON file) and returns the frozen SyncSchema.
 *
 * Written in code, the schema keeps its tables' types (`SyncSchema<{ todos: ... }>`), and a
 * client made with it types its rows: see {@link RowOf}. Anything else (a JSON file, a value
 * built at run time, a literal the compiler cannot check against the column types) gives the wide
 * `SyncSchema`: any table name, any row, checked at run time only. Needs TypeScript 5.0 or later
 * (a `const` type parameter).
 */
export function defineSchema<const D extends SchemaDefinition>(definition: D): SyncSchema<0 extends 1 & D ? SchemaTables : D['tables']>; // `any` (JSON.parse) is wide
export function defineSchema(definition: unknown): SyncSchema;
export function defineSchema(definition: unknown): SyncSchema {
  const decoded = SchemaDefinitionCodec.decode(definition);
  if (isLeft(decoded)) throw new SchemaError(`invalid schema: ${formatDecodeErrors(decoded.left)}`);
  const tables = decoded.right.tables;
  const tableNames = Object.keys(tables).sort();
  if (tableNames.length === 0) throw new SchemaError('a schema needs at least one table');
  // SQLite compares identifiers without regard to case: `todos` and `TODOS` would be one table.
  const lowerTables = new Set(tableNames.map((name) => name.toLowerCase()));
  if (lowerTables.size !== tableNames.length) throw new SchemaError('two tables have the same name but for case');
  for (const name of tableNames) {
    if (!isIdentifier(name)) throw new SchemaError(`table name ${JSON.stringify(name)} is not a plain identifier`);
    const table = tables[name];
    const columns = Object.keys(table.columns);
    if (new Set(columns.map((c) => c.toLowerCase())).size !== columns.length) {
      throw new SchemaError(`table ${name}: two columns have the same name but for case`);
    }
    for (const column of columns) {
      if (!isIdentifier(column)) throw new SchemaError(`column ${name}.${JSON.stringify(column)} is not a plain identifier`);
    }
    const pkType = table.columns[table.primaryKey];
    if (!pkType) throw new SchemaError(`table ${name}: primary key ${JSON.stringify(table.primaryKey)} is not one of its columns`);
    if (pkType !== 'text' && pkType !== 'integer') throw new SchemaError(`table ${name}: primary key must be text or integer, not ${pkType}`);
  }
  const canonical: SchemaDefinition = { tables: {} };
  for (const name of tableNames) {
    const table = tables[name];
    const columns: Record<string, ColumnType> = {};
    for (const column of Object.keys(table.columns).sort()) columns[column] = table.columns[column];
    const indexes = table.indexes && checkedIndexes(name, table);
    canonical.tables[name] = Object.freeze({ primaryKey: table.primaryKey, columns: Object.freeze(columns), ...(indexes && { indexes }) });
  }
  return Object.freeze({
    tables: Object.freeze(canonical.tables),
    tableNames: Object.freeze(tableNames),
    hash: schemaHash(canonical),
  });
}

/** Most columns an index may have. */
const MAX_INDEX_COLUMNS = 8;

/** A table's indexes as declared (frozen): every column declared, none twice, no index twice. */
function checkedIndexes(name: string, table: TableSchema): readonly IndexDeclaration[] {
  const seen = new Set<string>();
  return Object.freeze(
    (table.indexes ?? []).map((declared) => {
      const columns = typeof declared === 'string' ? [declared] : [...declared];
      const what = `table ${name}: index ${JSON.stringify(declared)}`;
      if (columns.length === 0) throw new SchemaError(`${what} has no column`);
      if (columns.length > MAX_INDEX_COLUMNS) throw new SchemaError(`${what} has more than ${MAX_INDEX_COLUMNS} columns`);
      for (const column of columns) {
        if (!Object.hasOwn(table.columns, column)) throw new SchemaError(`${what}: ${JSON.stringify(column)} is not a column of ${name}`);
      }
      if (new Set(columns).size !== columns.length) throw new SchemaError(`${what} names a column twice`);
      const key = JSON.stringify(columns);
      if (seen.has(key)) throw new SchemaError(`${what} is declared twice`);
      seen.add(key);
      return typeof declared === 'string' ? declared : Object.freeze(columns);
    }),
  );
}

/**
 * A stable hash of the schema: the same tables, keys and column types give the same hash whatever
 * the order they were written in, on the client and the server alike (no crypto API needed).
 * Indexes are left out: they change how fast a database answers, not what it holds, so a client
 * may declare indexes its server does not have, and adding one resets nobody.
 */
export function schemaHash(definition: SchemaDefinition): string {
  const names = Object.keys(definition.tables).sort();
  const canonical = names.map((name) => {
    const table = definition.tables[name];
    const columns = Object.keys(table.columns)
      .sort()
      .map((c) => [c, table.columns[c]]);
    return [name, table.primaryKey, columns];
  });
  return fnv1a64Hex(JSON.stringify(canonical));
}

/** The plain definition (without hash), for sending a schema over the wire or writing it to a file. */
export function schemaDefinition(schema: SyncSchema): SchemaDefinition {
  return { tables: schema.tables };
}

// ---- rows typed from the schema ------------------------------------------------------------

/** The tables of schema S as declared (the wide SchemaTables for a schema read at run time). */
type DeclaredTables<S extends SyncSchema> = NonNullable<S[typeof declaredTables]>;

/** The table names of a schema: the literal names of a schema defined in code, `string` for a wide one. */
export type TableName<S extends SyncSchema> = Extract<keyof DeclaredTables<S>, string>;

/** What a column of type `C` holds in the API's rows (null aside): `json` is any JSON value. */
export type ColumnValue<C extends ColumnType> = C extends 'text' ? string : C extends 'integer' | 'real' ? number : unknown;

/** What a column of type `C` reads as from SQL (null aside): `json` columns are stored as JSON text. */
export type StoredColumnValue<C extends ColumnType> = C extends 'text' | 'json' ? string : number;

type Columns<S extends SyncSchema, T extends TableName<S>> = DeclaredTables<S>[T]['columns'];
type KeyColumn<S extends SyncSchema, T extends TableName<S>> = DeclaredTables<S>[T]['primaryKey'];
/** Shows a mapped intersection as one object type (keeping `?`), for readable errors and hovers. */
type Flatten<O> = { [K in keyof O]: O[K] } & {};

/** The type of table T's primary key (`string` or `number`; `Key` for a wide schema). */
export type KeyOf<S extends SyncSchema, T extends TableName<S>> = Key & ColumnValue<Columns<S, T>[KeyColumn<S, T>]>;

/**
 * A whole row of table T as the API takes and gives it (protocol rows, `localChanges()`): the
 * primary key is never null; every other column may be (columns have no NOT NULL: a column a
 * write left out is NULL). `json` columns are any JSON value. Any columns for a wide schema.
 */
export type RowOf<S extends SyncSchema, T extends TableName<S>> = {
  -readonly [C in keyof Columns<S, T>]: C extends KeyColumn<S, T> ? ColumnValue<Columns<S, T>[C]> : ColumnValue<Columns<S, T>[C]> | null;
};

/** What `insert` takes: the primary key, and any of the other columns (those left out are NULL). */
export type InsertRowOf<S extends SyncSchema, T extends TableName<S>> = Flatten<
  Pick<RowOf<S, T>, KeyColumn<S, T> & keyof RowOf<S, T>> & Partial<Omit<RowOf<S, T>, KeyColumn<S, T>>>
>;

/** What `update` takes: any columns (the primary key only if it is the row's own). */
export type PatchOf<S extends SyncSchema, T extends TableName<S>> = Partial<RowOf<S, T>>;

/**
 * A row of table T as SQL reads it from the local database (`query`/`watch` of `SELECT *`):
 * `json` columns are their JSON text. For `watch<StoredRowOf<typeof schema, 'todos'>>(...)`.
 */
export type StoredRowOf<S extends SyncSchema, T extends TableName<S>> = {
  -readonly [C in keyof Columns<S, T>]: C extends KeyColumn<S, T> ? StoredColumnValue<Columns<S, T>[C]> : StoredColumnValue<Columns<S, T>[C]> | null;
};
