import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { createLocalSchema } from '../../src/changes/local-schema.js';
import { Outbox } from '../../src/changes/outbox.js';
import { SyncProtocolError } from '../../src/protocol/index.js';
import { testSchema, todo } from '../support/test-schema.js';

describe('the outbox (local_changes) on a real wa-sqlite database', () => {
  let db: SqliteDatabase;
  let now: number;
  let ids: number;
  const options = { batchSize: 3, maxAttempts: 2, ackTimeoutMs: 100, keepSettled: 2 };
  const outbox = () =>
    new Outbox(
      db,
      testSchema,
      options,
      () => now,
      () => `c${++ids}`,
    );

  beforeEach(async () => {
    now = 1_000;
    ids = 0;
    db = await openDatabase();
    await createLocalSchema(db, testSchema);
  });
  afterEach(() => db.close());

  it('commits the row and its entry together, and refuses bad writes whole', async () => {
    const box = outbox();
    await box.write('insert', 'todos', 'a', todo(1, { id: 'a' }));
    expect(await db.all('SELECT id, title FROM todos')).toEqual([{ id: 'a', title: todo(1).title }]);
    expect(await box.entries()).toMatchObject([{ table: 'todos', op: 'insert', key: 'a', status: 'pending', attempts: 0 }]);

    for (const bad of [
      () => box.write('insert', 'todos', 'b', { id: 'b', nope: 1 }),
      () => box.write('insert', 'users', 'b', { id: 'b' }),
      () => box.write('update', 'todos', 'a', { done: 'yes' }),
      () => box.write('update', 'todos', 'missing', { done: 1 }),
    ]) {
      await expect(bad()).rejects.toBeInstanceOf(SyncProtocolError);
    }
    expect(await db.all('SELECT id FROM todos')).toEqual([{ id: 'a' }]);
    expect(await box.entries()).toHaveLength(1);
  });

  it('hands out batches in local order, resends after ackTimeoutMs, and fails after maxAttempts', async () => {
    const box = outbox();
    for (let i = 0; i < 4; i++) await box.write('insert', 'todos', `k${i}`, { id: `k${i}` });
    const first = await box.takeBatch();
    expect(first.changes.map((c) => c.key)).toEqual(['k0', 'k1', 'k2']);
    expect((await box.takeBatch()).changes.map((c) => c.key)).toEqual(['k3']);
    expect((await box.takeBatch()).changes).toEqual([]); // all sent, none overdue

    now += 101;
    const again = await box.takeBatch();
    expect(again.changes.map((c) => c.id)).toEqual(first.changes.map((c) => c.id)); // same ids: idempotent
    now += 101;
    const third = await box.takeBatch(); // the first three are overdue again, at maxAttempts
    expect(third.changes).toEqual([]);
    expect(third.failed.map((e) => e.key)).toEqual(['k0', 'k1', 'k2']);
    const failed = await box.entries({ status: 'failed' });
    expect(failed[0].attempts).toBe(2);
    expect(failed[0].errors.map((e) => e.message)).toEqual(['no answer within 100 ms', 'no answer within 100 ms', 'gave up after 2 attempts']);
    expect(await box.openCount()).toBe(1); // k3, sent once and now overdue: it goes next
    expect((await box.takeBatch()).changes.map((c) => c.key)).toEqual(['k3']);
  });

  it('does not give up on a change until the server has read past it (answered a later ping)', async () => {
    const box = outbox();
    await box.write('insert', 'todos', 'a', { id: 'a' });
    await box.takeBatch();
    for (let i = 0; i < 5; i++) {
      now += 101;
      const silent = await box.takeBatch(3, 0); // no ping sent after the sends has been answered
      expect(silent.failed).toEqual([]);
      expect(silent.changes.map((c) => c.key)).toEqual(['a']);
    }
    now += 101;
    const talking = await box.takeBatch(3, now - 1); // a ping sent after the last send was answered: give up
    expect(talking.failed.map((e) => e.key)).toEqual(['a']);
  });

  it('prunes settled entries beyond keepSettled, never open ones', async () => {
    const box = outbox();
    for (let i = 0; i < 6; i++) await box.write('insert', 'todos', `k${i}`, { id: `k${i}` });
    const { changes } = await box.takeBatch(5);
    await db.transaction((tx) =>
      box.applyResults(
        tx,
        changes.map((c, i) => ({ id: c.id, status: 'duplicate' as const, lsn: `0/${i + 1}` })),
      ),
    );
    // duplicate answers without an echo stay unsettled until the checkpoint passes them
    expect(await box.entries({ status: 'applied' })).toHaveLength(5);
    await db.run('UPDATE local_changes SET settled = 1');
    await db.transaction((tx) => box.applyResults(tx, []));
    const left = await box.entries();
    expect(left.map((e) => [e.key, e.status])).toEqual([
      ['k4', 'applied'],
      ['k5', 'pending'],
    ]);
  });

  it('does not give up on a change sent on an earlier connection before sending it on this one', async () => {
    const box = outbox();
    await box.write('insert', 'todos', 'a', { id: 'a' });
    await box.takeBatch();
    now += 101;
    await box.takeBatch(3, 0); // attempt 2 (maxAttempts), on the same connection, no evidence yet
    await box.requeueSent(); // the connection dropped; a new one was welcomed
    now += 101;
    const onNewConnection = await box.takeBatch(3, now - 1); // a ping on the new connection was answered
    expect(onNewConnection.failed).toEqual([]);
    expect(onNewConnection.changes.map((c) => c.key)).toEqual(['a']); // sent once more, here
    now += 101;
    const after = await box.takeBatch(3, now - 1); // still no answer to it on this connection: give up
    expect(after.failed.map((e) => e.key)).toEqual(['a']);
  });
});
