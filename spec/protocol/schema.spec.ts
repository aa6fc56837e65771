import { defineSchema, schemaHash, SchemaError } from '../../src/protocol/index.js';

const todos = { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer' } } as const;

describe('defineSchema', () => {
  it('gives the same hash whatever order tables and columns were written in', () => {
    const a = defineSchema({ tables: { todos, notes: { primaryKey: 'n', columns: { n: 'integer', body: 'json' } } } });
    const b = defineSchema({
      tables: {
        notes: { primaryKey: 'n', columns: { body: 'json', n: 'integer' } },
        todos: { primaryKey: 'id', columns: { done: 'integer', title: 'text', id: 'text' } },
      },
    });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(a.tableNames).toEqual(['notes', 'todos']);
  });

  it('changes the hash when a column type, a column or the key changes', () => {
    const base = defineSchema({ tables: { todos } }).hash;
    expect(defineSchema({ tables: { todos: { ...todos, columns: { ...todos.columns, done: 'real' } } } }).hash).not.toBe(base);
    expect(defineSchema({ tables: { todos: { ...todos, columns: { ...todos.columns, extra: 'text' } } } }).hash).not.toBe(base);
    expect(defineSchema({ tables: { todos: { ...todos, primaryKey: 'title' } } }).hash).not.toBe(base);
    expect(schemaHash({ tables: { todos } })).toBe(base);
  });

  it.each([
    [{ tables: {} }, /at least one table/],
    [{ tables: { 'bad name': todos } }, /not a plain identifier/],
    [{ tables: { 'todos"; DROP TABLE x; --': todos } }, /not a plain identifier/],
    [{ tables: { _rxsync_changes: todos } }, /not a plain identifier/],
    [{ tables: { sqlite_master: todos } }, /not a plain identifier/],
    [{ tables: { todos: { ...todos, columns: { ...todos.columns, 'a-b': 'text' } } } }, /not a plain identifier/],
    [{ tables: { todos: { ...todos, primaryKey: 'nope' } } }, /primary key "nope" is not one of its columns/],
    [{ tables: { todos: { primaryKey: 'id', columns: { id: 'json' } } } }, /must be text or integer/],
    [{ tables: { todos: { primaryKey: 'id', columns: { id: 'blob' } } } }, /invalid schema/],
    [{ nothing: true }, /invalid schema/],
    [{ tables: { todos, TODOS: todos } }, /same name but for case/],
    [{ tables: { todos: { ...todos, columns: { ...todos.columns, Title: 'text' } } } }, /same name but for case/],
  ])('refuses %j', (definition, message) => {
    expect(() => defineSchema(definition)).toThrow(SchemaError);
    expect(() => defineSchema(definition)).toThrow(message);
  });

  it('is frozen', () => {
    const schema = defineSchema({ tables: { todos } });
    expect(Object.isFrozen(schema)).toBe(true);
    expect(Object.isFrozen(schema.tables.todos.columns)).toBe(true);
  });
});
