import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { HELP, parseServeArgs, serve } from '../../src/server/cli.js';
import { demoSchema } from '../../src/server/index.js';
import { testSchema } from '../support/test-schema.js';
import { TestPeer } from '../support/test-peer.js';

describe('rxsync serve', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxsync-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('explains every flag in --help', () => {
    for (const flag of ['--port', '--host', '--db', '--postgres', '--slot', 'DATABASE_URL', '--schema', '--demo', '--retention', 'PORT', '/healthz']) {
      expect(HELP).toContain(flag);
    }
  });

  it('serves Postgres with --postgres, or with DATABASE_URL alone when no --db is given', () => {
    const file = join(dir, 'schema-pg.json');
    writeFileSync(file, JSON.stringify({ tables: testSchema.tables }));
    const url = 'postgres://app:secret@db:5432/app';
    expect(parseServeArgs(['--schema', file, '--postgres', url, '--slot', 'rxsync_app'], {})).toMatchObject({ postgres: url, slot: 'rxsync_app' });
    expect(parseServeArgs(['--schema', file], { DATABASE_URL: url })).toMatchObject({ postgres: url });
    expect(parseServeArgs(['--schema', file, '--postgres', url], { DATABASE_URL: 'postgres://other/db' })).toMatchObject({ postgres: url });
    // --db (SQLite) wins over the environment, and the demo stays on its own file.
    expect(parseServeArgs(['--schema', file, '--db', ':memory:'], { DATABASE_URL: url }).postgres).toBeUndefined();
    expect(parseServeArgs(['--demo'], { DATABASE_URL: url }).postgres).toBeUndefined();
    expect(parseServeArgs(['--schema', file], {}).postgres).toBeUndefined();
  });

  it('reads a schema file and the flags', () => {
    const file = join(dir, 'schema.json');
    writeFileSync(file, JSON.stringify({ tables: testSchema.tables }));
    const options = parseServeArgs(['--port', '9001', '--db', join(dir, 'x.db'), '--schema', file, '--retention', '50'], {});
    expect(options).toMatchObject({ port: 9001, host: '127.0.0.1', database: join(dir, 'x.db'), demo: false, retention: 50 });
    expect(options.schema.hash).toBe(testSchema.hash);
  });

  it('honours PORT, and --port over PORT', () => {
    expect(parseServeArgs(['--demo'], { PORT: '4321' }).port).toBe(4321);
    expect(parseServeArgs(['--demo', '--port', '0'], { PORT: '4321' }).port).toBe(0);
    expect(parseServeArgs(['--demo'], {}).port).toBe(8787);
  });

  it.each([
    [['--port', 'abc', '--demo'], /--port/],
    [['--port', '70000', '--demo'], /--port/],
    [[], /--schema <file> is required/],
    [['--demo', '--schema', 'x.json'], /either --demo or --schema/],
    [['--schema', '/nonexistent/schema.json'], /cannot read schema/],
    [['--demo', '--retention', '-1'], /--retention/],
    [['--demo', '--bogus'], /Unknown option/],
    [['--demo', '--db', 'x.db', '--postgres', 'postgres://h/d'], /either --db \(SQLite\) or --postgres/],
    [['--demo', '--slot', 'x'], /--slot is for a Postgres source/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => parseServeArgs(argv as string[], {})).toThrow(message);
  });

  it('refuses a schema file with a hostile table name', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ tables: { 'x; DROP TABLE y': { primaryKey: 'id', columns: { id: 'text' } } } }));
    expect(() => parseServeArgs(['--schema', file], {})).toThrow(/not a plain identifier/);
  });

  it('serves the demo: a seeded todo list, /healthz and the sync endpoint', async () => {
    const server = await serve({ ...parseServeArgs(['--demo', '--port', '0', '--db', join(dir, 'demo.db')], {}) });
    try {
      const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      expect(await health.json()).toMatchObject({ ok: true });
      expect(await server.query('SELECT title FROM todos ORDER BY id')).toHaveLength(3);
      const peer = await TestPeer.connect(server.url);
      peer.hello(demoSchema);
      expect((await peer.next('welcome')).mode).toBe('initial');
      expect((await peer.next('snapshot_begin')).tables).toEqual([{ table: 'todos', rows: 3, chunks: 1 }]);
      await peer.close();
    } finally {
      await server.close();
    }
    // A second start over the same file keeps the data and does not seed again.
    const again = await serve(parseServeArgs(['--demo', '--port', '0', '--db', join(dir, 'demo.db')], {}));
    expect(await again.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 3 }]);
    await again.close();
    expect(WebSocket).toBeDefined();
  });

  it('hands --retention to the embedded store', async () => {
    const server = await serve(parseServeArgs(['--demo', '--port', '0', '--db', ':memory:', '--retention', '2'], {}));
    try {
      // The demo seeds three todos; a log of two keeps 0/2 and 0/3.
      expect(server.currentLsn()).toBe('0/3');
      expect(server.store.oldestResumableLsn()).toBe('0/1');
    } finally {
      await server.close();
    }
  });
});
