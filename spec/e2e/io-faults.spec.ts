/**
 * Crash and I/O errors, the way SQLite tests itself: for each operation, count the IndexedDB
 * writes it makes, then for N = 1..count run it again with the Nth write failing (a
 * QuotaExceededError that aborts its IndexedDB transaction), crash at the moment the user sees the
 * error (copy what IndexedDB committed, see spec/support/faulty-indexeddb.ts), reopen a fresh
 * client over that copy and check:
 * - the user saw a clear error (a rejected promise, an error event), not a hang or a silent success;
 * - the database is consistent: the rows are exactly the server's at the stored LSN (a batch is
 *   all there with its LSN or not at all; a snapshot is whole chunks), the outbox holds every
 *   write that resolved and nothing of the one that was rejected;
 * - the reopened client then syncs to the server's state, row for row, and each local write
 *   reaches the server exactly once.
 */
import type { SyncServer } from '../../src/server/index.js';
import type { SyncClient } from '../../src/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { FaultyIndexedDB } from '../support/faulty-indexeddb.js';
import { prepareSqliteImage } from '../support/sqlite-crash-image.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

const ROWS = 'SELECT id, title, done, score FROM todos ORDER BY id';
type TodoRow = { id: string; title: string; done: number; score: number };

/** What the user saw and the crash image taken at that moment. */
interface Faulted {
  error: unknown;
  image: Promise<FaultyIndexedDB>;
}

jest.setTimeout(60_000);

let server: SyncServer;
const silenced: jest.SpyInstance[] = [];

beforeEach(() => {
  // wa-sqlite's VFS logs every failed IndexedDB transaction; the spec checks the errors itself.
  silenced.push(jest.spyOn(console, 'error').mockImplementation(() => undefined));
  silenced.push(jest.spyOn(console, 'warn').mockImplementation(() => undefined));
});
afterEach(async () => {
  await cleanupClients();
  await server?.close();
  silenced.splice(0).forEach((spy) => spy.mockRestore());
});

/** Errors as events: the first one takes the crash image, synchronously, as it is emitted. */
function crashOnError(client: SyncClient, takeImage: () => Promise<FaultyIndexedDB>): () => Faulted | undefined {
  let faulted: Faulted | undefined;
  client.on('error', (error) => {
    faulted ??= { error, image: takeImage() };
  });
  return () => faulted;
}

