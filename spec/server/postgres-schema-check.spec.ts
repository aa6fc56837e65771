import { Client } from 'pg';
import { defineSchema } from '../../src/protocol/index.js';
import { checkPostgresSchema } from '../../src/server/store/postgres/schema-check.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

const schema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer', score: 'real', meta: 'json', due: 'text' } },
    counters: { primaryKey: 'n', columns: { n: 'integer', label: 'text' } },
  },
});

describe('the Postgres schema check, against a real PostgreSQL', () => {
  let postgres: TestPostgres;
  let db: Client;
  beforeAll(async () => {
    postgres = await startPostgres();
    db = new Client({ connectionString: postgres.connectionString });
    await db.connect();
  }, 30_000);
  afterAll(async () => {
    await db?.end();
    await postgres?.stop();
  });
  beforeEach(async () => {
    await db.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public');
  });

  it('accepts tables whose columns sync as schema.json declares them (extra columns are not synced)', async () => {
    await db.query(`CREATE TABLE todos (id uuid PRIMARY KEY, title varchar(200), done boolean, score numeric, meta jsonb, due timestamptz, secret text)`);
    await db.query(`CREATE TABLE counters (n bigint PRIMARY KEY, label text)`);
    const tables = await checkPostgresSchema(db, schema);
    // What each synced column is in Postgres, for the conversions (docs/postgres.md, Types).
    expect(tables.get('todos')!.columns.map((c) => [c.column, c.type, c.pgType])).toEqual([
      ['done', 'integer', 'boolean'],
      ['due', 'text', 'timestamp with time zone'],
      ['id', 'text', 'uuid'],
      ['meta', 'json', 'jsonb'],
      ['score', 'real', 'numeric'],
      ['title', 'text', 'character varying'],
    ]);
    expect(tables.get('counters')!.columns.map((c) => [c.column, c.pgType])).toEqual([
      ['label', 'text'],
      ['n', 'bigint'],
    ]);
  });

  it('refuses to start on a database that differs, naming every table and column and what differs', async () => {
    await db.query(`CREATE TABLE todos (id text, title text, done timestamptz, score real, meta text)`);
    await db.query(`CREATE TABLE "Counters" (n integer PRIMARY KEY, label text)`);
    const error = await checkPostgresSchema(db, schema).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'SchemaError', code: 'invalid_schema' });
    expect((error as Error).message.split('\n').slice(1)).toEqual([
      '- table public.counters does not exist (schema.json syncs it)',
      '- todos.done is timestamp with time zone in Postgres, which does not sync as integer (see docs/postgres.md, Types)',
      '- todos.due does not exist (schema.json declares it text)',
      '- todos.meta is text in Postgres, which does not sync as json (see docs/postgres.md, Types)',
      '- todos has no primary key in Postgres (schema.json says id)',
    ]);
  });

  it('checks the primary key is the one schema.json names', async () => {
    await db.query(`CREATE TABLE todos (id text, title text, done integer, score real, meta json, due date, PRIMARY KEY (id, title))`);
    await db.query(`CREATE TABLE counters (n integer, label text PRIMARY KEY)`);
    await expect(checkPostgresSchema(db, schema)).rejects.toThrow(
      /counters's primary key is \(label\) in Postgres, schema.json says n\n- todos's primary key is \(id, title\) in Postgres, schema.json says id$/,
    );
  });
});
