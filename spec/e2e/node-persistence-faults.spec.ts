/**
 * Crash and I/O errors for a Node client whose database is a file, as spec/e2e/io-faults.spec.ts
 * checks them for IndexedDB: for each operation, count the file writes it makes, then for
 * N = 1..count run it again with the Nth write failing (ENOSPC for a write or a truncate, EIO for a
 * sync), crash at the moment the user sees the error (copy the files: what a killed process
 * leaves, see spec/support/faulty-file-system.ts), reopen a fresh client over that copy and check:
 * - the user saw a clear error (a rejected promise, an error event), not a hang or a silent success;
 * - the database is consistent: the rows are exactly the server's at the stored LSN (a batch is
 *   all there with its LSN or not at all; a snapshot is whole chunks), the outbox holds every
 *   write that resolved and nothing of the one that was rejected, except where the failure came
 *   after the commit point (the sync of the truncated journal, the last write of a commit): that
 *   write is then all there, its outbox entry included;
 * - the reopened client then syncs to the server's state, row for row, and each local write
 *   reaches the server exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncServer } from '../../src/server/index.js';
import type { SyncClient } from '../../src/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

const ROWS = 'SELECT id, title, done, score FROM todos ORDER BY id';
type TodoRow = { id: string; title: string; done: number; score: number };

jest.setTimeout(120_000);

let server: SyncServer;
let folder: string;
let restoreFs: (() => void) | undefined;
let faulty: FaultyFileSystem;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'rxsync-file-faults-'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));
afterEach(async () => {
  restoreFs?.();
  restoreFs = undefined;
  await cleanupClients();
  await server?.close();
});

/** The failed write came after the commit point: the sync of the journal just truncated. */
function afterCommitPoint(): boolean {
  const at = faulty.writes.indexOf(faulty.faults[0]!);
  const previous = faulty.writes[at - 1];
  return faulty.faults[0]!.op === 'sync' && faulty.faults[0]!.path.endsWith('-journal') && previous?.op === 'truncate';
}

/** Errors as events: the first one takes the crash image, synchronously, as it is emitted. */
function crashOnError(client: SyncClient): () => { error: unknown; image: string } | undefined {
  let faulted: { error: unknown; image: string } | undefined;
  client.on('error', (error) => {
    faulted ??= { error, image: faulty.image() };
  });
  return () => faulted;
}