async function reopen(idb: FaultyIndexedDB): Promise<SyncClient> {
  const client = testClient({ database: 'app', indexedDB: idb.factory });
  await client.initialize();
  expect(await client.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  return client;
}

/** A fresh server with `rows` todos and a client on a fresh (faulty) IndexedDB. */
async function setUp(rows: number, limits?: { snapshotChunkRows: number; snapshotWindow: number }) {
  await cleanupClients();
  await server?.close();
  server = await startTestServer(limits ? { limits } : {});
  for (let i = 1; i <= rows; i++) await server.insert('todos', todo(i));
  const idb = new FaultyIndexedDB();
  return { idb, client: testClient({ database: 'app', indexedDB: idb.factory }) };
}

async function converge(client: SyncClient): Promise<void> {
  await client.connect(server.url);
  await client.whenSynced({ timeoutMs: 5000 });
  expect(await client.query(ROWS)).toEqual(await server.query(ROWS));
  expect(await client.localChanges({ status: 'pending' })).toEqual([]);
  expect(await client.localChanges({ status: 'sent' })).toEqual([]);
}

/** Runs `scenario` once without a fault to count its writes, then once per write with it failing. */
async function everyWrite(scenario: (failAt: number | undefined) => Promise<number>): Promise<number> {
  const total = await scenario(undefined);
  expect(total).toBeGreaterThan(0);
  for (let n = 1; n <= total; n++) await scenario(n);
  return total;
}

describe('the Nth IndexedDB write fails, then the client crashes', () => {
  it('(a) a server batch of several rows: all of it with its LSN, or none of it', async () => {
    await everyWrite(async (failAt) => {
      const { idb, client } = await setUp(3);
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 5000 });
      await idb.quiesce();
      const before = { lsn: client.currentLsn, rows: await server.query<TodoRow>(ROWS) };
      const faulted = crashOnError(client, await prepareSqliteImage(idb, 'app'));

      const start = idb.count;
      if (failAt !== undefined) idb.failNthWrite(failAt);
      await server.store.applyClientWrites('another-client', [
        { id: 'b1', table: 'todos', op: 'insert', key: todo(10).id, row: todo(10) },
        { id: 'b2', table: 'todos', op: 'update', key: todo(1).id, row: { title: 'updated in the batch' } },
        { id: 'b3', table: 'todos', op: 'delete', key: todo(2).id },
      ]);
      const after = { lsn: server.currentLsn(), rows: await server.query<TodoRow>(ROWS) };
      if (failAt === undefined) {
        await until(() => client.currentLsn === after.lsn, 5000, 'the batch applied');
        await idb.quiesce();
        expect(faulted()).toBeUndefined();
        return idb.count - start;
      }

      const seen = await until(faulted, 5000, `the error of write ${failAt}`);
      expect(idb.faults).toHaveLength(1);
      expect(seen.error).toMatchObject({ message: expect.any(String) });
      client.disconnect();

      const second = await reopen(await seen.image);
      const state = second.currentLsn === after.lsn ? after : before;
      expect(second.currentLsn).toBe(state.lsn);
      expect(await second.query(ROWS)).toEqual(state.rows);
      expect(await second.localChanges()).toEqual([]);
      await converge(second);
      return 0;
    });
  });

  it('(b) an initial sync in chunks: whole chunks and no LSN, or all of it with its LSN', async () => {
    const chunkRows = 2;
    await everyWrite(async (failAt) => {
      const { idb, client } = await setUp(6, { snapshotChunkRows: chunkRows, snapshotWindow: 1 });
      await client.initialize();
      await idb.quiesce();
      const faulted = crashOnError(client, await prepareSqliteImage(idb, 'app'));
      const snapshot = { lsn: server.currentLsn(), rows: await server.query<TodoRow>(ROWS) };

      const start = idb.count;
      if (failAt !== undefined) idb.failNthWrite(failAt);
      void client.connect(server.url);
      if (failAt === undefined) {
        await until(() => client.currentLsn === snapshot.lsn, 5000, 'the initial sync');
        await idb.quiesce();
        expect(faulted()).toBeUndefined();
        return idb.count - start;
      }

      const seen = await until(faulted, 5000, `the error of write ${failAt}`);
      expect(idb.faults).toHaveLength(1);
      expect(seen.error).toMatchObject({ message: expect.stringMatching(/QuotaExceededError/) });
      client.disconnect();

      const second = await reopen(await seen.image);
      const rows = await second.query<TodoRow>(ROWS);
      if (second.currentLsn === snapshot.lsn) expect(rows).toEqual(snapshot.rows);
      else {
        // Cut short: no checkpoint, and the chunks that committed, whole, in the server's order.
        expect(second.currentLsn).toBe('0/0');
        expect(rows.length % chunkRows).toBe(0);
        expect(rows).toEqual(snapshot.rows.slice(0, rows.length));
      }
      await converge(second);
      return 0;
    });
  });

  it('(c) local writes: a write that resolved is kept, one that rejected left nothing', async () => {
    type Write = { op: 'insert' | 'update' | 'delete'; key: string; run: (c: SyncClient) => Promise<void> };
    const writes: Write[] = [
      { op: 'insert', key: todo(10).id, run: (c) => c.insert('todos', todo(10)) },
      { op: 'update', key: todo(1).id, run: (c) => c.update('todos', todo(1).id, { title: 'updated offline' }) },
      { op: 'delete', key: todo(2).id, run: (c) => c.delete('todos', todo(2).id) },
    ];
    /** The server's rows with the first `n` writes applied. */
    const expectedRows = (base: TodoRow[], n: number): TodoRow[] => {
      const rows = new Map(base.map((row) => [row.id, { ...row }]));
      for (const write of writes.slice(0, n)) {
        if (write.op === 'insert') rows.set(write.key, { id: todo(10).id, title: todo(10).title, done: todo(10).done, score: todo(10).score });
        if (write.op === 'update') rows.get(write.key)!.title = 'updated offline';
        if (write.op === 'delete') rows.delete(write.key);
      }
      return [...rows.values()].sort((a, b) => a.id.localeCompare(b.id));
    };

    await everyWrite(async (failAt) => {
      const { idb, client } = await setUp(3);
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 5000 });
      client.disconnect(); // offline: the writes go to the outbox and stay there
      await idb.quiesce();
      const base = await server.query<TodoRow>(ROWS);
      const takeImage = await prepareSqliteImage(idb, 'app');
      const faulted = crashOnError(client, takeImage);

      const start = idb.count;
      if (failAt !== undefined) idb.failNthWrite(failAt);
      let resolved = 0;
      let rejected: { error: unknown; image: Promise<FaultyIndexedDB> } | undefined;
      for (const write of writes) {
        try {
          await write.run(client);
          resolved += 1;
        } catch (error) {
          rejected = { error, image: takeImage() }; // the crash, as the user sees the error
          break;
        }
      }
      if (failAt === undefined) {
        await idb.quiesce();
        expect(rejected).toBeUndefined();
        expect(faulted()).toBeUndefined();
        return idb.count - start;
      }

      expect(idb.faults).toHaveLength(1);
      expect(rejected).toBeDefined();
      expect(rejected!.error).toMatchObject({ code: 10, message: expect.stringMatching(/QuotaExceededError/) });

      const second = await reopen(await rejected!.image);
      const kept = writes.slice(0, resolved);
      const entries = await second.localChanges();
      expect(entries.map((e) => [e.op, e.key, e.status])).toEqual(kept.map((w) => [w.op, w.key, 'pending']));
      expect(await second.query(ROWS)).toEqual(expectedRows(base, resolved));

      await converge(second);
      expect(await server.query(ROWS)).toEqual(expectedRows(base, resolved));
      // Exactly once: one logged change per kept write, none for the rejected one.
      const logged = await server.query<{ op: string; key: string }>('SELECT op, key FROM _rxsync_changes WHERE client_id = ? ORDER BY lsn', [second.clientId]);
      expect(logged.map((c) => [c.op, JSON.parse(c.key)])).toEqual(kept.map((w) => [w.op, w.key]));
      return 0;
    });
  });
});
