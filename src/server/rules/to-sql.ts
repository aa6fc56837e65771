import type { ColumnType } from '../../protocol/index.js';
import { quoteIdentifier } from '../../sql/identifiers.js';
import type { Expr, Operand, Subquery } from './ast.js';
import { evaluate } from './evaluate.js';
import { claimValue, coerceToColumn, type Truth } from './values.js';

/** How to write an expression as SQL for one session. */
export interface SqlOptions {
  readonly dialect: 'sqlite' | 'postgres';
  /** The table the expression is about. */
  readonly table: string;
  /** Qualifies the expression's own columns (`"alias"."column"`), e.g. when it is joined. */
  readonly alias?: string;
  /** The session's claims: they are bound as parameters, or folded where no column is involved. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The column types of a table of the schema. */
  readonly types: (table: string) => Readonly<Record<string, ColumnType>>;
  /** `CompiledRules.subqueries`: `in_subquery` ids index it. */
  readonly subqueries: readonly Subquery[];
  /** The placeholder of the parameter at 1-based `index` of `params`: `() => '?'`, or `(i) => '$' + i`. */
  placeholder(index: number): string;
}

/** SQL text and its bound parameters, in placeholder order. */
export interface SqlFragment {
  readonly sql: string;
  readonly params: unknown[];
}

/** What the subquery statements need of {@link SqlOptions}. */
export type SubquerySqlOptions = Pick<SqlOptions, 'dialect' | 'claims' | 'types' | 'placeholder'>;

const POSTGRES_CAST: Readonly<Record<ColumnType, string>> = { text: 'text', integer: 'bigint', real: 'double precision', json: 'jsonb' };

/**
 * Compiles an expression to a SQL boolean expression, for the snapshot of a stream (`WHERE <sql>`)
 * or a write check. Its value on every row is {@link evaluate}'s: NULL where evaluate is null.
 * Identifiers were checked against the schema and are quoted; every claim and literal is a bound
 * parameter, coerced like evaluate does (coerceToColumn) and, for Postgres, cast to the type of
 * the column it is compared with. A comparison that involves no column is folded to TRUE, FALSE or
 * NULL here, with evaluate itself, so it cannot mean anything else.
 */
export function expressionToSql(expr: Expr, options: SqlOptions): SqlFragment {
  const writer = new SqlWriter(options);
  return { sql: writer.expression(expr, options.table, options.alias), params: writer.params };
}

/**
 * `SELECT 1 FROM "table" WHERE "select" = ? AND (<where>) LIMIT 1`: whether `value` is in the
 * session's set of `subquery`, checked in the write's transaction. `value` is coerced to the
 * SELECT column's type; NULL is in no set.
 */
export function subqueryMembershipSql(subquery: Subquery, options: SubquerySqlOptions & { readonly value: unknown }): SqlFragment {
  const writer = new SqlWriter({ ...options, table: subquery.table, subqueries: [] });
  const type = options.types(subquery.table)[subquery.select];
  const value = writer.bind(coerceToColumn(options.value, type), type);
  const where = writer.expression(subquery.where, subquery.table, undefined);
  const sql = `SELECT 1 FROM ${quoteIdentifier(subquery.table)} WHERE ${quoteIdentifier(subquery.select)} = ${value} AND (${where}) LIMIT 1`;
  return { sql, params: writer.params };
}

/** `SELECT "select" AS value FROM "table" WHERE ...`: the session's whole set of `subquery` (never NULL). */
export function subqueryValuesSql(subquery: Subquery, options: SubquerySqlOptions): SqlFragment {
  const writer = new SqlWriter({ ...options, table: subquery.table, subqueries: [] });
  return { sql: `SELECT ${quoteIdentifier(subquery.select)} AS value FROM ${writer.subquerySet(subquery)}`, params: writer.params };
}

class SqlWriter {
  readonly params: unknown[] = [];

  constructor(private readonly options: Omit<SqlOptions, 'alias'>) {}

