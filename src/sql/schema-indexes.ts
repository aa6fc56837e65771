/**
 * The indexes a schema declares (`indexes` per table), as SQLite DDL, for the client's database and
 * the reference server's SQLite store alike. rxsync owns every index whose name starts with
 * INDEX_PREFIX: it creates the declared ones that are missing and drops the ones no longer
 * declared, and leaves every other index (made by hand, or by the app) alone.
 */
import { fnv1a64Hex } from '../protocol/hash.js';
import type { SyncSchema } from '../protocol/schema.js';
import { quoteIdentifier } from './identifiers.js';

/** Names of the indexes rxsync manages; `_rxsync` names are refused in schemas, so no table or user index has one. */
export const INDEX_PREFIX = '_rxsync_ix_';

export interface DeclaredIndex {
  /** `_rxsync_ix_<table>_<hash of table and columns>`: stable, and distinct for every table and column list. */
  name: string;
  table: string;
  columns: readonly string[];
  /** `CREATE INDEX IF NOT EXISTS ...` */
  create: string;
}

export function declaredIndexes(schema: SyncSchema): DeclaredIndex[] {
  return schema.tableNames.flatMap((table) =>
    (schema.tables[table].indexes ?? []).map((declared) => {
      const columns = typeof declared === 'string' ? [declared] : declared;
      const name = `${INDEX_PREFIX}${table}_${fnv1a64Hex(JSON.stringify([table, columns])).slice(0, 12)}`;
      const create = `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(name)} ON ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')})`;
      return { name, table, columns, create };
    }),
  );
}

/** Lists the indexes rxsync made in a SQLite database (GLOB: case-sensitive, and `_` is no wildcard there). */
export const MANAGED_INDEXES_SQL = `SELECT name FROM sqlite_master WHERE type = 'index' AND name GLOB '${INDEX_PREFIX}*'`;

/** The statements that bring a database's managed indexes (named `existing`) to the ones `schema` declares. */
export function indexChanges(schema: SyncSchema, existing: readonly string[]): string[] {
  const declared = declaredIndexes(schema);
  const wanted = new Set(declared.map((index) => index.name));
  const drops = existing.filter((name) => !wanted.has(name)).map((name) => `DROP INDEX IF EXISTS ${quoteIdentifier(name)}`);
  const present = new Set(existing);
  return [...drops, ...declared.filter((index) => !present.has(index.name)).map((index) => index.create)];
}
