import { checkClientChange, checkRow, SyncProtocolError } from '../../src/protocol/index.js';
import { testSchema } from '../support/test-schema.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SyncProtocolError);
    return (error as SyncProtocolError).code;
  }
}

describe('checking rows against the schema', () => {
  it('accepts values of every column type, and null', () => {
    expect(() => checkRow(testSchema, 'todos', { id: 'a', title: null, done: 1, score: 2.5, meta: { deep: [1] } })).not.toThrow();
    expect(() => checkRow(testSchema, 'counters', { n: 3 })).not.toThrow();
  });

  it.each([
    ['unknown table', () => checkRow(testSchema, 'nope', { id: 'a' }), 'unknown_table'],
    ['prototype key as table', () => checkRow(testSchema, 'constructor', { id: 'a' }), 'unknown_table'],
    ['hostile table', () => checkRow(testSchema, 'todos; DROP TABLE todos', { id: 'a' }), 'unknown_table'],
    ['unknown column', () => checkRow(testSchema, 'todos', { id: 'a', nope: 1 }), 'unknown_column'],
    ['hostile column', () => checkRow(testSchema, 'todos', { id: 'a', 'title" = 1; --': 1 }), 'unknown_column'],
    ['text gets a number', () => checkRow(testSchema, 'todos', { id: 'a', title: 3 }), 'invalid_value'],
    ['integer gets a fraction', () => checkRow(testSchema, 'todos', { id: 'a', done: 1.5 }), 'invalid_value'],
    ['integer gets a string', () => checkRow(testSchema, 'todos', { id: 'a', done: '1' }), 'invalid_value'],
    ['real gets Infinity', () => checkRow(testSchema, 'todos', { id: 'a', score: Infinity }), 'invalid_value'],
    ['missing key', () => checkRow(testSchema, 'todos', { title: 'x' }), 'invalid_value'],
    ['integer key gets text', () => checkRow(testSchema, 'counters', { n: 'one' }), 'invalid_value'],
  ])('refuses %s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('checks client changes whole', () => {
    const ok = { id: 'c1', table: 'todos', key: 'a' };
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, op: 'insert', row: { id: 'a', title: 'x' } }))).toBeUndefined();
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, op: 'update', row: { title: 'y' } }))).toBeUndefined();
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, op: 'delete' }))).toBeUndefined();
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, op: 'insert' }))).toBe('invalid_value');
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, op: 'insert', row: { id: 'b' } }))).toBe('invalid_value');
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, op: 'update', row: { id: 'b' } }))).toBe('invalid_value');
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, key: 1, op: 'delete' }))).toBe('invalid_value');
    expect(codeOf(() => checkClientChange(testSchema, { ...ok, table: 'x', op: 'delete' }))).toBe('unknown_table');
  });
});
