import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { createLocalSchema } from '../../src/changes/local-schema.js';
import { Outbox } from '../../src/changes/outbox.js';
import { ServerChanges } from '../../src/changes/server-changes.js';
import type { Changes } from '../../src/protocol/index.js';
import { testSchema, todo } from '../support/test-schema.js';

/**
 * No silent overwrite: a server change never wipes a local change still waiting for its answer.
 * The visible row is the server's version with the open local changes on top, until they settle.
 */
describe('the rebase of open local changes, on a real wa-sqlite database', () => {
  let db: SqliteDatabase;
  let outbox: Outbox;
  let server: ServerChanges;
  let ids = 0;
  const row = async (id: string) => (await db.all('SELECT id, title, done FROM todos WHERE id = ?', [id]))[0];
  const batch = (lsn: string, changes: Changes['changes']): Changes => ({ type: 'changes', lsn, changes });
  const serverRow = (lsn: string, id: string, extra: Record<string, unknown>, origin?: { clientId: string; changeId: string }) => ({
    lsn,
    table: 'todos',
    op: 'insert' as const,
    key: id,
    row: { ...todo(1), id, ...extra },
    ...(origin && { origin }),
  });

  beforeEach(async () => {
    db = await openDatabase();
    await createLocalSchema(db, testSchema);
    outbox = new Outbox(
      db,
      testSchema,
      { batchSize: 10, maxAttempts: 3, ackTimeoutMs: 1000, keepSettled: 10 },
      () => 1000,
      () => `c${++ids}`,
    );
    server = new ServerChanges(
      testSchema,
      () => 'me',
      () => 1000,
    );
    await db.transaction((tx) => server.applyBatch(tx, batch('0/1', [serverRow('0/1', 'a', { title: 'server', done: 0 })])));
  });
  afterEach(() => db.close());

  it('keeps a pending update on top of a server change to the same row, until its echo settles it', async () => {
    const changeId = await outbox.write('update', 'todos', 'a', { title: 'mine' });
    await db.transaction((tx) => server.applyBatch(tx, batch('0/2', [serverRow('0/2', 'a', { title: 'theirs', done: 1 })])));
    expect(await row('a')).toEqual({ id: 'a', title: 'mine', done: 1 }); // their done, my title

    // The server applied mine after theirs and streams it back, tagged with its id: settled.
    await db.transaction((tx) => server.applyBatch(tx, batch('0/3', [serverRow('0/3', 'a', { title: 'mine', done: 1 }, { clientId: 'me', changeId })])));
    expect(await row('a')).toEqual({ id: 'a', title: 'mine', done: 1 });
    // From now on the server's rows win as they come.
    await db.transaction((tx) => server.applyBatch(tx, batch('0/4', [serverRow('0/4', 'a', { title: 'later', done: 0 })])));
    expect(await row('a')).toEqual({ id: 'a', title: 'later', done: 0 });
  });

  it('keeps a pending insert through a snapshot that does not have it yet', async () => {
    await outbox.write('insert', 'todos', 'b', { ...todo(2), id: 'b', title: 'new here' });
    await db.transaction((tx) => server.beginSnapshot(tx, '0/9'));
    await db.transaction((tx) =>
      server.applyChunk(tx, {
        type: 'snapshot_chunk',
        seq: 1,
        table: 'todos',
        chunk: 1,
        chunks: 1,
        columns: ['id', 'title', 'done'],
        rows: [['a', 'snapshot', 0]],
      }),
    );
    await db.transaction((tx) => server.endSnapshot(tx, '0/9'));
    expect(await row('a')).toEqual({ id: 'a', title: 'snapshot', done: 0 });
    expect(await row('b')).toEqual({ id: 'b', title: 'new here', done: 0 });
  });

  it('undoes a rejected change back to the server version it holds', async () => {
    const changeId = await outbox.write('update', 'todos', 'a', { title: 'not allowed' });
    await outbox.takeBatch();
    await db.transaction((tx) => outbox.applyResults(tx, [{ id: changeId, status: 'rejected', reason: 'read_only', serverRow: null }]));
    expect(await row('a')).toEqual({ id: 'a', title: 'server', done: 0 });
  });
});
