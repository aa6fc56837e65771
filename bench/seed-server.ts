/**
 * The benchmark's reference server, run in its own process (forked by initial-sync.ts, IPC on).
 * argv[2] is JSON: { database, rows, limits? }. It opens the server on a temp file database,
 * seeds `rows` rows through the store (applyClientWrites in batches of 1000: one transaction
 * each) unless the file already holds them, then reports { type: 'ready', url, seedMs, rows, lsn }.
 * A { type: 'close' } message (or the parent going away) closes it.
 */
import { createSyncServer } from '../src/server/index.js';
import type { ServerLimits } from '../src/server/limits.js';
import type { ClientChange } from '../src/protocol/index.js';
import { benchRow, benchSchema, TABLE } from './fixtures.js';

interface Config {
  database: string;
  rows: number;
  limits?: Partial<ServerLimits>;
}

const BATCH = 1000;

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as Config;
  const server = await createSyncServer({
    schema: benchSchema,
    database: config.database,
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
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'close') void close();
  });
  process.on('disconnect', () => void close());
}

main().catch((error) => {
  console.error('[bench server]', error);
  process.exit(1);
});
