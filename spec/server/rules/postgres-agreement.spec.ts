import { Client } from 'pg';
import type { ColumnType } from '../../../src/protocol/index.js';
import { expressionToSql, subqueryMembershipSql, subqueryValuesSql } from '../../../src/server/rules/to-sql.js';
import { startPostgres, type TestPostgres } from '../../support/postgres.js';
import { prng } from '../../support/prng.js';
import { ExpressionGenerator, randomCase, randomRows, types, type Row } from './random-rules.js';

/**
 * sql-agreement.spec.ts against a real PostgreSQL: evaluate and the Postgres SQL of
 * expressionToSql give the same true, false or NULL on every row. The text columns use an ICU
 * collation, so text ordering only agrees because the SQL asks for "C"; a json column holds both
 * SQL NULL and the JSON null, which a row carries alike.
 */

const SEED = 0x5eed2025;
const ROUNDS = 3;
const CASES_PER_ROUND = 80;
const ROWS = 14;
const PG_TYPE: Readonly<Record<ColumnType, string>> = { text: 'text', integer: 'bigint', real: 'double precision', json: 'jsonb' };

describe('evaluate and PostgreSQL agree', () => {
  let postgres: TestPostgres;
  let db: Client;
  let textCollation = '';
  beforeAll(async () => {
    postgres = await startPostgres();
    const admin = new Client({ connectionString: postgres.connectionString });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE rules ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0`);
    } finally {
      await admin.end();
    }
    db = new Client({ connectionString: postgres.connectionString.replace(/\/postgres$/, '/rules') });
    await db.connect();
    const icu = await db.query(`SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'`);
    textCollation = icu.rowCount ? ' COLLATE "und-x-icu"' : '';
  }, 60_000);
  afterAll(async () => {
    await db?.end();
    await postgres?.stop();
  });

  async function load(rows: Record<string, Row[]>, random: ReturnType<typeof prng>): Promise<void> {
    await db.query('DROP TABLE IF EXISTS t, u');
    for (const [table, tableRows] of Object.entries(rows)) {
      const columns = Object.entries(types(table));
      const ddl = columns.map(([c, type]) => `"${c}" ${PG_TYPE[type]}${type === 'text' ? textCollation : ''}${c === 'id' ? ' PRIMARY KEY' : ''}`);
      await db.query(`CREATE TABLE "${table}" (${ddl.join(', ')})`);
      for (const row of tableRows) {
        const values = columns.map(([c, type]) => (type !== 'json' ? row[c] : row[c] === null ? (random.chance(0.5) ? 'null' : null) : JSON.stringify(row[c])));
        await db.query(`INSERT INTO "${table}" VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, values);
      }
    }
  }

  it(`on every row of ${ROUNDS * CASES_PER_ROUND} random rules (seed ${SEED})`, async () => {
    if (!textCollation) console.warn('no ICU collation in this PostgreSQL: text ordering is checked under the database default only');
    const random = prng(SEED);
    const generator = new ExpressionGenerator(random);
    let rowsChecked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const rows = { t: randomRows(random, 't', ROWS), u: randomRows(random, 'u', ROWS) };
      await load(rows, random);
      for (let i = 0; i < CASES_PER_ROUND; i++) {
        const { rules, claims, sets, context, evaluate } = randomCase(random, generator, rows, `${round}/${i}`);
        const alias = random.chance(0.5) ? 'o' : undefined;
        const placeholder = (index: number) => `$${index}`;
        const options = { dialect: 'postgres' as const, table: 't', alias, claims, types, subqueries: rules.subqueries, placeholder };
        const { sql, params } = expressionToSql(rules.streams[0].where, options);
        const result = await db.query<{ id: string; result: boolean | null }>(
          `SELECT "id", (${sql}) AS result FROM "t"${alias ? ` AS "${alias}"` : ''}`,
          params,
        );
        const byId = new Map(result.rows.map((r) => [Number(r.id), r.result]));
        for (const row of rows.t) {
          const expected = evaluate(row);
          const actual = byId.get(row.id as number);
          if (actual !== expected) {
            throw new Error(
              `${context}\nrow: ${JSON.stringify(row)}\nevaluate: ${expected}, PostgreSQL: ${actual}\nsql: ${sql}\nparams: ${JSON.stringify(params)}`,
            );
          }
          rowsChecked++;
        }
        for (const subquery of rules.subqueries) {
          const subqueryOptions = { dialect: 'postgres' as const, claims, types, placeholder };
          const values = subqueryValuesSql(subquery, subqueryOptions);
          const fromSql = (await db.query<{ value: unknown }>(values.sql, values.params)).rows.map((r) =>
            typeof r.value === 'string' && types(subquery.table)[subquery.select] !== 'text' ? Number(r.value) : r.value,
          );
          expect({ context, set: [...new Set(fromSql)].sort() }).toEqual({ context, set: [...sets[subquery.id]].sort() });
          const probe = [...sets[subquery.id]][0] ?? 'alice';
          const membership = subqueryMembershipSql(subquery, { ...subqueryOptions, value: probe });
          const member = ((await db.query(membership.sql, membership.params)).rowCount ?? 0) > 0;
          expect({ context, probe, member }).toEqual({ context, probe, member: sets[subquery.id].has(probe) });
        }
      }
    }
    expect(rowsChecked).toBe(ROUNDS * CASES_PER_ROUND * ROWS);
  }, 60_000);
});