  /** `expr`, about rows of `table` (qualified by `alias` if given). */
  expression(expr: Expr, table: string, alias: string | undefined): string {
    const types = this.options.types(table);
    const column = (name: string) => (alias === undefined ? quoteIdentifier(name) : `${quoteIdentifier(alias)}.${quoteIdentifier(name)}`);
    const recurse = (item: Expr) => this.expression(item, table, alias);
    switch (expr.kind) {
      case 'const':
        return this.constant(expr.value);
      case 'and':
      case 'or':
        return `(${expr.items.map(recurse).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `(NOT ${recurse(expr.item)})`;
      case 'compare': {
        const type = columnType(expr.left, types) ?? columnType(expr.right, types);
        if (type === undefined) return this.fold(expr);
        // Ordering text by bytes, as SQLite's BINARY and JavaScript (in code point order) do.
        const collate = this.options.dialect === 'postgres' && type === 'text' && expr.op !== '=' && expr.op !== '!=' ? ' COLLATE "C"' : '';
        const side = (operand: Operand) => this.operand(operand, type, column);
        return `(${side(expr.left)}${collate} ${expr.op === '!=' ? '<>' : expr.op} ${side(expr.right)})`;
      }
      case 'is_null': {
        if (expr.operand.kind !== 'column') return this.fold(expr);
        const name = column(expr.operand.column);
        // A Postgres json value may be the JSON null, which a row carries as null like SQL NULL.
        if (this.options.dialect === 'postgres' && types[expr.operand.column] === 'json') {
          const isNull = `(${name} IS NULL OR jsonb_typeof(to_jsonb(${name})) = 'null')`;
          return expr.negated ? `(NOT ${isNull})` : isNull;
        }
        return `(${name} IS ${expr.negated ? 'NOT ' : ''}NULL)`;
      }
      case 'in_list': {
        if (expr.operand.kind !== 'column') return this.fold(expr);
        const type = types[expr.operand.column];
        const items = expr.items.map((item) => this.operand(item, type, column));
        return `(${column(expr.operand.column)} ${expr.negated ? 'NOT IN' : 'IN'} (${items.join(', ')}))`;
      }
      case 'in_subquery': {
        if (expr.operand.kind !== 'column') throw new TypeError('the left side of IN (SELECT ...) must be a column (compileRules checks it)');
        // Two-valued like evaluate: `x IS NOT NULL` makes a NULL x false (not unknown), and the
        // set leaves NULL out, so that a value it does not hold is false (not unknown).
        const operand = column(expr.operand.column);
        const subquery = this.options.subqueries[expr.subquery];
        const member = `(${operand} IN (SELECT ${quoteIdentifier(subquery.select)} FROM ${this.subquerySet(subquery)}) AND ${operand} IS NOT NULL)`;
        return expr.negated ? `(NOT ${member})` : member;
      }
    }
  }

  /** `"table" WHERE "select" IS NOT NULL AND (<where>)`: a subquery's set, without NULL. */
  subquerySet(subquery: Subquery): string {
    const where = this.expression(subquery.where, subquery.table, undefined);
    return `${quoteIdentifier(subquery.table)} WHERE ${quoteIdentifier(subquery.select)} IS NOT NULL AND (${where})`;
  }

  /** A parameter for `value`, cast for Postgres (which cannot always infer a parameter's type). */
  bind(value: unknown, type: ColumnType): string {
    this.params.push(value);
    const placeholder = this.options.placeholder(this.params.length);
    return this.options.dialect === 'postgres' ? `${placeholder}::${POSTGRES_CAST[type]}` : placeholder;
  }

  private operand(operand: Operand, type: ColumnType, column: (name: string) => string): string {
    switch (operand.kind) {
      case 'column':
        return column(operand.column);
      case 'claim':
        return this.bind(coerceToColumn(claimValue(this.options.claims, operand.name), type), type);
      case 'literal':
        return this.bind(coerceToColumn(operand.value, type), type);
    }
  }

  /** A node that reads no column has one value for every row: evaluate's. */
  private fold(expr: Expr): string {
    const noSubqueries = () => false;
    return this.constant(evaluate(expr, {}, { claims: this.options.claims, inSubquery: noSubqueries }, {}));
  }

  private constant(value: Truth): string {
    if (value === null) return this.options.dialect === 'postgres' ? 'NULL::boolean' : 'NULL';
    return value ? 'TRUE' : 'FALSE';
  }
}

function columnType(operand: Operand, types: Readonly<Record<string, ColumnType>>): ColumnType | undefined {
  return operand.kind === 'column' ? types[operand.column] : undefined;
}
