import { defineSchema, type ColumnType } from '../../../src/protocol/index.js';
import type { CompiledRules } from '../../../src/server/rules/ast.js';
import { compileRules } from '../../../src/server/rules/compile-rules.js';
import { evaluate } from '../../../src/server/rules/evaluate.js';
import type { Random } from '../../support/prng.js';

/**
 * Random rules, claims and rows for the property that evaluate and the SQL of expressionToSql agree
 * (sql-agreement.spec.ts for SQLite, postgres-agreement.spec.ts): every form of the language over
 * text, integer, real and json columns with NULLs, claims that are missing, of the wrong kind or
 * numeric strings, IN lists with NULL, NOT, and subqueries on a second table and on the same one.
 */

export const schema = defineSchema({
  tables: {
    t: { primaryKey: 'id', columns: { id: 'integer', owner: 'text', name: 'text', n: 'integer', x: 'real', ref: 'integer', meta: 'json' } },
    u: { primaryKey: 'id', columns: { id: 'integer', member: 'text', list_id: 'integer', score: 'real', tag: 'text' } },
  },
});
export type Row = Record<string, unknown>;
export const types = (table: string) => schema.tables[table].columns;
/** Each table's column that may key a subquery (`key = auth.claim`). */
const KEY_COLUMN: Record<string, string> = { t: 'owner', u: 'member' };

const TEXTS = ['alice', 'bob', 'Alice', 'B', 'a', 'ab', '', '3', '10', '2.5', 'é', '😀', '\uFFFD', "it's"];
const INTEGERS = [-2, 0, 1, 3, 10, 42];
const REALS = [-1.5, 0, 0.1, 2.5, 3, 10];
const USERS = ['alice', 'bob', 'Alice'];
const CLAIM_NAMES = ['sub', 'org', 'n', 's', 'f', 'b', 'o'];
const CLAIM_VALUES: unknown[] = [...TEXTS, ...INTEGERS, ...REALS, '1e1', '-2', ' 3', true, false, null, { a: 1 }, [1]];
const COMPARE_OPS = ['=', '!=', '<>', '<', '<=', '>', '>='];

function valueOfType(random: Random, type: ColumnType): unknown {
  if (random.chance(0.2)) return null;
  switch (type) {
    case 'text':
      return random.pick(TEXTS);
    case 'integer':
      return random.pick(INTEGERS);
    case 'real':
      return random.pick(REALS);
    case 'json':
      return random.pick([{ a: 1 }, [1, 2], 'x', 0, true]);
  }
}

export function randomRows(random: Random, table: string, count: number): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const row: Row = {};
    for (const [column, type] of Object.entries(types(table))) row[column] = column === 'id' ? i + 1 : valueOfType(random, type);
    // Keys mostly hold user names, so that subquery sets are seldom empty.
    if (random.chance(0.7)) row[KEY_COLUMN[table]] = random.pick(USERS);
    return row;
  });
}

export function randomClaims(random: Random): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const name of CLAIM_NAMES) if (random.chance(0.85)) claims[name] = random.pick(CLAIM_VALUES);
  for (const name of ['sub', 'org']) if (random.chance(0.7)) claims[name] = random.pick(USERS);
  return claims;
}

/** A literal of the rules language that fits `type` (any kind when there is no column). */
function literal(random: Random, type: ColumnType | undefined): string {
  const kind = type ?? random.pick(['text', 'integer', 'real', 'boolean'] as const);
  switch (kind) {
    case 'text':
      return `'${random.pick(TEXTS).replaceAll("'", "''")}'`;
    case 'integer':
      return String(random.pick(INTEGERS));
    case 'real':
      return String(random.pick(REALS));
    default:
      return random.pick(['TRUE', 'FALSE', 'true']);
  }
}

const claim = (random: Random) => `auth.${random.pick([...CLAIM_NAMES, 'missing'])}`;

/** Random WHERE expressions about `table`, as text: every form of the language, always valid for the schema. */
export class ExpressionGenerator {
  constructor(private readonly random: Random) {}

  condition(table: string, depth: number, subqueries: boolean): string {
    const r = this.random;
    if (depth > 0 && r.chance(0.45)) {
      const kind = r.pick(['AND', 'OR', 'NOT', '()']);
      if (kind === 'NOT') return `NOT ${this.condition(table, depth - 1, subqueries)}`;
      if (kind === '()') return `(${this.condition(table, depth - 1, subqueries)})`;
      const count = r.chance(0.7) ? 2 : 3;
      const items = Array.from({ length: count }, () => this.condition(table, depth - 1, subqueries));
      return `(${items.join(` ${r.chance(0.8) ? kind : kind.toLowerCase()} `)})`;
    }
    return this.predicate(table, subqueries);
  }

