import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { formatDecodeErrors } from './decode-errors.js';
import { fnv1a64Hex } from './hash.js';
import { isPlainIdentifier } from '../sql/identifiers.js';

/** Column types a synced table may use. `json` is any JSON value, stored as text in SQLite. */
export const ColumnTypeCodec = t.keyof({ text: null, integer: null, real: null, json: null });
export type ColumnType = t.TypeOf<typeof ColumnTypeCodec>;

export const TableSchemaCodec = t.type({
  primaryKey: t.string,
  columns: t.record(t.string, ColumnTypeCodec),
});
export type TableSchema = t.TypeOf<typeof TableSchemaCodec>;

/** The schema as written by users and shipped in JSON files (`rxsync serve --schema`). */
export const SchemaDefinitionCodec = t.type({ tables: t.record(t.string, TableSchemaCodec) });
export type SchemaDefinition = t.TypeOf<typeof SchemaDefinitionCodec>;

/** A checked schema: identifiers validated, frozen, with its stable hash computed once. */
export interface SyncSchema extends SchemaDefinition {
  readonly hash: string;
  readonly tableNames: readonly string[];
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

/** Checks a schema definition (from code or a JSON file) and returns the frozen SyncSchema. */
export function defineSchema(definition: SchemaDefinition | unknown): SyncSchema {
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
    canonical.tables[name] = Object.freeze({ primaryKey: table.primaryKey, columns: Object.freeze(columns) });
  }
  return Object.freeze({
    tables: Object.freeze(canonical.tables),
    tableNames: Object.freeze(tableNames),
    hash: schemaHash(canonical),
  });
}

/**
 * A stable hash of the schema: the same tables, keys and column types give the same hash whatever
 * the order they were written in, on the client and the server alike (no crypto API needed).
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
