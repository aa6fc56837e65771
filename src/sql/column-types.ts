import type { ColumnType } from '../protocol/index.js';

/** How each schema column type is declared in SQLite, on the client and in the embedded server store alike. */
export const SQL_COLUMN_TYPE: Readonly<Record<ColumnType, string>> = { text: 'TEXT', integer: 'INTEGER', real: 'REAL', json: 'TEXT' };

/** A `json` column's value as stored: JSON text, or SQL NULL for null. */
export const jsonToSql = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
