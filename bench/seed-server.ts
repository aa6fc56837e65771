/**
 * The benchmark's reference server, run in its own process (forked by the benches, IPC on).
 * argv[2] is JSON: { database, rows, limits?, postgres? }. It opens the server on a temp file database,
 * seeds `rows` rows through the store (applyClientWrites in batches of 1000: one transaction
 * each) unless the file already holds them, then reports { type: 'ready', url, seedMs, rows, lsn }.
 * A { type: 'close' } message (or the parent going away) closes it.
 *
 * Write drivers for the live benches (latency, fanout), all inside this process so that the
 * writes are timed where they happen. Timestamps are wall-clock ms comparable across processes
 * (performance.timeOrigin + performance.now()), taken just before the write is committed, and
 * carried in the row itself (column `x`), so a receiver can time a change from the frame alone:
 * - { type: 'stamped', count, minGapMs, maxGapMs | periodMs, prefix, from } writes `count` rows
 *   `prefix` + n (n = from, from + 1, ...), one store.write (one commit) each, a random gap in
 *   [minGapMs, maxGapMs] apart, or at a fixed rate (write i at start + i * periodMs); with
 *   `batch` > 1, that many rows per commit (one applyClientWrites transaction, one stamp); answers
 *   { type: 'stamped_done', writes: [{ n, lsn, t, writeMs }] } (writeMs: store.write's own time).
 * - { type: 'background', rate, tickMs } starts a background stream: every tick, one
 *   applyClientWrites transaction with the changes due at `rate` changes/s (upserts over 10,000
 *   `bg-` rows); { type: 'background', rate: 0 } stops it and answers { type: 'background_stopped', written }.
 * - { type: 'clock' } answers { type: 'clock', t } (for a clock-offset estimate);
 *   { type: 'rss', gc? } answers { type: 'rss', rss, heapUsed, sessions, cpuMs } (after a GC when asked
 *   and the process runs with --expose-gc); { type: 'query', sql } answers { type: 'query', rows }.
 */
import { createSyncServer, type SyncServer } from '../src/server/index.js';
import type { ServerLimits } from '../src/server/limits.js';
import type { ClientChange } from '../src/protocol/index.js';
import { benchRow, benchSchema, TABLE } from './fixtures.js';
import { wallNow } from './wall-clock.js';

interface Config {
  database: string;
  rows: number;
  limits?: Partial<ServerLimits>;
  /** Serve this Postgres database instead of the SQLite file (bench/postgres.ts seeds it itself). */
  postgres?: { connectionString: string; slot: string };
}

const BATCH = 1000;

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as Config;
  const server = await createSyncServer({
    schema: benchSchema,
    ...(config.postgres ? { postgres: { ...config.postgres, retention: { maxChanges: 1_000_000 } } } : { database: config.database }),
    // Generous limits for a benchmark: no heartbeat or rate limit gets in the way (snapshot_ack
    // frames count against the inbound rate limit: 100 acks/s would be fine, but do not depend on it).
    limits: { rateLimitPerSecond: 1e6, rateLimitBurst: 1e6, heartbeatIntervalMs: 600_000, heartbeatTimeoutMs: 1_200_000, ...config.limits },
    // Keep the whole seed in the log (retention does not matter to a snapshot, but pruning costs time).
    retention: { maxChanges: Math.max(100_000, config.rows * 2) },
  });
  const [{ count }] = await server.query<{ count: number }>(`SELECT count(*) AS count FROM ${TABLE}`);
  const started = performance.now();
  if (count !== config.rows) {
    for (let from = 0; from < config.rows; from += BATCH) {
      const changes: ClientChange[] = [];
      for (let i = from; i < Math.min(from + BATCH, config.rows); i++) {
        const row = benchRow(i);
        changes.push({ id: `seed-${i}`, table: TABLE, op: 'insert', key: row.id, row });
      }
      await server.store.applyClientWrites('bench-seeder', changes);
    }
  }
  const seedMs = performance.now() - started;
  const [{ total }] = await server.query<{ total: number }>(`SELECT count(*) AS total FROM ${TABLE}`);
  process.send!({ type: 'ready', url: server.url, seedMs, rows: total, lsn: server.currentLsn(), pid: process.pid });

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await server.close();
    process.exit(0);
  };
  const driver = new WriteDriver(server);
  process.on('message', (message: DriverMessage) => {
    if (message?.type === 'close') void close();
    else driver.handle(message);
  });
  process.on('disconnect', () => void close());
}

// ---- write drivers (latency and fanout benches) ------------------------------------------------

