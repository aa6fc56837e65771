/**
 * A SyncedData (src/changes/synced-data.ts) on a fresh in-memory wa-sqlite database, with its own
 * event bus and checkpoint, for the specs of what it joins without a client around it (the outbox
 * sender, merged snapshot chunks).
 */
import { asyncScheduler } from 'rxjs';
import { Checkpoint } from '../../src/changes/checkpoint.js';
import type { OutboxOptions } from '../../src/changes/outbox.js';
import type { OutboxSenderOptions } from '../../src/changes/outbox-sender.js';
import { SyncedData } from '../../src/changes/synced-data.js';
import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { EventBus, type SyncEventMessage } from '../../src/streams/events.js';
import { testSchema } from './test-schema.js';

export interface TestSyncedData {
  db: SqliteDatabase;
  bus: EventBus;
  data: SyncedData;
  /** Every event of the bus since it was made. */
  events: SyncEventMessage[];
  /** The outbox's and its sender's: batches of 3, a quick ack timeout and stall, 5 attempts, 10 settled entries kept. */
  options: OutboxOptions & OutboxSenderOptions;
}

/** The test schema's SyncedData, initialized, as client 'me'; `newId` names its outbox entries. Close `db` after. */
export async function openTestSyncedData(newId: () => string = () => 'id'): Promise<TestSyncedData> {
  const db = await openDatabase();
  const bus = new EventBus(() => Date.now());
  const events: SyncEventMessage[] = [];
  bus.events$.subscribe((event) => events.push(event));
  const options: OutboxOptions & OutboxSenderOptions = { batchSize: 3, maxAttempts: 5, ackTimeoutMs: 100, keepSettled: 10, stallAfterMs: 250 };
  const data = new SyncedData(
    db,
    new Checkpoint(bus, asyncScheduler, () => undefined),
    testSchema,
    bus,
    options,
    () => 'me',
    () => Date.now(),
    newId,
  );
  await data.initialize();
  return { db, bus, data, events, options };
}
