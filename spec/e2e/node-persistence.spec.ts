/**
 * A Node client (a CLI tool, an Electron main process) whose database is a file: it keeps its
 * rows, its checkpoint, its identity and its outbox across a restart (a new process, or a new
 * client in the same one), survives being killed mid-sync or mid-write with a consistent file,
 * and one process at a time may use the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncServer } from '../../src/server/index.js';
import type { SyncClient } from '../../src/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';
import { startNodeClientProcess, stopNodeClientProcesses } from '../support/node-client-process.js';
import { prng } from '../support/prng.js';

jest.setTimeout(60_000);

const ROWS = 'SELECT id, title, done, score FROM todos ORDER BY id';
type TodoRow = { id: string; title: string; done: number; score: number };

let server: SyncServer;
let folder: string;
let file: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rxsync-node-client-'));
  file = join(folder, 'todos.db');
});
afterEach(async () => {
  await stopNodeClientProcesses();
  await cleanupClients();
  await server?.close();
  rmSync(folder, { recursive: true, force: true });
});

async function converge(client: SyncClient): Promise<void> {
  await client.connect(server.url);
  await client.whenSynced({ timeoutMs: 10_000 });
  expect(await client.query(ROWS)).toEqual(await server.query(ROWS));
  expect(await client.localChanges({ status: 'pending' })).toEqual([]);
  expect(await client.localChanges({ status: 'sent' })).toEqual([]);
}

/** The changes the server logged for `clientId`, as [op, key]. */
async function loggedChanges(clientId: string): Promise<Array<[string, string]>> {
  const rows = await server.query<{ op: string; key: string }>('SELECT op, key FROM _rxsync_changes WHERE client_id = ? ORDER BY lsn', [clientId]);
  return rows.map((row) => [row.op, JSON.parse(row.key)]);
}

describe('a Node client whose database is a file', () => {
  beforeEach(async () => {
    server = await startTestServer();
    for (let i = 1; i <= 20; i++) await server.insert('todos', todo(i));
  });

  it('syncs, closes, and a new process on the same file resumes from its LSN with its rows and its outbox', async () => {
    const first = await startNodeClientProcess();
    await first.call('create', { database: file });
    await first.call('connect', server.url);
    await first.call('whenSynced', { timeoutMs: 5000 });
    const clientId = await first.call<string>('get', 'clientId');
    const lsn = await first.call<string>('get', 'currentLsn');
    expect(lsn).toBe(server.currentLsn());
    await first.call('disconnect');
    // Offline: these wait in the outbox, in the file.
    await first.call('insert', 'todos', todo(100, { title: 'written before the restart' }));
    await first.call('update', 'todos', todo(1).id, { title: 'changed offline' });
    await first.exit();

    await server.update('todos', todo(2).id, { title: 'changed while the client was not running' });

    const second = await startNodeClientProcess();
    await second.call('create', { database: file });
    await second.call('initialize');
    expect(await second.call('get', 'clientId')).toBe(clientId);
    expect(await second.call('get', 'currentLsn')).toBe(lsn);
    expect(await second.call('query', 'SELECT count(*) AS n FROM todos')).toEqual([{ n: 21 }]);
    const pending = await second.call<Array<{ op: string; key: string }>>('localChanges', { status: 'pending' });
    expect(pending.map((c) => [c.op, c.key])).toEqual([
      ['insert', todo(100).id],
      ['update', todo(1).id],
    ]);

    await second.call('connect', server.url);
    await second.call('whenSynced', { timeoutMs: 5000 });
    expect(second.events.find((e) => e.type === 'connected')?.data.mode).toBe('catchup');
    expect(second.events.some((e) => e.type === 'initial_sync_started')).toBe(false);
    expect(await second.call('query', ROWS)).toEqual(await server.query(ROWS));
    expect(await server.query('SELECT title FROM todos WHERE id IN (?, ?) ORDER BY id', [todo(1).id, todo(100).id])).toEqual([
      { title: 'changed offline' },
      { title: 'written before the restart' },
    ]);
    expect(await loggedChanges(clientId)).toEqual([
      ['insert', todo(100).id],
      ['update', todo(1).id],
    ]);
    await second.exit();
  });

  it('a new client in the same process, once the first has closed, has everything; two at once: the second is refused', async () => {
    const first = testClient({ database: file });
    await first.connect(server.url);
    await first.whenSynced({ timeoutMs: 5000 });
    first.disconnect();
    await first.delete('todos', todo(3).id);

    const twice = testClient({ database: file });
    await expect(twice.initialize()).rejects.toMatchObject({
      code: 5,
      message: expect.stringContaining(`database file ${file} is in use in this process already`),
    });
    const { clientId, currentLsn } = first;
    await first.cleanup();

    const second = testClient({ database: file });
    await second.initialize();
    expect([second.clientId, second.currentLsn]).toEqual([clientId, currentLsn]);
    expect((await second.localChanges()).map((c) => [c.op, c.key, c.status])).toEqual([['delete', todo(3).id, 'pending']]);
    await converge(second);
    expect(await loggedChanges(clientId)).toEqual([['delete', todo(3).id]]);
  });

  it('another process holding the file: the client says which one', async () => {
    const holder = await startNodeClientProcess();
    await holder.call('create', { database: file });
    await holder.call('initialize');
    const client = testClient({ database: file });
    await expect(client.initialize()).rejects.toThrow(`database file ${file} is in use by process ${holder.pid}`);
    await holder.exit();
    const after = testClient({ database: file });
    await after.initialize();
  });
});

