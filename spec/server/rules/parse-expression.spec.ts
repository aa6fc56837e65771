import { RulesError } from '../../../src/server/rules/errors.js';
import { parseExpression } from '../../../src/server/rules/parse-expression.js';

const parse = (text: string) => parseExpression(text).expr;
const column = (name: string) => ({ kind: 'column', column: name });
const claim = (name: string) => ({ kind: 'claim', name });
const literal = (value: unknown) => ({ kind: 'literal', value });

/** The RulesError `text` fails with. */
function parseError(text: string): RulesError {
  try {
    parseExpression(text);
  } catch (error) {
    if (error instanceof RulesError) return error;
    throw error;
  }
  throw new Error(`${text} parsed`);
}

describe('parseExpression', () => {
  it('reads every comparison operator, <> as !=', () => {
    for (const op of ['=', '!=', '<', '<=', '>', '>=']) {
      expect(parse(`a ${op} 1`)).toEqual({ kind: 'compare', op, left: column('a'), right: literal(1) });
    }
    expect(parse('a<>1')).toEqual({ kind: 'compare', op: '!=', left: column('a'), right: literal(1) });
  });

  it('reads columns, claims, strings, numbers, NULL, TRUE and FALSE as operands', () => {
    expect(parse('owner_id = auth.sub')).toEqual({ kind: 'compare', op: '=', left: column('owner_id'), right: claim('sub') });
    expect(parse("auth.role = 'it''s'")).toEqual({ kind: 'compare', op: '=', left: claim('role'), right: literal("it's") });
    expect(parse("name = ''")).toMatchObject({ right: literal('') });
    expect(parse('n >= -12')).toMatchObject({ right: literal(-12) });
    expect(parse('x < 0.25')).toMatchObject({ right: literal(0.25) });
    expect(parse('x > -1.5')).toMatchObject({ right: literal(-1.5) });
    expect(parse('auth.admin = TRUE')).toEqual({ kind: 'compare', op: '=', left: claim('admin'), right: literal(true) });
    expect(parse('false != auth.admin')).toEqual({ kind: 'compare', op: '!=', left: literal(false), right: claim('admin') });
    expect(parse('NULL IS NULL')).toEqual({ kind: 'is_null', operand: literal(null), negated: false });
  });

  it('reads TRUE and FALSE alone as constant conditions', () => {
    expect(parse('TRUE')).toEqual({ kind: 'const', value: true });
    expect(parse('false')).toEqual({ kind: 'const', value: false });
    expect(parse('NOT TRUE OR (FALSE)')).toEqual({
      kind: 'or',
      items: [
        { kind: 'not', item: { kind: 'const', value: true } },
        { kind: 'const', value: false },
      ],
    });
  });

  it('reads IS NULL and IS NOT NULL', () => {
    expect(parse('a IS NULL')).toEqual({ kind: 'is_null', operand: column('a'), negated: false });
    expect(parse('auth.org is not null')).toEqual({ kind: 'is_null', operand: claim('org'), negated: true });
  });

  it('reads IN and NOT IN lists of values and claims, NULL included', () => {
    expect(parse("a IN ('x', 2, NULL, auth.sub)")).toEqual({
      kind: 'in_list',
      operand: column('a'),
      items: [literal('x'), literal(2), literal(null), claim('sub')],
      negated: false,
    });
    expect(parse('a not in (1)')).toEqual({ kind: 'in_list', operand: column('a'), items: [literal(1)], negated: true });
  });

  it('reads IN (SELECT ...) and gives each subquery its index', () => {
    const parsed = parseExpression('a IN (SELECT x FROM t WHERE u = auth.sub) OR b NOT IN (select y from s where v = 1 and w = auth.org)');
    expect(parsed.expr).toEqual({
      kind: 'or',
      items: [
        { kind: 'in_subquery', operand: column('a'), subquery: 0, negated: false },
        { kind: 'in_subquery', operand: column('b'), subquery: 1, negated: true },
      ],
    });
    expect(parsed.subqueries).toEqual([
      { table: 't', select: 'x', where: { kind: 'compare', op: '=', left: column('u'), right: claim('sub') }, offset: 6 },
      {
        table: 's',
        select: 'y',
        where: {
          kind: 'and',
          items: [
            { kind: 'compare', op: '=', left: column('v'), right: literal(1) },
            { kind: 'compare', op: '=', left: column('w'), right: claim('org') },
          ],
        },
        offset: 55,
      },
    ]);
  });

  it('binds NOT tighter than AND, and AND tighter than OR', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => ({ kind: 'compare', op: '=', left: column(name), right: literal(1) }));
    expect(parse('NOT a = 1 AND b = 1 OR c = 1')).toEqual({ kind: 'or', items: [{ kind: 'and', items: [{ kind: 'not', item: a }, b] }, c] });
    expect(parse('a = 1 OR b = 1 AND c = 1')).toEqual({ kind: 'or', items: [a, { kind: 'and', items: [b, c] }] });
    expect(parse('NOT (a = 1 OR b = 1)')).toEqual({ kind: 'not', item: { kind: 'or', items: [a, b] } });
    expect(parse('NOT NOT a = 1')).toEqual({ kind: 'not', item: { kind: 'not', item: a } });
  });

  it('flattens nested ANDs and ORs, so that redundant parentheses do not change the result', () => {
    expect(parse('(a = 1 AND (b = 1)) AND c = 1')).toEqual(parse('a = 1 AND b = 1 AND c = 1'));
    expect(parse('a = 1 OR (b = 1 OR c = 1)')).toEqual(parse('a = 1 OR b = 1 OR c = 1'));
    expect(parse('a = 1 AND (b = 1 OR c = 1)')).toMatchObject({ kind: 'and', items: [{}, { kind: 'or' }] });
  });

  it('reads keywords in any case and ignores whitespace', () => {
    expect(parse('a iS nOt NuLl AnD b In (1)')).toEqual(parse('a IS NOT NULL AND b IN (1)'));
    expect(parse('\n  a\t=\n1  ')).toEqual(parse('a=1'));
    expect(parse('a=1')).toEqual(parse('a = 1'));
  });

  describe('errors, with the offset of the token at fault', () => {
    it.each([
      ['a IN (1, 2 FROM x)', "expected ')' after the IN list, found 'FROM' at 11"],
      ['a = ', "expected a column, auth.<claim> or a value after '=', found the end of the expression at 4"],
      ['a', "expected a comparison, IS or IN after 'a', found the end of the expression at 1"],
      ['auth.sub', "expected a comparison, IS or IN after 'auth.sub', found the end of the expression at 8"],
      ['a = 1 b = 2', "expected AND, OR or the end of the expression, found 'b' at 6"],
      ['(a = 1', "expected ')' after the parenthesized condition, found the end of the expression at 6"],
      ['a IS 1', "expected NULL after 'IS', found '1' at 5"],
      ['a IS NOT TRUE', "expected NULL after 'IS NOT', found 'TRUE' at 9"],
      ['a NOT = 1', "expected IN after 'NOT', found '=' at 6"],
      ['a IN 1', "expected '(' after 'IN', found '1' at 5"],
      ['a IN ()', "expected a column, auth.<claim> or a value in the IN list, found ')' at 6"],
      ['a IN (b)', "an IN list holds values and claims, not columns: found 'b' at 6"],
      ['= 1', "expected a column, auth.<claim> or a value to start a condition, found '=' at 0"],
      ['a = FROM', "expected a column, auth.<claim> or a value after '=', found 'FROM' at 4"],
      ["a = 'open", 'unterminated string starting at 4'],
      ['a = "x"', `unexpected '"' at 4: strings are written in single quotes ('text')`],
      ['a = 1 # 2', 'unexpected character "#" at 6'],
      ['a = 99999999999999999999', 'number 99999999999999999999 at 4 is out of range'],
      ['auth', "expected '.' and a claim name after 'auth' (claims are written auth.<name>), found the end of the expression at 4"],
      ['auth = 1', "expected '.' and a claim name after 'auth' (claims are written auth.<name>), found '=' at 5"],
      ['x = auth.', "expected a claim name after 'auth.', found the end of the expression at 9"],
      ['auth.a.b = 1', "nested claim 'auth.a.b' at 0 is not supported (claims are written auth.<name>)"],
      ['owner = user.sub', "'user.sub' at 8 is not a column or a claim (claims are written auth.<name>)"],
      ['a IN (SELECT x FROM t)', "expected WHERE after 'FROM t', found ')' at 21"],
      ['a IN (SELECT FROM t WHERE b = 1)', "expected a column name after SELECT, found 'FROM' at 13"],
      ['a IN (SELECT x t WHERE b = 1)', "expected FROM after 'SELECT x', found 't' at 15"],
      ['a IN (SELECT x FROM t WHERE b = 1', "expected ')' after the subquery, found the end of the expression at 33"],
      [
        'a IN (SELECT x FROM t WHERE u = auth.sub AND y IN (SELECT z FROM s WHERE v = auth.sub))',
        "a subquery cannot contain another subquery: found 'SELECT' at 51",
      ],
    ])('%s', (text, message) => {
      const error = parseError(text);
      expect(error.message).toBe(message);
      expect(error.code).toBe('invalid_rules');
      expect(error.offset).toBe(Number(/at (\d+)/.exec(message)?.[1]));
    });
  });
});
