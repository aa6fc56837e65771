import type { ColumnType } from '../../protocol/index.js';
import type { Expr, Operand } from './ast.js';
import { claimValue, coerceToColumn, compareValues, type Truth } from './values.js';

export { coerceToColumn } from './values.js';

/** What an expression may read besides the row: the session's claims and its subquery sets. */
export interface EvaluateEnv {
  /** The verified token's payload; a claim that is missing is null. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * Whether `value` (never null) is in the session's set of subquery `id`. `value` is the row's
   * column value, of a type comparable with the subquery's SELECT column (compileRules checked).
   */
  inSubquery(id: number, value: unknown): boolean;
}

/**
 * Evaluates a compiled expression against one row (a live change), with SQL's three-valued logic:
 * null is unknown, and a row belongs to a stream or passes a write rule only when the result is
 * `true`. It agrees with the SQL of {@link expressionToSql} on every row (spec/server/rules,
 * the property test), so a row is never in a snapshot and out of the live stream, or back.
 *
 * @param row the row as JSON: text columns hold strings, integer and real columns numbers, any may hold null.
 * @param types the column types of the row's table.
 */
export function evaluate(expr: Expr, row: Readonly<Record<string, unknown>>, env: EvaluateEnv, types: Readonly<Record<string, ColumnType>>): Truth {
  switch (expr.kind) {
    case 'const':
      return expr.value;
    case 'and': {
      let result: Truth = true;
      for (const item of expr.items) {
        const value = evaluate(item, row, env, types);
        if (value === false) return false;
        if (value === null) result = null;
      }
      return result;
    }
    case 'or': {
      let result: Truth = false;
      for (const item of expr.items) {
        const value = evaluate(item, row, env, types);
        if (value === true) return true;
        if (value === null) result = null;
      }
      return result;
    }
    case 'not':
      return negate(evaluate(expr.item, row, env, types));
    case 'compare': {
      // A value compared with a column is first made a value of the column's type.
      const type = columnTypeOf(expr.left, types) ?? columnTypeOf(expr.right, types);
      return compareValues(valueOf(expr.left, row, env, type), valueOf(expr.right, row, env, type), expr.op);
    }
    case 'is_null': {
      const value = valueOf(expr.operand, row, env, undefined);
      return (value === null) !== expr.negated;
    }
    case 'in_list': {
      const type = columnTypeOf(expr.operand, types);
      const value = valueOf(expr.operand, row, env, type);
      const found = inList(
        value,
        expr.items.map((item) => valueOf(item, row, env, type)),
      );
      return expr.negated ? negate(found) : found;
    }
    case 'in_subquery': {
      // Two-valued on purpose (docs/rules.md, Subqueries): NULL is in no set, and a set never holds NULL.
      const value = valueOf(expr.operand, row, env, undefined);
      const found = value !== null && env.inSubquery(expr.subquery, value);
      return expr.negated ? !found : found;
    }
  }
}

/** SQL `x IN (a, b, ...)`: true on a match; else unknown if x or any item is NULL; else false. */
function inList(value: unknown, items: readonly unknown[]): Truth {
  if (value === null) return null;
  let unknown = false;
  for (const item of items) {
    const equal = compareValues(value, item, '=');
    if (equal === true) return true;
    if (equal === null) unknown = true;
  }
  return unknown ? null : false;
}

function negate(value: Truth): Truth {
  return value === null ? null : !value;
}

function columnTypeOf(operand: Operand, types: Readonly<Record<string, ColumnType>>): ColumnType | undefined {
  return operand.kind === 'column' ? types[operand.column] : undefined;
}

/**
 * An operand's value; a claim or literal compared with a column of `type` is coerced to it. A
 * column's own value is taken as stored: rows were checked against the schema when written.
 */
function valueOf(operand: Operand, row: Readonly<Record<string, unknown>>, env: EvaluateEnv, type: ColumnType | undefined): unknown {
  switch (operand.kind) {
    case 'column':
      return row[operand.column] ?? null;
    case 'claim': {
      const value = claimValue(env.claims, operand.name);
      return type === undefined ? value : coerceToColumn(value, type);
    }
    case 'literal':
      return type === undefined ? operand.value : coerceToColumn(operand.value, type);
  }
}