describe('a Node client process killed (SIGKILL) mid-work', () => {
  it('during an initial sync in chunks: the file has whole chunks, the first ones, and no LSN, or all of it with its LSN; the next client finishes', async () => {
    const chunkRows = 100;
    const random = prng(5);
    server = await startTestServer({ limits: { snapshotChunkRows: chunkRows, snapshotWindow: 1 } });
    for (let i = 1; i <= 3000; i++) await server.insert('todos', todo(i));
    const snapshot = { lsn: server.currentLsn(), rows: await server.query<TodoRow>(ROWS) };
    for (let round = 0; round < 3; round++) {
      rmSync(file, { force: true });
      rmSync(`${file}-journal`, { force: true });
      const child = await startNodeClientProcess();
      await child.call('create', { database: file });
      void child.call('connect', server.url).catch(() => undefined);
      const chunks = 1 + Math.floor(random.next() * 20);
      await until(() => child.events.filter((e) => e.type === 'initial_sync_progress').length >= chunks, 20_000, `${chunks} chunks`);
      await child.kill();

      const client = testClient({ database: file });
      await client.initialize();
      expect(await client.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      const rows = await client.query<TodoRow>(ROWS);
      if (client.currentLsn === snapshot.lsn) expect(rows).toEqual(snapshot.rows);
      else {
        // Whole chunks, the snapshot's first ones: the chunks share a transaction, committed at a
        // chunk's end (every 10,000 rows or 500 ms), so a kill loses the ones written since.
        expect(client.currentLsn).toBe('0/0');
        expect(rows.length % chunkRows).toBe(0);
        expect(rows).toEqual(snapshot.rows.slice(0, rows.length));
      }
      await converge(client);
      await cleanupClients();
    }
  });

  it('while writing offline: every write that resolved is kept with its row, and each kept write reaches the server once', async () => {
    server = await startTestServer();
    for (let i = 1; i <= 5; i++) await server.insert('todos', todo(i));
    const child = await startNodeClientProcess();
    await child.call('create', { database: file });
    await child.call('connect', server.url);
    await child.call('whenSynced', { timeoutMs: 5000 });
    const clientId = await child.call<string>('get', 'clientId');
    await child.call('disconnect');
    const resolved = new Set<string>();
    const writes = Array.from({ length: 400 }, (_, n) => todo(1000 + n));
    for (const row of writes) {
      void child.call('insert', 'todos', row).then(
        () => resolved.add(row.id),
        () => undefined,
      );
    }
    await until(() => resolved.size >= 30, 20_000, 'some writes to resolve');
    await child.kill();
    expect(resolved.size).toBeLessThan(writes.length); // killed with writes in flight

    const client = testClient({ database: file });
    await client.initialize();
    expect(client.clientId).toBe(clientId);
    const entries = await client.localChanges();
    const kept = entries.map((e) => e.key as string);
    // Kept: every resolved write, then perhaps the ones that committed as the process died; in order.
    expect(kept).toEqual(writes.slice(0, kept.length).map((row) => row.id));
    for (const id of resolved) expect(kept).toContain(id);
    expect(entries.every((e) => e.op === 'insert' && e.status === 'pending')).toBe(true);
    // Each entry with its row, and no row without its entry.
    const local = await client.query<{ id: string }>('SELECT id FROM todos WHERE id >= ? ORDER BY id', [todo(1000).id]);
    expect(local.map((row) => row.id)).toEqual(kept);

    await converge(client);
    expect(await loggedChanges(clientId)).toEqual(kept.map((id) => ['insert', id]));
  });
});
