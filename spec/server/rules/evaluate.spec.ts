import type { ColumnType } from '../../../src/protocol/index.js';
import { coerceToColumn, evaluate } from '../../../src/server/rules/evaluate.js';
import { parseExpression } from '../../../src/server/rules/parse-expression.js';

const types: Record<string, ColumnType> = { name: 'text', n: 'integer', x: 'real', meta: 'json', owner: 'text' };
const claims = { sub: 'alice', n: 3, numeric: '3', decimal: '2.5', admin: true, org: { id: 1 }, none: null };

/** `where` (no subqueries) on `row`, with the claims above. */
const check = (where: string, row: Record<string, unknown> = {}, inSubquery = (_id: number, _value: unknown) => false) =>
  evaluate(parseExpression(where).expr, row, { claims, inSubquery }, types);

describe('evaluate', () => {
  it('follows SQL three-valued logic for AND, OR and NOT', () => {
    const values = { T: 'TRUE', F: 'FALSE', U: 'n = 1' }; // n is NULL in the row: unknown
    const truth = { T: true, F: false, U: null };
    const and = { TT: 'T', TF: 'F', TU: 'U', FF: 'F', FU: 'F', UU: 'U' };
    const or = { TT: 'T', TF: 'T', TU: 'T', FF: 'F', FU: 'U', UU: 'U' };
    for (const [pair, result] of Object.entries(and)) {
      const [a, b] = pair.split('') as Array<keyof typeof values>;
      expect(check(`${values[a]} AND ${values[b]}`, { n: null })).toBe(truth[result as keyof typeof truth]);
      expect(check(`${values[b]} AND ${values[a]}`, { n: null })).toBe(truth[result as keyof typeof truth]);
    }
    for (const [pair, result] of Object.entries(or)) {
      const [a, b] = pair.split('') as Array<keyof typeof values>;
      expect(check(`${values[a]} OR ${values[b]}`, { n: null })).toBe(truth[result as keyof typeof truth]);
      expect(check(`${values[b]} OR ${values[a]}`, { n: null })).toBe(truth[result as keyof typeof truth]);
    }
    expect(check('NOT TRUE')).toBe(false);
    expect(check('NOT n = 1', { n: null })).toBe(null);
  });

  it('compares a column with a NULL value, or a claim that is missing or does not fit, as unknown', () => {
    expect(check('name = auth.sub', { name: null })).toBe(null);
    expect(check('name != auth.sub', { name: null })).toBe(null);
    expect(check('name = auth.missing', { name: 'alice' })).toBe(null);
    expect(check('name != auth.none', { name: 'alice' })).toBe(null);
    expect(check('n = auth.org', { n: 1 })).toBe(null);
    expect(check('n != auth.sub', { n: 1 })).toBe(null);
    expect(check('name = auth.sub', { name: 'alice' })).toBe(true);
    expect(check('name = auth.sub', {})).toBe(null); // a column missing from the row is NULL
  });

  it('coerces a claim to the type of the column it is compared with', () => {
    expect(check('n = auth.numeric', { n: 3 })).toBe(true);
    expect(check('name = auth.n', { name: '3' })).toBe(true);
    expect(check('x > auth.decimal', { x: 2.75 })).toBe(true);
    expect(check('n = auth.admin', { n: 1 })).toBe(true);
    expect(check('n = auth.decimal', { n: 2 })).toBe(null); // 2.5 is no integer
    expect(check('name = auth.admin', { name: 'true' })).toBe(null);
  });

  it('compares claims with claims and literals only when they are of one kind', () => {
    expect(check("auth.sub = 'alice'")).toBe(true);
    expect(check('auth.n = 3')).toBe(true);
    expect(check('auth.numeric = 3')).toBe(null);
    expect(check('auth.n > auth.numeric')).toBe(null);
    expect(check('auth.admin = TRUE')).toBe(true);
    expect(check('auth.missing = 1')).toBe(null);
    expect(check('auth.missing IS NULL AND auth.none IS NULL AND auth.org IS NOT NULL')).toBe(true);
    expect(check('auth.constructor IS NULL')).toBe(true); // only the payload's own keys are claims
  });

  it('orders text by code point, as SQLite and Postgres ("C") order UTF-8 bytes', () => {
    expect(check("name < 'b'", { name: 'B' })).toBe(true);
    expect(check("name < 'a'", { name: 'Z' })).toBe(true);
    // U+FFFD sorts before U+1F600 by code point, after its surrogates by UTF-16 code unit.
    expect(check("name < '😀'", { name: '\uFFFD' })).toBe(true);
    expect(check("name > '\uFFFD'", { name: '😀' })).toBe(true);
    expect(check("name < 'ab'", { name: 'a' })).toBe(true);
  });

  it('compares numbers of integer and real columns alike', () => {
    expect(check('n < x', { n: 2, x: 2.5 })).toBe(true);
    expect(check('n = x', { n: 2, x: 2 })).toBe(true);
    expect(check('x >= -1.5', { x: -1.5 })).toBe(true);
  });

  it('reads IS NULL of any column, json included', () => {
    expect(check('meta IS NULL', { meta: null })).toBe(true);
    expect(check('meta IS NOT NULL', { meta: { a: 1 } })).toBe(true);
    expect(check('name IS NULL', {})).toBe(true);
  });

  it('reads IN lists as SQL does, NULL items included', () => {
    expect(check('n IN (1, 2)', { n: 2 })).toBe(true);
    expect(check('n IN (1, 2)', { n: 3 })).toBe(false);
    expect(check('n IN (1, NULL)', { n: 1 })).toBe(true);
    expect(check('n IN (1, NULL)', { n: 3 })).toBe(null);
    expect(check('n IN (1, 2)', { n: null })).toBe(null);
    expect(check('n NOT IN (1, 2)', { n: 3 })).toBe(true);
    expect(check('n NOT IN (1, NULL)', { n: 3 })).toBe(null);
    expect(check('n NOT IN (1, NULL)', { n: 1 })).toBe(false);
    expect(check('n IN (auth.numeric, auth.missing)', { n: 3 })).toBe(true);
    expect(check('n IN (auth.sub)', { n: 3 })).toBe(null);
    expect(check("auth.sub IN ('bob', 'alice')")).toBe(true);
  });

  it('reads IN (SELECT ...) as membership: never unknown, and NULL is in no set', () => {
    const asked: unknown[] = [];
    const inSubquery = (id: number, value: unknown) => {
      asked.push([id, value]);
      return value === 'l1';
    };
    const where = 'owner IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)';
    expect(check(where, { owner: 'l1' }, inSubquery)).toBe(true);
    expect(check(where, { owner: 'l2' }, inSubquery)).toBe(false);
    expect(check(where, { owner: null }, inSubquery)).toBe(false);
    expect(check(where.replace(' IN', ' NOT IN'), { owner: null }, inSubquery)).toBe(true);
    expect(check(where.replace(' IN', ' NOT IN'), { owner: 'l1' }, inSubquery)).toBe(false);
    expect(asked).toEqual([
      [0, 'l1'],
      [0, 'l2'],
      [0, 'l1'],
    ]);
  });
});

describe('coerceToColumn', () => {
  it.each<[unknown, ColumnType, unknown]>([
    [3, 'integer', 3],
    ['42', 'integer', 42],
    ['-7', 'integer', -7],
    ['4.0', 'integer', 4],
    [true, 'integer', 1],
    [false, 'integer', 0],
    [1.5, 'integer', null],
    ['1.5', 'integer', null],
    [2 ** 60, 'integer', null],
    ['abc', 'integer', null],
    ['', 'integer', null],
    [' 1', 'integer', null],
    [null, 'integer', null],
    [undefined, 'integer', null],
    [{}, 'integer', null],
    [[1], 'integer', null],
    [1.5, 'real', 1.5],
    ['2.5', 'real', 2.5],
    ['1e3', 'real', 1000],
    ['1e999', 'real', null],
    [true, 'real', 1],
    ['x', 'real', null],
    ['abc', 'text', 'abc'],
    [42, 'text', '42'],
    [2.5, 'text', '2.5'],
    [true, 'text', null],
    [null, 'text', null],
    [{ a: 1 }, 'text', null],
    ['abc', 'json', null],
  ])('%p as %s is %p', (value, type, expected) => {
    expect(coerceToColumn(value, type)).toBe(expected);
  });
});
