import { defineSchema } from '../../src/protocol/index.js';

/** The schema most server and engine specs use: one text-keyed table with every column type. */
export const testSchema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer', score: 'real', meta: 'json' } },
    counters: { primaryKey: 'n', columns: { n: 'integer', label: 'text' } },
  },
});

/** A server change inserting todo(1) under key `id` at `lsn` (with `extra` columns on top), as a fake server sends it. */
export const todoInsert = (lsn: string, id: string, extra: Record<string, unknown> = {}) => ({
  lsn,
  table: 'todos',
  op: 'insert' as const,
  key: id,
  row: { ...todo(1), id, ...extra },
});

export const todo = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `t${String(i).padStart(5, '0')}`,
  title: `todo ${i}`,
  done: i % 2,
  score: i + 0.5,
  meta: { i },
  ...extra,
});