type DriverMessage =
  | { type: 'close' }
  | { type: 'stamped'; count: number; minGapMs?: number; maxGapMs?: number; periodMs?: number; prefix: string; from?: number; batch?: number }
  | { type: 'background'; rate: number; tickMs?: number }
  | { type: 'clock' }
  | { type: 'rss'; gc?: boolean }
  | { type: 'query'; sql: string };

class WriteDriver {
  private background: ReturnType<typeof setInterval> | undefined;
  private backgroundWritten = 0;
  private backgroundSeq = 0;

  constructor(private readonly server: SyncServer) {}

  handle(message: DriverMessage): void {
    switch (message?.type) {
      case 'stamped':
        void this.stamped(message).catch((error) => console.error('[bench server] stamped writes', error));
        return;
      case 'background':
        return this.setBackground(message.rate, message.tickMs ?? 10);
      case 'clock':
        process.send!({ type: 'clock', t: wallNow() });
        return;
      case 'query':
        void this.server.query(message.sql).then((rows) => process.send!({ type: 'query', rows }));
        return;
      case 'rss': {
        if (message.gc) (globalThis as { gc?: () => void }).gc?.();
        const m = process.memoryUsage();
        const cpu = process.cpuUsage();
        process.send!({ type: 'rss', rss: m.rss, heapUsed: m.heapUsed, sessions: this.server.sessionCount, cpuMs: (cpu.user + cpu.system) / 1000 });
        return;
      }
    }
  }

  private async stamped(m: Extract<DriverMessage, { type: 'stamped' }>): Promise<void> {
    const writes: Array<{ n: number; lsn: string; t: number; writeMs: number }> = [];
    const from = m.from ?? 0;
    const started = performance.now();
    const batch = Math.max(1, m.batch ?? 1);
    for (let i = 0; i < m.count; i += batch) {
      // A fixed rate (write i at start + i * periodMs), or random gaps between writes.
      const gap = m.periodMs !== undefined ? started + i * m.periodMs - performance.now() : m.minGapMs! + Math.random() * (m.maxGapMs! - m.minGapMs!);
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
      const t = wallNow();
      const rows: Array<{ id: string; title: string; body: string; n: number; x: number; updated_at: string }> = [];
      for (let k = i; k < Math.min(i + batch, m.count); k++) {
        const n = from + k;
        rows.push({ id: `${m.prefix}${String(n).padStart(7, '0')}`, title: 'stamped', body: '', n, x: t, updated_at: new Date(t).toISOString() });
      }
      if (batch === 1) {
        const lsn = await this.server.store.write({ op: 'insert', table: TABLE, row: rows[0] });
        // writeMs: the commit and the synchronous fan-out to the sessions (the frames handed to the sockets).
        writes.push({ n: rows[0].n, lsn, t, writeMs: wallNow() - t });
      } else {
        // `batch` rows in one transaction (one commit, one changes frame per session).
        const results = await this.server.store.applyClientWrites(
          'bench-stamped',
          rows.map((row) => ({ id: `stamped-${row.id}-${t}`, table: TABLE, op: 'insert' as const, key: row.id, row })),
        );
        const writeMs = wallNow() - t;
        results.forEach((result, k) => writes.push({ n: rows[k].n, lsn: 'lsn' in result && result.lsn ? result.lsn : '0/0', t, writeMs }));
      }
    }
    process.send!({ type: 'stamped_done', writes });
  }

  private setBackground(rate: number, tickMs: number): void {
    clearInterval(this.background);
    this.background = undefined;
    if (!(rate > 0)) {
      process.send!({ type: 'background_stopped', written: this.backgroundWritten });
      this.backgroundWritten = 0;
      return;
    }
    const started = performance.now();
    let written = 0;
    this.background = setInterval(() => {
      const due = Math.floor(((performance.now() - started) * rate) / 1000) - written;
      if (due <= 0) return;
      const changes: ClientChange[] = [];
      const t = wallNow();
      for (let i = 0; i < due; i++) {
        const seq = this.backgroundSeq++;
        const id = `bg-${String(seq % 10_000).padStart(7, '0')}`;
        changes.push({
          id: `bg-change-${seq}`,
          table: TABLE,
          op: 'insert',
          key: id,
          row: { id, title: 'background', body: LOREM_100, n: seq, x: t, updated_at: new Date(t).toISOString() },
        });
      }
      written += due;
      this.backgroundWritten += due;
      void this.server.store.applyClientWrites('bench-background', changes);
    }, tickMs);
  }
}

const LOREM_100 = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore e';

main().catch((error) => {
  console.error('[bench server]', error);
  process.exit(1);
});
