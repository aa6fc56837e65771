/**
 * bench/multi-process's failover rounds (see its header) and what they share with its fan-out
 * runs: stamped rows committed through `pg`, and waiting for the sync processes to settle.
 */
import type pg from 'pg';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../src/protocol/index.js';
import { startCliProcess, type CliProcess } from './cli-process.js';
import { benchSchema, TABLE } from './fixtures.js';
import { round2 } from './stats.js';
import { wallNow } from './wall-clock.js';

/** During a failover, a row is committed this often. */
const FAILOVER_WRITE_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Commits one stamped row `prefix` + n (its own transaction). */
export async function insertStamped(db: pg.Client, prefix: string, n: number): Promise<void> {
  const t = wallNow();
  await db.query(`INSERT INTO ${TABLE} (id, title, body, n, x, updated_at) VALUES ($1, 'stamped', '', $2, $3, $4)`, [
    `${prefix}${String(n).padStart(7, '0')}`,
    n,
    t,
    new Date(t).toISOString(),
  ]);
}

/** Polls every process's /healthz until each is ready and exactly one is the replicator. */
export async function settled(servers: CliProcess[], timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const healths = await Promise.all(servers.map((s) => s.health().catch(() => undefined)));
    if (healths.every((h) => h?.ok && h.ready) && healths.filter((h) => h?.role === 'replicator').length === 1) return;
    if (performance.now() > deadline) throw new Error(`the sync processes did not settle within ${timeoutMs} ms: ${JSON.stringify(healths)}`);
    await sleep(100);
  }
}

/** A light session of our own: hello at `lsn`, every `changes` acked, the arrival of each row of `prefix` noted. */
function watchSession(url: string, lsn: string, prefix: string): Promise<{ arrivals: Array<{ n: number; at: number }>; close(): void }> {
  const arrivals: Array<{ n: number; at: number }> = [];
  const ws = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no welcome from ${url} within 10 s`)), 10_000);
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: `failover-${prefix}${Date.now()}`, lsn, schemaHash: benchSchema.hash })),
    );
    ws.on('message', (data) => {
      const at = wallNow();
      const message = JSON.parse(data.toString()) as { type: string; lsn?: string; changes?: Array<{ row?: { id: string; n: number } }> };
      if (message.type === 'welcome') {
        clearTimeout(timer);
        resolve({ arrivals, close: () => ws.terminate() });
      } else if (message.type === 'changes') {
        for (const change of message.changes!) if (change.row?.id.startsWith(prefix)) arrivals.push({ n: change.row.n, at });
        ws.send(JSON.stringify({ type: 'ack', lsn: message.lsn }));
      } else if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    });
    ws.on('error', reject);
  });
}

export interface FailoverRound {
  killToDeliveredMs: number;
  killToRoleMs: number;
  /** Rows written after the kill by the time the first one was delivered (the last may be in flight). */
  rowsWaiting: number;
  allDelivered: boolean;
}

/** One failover (see the header); the killed process's place in `servers` goes to a new process. */
export async function failover(servers: CliProcess[], serverArgs: string[], db: pg.Client, round: number): Promise<FailoverRound> {
  const healths = await Promise.all(servers.map((s) => s.health()));
  const r = healths.findIndex((h) => h.role === 'replicator');
  const f = healths.findIndex((h) => h.role === 'follower');
  const prefix = `fo${round}-`;
  const session = await watchSession(servers[f].url, healths[f].lsn, prefix);
  try {
    const survivors = servers.filter((_, i) => i !== r);
    const killedAt = wallNow();
    process.kill(servers[r].pid, 'SIGKILL');
    let roleAt = NaN;
    const role = (async () => {
      for (const deadline = performance.now() + 60_000; performance.now() < deadline; await sleep(25)) {
        const found = await Promise.all(survivors.map((s) => s.health().catch(() => undefined)));
        if (found.some((h) => h?.role === 'replicator')) return (roleAt = wallNow());
      }
      throw new Error('no survivor reported role replicator within 60 s');
    })();
    role.catch(() => undefined); // awaited below; a failure must not be an unhandled rejection meanwhile
    let writing = true;
    let written = 0;
    const writes = (async () => {
      for (let next = performance.now(); writing;) {
        await insertStamped(db, prefix, written++);
        next += FAILOVER_WRITE_MS;
        await sleep(Math.max(0, next - performance.now()));
      }
    })();
    writes.catch(() => undefined); // awaited below, as `role`
    for (const deadline = performance.now() + 60_000; session.arrivals.length === 0; await sleep(5)) {
      if (performance.now() > deadline) throw new Error('no row committed after the kill reached the session within 60 s');
    }
    const deliveredAt = session.arrivals[0].at;
    const rowsWaiting = written;
    await sleep(1000);
    writing = false;
    await writes;
    await role;
    for (const deadline = performance.now() + 10_000; session.arrivals.length < written && performance.now() < deadline;) await sleep(20);
    const allDelivered = session.arrivals.length === written && session.arrivals.every((a, i) => a.n === i);
    await servers[r].exited;
    servers[r] = await startCliProcess('multi-process', serverArgs, `sync process ${r} (restarted)`);
    await settled(servers);
    return { killToDeliveredMs: round2(deliveredAt - killedAt), killToRoleMs: round2(roleAt - killedAt), rowsWaiting, allDelivered };
  } finally {
    session.close();
  }
}
