/**
 * The RxDB peer's server for bench/rxdb-initial-sync.ts and bench/rxdb-latency.ts, run in its own
 * process (forked, IPC on), as bench/seed-server.ts is for rxsync.
 *
 * argv[2] is JSON: { rows }. It opens an RxDatabase on the memory storage (bench/rxdb-common.ts:
 * multiInstance off, no dev-mode, no validation plugin) with the `items` collection, seeds `rows`
 * rows of benchRow() with bulkInsert in batches of 1000, starts RxDB's `startWebsocketServer` on
 * 127.0.0.1 and a free port, and reports { type: 'ready', url, seedMs, rows, pid }.
 *
 * IPC messages: the same write drivers as bench/seed-server.ts, so the two latency benches write alike.
 * - { type: 'stamped', count, minGapMs, maxGapMs, prefix, from }: `count` rows `<prefix>NNNNNNN`
 *   (n = from + i), one collection.insert() each (awaited before the next), random gaps of
 *   minGapMs–maxGapMs between them; a wall-clock stamp (performance.timeOrigin + performance.now())
 *   is taken just before each insert and stored in the row's `x`. Answers { type: 'stamped_done', writes: [{ n, t }] }.
 * - { type: 'background', rate, tickMs }: every tickMs, one bulkUpsert() of the rows due so far at
 *   `rate` changes/s (~50 per 10 ms tick at 5,000/s) over 10,000 keys `bg-NNNNNNN`, not awaited (as the
 *   reference server's driver does not await applyClientWrites); at most 5,000 rows per tick, so a
 *   server that falls behind writes fewer (the bench prints the rate reached). rate 0 stops it and
 *   answers { type: 'background_stopped', written, elapsedMs }.
 * - { type: 'clock' } answers { type: 'clock', t } (wall clock, for the clock-offset check).
 * - { type: 'cpu' } answers { type: 'cpu', ms }: this process's CPU time so far (user + system).
 * - { type: 'count' } answers { type: 'count', count } (rows in the server's collection).
 * - Every row whose id starts with `rt-` that the server's collection emits as an insert (a client's
 *   push) is reported as { type: 'seen', id, at } (wall clock), for the round-trip bench.
 * - { type: 'close' } (or the parent going away) closes it.
 */
import type { AddressInfo } from 'node:net';
import { startWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { benchRow } from './fixtures.js';
import { createItemsDatabase, quietRxdb, type ItemDoc, type ItemsDatabase } from './rxdb-common.js';
import { wallNow } from './wall-clock.js';

interface Config {
  rows: number;
}

type DriverMessage =
  | { type: 'close' }
  | { type: 'stamped'; count: number; minGapMs: number; maxGapMs: number; prefix: string; from?: number }
  | { type: 'background'; rate: number; tickMs?: number }
  | { type: 'clock' }
  | { type: 'cpu' }
  | { type: 'count' };

const BATCH = 1000;
const MAX_TICK = 5000;
const LOREM_100 = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore e';

async function main(): Promise<void> {
  quietRxdb();
  const config = JSON.parse(process.argv[2] ?? '{}') as Config;
  const db = await createItemsDatabase(`rxdbbenchserver${process.pid}`);
  const items = db.items;
  const started = performance.now();
  for (let from = 0; from < config.rows; from += BATCH) {
    const docs: ItemDoc[] = [];
    for (let i = from; i < Math.min(from + BATCH, config.rows); i++) docs.push(benchRow(i));
    const { error } = await items.bulkInsert(docs);
    if (error.length) throw new Error(`seeding: ${error.length} write errors, first ${JSON.stringify(error[0])}`);
  }
  const seedMs = performance.now() - started;
  const total = await items.count().exec();

  const server = startWebsocketServer({ database: db, port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    server.server.once('listening', resolve);
    server.server.once('error', reject);
  });
  const { port } = server.server.address() as AddressInfo;

  // Round trip: rows pushed by a client, as soon as the server's collection emits them.
  items.insert$.subscribe((event) => {
    if (event.documentId.startsWith('rt-')) process.send!({ type: 'seen', id: event.documentId, at: wallNow() });
  });

  const driver = new WriteDriver(db);
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    driver.stop();
    await server.close();
    await db.close();
    process.exit(0);
  };
  process.on('message', (message: DriverMessage) => {
    if (message?.type === 'close') void close();
    else driver.handle(message);
  });
  process.on('disconnect', () => void close());
  process.send!({ type: 'ready', url: `ws://127.0.0.1:${port}`, seedMs, rows: total, pid: process.pid });
}