  private predicate(table: string, subqueries: boolean): string {
    const r = this.random;
    const columns = Object.entries(types(table)).filter(([, type]) => type !== 'json');
    const [column, type] = r.pick(columns);
    const roll = r.next();
    if (roll < 0.1) {
      const same = columns.filter(([, other]) => (other === 'text') === (type === 'text'));
      return `${column} ${r.pick(COMPARE_OPS)} ${r.pick(same)[0]}`;
    }
    if (roll < 0.28) return r.chance(0.5) ? `${column} ${r.pick(COMPARE_OPS)} ${claim(r)}` : `${claim(r)} ${r.pick(COMPARE_OPS)} ${column}`;
    if (roll < 0.4) return r.chance(0.5) ? `${column} ${r.pick(COMPARE_OPS)} ${literal(r, type)}` : `${literal(r, type)} ${r.pick(COMPARE_OPS)} ${column}`;
    if (roll < 0.47) return `${claim(r)} ${r.pick(COMPARE_OPS)} ${r.chance(0.5) ? claim(r) : literal(r, undefined)}`;
    if (roll < 0.54) {
      const operand = r.pick([column, 'meta', claim(r), 'NULL', literal(r, undefined)].filter((o) => o !== 'meta' || table === 't'));
      return `${operand} IS ${r.chance(0.5) ? 'NOT ' : ''}NULL`;
    }
    if (roll < 0.7) {
      const onColumn = r.chance(0.75);
      const items = Array.from({ length: 1 + Math.floor(r.next() * 4) }, () =>
        r.pick(['NULL', claim(r), literal(r, onColumn ? type : undefined), literal(r, onColumn ? type : undefined)]),
      );
      return `${onColumn ? column : claim(r)} ${r.chance(0.4) ? 'NOT ' : ''}IN (${items.join(', ')})`;
    }
    if (roll < 0.92 && subqueries) return this.inSubquery(column, type);
    return r.pick(['TRUE', 'FALSE']);
  }

  /** `column [NOT] IN (SELECT ...)` over t or u, keyed by a claim, sometimes with more conditions. */
  private inSubquery(column: string, type: ColumnType): string {
    const r = this.random;
    const table = r.pick(['t', 'u']);
    const selectable = Object.entries(types(table)).filter(([, other]) => other !== 'json' && (other === 'text') === (type === 'text'));
    const select = r.pick(selectable)[0];
    const keyClaim = r.chance(0.8) ? r.pick(['auth.sub', 'auth.org']) : claim(r);
    const key = r.chance(0.5) ? `${KEY_COLUMN[table]} = ${keyClaim}` : `${keyClaim} = ${KEY_COLUMN[table]}`;
    const where = r.chance(0.3) ? `${key} AND ${this.condition(table, 1, false)}` : r.chance(0.7) ? key : `${this.condition(table, 1, false)} AND ${key}`;
    return `${column} ${r.chance(0.35) ? 'NOT ' : ''}IN (SELECT ${select} FROM ${table} WHERE ${where})`;
  }
}

/** Each subquery's set for these claims, from its table's rows, by evaluate (a set never holds NULL). */
export function subquerySets(rules: CompiledRules, rows: Record<string, Row[]>, claims: Record<string, unknown>): Set<unknown>[] {
  const noSubqueries = { claims, inSubquery: () => false };
  return rules.subqueries.map(
    (subquery) =>
      new Set(
        rows[subquery.table]
          .filter((row) => evaluate(subquery.where, row, noSubqueries, types(subquery.table)) === true)
          .map((row) => row[subquery.select])
          .filter((value) => value !== null),
      ),
  );
}

/** One random case: a stream on t, the claims of a session, and what evaluate needs for it. */
export interface RandomCase {
  readonly where: string;
  readonly claims: Record<string, unknown>;
  readonly rules: CompiledRules;
  /** Each subquery's set for these claims, by evaluate. */
  readonly sets: Set<unknown>[];
  /** evaluate of the stream's WHERE on a row of t. */
  evaluate(row: Row): boolean | null;
  /** What a failure message starts with: the case, its expression and its claims. */
  readonly context: string;
}

export function randomCase(random: Random, generator: ExpressionGenerator, rows: Record<string, Row[]>, label: string): RandomCase {
  const where = generator.condition('t', 3, true);
  const claims = randomClaims(random);
  const context = `case ${label}: ${where}\nclaims: ${JSON.stringify(claims)}`;
  let rules: CompiledRules;
  try {
    rules = compileRules({ streams: { s: { table: 't', where } } }, schema);
  } catch (error) {
    throw new Error(`${context}\n${String(error)}`, { cause: error });
  }
  const sets = subquerySets(rules, rows, claims);
  const env = { claims, inSubquery: (id: number, value: unknown) => sets[id].has(value) };
  return { where, claims, rules, sets, context, evaluate: (row) => evaluate(rules.streams[0].where, row, env, types('t')) };
}
