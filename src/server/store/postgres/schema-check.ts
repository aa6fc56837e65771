import { SchemaError, type ColumnType, type SyncSchema } from '../../../protocol/index.js';
import { postgresTable, type PostgresTable } from './pg-values.js';

/** What the check needs of a Postgres connection (a `pg` Client or Pool). */
export interface Queryable {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * The Postgres column types each schema type may sync from (docs/postgres.md, Types): the values
 * of those types convert to the schema's without loss, or with the documented conversion
 * (booleans to 0/1, timestamps to ISO text, numeric to a JavaScript number or its text).
 */
export const POSTGRES_TYPES: Readonly<Record<ColumnType, readonly string[]>> = {
  integer: ['smallint', 'integer', 'bigint', 'boolean'],
  real: ['real', 'double precision', 'numeric', 'smallint', 'integer', 'bigint'],
  text: [
    'text',
    'character varying',
    'character',
    'uuid',
    'date',
    'timestamp with time zone',
    'timestamp without time zone',
    'time without time zone',
    'numeric',
  ],
  json: ['json', 'jsonb'],
};

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  type_oid: number;
}
interface KeyRow {
  table_name: string;
  column_name: string;
}

/**
 * Checks that every synced table and column of `schema` exists in the Postgres schema `namespace`
 * (default `public`) with a type it can sync from, and that each table's primary key is the one
 * schema.json names. Throws one SchemaError listing every problem, each naming the table, the
 * column and what differs, so that a server never starts on a database it would sync wrongly.
 * Postgres columns schema.json does not name are not synced and not checked. Names are compared
 * as Postgres stores them (unquoted identifiers are lower case there); they reach SQL only as
 * bound parameters.
 */
export async function checkPostgresSchema(db: Queryable, schema: SyncSchema, namespace = 'public'): Promise<Map<string, PostgresTable>> {
  const tables = [...schema.tableNames];
  const { rows: columns } = await db.query<ColumnRow>(
    `SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, NULL) AS data_type, a.atttypid::int AS type_oid
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [namespace, tables],
  );
  const { rows: keys } = await db.query<KeyRow>(
    `SELECT c.relname AS table_name, a.attname AS column_name
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
      WHERE i.indisprimary AND n.nspname = $1 AND c.relname = ANY($2::text[])`,
    [namespace, tables],
  );
  const problems: string[] = [];
  for (const table of tables) {
    const spec = schema.tables[table];
    const found = new Map(columns.filter((c) => c.table_name === table).map((c) => [c.column_name, c.data_type]));
    if (found.size === 0) {
      problems.push(`table ${namespace}.${table} does not exist (schema.json syncs it)`);
      continue;
    }
    for (const [column, type] of Object.entries(spec.columns)) {
      const pgType = found.get(column);
      if (pgType === undefined) problems.push(`${table}.${column} does not exist (schema.json declares it ${type})`);
      else if (!POSTGRES_TYPES[type].includes(pgType))
        problems.push(`${table}.${column} is ${pgType} in Postgres, which does not sync as ${type} (see docs/postgres.md, Types)`);
    }
    const primaryKey = keys.filter((k) => k.table_name === table).map((k) => k.column_name);
    if (primaryKey.length === 0) problems.push(`${table} has no primary key in Postgres (schema.json says ${spec.primaryKey})`);
    else if (primaryKey.length !== 1 || primaryKey[0] !== spec.primaryKey) {
      problems.push(`${table}'s primary key is (${primaryKey.sort().join(', ')}) in Postgres, schema.json says ${spec.primaryKey}`);
    }
  }
  if (problems.length) throw new SchemaError(`the Postgres database does not match schema.json:\n- ${problems.join('\n- ')}`);
  return new Map(
    tables.map((table) => {
      const found = columns.filter((c) => c.table_name === table);
      return [table, postgresTable(table, schema.tables[table], new Map(found.map((c) => [c.column_name, { pgType: c.data_type, typeOid: c.type_oid }])))];
    }),
  );
}
