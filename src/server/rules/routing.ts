import type { Expr } from './ast.js';
import { columnEqualsClaim, conjuncts, disjuncts, walk } from './expr-walk.js';

/**
 * How the fan-out finds the sessions a changed row may concern without evaluating every stream
 * for every session: a stream's rows are those of one of its disjuncts, and a disjunct with a
 * routing term holds only rows whose `column` equals a claim of the session (`claim`; the claim
 * coerced to the column's type with coerceToColumn, as evaluate does) or a value of one of the
 * session's subquery sets (`subquery`).
 */
export type RoutingTerm =
  | { readonly kind: 'claim'; readonly column: string; readonly claim: string }
  | { readonly kind: 'subquery'; readonly column: string; readonly subquery: number };

/**
 * One entry per top-level OR-disjunct of a stream's WHERE (nested ORs flattened; an expression
 * that is no OR is one disjunct): the routing term of that disjunct, from its top-level
 * AND-conjuncts, `column = auth.claim` preferred over a non-negated `column IN (SELECT ...)`; or
 * null when it has neither, and the disjunct must be checked for every session.
 *
 * @example routingTerms(where of "owner_id = auth.sub OR id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)")
 * // [{ kind: 'claim', column: 'owner_id', claim: 'sub' }, { kind: 'subquery', column: 'id', subquery: 0 }]
 */
export function routingTerms(where: Expr): Array<RoutingTerm | null> {
  return disjuncts(where).map(routingTerm);
}

function routingTerm(disjunct: Expr): RoutingTerm | null {
  const terms = conjuncts(disjunct);
  for (const term of terms) {
    const key = columnEqualsClaim(term);
    if (key) return { kind: 'claim', column: key.column, claim: key.claim };
  }
  for (const term of terms) {
    if (term.kind === 'in_subquery' && !term.negated && term.operand.kind === 'column') {
      return { kind: 'subquery', column: term.operand.column, subquery: term.subquery };
    }
  }
  return null;
}

/** The ids of the subqueries `expr` reads, sorted: a change to one of their tables may change its rows. */
export function dependsOnSubqueries(expr: Expr): number[] {
  const ids = new Set<number>();
  walk(expr, (node) => {
    if (node.kind === 'in_subquery') ids.add(node.subquery);
  });
  return [...ids].sort((a, b) => a - b);
}
