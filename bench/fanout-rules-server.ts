/**
 * The server process of bench/fanout-rules (the bench's own bundle, forked with `--role=server`;
 * IPC on). argv: JSON { database, rules }. It opens the reference server on a temp file database
 * (WAL) with the schema of bench/fanout-rules-fixtures.ts, HS256 tokens, and the rules when
 * `rules` is true (no rules otherwise: every session gets every change). Rate limit and heartbeat
 * are out of the way, as in bench/seed-server.ts. Reports { type: 'ready', url, lsn, pid }.
 *
 * Requests (each answered by a message of the type named):
 * - { type: 'write', table: 'items' | 'news', count, periodMs, owners?, prefix } writes `count`
 *   rows, one store.write (one commit) each, write k at start + k * periodMs; an `items` row k
 *   belongs to user owners[k]; every row carries its write stamp (`x`) and k (`n`). Answers
 *   { type: 'write_done', written, writeMs } (writeMs: the sum of store.write's own times).
 * - { type: 'cpu', gc? } answers { type: 'cpu', cpuMs, systemMs, rss, heapUsed, sessions, at }
 *   (cpuMs: this process's user + system CPU since it started, systemMs the system part; at: its performance.now(), where a --cpu-prof
 *   profile's time is; after a GC when asked).
 * - { type: 'clock' } answers { type: 'clock', t }.
 * - { type: 'close' } (or the parent going away) closes it.
 */
import { createSyncServer } from '../src/server/index.js';
import { PAYLOAD, RULES_BENCH_RULES, RULES_BENCH_SECRET, rulesBenchSchema, userOf } from './fanout-rules-fixtures.js';
import { wallNow } from './wall-clock.js';

interface Config {
  database: string;
  rules: boolean;
}

type Request =
  | { type: 'close' }
  | { type: 'clock' }
  | { type: 'cpu'; gc?: boolean }
  | { type: 'write'; table: 'items' | 'news'; count: number; periodMs: number; owners?: number[]; prefix: string };

export async function runFanoutRulesServer(configJson: string): Promise<void> {
  const config = JSON.parse(configJson) as Config;
  const server = await createSyncServer({
    schema: rulesBenchSchema,
    database: config.database,
    ...(config.rules && { rules: RULES_BENCH_RULES }),
    jwt: { secret: RULES_BENCH_SECRET },
    limits: { rateLimitPerSecond: 1e6, rateLimitBurst: 1e6, heartbeatIntervalMs: 600_000, heartbeatTimeoutMs: 1_200_000 },
    retention: { maxChanges: 100_000 },
  });
  process.send!({ type: 'ready', url: server.url, lsn: server.currentLsn(), pid: process.pid });

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await server.close();
    process.exit(0);
  };

  const write = async (m: Extract<Request, { type: 'write' }>) => {
    const started = performance.now();
    let writeMs = 0;
    for (let k = 0; k < m.count; k++) {
      const gap = started + k * m.periodMs - performance.now();
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
      const id = `${m.prefix}${String(k).padStart(7, '0')}`;
      const t = wallNow();
      const row = m.table === 'items' ? { id, owner: userOf(m.owners?.[k] ?? 0), n: k, x: t, payload: PAYLOAD } : { id, body: PAYLOAD, n: k, x: t };
      await server.store.write({ op: 'insert', table: m.table, row });
      writeMs += wallNow() - t;
    }
    process.send!({ type: 'write_done', written: m.count, writeMs });
  };

  process.on('message', (message: Request) => {
    switch (message?.type) {
      case 'close':
        return void close();
      case 'clock':
        return void process.send!({ type: 'clock', t: wallNow() });
      case 'cpu': {
        if (message.gc) (globalThis as { gc?: () => void }).gc?.();
        const m = process.memoryUsage();
        const cpu = process.cpuUsage();
        return void process.send!({
          type: 'cpu',
          cpuMs: (cpu.user + cpu.system) / 1000,
          systemMs: cpu.system / 1000,
          rss: m.rss,
          heapUsed: m.heapUsed,
          sessions: server.sessionCount,
          at: performance.now(),
        });
      }
      case 'write':
        return void write(message).catch((error) => {
          console.error('[fanout-rules server] writes', error);
          process.exit(1);
        });
    }
  });
  process.on('disconnect', () => void close());
}
