import { fnv1a64Hex } from '../../protocol/hash.js';
import type { Expr, Operand, StreamRule, Subquery, WriteRule } from './ast.js';

/**
 * The hash of compiled rules: a change of it means users may now see or write other rows (a
 * session must be re-checked); a reformatted file keeps it. It is taken over a canonical JSON of
 * the meaning: streams by name, writes by table, each subquery written out in place of its id (ids
 * follow the order of the file, which is not meaning), and a write that is `false` is the same as
 * none.
 */
export function rulesHash(streams: readonly StreamRule[], writes: Iterable<WriteRule>, subqueries: readonly Subquery[]): string {
  const byName =
    <T>(key: (item: T) => string) =>
    (a: T, b: T) =>
      key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  const canonical = {
    streams: [...streams].sort(byName((s) => s.name)).map((s) => [s.name, s.table, canonicalExpr(s.where, subqueries)]),
    writes: [...writes]
      .sort(byName((w) => w.table))
      .map((w) => [w.table, ...(['insert', 'update', 'delete'] as const).map((op) => (w[op] ? canonicalExpr(w[op], subqueries) : null))])
      .filter((w) => w.slice(1).some((op) => op !== null)),
  };
  return fnv1a64Hex(JSON.stringify(canonical));
}

/** An expression as plain arrays (no key order to vary), subqueries inlined. */
export function canonicalExpr(expr: Expr, subqueries: readonly Subquery[]): unknown {
  switch (expr.kind) {
    case 'const':
      return expr.value;
    case 'and':
    case 'or':
      return [expr.kind, ...expr.items.map((item) => canonicalExpr(item, subqueries))];
    case 'not':
      return ['not', canonicalExpr(expr.item, subqueries)];
    case 'compare':
      return [expr.op, canonicalOperand(expr.left), canonicalOperand(expr.right)];
    case 'is_null':
      return [expr.negated ? 'is_not_null' : 'is_null', canonicalOperand(expr.operand)];
    case 'in_list':
      return [expr.negated ? 'not_in' : 'in', canonicalOperand(expr.operand), expr.items.map(canonicalOperand)];
    case 'in_subquery': {
      const subquery = subqueries[expr.subquery];
      const inlined = ['select', subquery.table, subquery.select, canonicalExpr(subquery.where, subqueries)];
      return [expr.negated ? 'not_in' : 'in', canonicalOperand(expr.operand), inlined];
    }
  }
}

function canonicalOperand(operand: Operand): unknown {
  switch (operand.kind) {
    case 'column':
      return ['column', operand.column];
    case 'claim':
      return ['claim', operand.name];
    case 'literal':
      return ['literal', operand.value];
  }
}
