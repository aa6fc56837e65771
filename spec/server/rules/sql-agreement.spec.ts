import Database from 'better-sqlite3';
import type { CompiledRules } from '../../../src/server/rules/ast.js';
import { expressionToSql, subqueryMembershipSql, subqueryValuesSql } from '../../../src/server/rules/to-sql.js';
import { jsonToSql } from '../../../src/sql/column-types.js';
import { prng } from '../../support/prng.js';
import { ExpressionGenerator, randomCase, randomRows, types, type Row } from './random-rules.js';

/**
 * The property that keeps snapshots and live changes in step: for random rules, claims and rows,
 * `evaluate` (JS, live changes) and `expressionToSql` run by SQLite (snapshots) give the same
 * true, false or NULL on every row. Were they ever to differ, a user would get a row in a snapshot
 * and lose it on the next live change (or the other way round).
 */

const SEED = 0x5eed2024;
const ROUNDS = 5; // a fresh data set each round
const CASES_PER_ROUND = 100;
const ROWS = 14;

/** A SQLite database holding `rows` (json columns as JSON text, as the stores keep them). */
function database(rows: Record<string, Row[]>) {
  const db = new Database(':memory:');
  const sqlType = { text: 'TEXT', integer: 'INTEGER', real: 'REAL', json: 'TEXT' };
  for (const [table, tableRows] of Object.entries(rows)) {
    const columns = Object.entries(types(table));
    db.exec(`CREATE TABLE "${table}" (${columns.map(([c, type]) => `"${c}" ${sqlType[type]}${c === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`);
    const insert = db.prepare(`INSERT INTO "${table}" VALUES (${columns.map(() => '?').join(', ')})`);
    for (const row of tableRows) insert.run(...columns.map(([c, type]) => (type === 'json' ? jsonToSql(row[c]) : row[c])));
  }
  return db;
}

const truth = (value: unknown) => (value === null ? null : value === 1);

describe('evaluate and SQLite agree', () => {
  it(`on every row of ${ROUNDS * CASES_PER_ROUND} random rules (seed ${SEED})`, () => {
    const random = prng(SEED);
    const generator = new ExpressionGenerator(random);
    const verdicts = { true: 0, false: 0, null: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const rows = { t: randomRows(random, 't', ROWS), u: randomRows(random, 'u', ROWS) };
      const db = database(rows);
      try {
        for (let i = 0; i < CASES_PER_ROUND; i++) {
          const { rules, claims, sets, context, evaluate } = randomCase(random, generator, rows, `${round}/${i}`);
          const alias = random.chance(0.5) ? 'o' : undefined;
          const options = { dialect: 'sqlite' as const, table: 't', alias, claims, types, subqueries: rules.subqueries, placeholder: () => '?' };
          const { sql, params } = expressionToSql(rules.streams[0].where, options);
          const from = alias ? `"t" AS "${alias}"` : '"t"';
          const statement = db.prepare(`SELECT (${sql}) AS result FROM ${from} WHERE ${alias ? `"${alias}".` : ''}"id" = ?`);
          for (const row of rows.t) {
            const expected = evaluate(row);
            const actual = truth((statement.get(...params, row.id) as { result: unknown }).result);
            if (actual !== expected) {
              throw new Error(
                `${context}\nrow: ${JSON.stringify(row)}\nevaluate: ${expected}, SQLite: ${actual}\nsql: ${sql}\nparams: ${JSON.stringify(params)}`,
              );
            }
            verdicts[String(expected) as keyof typeof verdicts]++;
          }
          checkSubqueryStatements(db, rules, claims, sets, context);
        }
      } finally {
        db.close();
      }
    }
    const rowsChecked = verdicts.true + verdicts.false + verdicts.null;
    expect(rowsChecked).toBe(ROUNDS * CASES_PER_ROUND * ROWS);
    // The cases are only worth something if all three answers come up often.
    for (const count of Object.values(verdicts)) expect(count).toBeGreaterThan(rowsChecked / 10);
  });
});

/** The statements that read a set whole and test one value agree with those sets too. */
function checkSubqueryStatements(db: Database.Database, rules: CompiledRules, claims: Record<string, unknown>, sets: Set<unknown>[], context: string): void {
  const options = { dialect: 'sqlite' as const, claims, types, placeholder: () => '?' };
  for (const subquery of rules.subqueries) {
    const values = subqueryValuesSql(subquery, options);
    const fromSql = new Set(
      db
        .prepare(values.sql)
        .all(...values.params)
        .map((row) => (row as { value: unknown }).value),
    );
    expect({ context, set: [...fromSql].sort() }).toEqual({ context, set: [...sets[subquery.id]].sort() });
    const probe = [...sets[subquery.id]][0] ?? (types(subquery.table)[subquery.select] === 'text' ? 'alice' : 3);
    const membership = subqueryMembershipSql(subquery, { ...options, value: probe });
    expect({ context, probe, member: db.prepare(membership.sql).get(...membership.params) !== undefined }).toEqual({
      context,
      probe,
      member: sets[subquery.id].has(probe),
    });
  }
}
