import pg from 'pg';
import { compareLsn, isLsn } from '../../src/protocol/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeArgs, serve } from '../../src/server/cli.js';
import { createSyncServer, type SyncServer } from '../../src/server/index.js';
import { createAppDatabase, startPostgres, type AppDatabase, type TestPostgres } from '../support/postgres.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';
import { testSchema } from '../support/test-schema.js';

/** The test schema's tables as an app would have them in Postgres, with a column the schema does not sync. */
const APP_DDL = `
  CREATE TABLE todos (id text PRIMARY KEY, title text, done boolean, score numeric, meta jsonb, internal_note text DEFAULT 'server only');
  CREATE TABLE counters (n integer PRIMARY KEY, label text);
  INSERT INTO todos (id, title, done, score, meta) VALUES ('existing-1', 'was there first', true, 1.5, '{"from": "postgres"}');`;

/**
 * A sync server in front of an existing Postgres database: rows written there by anything reach
 * clients, client writes land in its tables, and the LSNs clients keep are real WAL positions.
 */
describe('a Postgres database as the source, end to end', () => {
  let postgres: TestPostgres;
  let database: AppDatabase;
  let server: SyncServer;
  /** Stands in for psql, or the app's own backend: it writes to the tables directly. */
  let psql: pg.Client;

  beforeAll(async () => {
    postgres = await startPostgres();
  }, 30_000);
  afterAll(async () => {
    await postgres?.stop();
  });
  beforeEach(async () => {
    database = await createAppDatabase(postgres, APP_DDL);
    server = await createSyncServer({
      schema: testSchema,
      port: 0,
      host: '127.0.0.1',
      postgres: { connectionString: database.connectionString, slot: database.name, pollMs: 200 },
      onError: () => undefined,
    });
    psql = new pg.Client({ connectionString: database.connectionString });
    await psql.connect();
  }, 30_000);
  afterEach(async () => {
    await cleanupClients();
    await psql?.end();
    await server?.close();
    await database?.drop();
  });

  const walPosition = async () => (await psql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;

  it('syncs the rows already there, then what psql commits, at real commit LSNs', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    expect(await client.query('SELECT id, title, done, score, meta FROM todos')).toEqual([
      { id: 'existing-1', title: 'was there first', done: 1, score: 1.5, meta: '{"from":"postgres"}' },
    ]);

    // One transaction of three statements: the client gets it at its commit LSN, never a part.
    await psql.query('BEGIN');
    await psql.query(`INSERT INTO todos (id, title, done) VALUES ('p1', 'from psql', false)`);
    await psql.query(`UPDATE todos SET title = 'edited in psql' WHERE id = 'existing-1'`);
    await psql.query(`INSERT INTO counters (n, label) VALUES (7, 'seven')`);
    await psql.query('COMMIT');
    const afterCommit = await walPosition();
    await until(async () => (await client.query('SELECT count(*) AS n FROM counters'))[0]?.n === 1, 10_000, 'the psql transaction');
    expect(await client.query('SELECT id, title FROM todos ORDER BY id')).toEqual([
      { id: 'existing-1', title: 'edited in psql' },
      { id: 'p1', title: 'from psql' },
    ]);
    const lsn = client.currentLsn;
    expect(isLsn(lsn)).toBe(true);
    expect(compareLsn(lsn, afterCommit)).toBeLessThanOrEqual(0); // a WAL position Postgres has reached
    expect(lsn).toBe(server.currentLsn());
  });

  it('applies client writes to the Postgres tables, leaving the columns it does not sync alone', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    await client.insert('todos', { id: 'c1', title: 'from a client', done: 1, score: 2.25, meta: { tags: ['a'] } });
    await client.update('todos', 'existing-1', { title: 'client edit' });
    await client.whenSynced({ timeoutMs: 10_000 });
    const { rows } = await psql.query(`SELECT id, title, done, score::text AS score, meta, internal_note FROM todos ORDER BY id`);
    expect(rows).toEqual([
      { id: 'c1', title: 'from a client', done: true, score: '2.25', meta: { tags: ['a'] }, internal_note: 'server only' },
      { id: 'existing-1', title: 'client edit', done: true, score: '1.5', meta: { from: 'postgres' }, internal_note: 'server only' },
    ]);
    // A second client sees the first one's writes through the WAL.
    const other = testClient();
    await other.connect(server.url);
    await other.whenSynced({ timeoutMs: 10_000 });
    expect(await other.query('SELECT id, title FROM todos ORDER BY id')).toEqual([
      { id: 'c1', title: 'from a client' },
      { id: 'existing-1', title: 'client edit' },
    ]);
  });

  it('delivers the whole row when another column of a row with a large TOASTed value changes', async () => {
    // Random text does not compress, so 200 kB is stored out of line (TOAST).
    const big = Array.from({ length: 200_000 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 90))).join('');
    await psql.query(`INSERT INTO todos (id, title, meta) VALUES ('toast', $1, '{}')`, [big]);
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    await psql.query(`UPDATE todos SET done = true WHERE id = 'toast'`);
    await until(async () => (await client.query('SELECT done FROM todos WHERE id = ?', ['toast']))[0]?.done === 1, 10_000, 'the update');
    const [row] = await client.query<{ title: string }>('SELECT title FROM todos WHERE id = ?', ['toast']);
    expect(row.title.length).toBe(big.length);
    expect(row.title === big).toBe(true);
  });

  it('turns a primary key change into the old row gone and the new one there', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    await psql.query(`UPDATE todos SET id = 'renamed' WHERE id = 'existing-1'`);
    await until(async () => (await client.query('SELECT id FROM todos WHERE id = ?', ['renamed'])).length === 1, 10_000, 'the key change');
    expect(await client.query('SELECT id, title FROM todos')).toEqual([{ id: 'renamed', title: 'was there first' }]);
  });

  it('keeps syncing a column added to a synced table mid-stream (it is not synced until schema.json names it)', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    await psql.query(`ALTER TABLE todos ADD COLUMN priority integer DEFAULT 3`);
    await psql.query(`INSERT INTO todos (id, title, priority) VALUES ('after-alter', 'still syncs', 5)`);
    await until(async () => (await client.query('SELECT id FROM todos WHERE id = ?', ['after-alter'])).length === 1, 10_000, 'the row after ALTER');
    expect(await client.query('SELECT title FROM todos WHERE id = ?', ['after-alter'])).toEqual([{ title: 'still syncs' }]);
  });

  it('resets clients after a TRUNCATE (it names no rows), so the truncated rows go', async () => {
    await psql.query(`INSERT INTO todos (id, title) SELECT 'bulk-' || n, 'bulk' FROM generate_series(1, 50) n`);
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 51 }]);
    await psql.query('TRUNCATE todos');
    await psql.query(`INSERT INTO todos (id, title) VALUES ('after-truncate', 'fresh')`);
    await until(async () => (await client.query('SELECT count(*) AS n FROM todos'))[0]?.n === 1, 10_000, 'the reset after TRUNCATE');
    await client.whenSynced({ timeoutMs: 10_000 });
    expect(await client.query('SELECT id, title FROM todos')).toEqual([{ id: 'after-truncate', title: 'fresh' }]);
  });

  it('is what `rxsync serve --schema schema.json` serves when DATABASE_URL is set', async () => {
    await server.close(); // the slot streams to one consumer: this spec's own server steps aside
    const dir = mkdtempSync(join(tmpdir(), 'rxsync-pg-cli-'));
    try {
      const file = join(dir, 'schema.json');
      writeFileSync(file, JSON.stringify({ tables: testSchema.tables }));
      const options = parseServeArgs(['--schema', file, '--port', '0', '--slot', database.name], { DATABASE_URL: database.connectionString });
      server = await serve(options);
      const client = testClient();
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 10_000 });
      expect(await client.query('SELECT id FROM todos')).toEqual([{ id: 'existing-1' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
