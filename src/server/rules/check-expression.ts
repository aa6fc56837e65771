import type { ColumnType, SyncSchema } from '../../protocol/index.js';
import type { Expr, Literal, Operand } from './ast.js';
import { RulesError } from './errors.js';
import { columnEqualsClaim, conjuncts, walk } from './expr-walk.js';
import type { ParsedSubquery } from './parse-expression.js';

/**
 * The schema checks of an expression (docs/rules.md): every table and column exists, values are
 * compared only with what they can equal, and a subquery selects one user's rows. Only names
 * that passed here are ever quoted into SQL.
 */

/** What a subquery's checked WHERE yields: the conjunct that makes it one user's set. */
export interface SubqueryKey {
  readonly keyColumn: string;
  readonly keyClaim: string;
}

/** Compared values fall into these; integer and real compare with each other as numbers. */
type ValueClass = 'text' | 'number';

/**
 * Checks `expr`, an expression about rows of `table`. `subqueryAt(i)` is the subquery an
 * `in_subquery` node's index names (already checked with {@link checkSubquery}).
 */
export function checkExpression(expr: Expr, table: string, schema: SyncSchema, subqueryAt: (index: number) => ParsedSubquery): void {
  const columns = tableColumns(schema, table);
  walk(expr, (node) => {
    switch (node.kind) {
      case 'compare':
        checkCompare(node.left, node.right, table, columns);
        break;
      case 'is_null':
        // IS NULL is the one test a json column allows: SQL NULL and JSON null are stored alike.
        if (node.operand.kind === 'column') columnType(node.operand.column, table, columns);
        break;
      case 'in_list': {
        const type = node.operand.kind === 'column' ? comparableType(node.operand.column, table, columns) : undefined;
        // NULL is allowed in a list (SQL's meaning: NOT IN with a NULL is never true); it does not need to fit.
        if (type) for (const item of node.items) if (item.kind === 'literal' && item.value !== null) checkLiteralFits(item.value, node.operand, type);
        break;
      }
      case 'in_subquery': {
        const subquery = subqueryAt(node.subquery);
        if (node.operand.kind !== 'column') throw new RulesError(`the left side of IN (SELECT ...) must be a column of table ${table}`);
        const type = comparableType(node.operand.column, table, columns);
        const selectType = tableColumns(schema, subquery.table)[subquery.select];
        if (valueClass(type) !== valueClass(selectType)) {
          throw new RulesError(
            `cannot compare ${type} column '${node.operand.column}' with ${selectType} column '${subquery.select}' of table ${subquery.table}`,
          );
        }
        break;
      }
    }
  });
}

/**
 * Checks a subquery: its table and SELECT column exist, its WHERE is about its own table, and one
 * of its top-level AND-conjuncts is `column = auth.claim` (the first such is its key).
 */
export function checkSubquery(subquery: ParsedSubquery, schema: SyncSchema): SubqueryKey {
  if (!schema.tables[subquery.table]) throw new RulesError(`unknown table '${subquery.table}' in a subquery ${tableList(schema)}`);
  comparableType(subquery.select, subquery.table, tableColumns(schema, subquery.table));
  checkExpression(subquery.where, subquery.table, schema, () => {
    throw new RulesError('a subquery cannot contain another subquery');
  });
  for (const conjunct of conjuncts(subquery.where)) {
    const key = columnEqualsClaim(conjunct);
    if (key) return { keyColumn: key.column, keyClaim: key.claim };
  }
  throw new RulesError(
    `the subquery on table ${subquery.table} needs a condition '<column> = auth.<claim>' joined by AND at the top of its WHERE, so that it selects one user's rows`,
  );
}

/** The columns of a table that must exist (the caller checked the table). */
function tableColumns(schema: SyncSchema, table: string): Readonly<Record<string, ColumnType>> {
  return schema.tables[table].columns;
}

export function tableList(schema: SyncSchema): string {
  return `(tables: ${schema.tableNames.join(', ')})`;
}

function columnType(column: string, table: string, columns: Readonly<Record<string, ColumnType>>): ColumnType {
  const type = Object.hasOwn(columns, column) ? columns[column] : undefined;
  if (!type) throw new RulesError(`unknown column '${column}' in table ${table} (columns: ${Object.keys(columns).join(', ')})`);
  return type;
}

/** A column that may be compared: json values have no order or equality the databases agree on. */
function comparableType(column: string, table: string, columns: Readonly<Record<string, ColumnType>>): ColumnType {
  const type = columnType(column, table, columns);
  if (type === 'json') throw new RulesError(`json column '${column}' of table ${table} cannot be compared (only IS NULL / IS NOT NULL)`);
  return type;
}

function checkCompare(left: Operand, right: Operand, table: string, columns: Readonly<Record<string, ColumnType>>): void {
  for (const side of [left, right]) {
    if (side.kind === 'literal' && side.value === null) {
      throw new RulesError('a comparison with NULL is never true: write IS NULL or IS NOT NULL');
    }
  }
  const leftType = left.kind === 'column' ? comparableType(left.column, table, columns) : undefined;
  const rightType = right.kind === 'column' ? comparableType(right.column, table, columns) : undefined;
  if (leftType && rightType && valueClass(leftType) !== valueClass(rightType)) {
    throw new RulesError(`cannot compare ${leftType} column '${columnName(left)}' with ${rightType} column '${columnName(right)}'`);
  }
  if (leftType && right.kind === 'literal') checkLiteralFits(right.value, left, leftType);
  if (rightType && left.kind === 'literal') checkLiteralFits(left.value, right, rightType);
}

/** A literal compared with a column must be a value of its type: a mistake found now, not a row never matched. */
function checkLiteralFits(value: Literal, column: Operand, type: ColumnType): void {
  const name = columnName(column);
  const fits = type === 'text' ? typeof value === 'string' : typeof value === 'number' && (type === 'real' || Number.isSafeInteger(value));
  if (fits) return;
  const hint = typeof value === 'boolean' && type !== 'text' ? ' (write 1 or 0)' : typeof value === 'number' && type === 'text' ? ` (write '${value}')` : '';
  throw new RulesError(`${formatLiteral(value)} does not fit ${type} column '${name}'${hint}`);
}

function valueClass(type: ColumnType): ValueClass {
  return type === 'text' ? 'text' : 'number';
}

function columnName(operand: Operand): string {
  return operand.kind === 'column' ? operand.column : '';
}

/** A literal as the rules language writes it. */
export function formatLiteral(value: Literal): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  return String(value);
}
