import type { ColumnType, Row, SyncSchema } from '../../protocol/index.js';
import type { CallerAccess, SqlCondition, SqlDialect, WriteAttempt } from '../store/store.js';
import type { CompiledRules, Expr } from './ast.js';
import { evaluate } from './evaluate.js';
import { walk } from './expr-walk.js';
import { valueKey } from './param-sets.js';
import { expressionToSql, subqueryMembershipSql } from './to-sql.js';

/**
 * The rules as a store sees them for one caller (CallerAccess): the SQL condition of the rows it
 * may read in a snapshot, and the check of each change it pushes.
 */
export class RulesAccess implements CallerAccess {
  private readonly types: (table: string) => Record<string, ColumnType>;

  constructor(
    private readonly rules: CompiledRules,
    schema: SyncSchema,
    private readonly claims: Readonly<Record<string, unknown>>,
  ) {
    this.types = (table) => schema.tables[table].columns;
  }

  readFilter(table: string, dialect: SqlDialect, firstParam = 1): SqlCondition | boolean {
    const wheres = this.rules.streams.filter((stream) => stream.table === table).map((stream) => stream.where);
    if (wheres.length === 0) return false;
    if (wheres.some((where) => where.kind === 'const' && where.value)) return true;
    return expressionToSql(wheres.length === 1 ? wheres[0] : { kind: 'or', items: wheres }, {
      dialect: dialect.dialect,
      table,
      claims: this.claims,
      types: this.types,
      subqueries: this.rules.subqueries,
      placeholder: (index) => dialect.placeholder(firstParam - 1 + index),
    });
  }

  /**
   * The rule for the change's operation must hold for the row it writes (insert), the row it
   * removes (delete), or both (update). No rule: refused. Subquery memberships are asked of the
   * store first (in its transaction), then the rule is evaluated like a read rule.
   */
  mayWrite(attempt: WriteAttempt, dialect: SqlDialect, exists: (query: SqlCondition) => boolean | Promise<boolean>): boolean | Promise<boolean> {
    const rule = this.rules.writes.get(attempt.table)?.[attempt.op];
    if (!rule) return false;
    const rows = [attempt.before, attempt.after].filter((row): row is Row => row !== null);
    const answers = new Map<string, boolean | Promise<boolean>>();
    for (const { id, value } of this.memberships(rule, rows)) {
      const query = subqueryMembershipSql(this.rules.subqueries[id], {
        dialect: dialect.dialect,
        claims: this.claims,
        types: this.types,
        placeholder: dialect.placeholder,
        value,
      });
      answers.set(`${id}|${valueKey(value)}`, exists(query));
    }
    const decide = (known: Map<string, boolean>) => {
      const env = { claims: this.claims, inSubquery: (id: number, value: unknown) => known.get(`${id}|${valueKey(value)}`) ?? false };
      return rows.every((row) => evaluate(rule, row, env, this.types(attempt.table)) === true);
    };
    if (![...answers.values()].some((answer) => answer instanceof Promise)) return decide(answers as Map<string, boolean>);
    return Promise.all([...answers].map(async ([key, answer]) => [key, await answer] as const)).then((pairs) => decide(new Map(pairs)));
  }

  /** Each (subquery, value) the rule may ask about for these rows. */
  private memberships(rule: Expr, rows: readonly Row[]): Array<{ id: number; value: unknown }> {
    const asked: Array<{ id: number; value: unknown }> = [];
    walk(rule, (node) => {
      if (node.kind !== 'in_subquery') return;
      for (const row of rows) {
        const { operand } = node;
        const value = operand.kind === 'column' ? row[operand.column] : operand.kind === 'claim' ? this.claims[operand.name] : operand.value;
        if (value !== null && value !== undefined) asked.push({ id: node.subquery, value });
      }
    });
    return asked;
  }
}
