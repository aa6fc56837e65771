import Database from 'better-sqlite3';
import type { CompiledRules } from '../../../src/server/rules/ast.js';
import { compileRules } from '../../../src/server/rules/compile-rules.js';
import { expressionToSql, subqueryMembershipSql, subqueryValuesSql, type SqlOptions } from '../../../src/server/rules/to-sql.js';
import { listsRules, listsSchema } from './rules-fixtures.js';

const rules = compileRules(listsRules, listsSchema);
const types = (table: string) => listsSchema.tables[table].columns;
const sqlite = (claims: Record<string, unknown>, table: string, compiled: CompiledRules = rules): SqlOptions => ({
  dialect: 'sqlite',
  table,
  claims,
  types,
  subqueries: compiled.subqueries,
  placeholder: () => '?',
});
const postgres = (claims: Record<string, unknown>, table: string, compiled: CompiledRules = rules): SqlOptions => ({
  ...sqlite(claims, table, compiled),
  dialect: 'postgres',
  placeholder: (index) => `$${index}`,
});
/** A rules file of one stream on `table`, compiled. */
const streamOn = (table: string, where: string) => compileRules({ streams: { s: { table, where } } }, listsSchema);
const whereOf = (table: string, where: string) => streamOn(table, where).streams[0].where;

describe('expressionToSql', () => {
  it('writes the issue streams for SQLite, every value a parameter', () => {
    expect(expressionToSql(rules.streams[0].where, sqlite({ sub: 'alice' }, 'lists'))).toEqual({
      sql: '(("owner_id" = ?) OR ("id" IN (SELECT "list_id" FROM "list_members" WHERE "list_id" IS NOT NULL AND (("user_id" = ?))) AND "id" IS NOT NULL))',
      params: ['alice', 'alice'],
    });
    expect(expressionToSql(rules.streams[2].where, sqlite({}, 'tags'))).toEqual({ sql: 'TRUE', params: [] });
  });

  it('casts Postgres parameters to the compared column type and orders text by bytes', () => {
    const where = whereOf('todos', "done = auth.done OR position <= 2.5 OR title > auth.sub OR list_id NOT IN ('a', auth.n) OR done != 1");
    expect(expressionToSql(where, { ...postgres({ sub: 'alice', done: '1', n: 7 }, 'todos'), alias: 't' })).toEqual({
      sql:
        '(("t"."done" = $1::bigint) OR ("t"."position" <= $2::double precision) OR ("t"."title" COLLATE "C" > $3::text)' +
        ' OR ("t"."list_id" NOT IN ($4::text, $5::text)) OR ("t"."done" <> $6::bigint))',
      params: [1, 2.5, 'alice', 'a', '7', 1],
    });
  });

  it('binds a claim that does not fit its column as NULL', () => {
    const where = whereOf('todos', 'done = auth.sub AND title = auth.org');
    expect(expressionToSql(where, sqlite({ sub: 'alice', org: { id: 1 } }, 'todos')).params).toEqual([null, null]);
  });

  it('folds what involves no column to TRUE, FALSE or NULL', () => {
    const where = whereOf('todos', "auth.role = 'admin' OR auth.n < 3 OR auth.missing IS NULL OR auth.sub NOT IN ('a', NULL) OR TRUE AND NOT FALSE");
    expect(expressionToSql(where, sqlite({ role: 'admin', n: 3, sub: 'b' }, 'todos'))).toEqual({
      sql: '(TRUE OR FALSE OR TRUE OR NULL OR (TRUE AND (NOT FALSE)))',
      params: [],
    });
    expect(expressionToSql(where, postgres({}, 'todos')).sql).toBe('(NULL::boolean OR NULL::boolean OR TRUE OR NULL::boolean OR (TRUE AND (NOT FALSE)))');
  });

  it('writes NOT IN (SELECT ...) as the negation of membership', () => {
    const compiled = streamOn('todos', 'list_id NOT IN (SELECT id FROM lists WHERE owner_id = auth.sub)');
    expect(expressionToSql(compiled.streams[0].where, postgres({ sub: 'alice' }, 'todos', compiled))).toEqual({
      sql: '(NOT ("list_id" IN (SELECT "id" FROM "lists" WHERE "id" IS NOT NULL AND (("owner_id" = $1::text))) AND "list_id" IS NOT NULL))',
      params: ['alice'],
    });
  });

  it('numbers placeholders from 1 in the order of params', () => {
    const compiled = streamOn('todos', 'title = auth.a AND list_id IN (SELECT id FROM lists WHERE owner_id = auth.b AND name = auth.c) AND done = 1');
    const options = { ...sqlite({ a: 'A', b: 'B', c: 'C' }, 'todos', compiled), placeholder: (i: number) => `:p${i}` };
    const { sql, params } = expressionToSql(compiled.streams[0].where, options);
    expect(sql.match(/:p\d/g)).toEqual([':p1', ':p2', ':p3', ':p4']);
    expect(params).toEqual(['A', 'B', 'C', 1]);
  });
});

describe('subquery statements, run on SQLite', () => {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE "list_members" ("id" TEXT PRIMARY KEY, "list_id" TEXT, "user_id" TEXT);
    INSERT INTO "list_members" VALUES ('m1', 'l1', 'alice'), ('m2', 'l2', 'alice'), ('m3', 'l3', 'bob'), ('m4', NULL, 'alice');`);
  afterAll(() => db.close());
  const members = rules.subqueries[0];
  const options = { dialect: 'sqlite' as const, claims: { sub: 'alice' }, types, placeholder: () => '?' };

  it("lists a user's set, without NULL", () => {
    const { sql, params } = subqueryValuesSql(members, options);
    expect(sql).toBe('SELECT "list_id" AS value FROM "list_members" WHERE "list_id" IS NOT NULL AND (("user_id" = ?))');
    expect(
      db
        .prepare(sql)
        .all(...params)
        .map((row) => (row as { value: string }).value)
        .sort(),
    ).toEqual(['l1', 'l2']);
  });

  it('checks that one value is in the set', () => {
    const isMember = (value: unknown) => {
      const { sql, params } = subqueryMembershipSql(members, { ...options, value });
      return db.prepare(sql).get(...params) !== undefined;
    };
    expect(subqueryMembershipSql(members, { ...options, value: 'l1' })).toEqual({
      sql: 'SELECT 1 FROM "list_members" WHERE "list_id" = ? AND (("user_id" = ?)) LIMIT 1',
      params: ['l1', 'alice'],
    });
    expect([isMember('l1'), isMember('l2'), isMember('l3'), isMember(null)]).toEqual([true, true, false, false]);
  });

  it('casts for Postgres', () => {
    const { sql } = subqueryMembershipSql(rules.subqueries[1], { ...options, dialect: 'postgres', placeholder: (i) => `$${i}`, value: 'l1' });
    expect(sql).toBe('SELECT 1 FROM "lists" WHERE "id" = $1::text AND (("owner_id" = $2::text)) LIMIT 1');
  });
});