class WriteDriver {
  private background: ReturnType<typeof setInterval> | undefined;
  private backgroundWritten = 0;
  private backgroundSeq = 0;
  private backgroundStarted = 0;

  constructor(private readonly db: ItemsDatabase) {}

  handle(message: DriverMessage): void {
    switch (message?.type) {
      case 'stamped':
        void this.stamped(message).catch((error) => console.error('[rxdb bench server] stamped writes', error));
        return;
      case 'background':
        return this.setBackground(message.rate, message.tickMs ?? 10);
      case 'clock':
        process.send!({ type: 'clock', t: wallNow() });
        return;
      case 'cpu': {
        const cpu = process.cpuUsage();
        process.send!({ type: 'cpu', ms: (cpu.user + cpu.system) / 1000 });
        return;
      }
      case 'count':
        void this.db.items
          .count()
          .exec()
          .then((count) => process.send!({ type: 'count', count }));
        return;
    }
  }

  stop(): void {
    clearInterval(this.background);
  }

  private async stamped(m: Extract<DriverMessage, { type: 'stamped' }>): Promise<void> {
    const writes: Array<{ n: number; t: number }> = [];
    const from = m.from ?? 0;
    for (let i = 0; i < m.count; i++) {
      const gap = m.minGapMs + Math.random() * (m.maxGapMs - m.minGapMs);
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
      const n = from + i;
      const t = wallNow();
      await this.db.items.insert({
        id: `${m.prefix}${String(n).padStart(7, '0')}`,
        title: 'stamped',
        body: '',
        n,
        x: t,
        updated_at: new Date(t).toISOString(),
      });
      writes.push({ n, t });
    }
    process.send!({ type: 'stamped_done', writes });
  }

  private setBackground(rate: number, tickMs: number): void {
    clearInterval(this.background);
    this.background = undefined;
    if (!(rate > 0)) {
      process.send!({ type: 'background_stopped', written: this.backgroundWritten, elapsedMs: performance.now() - this.backgroundStarted });
      this.backgroundWritten = 0;
      return;
    }
    const started = performance.now();
    this.backgroundStarted = started;
    let written = 0;
    this.background = setInterval(() => {
      // Catch up with the rate if a tick came late, but at most MAX_TICK rows per bulkUpsert: the
      // keys cycle over 10,000, and one bulkUpsert may not hold a key twice (RxDB error COL22).
      const due = Math.min(MAX_TICK, Math.floor(((performance.now() - started) * rate) / 1000) - written);
      if (due <= 0) return;
      const docs: ItemDoc[] = [];
      const t = wallNow();
      for (let i = 0; i < due; i++) {
        const seq = this.backgroundSeq++;
        docs.push({
          id: `bg-${String(seq % 10_000).padStart(7, '0')}`,
          title: 'background',
          body: LOREM_100,
          n: seq,
          x: t,
          updated_at: new Date(t).toISOString(),
        });
      }
      written += due;
      this.backgroundWritten += due;
      this.db.items.bulkUpsert(docs).catch((error) => console.error('[rxdb bench server] background writes', error));
    }, tickMs);
  }
}

main().catch((error) => {
  console.error('[rxdb bench server]', error);
  process.exit(1);
});
