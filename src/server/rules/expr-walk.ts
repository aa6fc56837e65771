import type { Expr, Operand } from './ast.js';

/** Small structural helpers over {@link Expr} shared by the compiler, the hash and the routing. */

/** Every operand of a node (not of its children). */
export function operandsOf(expr: Expr): readonly Operand[] {
  switch (expr.kind) {
    case 'compare':
      return [expr.left, expr.right];
    case 'is_null':
    case 'in_subquery':
      return [expr.operand];
    case 'in_list':
      return [expr.operand, ...expr.items];
    default:
      return [];
  }
}

/** The node's sub-expressions. */
export function childrenOf(expr: Expr): readonly Expr[] {
  if (expr.kind === 'and' || expr.kind === 'or') return expr.items;
  if (expr.kind === 'not') return [expr.item];
  return [];
}

/** Calls `visit` on `expr` and every expression below it, parents first. */
export function walk(expr: Expr, visit: (node: Expr) => void): void {
  visit(expr);
  for (const child of childrenOf(expr)) walk(child, visit);
}

/** The names of the claims `expr` reads, added to `into`. */
export function collectClaims(expr: Expr, into: Set<string>): Set<string> {
  walk(expr, (node) => {
    for (const operand of operandsOf(node)) if (operand.kind === 'claim') into.add(operand.name);
  });
  return into;
}

/** `expr` with each `in_subquery` id replaced by `renumber(id)`. */
export function renumberSubqueries(expr: Expr, renumber: (id: number) => number): Expr {
  switch (expr.kind) {
    case 'in_subquery':
      return { ...expr, subquery: renumber(expr.subquery) };
    case 'and':
    case 'or':
      return { kind: expr.kind, items: expr.items.map((item) => renumberSubqueries(item, renumber)) };
    case 'not':
      return { kind: 'not', item: renumberSubqueries(expr.item, renumber) };
    default:
      return expr;
  }
}

/** The top-level AND-conjuncts of `expr`, nested ANDs flattened (the expression itself when it is not an AND). */
export function conjuncts(expr: Expr): readonly Expr[] {
  return expr.kind === 'and' ? expr.items.flatMap(conjuncts) : [expr];
}

/** The top-level OR-disjuncts of `expr`, nested ORs flattened (the expression itself when it is not an OR). */
export function disjuncts(expr: Expr): readonly Expr[] {
  return expr.kind === 'or' ? expr.items.flatMap(disjuncts) : [expr];
}

/** `column = auth.claim` (either way round) as its column and claim, or undefined. */
export function columnEqualsClaim(expr: Expr): { column: string; claim: string } | undefined {
  if (expr.kind !== 'compare' || expr.op !== '=') return undefined;
  const { left, right } = expr;
  if (left.kind === 'column' && right.kind === 'claim') return { column: left.column, claim: right.name };
  if (left.kind === 'claim' && right.kind === 'column') return { column: right.column, claim: left.name };
  return undefined;
}
