import { asyncScheduler } from 'rxjs';
import type { SqliteDatabase } from '../../src/storage/index.js';
import { OutboxSender, type PushTarget } from '../../src/changes/outbox-sender.js';
import type { SyncedData } from '../../src/changes/synced-data.js';
import type { ClientChange } from '../../src/protocol/index.js';
import type { SyncEventMessage } from '../../src/streams/events.js';
import { openTestSyncedData } from '../support/test-synced-data.js';
import { until } from '../support/until.js';

/** A connection that takes pushes and answers nothing unless told to. */
class RecordingTarget implements PushTarget {
  readonly pushes: ClientChange[][] = [];
  constructor(readonly maxChangesPerPush: number) {}
  push(changes: ClientChange[]): void {
    this.pushes.push(changes);
  }
}

describe('the outbox sender, on a real wa-sqlite database', () => {
  let db: SqliteDatabase;
  let data: SyncedData;
  let sender: OutboxSender;
  let target: RecordingTarget | undefined;
  let ids = 0;
  let events: SyncEventMessage[];

  beforeEach(async () => {
    const synced = await openTestSyncedData(() => `c${++ids}`);
    ({ db, data, events } = synced);
    target = undefined;
    sender = new OutboxSender(
      data,
      synced.bus,
      () => target,
      () => 'live',
      synced.options,
      asyncScheduler,
      (error) => {
        throw error;
      },
    );
  });
  afterEach(async () => {
    sender.stop();
    await db.close();
  });

  it('holds writes while there is no connection, then pushes them in local order, in batches the server allows', async () => {
    sender.start();
    for (let i = 0; i < 5; i++) await data.write('insert', 'todos', `k${i}`, { id: `k${i}` });
    sender.request();
    expect((await data.outbox.entries({ status: 'pending' })).length).toBe(5);

    target = new RecordingTarget(2); // the server takes at most 2 per push; the batch size is 3
    sender.request();
    await until(() => target!.pushes.flat().length === 5 || undefined, 2000, 'every change pushed');
    expect(target.pushes.map((push) => push.map((c) => c.key))).toEqual([['k0', 'k1'], ['k2', 'k3'], ['k4']]);
    expect(events.filter((e) => e.type === 'client_change_sent').map((e) => e.data.count)).toEqual([2, 2, 1]);
  });

  it('sends an unanswered change again on its own timer, and reports a stalled outbox once', async () => {
    target = new RecordingTarget(100);
    sender.start();
    await data.write('insert', 'todos', 'a', { id: 'a' });
    sender.request();
    await until(() => target!.pushes.length >= 3 || undefined, 2000, 'two resends without any request');
    expect(new Set(target.pushes.map((push) => push[0].id)).size).toBe(1); // the same change, by id
    await until(() => events.find((e) => e.type === 'outbox_stalled'), 2000, 'outbox_stalled');
    expect(events.filter((e) => e.type === 'outbox_stalled')).toHaveLength(1);

    sender.stop();
    const sent = target.pushes.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(target.pushes.length).toBe(sent); // stopped: nothing more
  });

  it('gives up on a change only once a ping sent after it was answered', async () => {
    target = new RecordingTarget(100);
    sender.start();
    await data.write('insert', 'todos', 'a', { id: 'a' });
    sender.request();
    await until(() => target!.pushes.length >= 6 || undefined, 3000, 'resends past maxAttempts');
    expect(await data.outbox.entries({ status: 'failed' })).toEqual([]); // no evidence the server read them
    sender.pingAnswered(Date.now());
    await until(async () => (await data.outbox.entries({ status: 'failed' })).length === 1 || undefined, 2000, 'the change to fail');
    expect(events.find((e) => e.type === 'client_change_failed')?.data).toMatchObject({ key: 'a', status: 'failed' });
  });
});
