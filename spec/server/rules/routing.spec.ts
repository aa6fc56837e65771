import type { Expr } from '../../../src/server/rules/ast.js';
import { compileRules } from '../../../src/server/rules/compile-rules.js';
import { dependsOnSubqueries, routingTerms } from '../../../src/server/rules/routing.js';
import { listsRules, listsSchema } from './rules-fixtures.js';

const streamWhere = (table: string, where: string) => compileRules({ streams: { s: { table, where } } }, listsSchema).streams[0].where;

describe('routingTerms', () => {
  const rules = compileRules(listsRules, listsSchema);
  const [myLists, listTodos, tags] = rules.streams;

  it('routes the issue streams by claim and by subquery', () => {
    expect(routingTerms(myLists.where)).toEqual([
      { kind: 'claim', column: 'owner_id', claim: 'sub' },
      { kind: 'subquery', column: 'id', subquery: 0 },
    ]);
    expect(routingTerms(listTodos.where)).toEqual([
      { kind: 'subquery', column: 'list_id', subquery: 0 },
      { kind: 'subquery', column: 'list_id', subquery: 1 },
    ]);
  });

  it('cannot route a stream without a WHERE: every session gets its rows', () => {
    expect(routingTerms(tags.where)).toEqual([null]);
  });

  it('prefers `column = auth.claim` to a subquery within one disjunct, either way round', () => {
    const where = streamWhere('todos', 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub) AND done = 0 AND auth.list = list_id');
    expect(routingTerms(where)).toEqual([{ kind: 'claim', column: 'list_id', claim: 'list' }]);
  });

  it('finds nothing to route by under NOT, in a negated subquery, in an inequality or below a nested OR', () => {
    const where = streamWhere(
      'todos',
      'NOT list_id = auth.sub OR list_id NOT IN (SELECT id FROM lists WHERE owner_id = auth.sub) OR title != auth.sub OR (done = 1 AND (list_id = auth.a OR title = auth.b))',
    );
    expect(routingTerms(where)).toEqual([null, null, null, null]);
  });

  it('flattens nested ORs and ANDs built by hand', () => {
    const claimTerm = (column: string, name: string): Expr => ({ kind: 'compare', op: '=', left: { kind: 'column', column }, right: { kind: 'claim', name } });
    const nested: Expr = {
      kind: 'or',
      items: [
        {
          kind: 'or',
          items: [
            claimTerm('a', 'x'),
            {
              kind: 'and',
              items: [
                { kind: 'const', value: true },
                { kind: 'and', items: [claimTerm('b', 'y')] },
              ],
            },
          ],
        },
        { kind: 'const', value: false },
      ],
    };
    expect(routingTerms(nested)).toEqual([{ kind: 'claim', column: 'a', claim: 'x' }, { kind: 'claim', column: 'b', claim: 'y' }, null]);
  });
});

describe('dependsOnSubqueries', () => {
  it('lists the subqueries an expression reads, once and sorted, negated ones included', () => {
    const rules = compileRules(
      {
        streams: {
          a: { table: 'lists', where: 'id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)' },
          b: {
            table: 'todos',
            where:
              'NOT (list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub) AND list_id NOT IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)) OR list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)',
          },
        },
      },
      listsSchema,
    );
    expect(dependsOnSubqueries(rules.streams[0].where)).toEqual([0]);
    expect(dependsOnSubqueries(rules.streams[1].where)).toEqual([0, 1]);
    expect(dependsOnSubqueries({ kind: 'const', value: true })).toEqual([]);
  });
});
