import type { Pgoutput } from 'pg-logical-replication';
import type { PostgresTable } from './pg-values.js';

/** A change to the synced tables that schema.json no longer describes: replication stops on it. */
export class SchemaDriftError extends Error {
  override readonly name = 'SchemaDriftError';
}

/**
 * A synced table's shape as the WAL has it now (a pgoutput relation message) against what
 * schema.json relies on: a rename, a column gone or retyped is drift and throws, naming each. A
 * column added is not: it is not synced until schema.json names it.
 */
export function checkRelation(message: Pgoutput.MessageRelation, table: PostgresTable, namespace: string): void {
  const problems: string[] = [];
  if (message.name !== table.name || message.schema !== namespace) {
    problems.push(`table ${namespace}.${table.name} was renamed to ${message.schema}.${message.name}`);
  }
  for (const column of table.columns) {
    const found = message.columns.find((c) => c.name === column.column);
    if (!found) problems.push(`${table.name}.${column.column} is no longer in Postgres (dropped or renamed)`);
    else if (found.typeOid !== column.typeOid) problems.push(`${table.name}.${column.column} changed type in Postgres (it was ${column.pgType})`);
  }
  if (problems.length) {
    throw new SchemaDriftError(
      `the synced tables changed in Postgres and no longer match schema.json; replication stops until they do:\n- ${problems.join('\n- ')}`,
    );
  }
}
