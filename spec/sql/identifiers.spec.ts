import { isPlainIdentifier, quoteIdentifier } from '../../src/sql/index.js';

describe('quoteIdentifier', () => {
  it('double-quotes plain identifiers', () => {
    expect(quoteIdentifier('todos')).toBe('"todos"');
    expect(quoteIdentifier('_local_changes2')).toBe('"_local_changes2"');
    expect(quoteIdentifier('UpdatedAt')).toBe('"UpdatedAt"');
  });

  it.each(['', '1abc', 'a-b', 'a b', 'a"b', 'x"; DROP TABLE t; --', 'ü', 'a.b'])('refuses %j', (name) => {
    expect(() => quoteIdentifier(name)).toThrow(TypeError);
    expect(isPlainIdentifier(name)).toBe(false);
  });

  it('refuses non-strings', () => {
    expect(() => quoteIdentifier(42 as unknown as string)).toThrow(TypeError);
    expect(isPlainIdentifier(undefined)).toBe(false);
  });
});
