/** SQL helpers shared by the client's wa-sqlite database and the server's embedded SQLite store. */
export { isPlainIdentifier, quoteIdentifier } from './identifiers.js';
export { SQL_COLUMN_TYPE, jsonToSql } from './column-types.js';
export { tableStatements } from './table-statements.js';
export { indexChanges, MANAGED_INDEXES_SQL } from './schema-indexes.js';
