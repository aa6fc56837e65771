/**
 * The data set of the initial-sync benchmark: one table, 100,000 rows by default, the same rows
 * on the server (seeded through the store) and in the raw-insert baselines (generated in memory).
 */
import { defineSchema, type SyncSchema } from '../src/protocol/index.js';

export const TABLE = 'items';

export const benchSchema: SyncSchema = defineSchema({
  tables: {
    [TABLE]: {
      primaryKey: 'id',
      columns: { id: 'text', title: 'text', body: 'text', n: 'integer', x: 'real', updated_at: 'text' },
    },
  },
});

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua';

/** Row `i` as an object (for the server store). Keys are zero-padded so key order is row order. */
export function benchRow(i: number): { id: string; title: string; body: string; n: number; x: number; updated_at: string } {
  const start = i % 20;
  return {
    id: `item-${String(i).padStart(7, '0')}`,
    title: `Item number ${i}`,
    body: `${i} ${LOREM.slice(start, start + 100 - String(i).length - 1)}`, // ~100 characters
    n: i * 7,
    x: i / 3 + 0.5,
    updated_at: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
  };
}

/** The same rows as arrays in the schema's (sorted) column order, as a snapshot chunk carries them. */
export function benchRowArrays(rows: number): { columns: string[]; values: unknown[][] } {
  const columns = Object.keys(benchSchema.tables[TABLE].columns);
  const values = new Array<unknown[]>(rows);
  for (let i = 0; i < rows; i++) {
    const row = benchRow(i) as Record<string, unknown>;
    values[i] = columns.map((c) => row[c]);
  }
  return { columns, values };
}