async function reopen(image: string): Promise<SyncClient> {
  const client = testClient({ database: join(image, 'app.db') });
  await client.initialize();
  expect(await client.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  return client;
}

/** A fresh server with `rows` todos and a client on a fresh file, its writes watched (and failed on demand). */
async function setUp(rows: number, limits?: { snapshotChunkRows: number; snapshotWindow: number }) {
  restoreFs?.();
  await cleanupClients();
  await server?.close();
  server = await startTestServer(limits ? { limits } : {});
  for (let i = 1; i <= rows; i++) await server.insert('todos', todo(i));
  const dir = mkdtempSync(join(folder, 'run-'));
  faulty = new FaultyFileSystem(dir);
  restoreFs = faulty.install();
  return testClient({ database: join(dir, 'app.db') });
}

async function converge(client: SyncClient): Promise<void> {
  await client.connect(server.url);
  await client.whenSynced({ timeoutMs: 5000 });
  expect(await client.query(ROWS)).toEqual(await server.query(ROWS));
  expect(await client.localChanges({ status: 'pending' })).toEqual([]);
  expect(await client.localChanges({ status: 'sent' })).toEqual([]);
}

/**
 * Runs `scenario` once without a fault to count its writes, then once per write with it failing;
 * in a run of writes of one kind to one file (SQLite writes a journal record as three writes, and
 * the pages of a commit one after the other) only the first, the middle and the last one: the
 * others fail at the same step, to the same effect, and a spec going through each would take a
 * minute.
 */
async function everyWrite(scenario: (failAt: number | undefined) => Promise<number>): Promise<number> {
  const total = await scenario(undefined);
  expect(total).toBeGreaterThan(0);
  const writes = faulty.writes.slice(faulty.count - total);
  const kind = (n: number) => (writes[n - 1] ? `${writes[n - 1]!.op} ${writes[n - 1]!.path}` : '');
  const chosen: number[] = [];
  for (let n = 1; n <= total;) {
    let end = n;
    while (end < total && kind(end + 1) === kind(n)) end += 1;
    chosen.push(...new Set([n, Math.floor((n + end) / 2), end]));
    n = end + 1;
  }
  for (const n of chosen) await scenario(n);
  return total;
}

const STORAGE_ERROR = /the storage of database .* failed \(.*(ENOSPC: no space left on device|EIO: i\/o error)/;

describe('the Nth file write fails, then the client crashes', () => {
  it('(a) a server batch of several rows: all of it with its LSN, or none of it', async () => {
    await everyWrite(async (failAt) => {
      const client = await setUp(3);
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 5000 });
      const before = { lsn: client.currentLsn, rows: await server.query<TodoRow>(ROWS) };
      const faulted = crashOnError(client);

      const start = faulty.count;
      if (failAt !== undefined) faulty.failNthWrite(failAt);
      await server.store.applyClientWrites('another-client', [
        { id: 'b1', table: 'todos', op: 'insert', key: todo(10).id, row: todo(10) },
        { id: 'b2', table: 'todos', op: 'update', key: todo(1).id, row: { title: 'updated in the batch' } },
        { id: 'b3', table: 'todos', op: 'delete', key: todo(2).id },
      ]);
      const after = { lsn: server.currentLsn(), rows: await server.query<TodoRow>(ROWS) };
      if (failAt === undefined) {
        await until(() => client.currentLsn === after.lsn, 5000, 'the batch applied');
        expect(faulted()).toBeUndefined();
        return faulty.count - start;
      }

      const seen = await until(faulted, 5000, `the error of write ${failAt}`);
      expect(faulty.faults).toHaveLength(1);
      expect(seen.error).toMatchObject({ message: expect.stringMatching(STORAGE_ERROR) });
      client.disconnect();

      const second = await reopen(seen.image);
      const state = second.currentLsn === after.lsn ? after : before;
      if (!afterCommitPoint()) expect(state).toBe(before);
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
      const client = await setUp(4, { snapshotChunkRows: chunkRows, snapshotWindow: 1 });
      await client.initialize();
      const faulted = crashOnError(client);
      const snapshot = { lsn: server.currentLsn(), rows: await server.query<TodoRow>(ROWS) };

      const start = faulty.count;
      if (failAt !== undefined) faulty.failNthWrite(failAt);
      void client.connect(server.url);
      if (failAt === undefined) {
        await until(() => client.currentLsn === snapshot.lsn, 5000, 'the initial sync');
        expect(faulted()).toBeUndefined();
        return faulty.count - start;
      }

      const seen = await until(faulted, 5000, `the error of write ${failAt}`);
      expect(faulty.faults).toHaveLength(1);
      expect(seen.error).toMatchObject({ message: expect.stringMatching(STORAGE_ERROR) });
      client.disconnect();

      const second = await reopen(seen.image);
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

  it('(c) local writes: a write that resolved is kept, one that rejected left nothing (unless it failed after its commit point)', async () => {
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
      const client = await setUp(3);
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 5000 });
      client.disconnect(); // offline: the writes go to the outbox and stay there
      const base = await server.query<TodoRow>(ROWS);
      const faulted = crashOnError(client);

      const start = faulty.count;
      if (failAt !== undefined) faulty.failNthWrite(failAt);
      let resolved = 0;
      let rejected: { error: unknown; image: string } | undefined;
      for (const write of writes) {
        try {
          await write.run(client);
          resolved += 1;
        } catch (error) {
          rejected = { error, image: faulty.image() }; // the crash, as the user sees the error
          break;
        }
      }
      if (failAt === undefined) {
        expect(rejected).toBeUndefined();
        expect(faulted()).toBeUndefined();
        return faulty.count - start;
      }

      expect(faulty.faults).toHaveLength(1);
      expect(rejected).toBeDefined();
      expect(rejected!.error).toMatchObject({ code: 10, message: expect.stringMatching(STORAGE_ERROR) });

      const second = await reopen(rejected!.image);
      const kept = writes.slice(0, afterCommitPoint() ? resolved + 1 : resolved);
      const entries = await second.localChanges();
      expect(entries.map((e) => [e.op, e.key, e.status])).toEqual(kept.map((w) => [w.op, w.key, 'pending']));
      expect(await second.query(ROWS)).toEqual(expectedRows(base, kept.length));

      await converge(second);
      expect(await server.query(ROWS)).toEqual(expectedRows(base, kept.length));
      // Exactly once: one logged change per kept write, none for the rejected one.
      const logged = await server.query<{ op: string; key: string }>('SELECT op, key FROM _rxsync_changes WHERE client_id = ? ORDER BY lsn', [second.clientId]);
      expect(logged.map((c) => [c.op, JSON.parse(c.key)])).toEqual(kept.map((w) => [w.op, w.key]));
      return 0;
    });
  });
});
