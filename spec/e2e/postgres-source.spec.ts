import pg from 'pg';
import { compareLsn, isLsn } from '../../src/protocol/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, parseServeArgs, serve } from '../../src/server/cli.js';
import { createSyncServer, type SyncServer } from '../../src/server/index.js';
import { createAppDatabase, type AppDatabase, useTestPostgres } from '../support/postgres.js';
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
  const cluster = useTestPostgres();
  let database: AppDatabase;
  let server: SyncServer;
  /** Stands in for psql, or the app's own backend: it writes to the tables directly. */
  let psql: pg.Client;

  beforeEach(async () => {
    database = await createAppDatabase(cluster(), APP_DDL);
    server = await createSyncServer({
      schema: testSchema,
      port: 0,
      host: '127.0.0.1',
      postgres: { connectionString: database.connectionString, slot: database.name, pollMs: 200, restartDelayMs: 500 },
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

  it('applies a 20,000-row source transaction atomically, sent in parts: a client polling count(*) sees before or after it, never between', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    const received: Array<{ lsn: string; count: number }> = [];
    const applied: Array<{ lsn: string; count: number }> = [];
    client.on('changes_received', (e: { lsn: string; count: number }) => received.push(e));
    client.on('changes_applied', (e: { lsn: string; count: number }) => applied.push(e));
    const counts = new Set<number>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        counts.add((await client.query<{ n: number }>('SELECT count(*) AS n FROM todos'))[0].n);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await psql.query(`INSERT INTO todos (id, title) SELECT 'bulk-' || n, 'row ' || n FROM generate_series(1, 20000) n`);
    await until(async () => (await client.query<{ n: number }>('SELECT count(*) AS n FROM todos'))[0].n === 20_001, 30_000, 'the big transaction');
    polling = false;
    await poller;
    expect(counts.has(1)).toBe(true); // it polled before the transaction arrived
    expect([...counts].filter((n) => n !== 1 && n !== 20_001)).toEqual([]); // and never saw a part of it
    // It came in parts of 500 (changesPerMessage), staged, then applied as one transaction.
    const big = applied.find((e) => e.count === 20_000)!;
    expect(received.filter((e) => e.lsn === big.lsn)).toHaveLength(40);
    expect(applied.filter((e) => e.lsn === big.lsn)).toHaveLength(1);
    expect(await client.query(`SELECT name FROM sqlite_master WHERE name = '_rxsync_staged'`)).toEqual([]); // dropped with the last part
  }, 60_000);

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

  it('resolves a client write racing a psql update by the documented policy (server order, last write wins), the same on every client', async () => {
    const writer = testClient();
    const watcher = testClient();
    for (const client of [writer, watcher]) {
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 10_000 });
    }
    // psql holds the row: the client's push waits on its lock, then applies on top of psql's commit.
    await psql.query('BEGIN');
    await psql.query(`UPDATE todos SET title = 'psql title', score = 9 WHERE id = 'existing-1'`);
    await writer.update('todos', 'existing-1', { title: 'client title' });
    await new Promise((resolve) => setTimeout(resolve, 200)); // the push reaches the server and waits on the lock
    await psql.query('COMMIT');
    await writer.whenSynced({ timeoutMs: 10_000 });
    const { rows } = await psql.query(`SELECT title, score::float8 AS score FROM todos WHERE id = 'existing-1'`);
    expect(rows).toEqual([{ title: 'client title', score: 9 }]); // the client's column on top of psql's whole commit
    for (const client of [writer, watcher]) {
      await until(async () => (await client.query<{ title: string }>('SELECT title FROM todos'))[0]?.title === 'client title', 10_000, 'convergence');
      expect(await client.query('SELECT title, score FROM todos')).toEqual([{ title: 'client title', score: 9 }]);
    }
  });

  it('creates a dropped slot again and resets clients, never serving the gap; /healthz shows the replication', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    const health = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
    expect(health).toMatchObject({
      ok: true,
      store: 'postgres',
      role: 'replicator',
      ready: true,
      replicationLagSeconds: 0,
      replication: { slot: database.name, slotActive: true, walStatus: 'reserved' },
    });
    expect(typeof health.replicationLagBytes).toBe('number');
    expect(health.replication.leaseAgeSeconds).toBeLessThan(5);

    // An operator drops the slot (it must be inactive first: end its stream, then drop before the replicator is back).
    await until(
      async () => {
        await psql.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active', [database.name]);
        return psql.query('SELECT pg_drop_replication_slot($1)', [database.name]).then(
          () => true,
          () => false,
        );
      },
      10_000,
      'the slot dropped',
    );
    // Written while no slot existed: no change stream will ever carry it.
    await psql.query(`INSERT INTO todos (id, title) VALUES ('in-the-gap', 'only a snapshot has me')`);
    await until(
      async () => (await psql.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [database.name])).rowCount === 1,
      10_000,
      'the slot again',
    );
    await psql.query(`INSERT INTO todos (id, title) VALUES ('after-the-gap', 'streamed')`);
    await until(async () => (await client.query('SELECT id FROM todos ORDER BY id')).length === 3, 10_000, 'the reset');
    expect(await client.query('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'after-the-gap' }, { id: 'existing-1' }, { id: 'in-the-gap' }]);
  });

  it('carries on when Postgres restarts mid-stream: the server reconnects by itself and clients converge', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 10_000 });
    await psql.query(`INSERT INTO todos (id, title) VALUES ('before-restart', 'one')`);
    psql.on('error', () => undefined); // this spec's own connection is cut too
    await cluster().restart();
    psql = new pg.Client({ connectionString: database.connectionString });
    await psql.connect();
    await psql.query(`INSERT INTO todos (id, title) VALUES ('after-restart', 'two')`);
    await client.insert('todos', { id: 'from-client', title: 'three', done: 0, score: 0, meta: null });
    await until(async () => (await client.query('SELECT id FROM todos')).length === 4, 20_000, 'convergence after the restart');
    await client.whenSynced({ timeoutMs: 20_000 });
    const { rows } = await psql.query('SELECT id FROM todos ORDER BY id');
    expect(await client.query('SELECT id FROM todos ORDER BY id')).toEqual(rows);
    expect(rows.map((r) => r.id)).toEqual(['after-restart', 'before-restart', 'existing-1', 'from-client']);
  }, 40_000);

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

  it('`rxsync serve --drop-slot` removes the slot and the publication, and refuses while a server streams from them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsync-pg-drop-'));
    const output: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => output.push(String(chunk)) > 0);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => output.push(String(chunk)) > 0);
    try {
      const file = join(dir, 'schema.json');
      writeFileSync(file, JSON.stringify({ tables: testSchema.tables }));
      const args = ['serve', '--postgres', database.connectionString, '--slot', database.name, '--schema', file, '--drop-slot'];
      expect(await main(args)).toBe(1);
      expect(output.join('')).toMatch(/in use by a running sync server: stop it first/);
      await server.close();
      expect(await main(args)).toBe(0);
      expect(output.join('')).toMatch(new RegExp(`dropped replication slot ${database.name}, dropped publication rxsync`));
      expect(output.join('')).not.toContain('secret'); // the password never reaches the terminal
      expect((await psql.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [database.name])).rowCount).toBe(0);
      expect((await psql.query(`SELECT 1 FROM pg_publication WHERE pubname = 'rxsync'`)).rowCount).toBe(0);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
