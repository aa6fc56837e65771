/**
 * bench/latency: live-sync latency of one rxsync client, server → client and client → server → client.
 *
 *   node bench/run.mjs latency [--writes=1000] [--rate=5000] [--only=idle|load|roundtrip]
 *                              [--cpu-prof-client=FILE] [--cpu-prof-server=DIR]
 *
 * - The reference server runs in its own process (bench/seed-server.ts, forked; rate limit and
 *   heartbeat out of the way), on a temp file database (WAL) with an empty `items` table. The
 *   client (this process) is a `createSyncClient({ database: ':memory:' })` on the `ws` package,
 *   connected and synced before anything is timed.
 * - Server write → client (idle, then under load): the server process writes `--writes` rows
 *   `lat-NNNNNNN`, one `store.write` (one commit) each, 4–10 ms apart (random, so the writes do not
 *   lock into step with any timer). Just before each write it takes a wall-clock stamp,
 *   performance.timeOrigin + performance.now(), comparable between the two processes (the bench
 *   checks: it estimates the clock offset over IPC round trips and prints it; it is not applied).
 *   * applied: the client's `changes_applied` event (emitted right after the COMMIT of the batch's
 *     SQLite transaction, LSN included); a write counts as applied at the first such event whose
 *     LSN is at or past the write's LSN (under load a write can share a batch with background rows).
 *   * watch: a live query on the client, `client.watch("SELECT n ... WHERE id >= 'lat-' ... ORDER BY id DESC LIMIT 1")` (the newest `lat-` row); a write
 *     counts at the first emission that shows its `n` (rows are written in n order).
 * - Under load: the server process also writes a background stream of `--rate` changes/s
 *   (default 5,000) to other rows (`bg-`, upserts over 10,000 keys), one applyClientWrites
 *   transaction every 10 ms (~50 changes each), started 1.5 s before the measured writes and
 *   stopped after them; the client applies all of it (the bench waits for whenSynced() after).
 * - Round trip (idle): the client inserts `--writes` rows `rt-NNNNNNN`, one at a time, 1–3 ms
 *   apart; timed from the insert() call to the `client_change_applied` event for that key (the
 *   outbox entry reaching 'applied' once the server's push_result is applied). insert() resolving
 *   (local commit) is shown too.
 * - p50/p99 are nearest-rank percentiles over the writes, in ms. Recorded in bench/results.json
 *   as `latency.rxsync` (see docs/benchmarks.md); the last line of output is that JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance as nodePerformance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createSyncClient, type SyncClient } from '../src/client/sync-client.js';
import { lsnToBigInt } from '../src/protocol/index.js';
import { benchSchema, TABLE } from './fixtures.js';
import { option } from './cli-options.js';
import { startCpuProfiler } from './profiler.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { startBenchServer, type BenchServer } from './seed-server-process.js';
import { round2, stats, type Stats } from './stats.js';
import { table } from './text-table.js';
import { clockOffset, wallNow } from './wall-clock.js';
import { WatchProgress } from './watch-progress.js';
import { loadAverage, machineLine } from './machine.js';

const WRITES = Number(option('writes') ?? 1000);
const RATE = Number(option('rate') ?? 5000);
const ONLY = option('only');
const CLIENT_PROFILE = option('cpu-prof-client');
const SERVER_PROFILE_DIR = option('cpu-prof-server');

const lsnNumber = (lsn: string): number => Number(lsnToBigInt(lsn));

/** What the client saw: applied batches (LSN, time) and the first watch emission showing each n. */
class ClientProbe {
  readonly appliedLsn: number[] = [];
  readonly appliedAt: number[] = [];
  readonly watch = new WatchProgress('watch()');

  constructor(client: SyncClient) {
    client.on('changes_applied', (data: { lsn: string }) => {
      this.appliedAt.push(wallNow());
      this.appliedLsn.push(lsnNumber(data.lsn));
    });
    // The newest measured row, by its (zero-padded, so ordered) key: one index probe per run.
    client.watch<{ n: number | null }>(`SELECT n FROM ${TABLE} WHERE id >= 'lat-' AND id < 'lat.' ORDER BY id DESC LIMIT 1`).subscribe((rows) => {
      const at = wallNow();
      const n = rows[0]?.n;
      if (n !== null && n !== undefined) this.watch.saw(n, at);
    });
  }

  /** When the first applied batch at or past `lsn` committed. */
  appliedTime(lsn: number): number | undefined {
    let lo = 0;
    let hi = this.appliedLsn.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.appliedLsn[mid] < lsn) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.appliedLsn.length ? this.appliedAt[lo] : undefined;
  }
}

interface PhaseResult {
  applied: Stats;
  watch: Stats;
  clientBusy: number;
  /** This process's CPU time over the phase, per measured write (ms). */
  clientCpuPerWrite: number;
  /** store.write in the server process (commit + fan-out), per measured write. */
  serverWrite: Stats;
  /** The client's event-loop delay over the phase (perf_hooks histogram, ms): stalls of this process. */
  loopDelayP99: number;
  loopDelayMax: number;
}

/** One run of stamped server writes; latencies per write from the server's stamp to the client's times. */
async function serverWrites(server: BenchServer, probe: ClientProbe, from: number): Promise<PhaseResult> {
  const elu = nodePerformance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const done = await server.request<{ writes: Array<{ n: number; lsn: string; t: number; writeMs: number }> }>(
    { type: 'stamped', count: WRITES, minGapMs: 4, maxGapMs: 10, prefix: 'lat-', from },
    'stamped_done',
  );
  await probe.watch.shown(from + WRITES - 1, 30_000);
  const clientBusy = nodePerformance.eventLoopUtilization(elu).utilization;
  const used = process.cpuUsage(cpu);
  const clientCpuPerWrite = (used.user + used.system) / 1000 / WRITES;
  loopDelay.disable();
  const applied: number[] = [];
  const watch: number[] = [];
  for (const write of done.writes) {
    const appliedAt = probe.appliedTime(lsnNumber(write.lsn));
    const watchAt = probe.watch.shownAt.get(write.n);
    if (appliedAt === undefined || watchAt === undefined) throw new Error(`write n=${write.n} (${write.lsn}) was not seen by the client`);
    applied.push(appliedAt - write.t);
    watch.push(watchAt - write.t);
  }
  return {
    applied: stats(applied),
    watch: stats(watch),
    clientBusy,
    clientCpuPerWrite,
    serverWrite: stats(done.writes.map((w) => w.writeMs)),
    loopDelayP99: loopDelay.percentile(99) / 1e6,
    loopDelayMax: loopDelay.max / 1e6,
  };
}

/** Client insert → push → server → push_result applied on the client, one write at a time. */
async function roundTrips(client: SyncClient): Promise<{ applied: Stats; local: Stats }> {
  const waiting = new Map<string, () => void>();
  const onApplied = (outcome: { key: string | number }) => waiting.get(String(outcome.key))?.();
  client.on('client_change_applied', onApplied);
  const applied: number[] = [];
  const local: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 2));
    const id = `rt-${String(i).padStart(7, '0')}`;
    const answered = new Promise<number>((resolve) => waiting.set(id, () => resolve(wallNow())));
    const t0 = wallNow();
    await client.insert(TABLE, { id, title: 'round trip', body: '', n: i, x: t0, updated_at: new Date(t0).toISOString() });
    local.push(wallNow() - t0);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no push_result for ${id} within 10 s`)), 10_000).unref());
    applied.push((await Promise.race([answered, timeout])) - t0);
    waiting.delete(id);
  }
  client.off('client_change_applied', onApplied);
  return { applied: stats(applied), local: stats(local) };
}

const fmt = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-latency-'));
  const started = performance.now();
  const loadBefore = loadavg()[0];
  console.log(
    `latency bench: ${WRITES} writes per figure, background ${RATE.toLocaleString('en-US')} changes/s, ${machineLine()}, load average ${loadAverage()}`,
  );
  const serverArgv = SERVER_PROFILE_DIR ? [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${SERVER_PROFILE_DIR}`] : process.execArgv;
  const server = await startBenchServer('latency', { database: join(dir, 'server.db') }, serverArgv);
  let client: SyncClient | undefined;
  try {
    const clock = await clockOffset(async () => (await server.request<{ t: number }>({ type: 'clock' }, 'clock')).t);
    console.log(
      `server ${server.url} (pid ${server.pid}); clock offset server - client ${clock.offsetMs.toFixed(3)} ms (IPC round trip ${clock.rttMs.toFixed(3)} ms)`,
    );

    client = createSyncClient({
      schema: benchSchema,
      database: ':memory:',
      WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket,
      heartbeat: { intervalMs: 600_000, timeoutMs: 1_200_000 },
      reconnect: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 },
    });
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    await client.initialize();
    if (!(await client.connect(server.url, { timeoutMs: 30_000 }))) throw new Error('the client did not connect');
    await client.whenSynced({ timeoutMs: 30_000 });
    const probe = new ClientProbe(client);
    const stopProfiler = CLIENT_PROFILE ? await startCpuProfiler(CLIENT_PROFILE) : undefined;

    let idle: PhaseResult | undefined;
    let underLoad: PhaseResult | undefined;
    let roundTrip: Awaited<ReturnType<typeof roundTrips>> | undefined;
    let backgroundWritten = 0;
    let drainMs = 0;
    if (!ONLY || ONLY === 'idle') {
      // Warm-up (JIT): 100 untimed writes, as a long-running client would be warm.
      await server.request({ type: 'stamped', count: 100, minGapMs: 1, maxGapMs: 3, prefix: 'lat-', from: 0 }, 'stamped_done');
      await probe.watch.shown(99, 30_000);
      idle = await serverWrites(server, probe, 100);
      console.log(
        `idle: applied p50 ${fmt(idle.applied.p50)} p99 ${fmt(idle.applied.p99)} ms, watch p50 ${fmt(idle.watch.p50)} p99 ${fmt(idle.watch.p99)} ms, client event loop busy ${(100 * idle.clientBusy).toFixed(0)}%, client CPU ${idle.clientCpuPerWrite.toFixed(2)} ms per write`,
      );
    }
    if (!ONLY || ONLY === 'load') {
      server.send({ type: 'background', rate: RATE, tickMs: 10 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      underLoad = await serverWrites(server, probe, 100 + WRITES);
      const stopped = await server.request<{ written: number }>({ type: 'background', rate: 0 }, 'background_stopped');
      backgroundWritten = stopped.written;
      const t0 = performance.now();
      await client.whenSynced({ timeoutMs: 60_000 });
      drainMs = performance.now() - t0;
      console.log(
        `under load: applied p50 ${fmt(underLoad.applied.p50)} p99 ${fmt(underLoad.applied.p99)} ms, watch p50 ${fmt(underLoad.watch.p50)} p99 ${fmt(underLoad.watch.p99)} ms, client event loop busy ${(100 * underLoad.clientBusy).toFixed(0)}%, client CPU ${underLoad.clientCpuPerWrite.toFixed(2)} ms per measured write; ${backgroundWritten.toLocaleString('en-US')} background changes, client caught up ${drainMs.toFixed(0)} ms after they stopped`,
      );
    }
    if (!ONLY || ONLY === 'roundtrip') {
      roundTrip = await roundTrips(client);
      console.log(
        `round trip: applied p50 ${fmt(roundTrip.applied.p50)} p99 ${fmt(roundTrip.applied.p99)} ms (insert() resolved p50 ${fmt(roundTrip.local.p50)} ms)`,
      );
    }
    await stopProfiler?.();
    if (errors.length) console.warn(`(the client reported ${errors.length} error event(s): ${JSON.stringify(errors[0])})`);
    const [{ count }] = await client.query<{ count: number }>(`SELECT count(*) AS count FROM ${TABLE}`);
    const [{ total }] = await server
      .request<{ rows: Array<{ total: number }> }>({ type: 'query', sql: `SELECT count(*) AS total FROM ${TABLE}` }, 'query')
      .then((r) => r.rows);
    if (count !== total) throw new Error(`the client holds ${count} rows, the server ${total}`);

    const out: string[][] = [['measurement (ms)', 'p50', 'p90', 'p99', 'max', 'mean', 'n']];
    const row = (label: string, s: Stats | undefined) => s && out.push([label, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max), fmt(s.mean), String(s.count)]);
    row('idle: server write -> client applied', idle?.applied);
    row('idle: server write -> watch() emission', idle?.watch);
    row(`${RATE}/s load: server write -> client applied`, underLoad?.applied);
    row(`${RATE}/s load: server write -> watch() emission`, underLoad?.watch);
    row('(idle: server store.write, commit + fan-out)', idle?.serverWrite);
    row('(load: server store.write, commit + fan-out)', underLoad?.serverWrite);
    row('round trip: insert() -> push_result applied', roundTrip?.applied);
    row('(insert() -> resolved, local commit)', roundTrip?.local);
    console.log('');
    console.log(table(out));
    const delay = (label: string, r: PhaseResult | undefined) => r && `${label} p99 ${r.loopDelayP99.toFixed(1)} ms, max ${r.loopDelayMax.toFixed(1)} ms`;
    console.log(
      `\nclient event-loop delay (stalls of this process, 1 ms resolution): ${[delay('idle', idle), delay('load', underLoad)].filter(Boolean).join('; ')}`,
    );
    console.log(`goals: live p99 <= 5 ms idle, <= 25 ms under load. Clock offset ${clock.offsetMs.toFixed(3)} ms (not applied).`);
    console.log(
      `total bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`,
    );

    const pick = (s: Stats | undefined) => s && { p50: round2(s.p50), p99: round2(s.p99) };
    const rxsync = {
      ...(idle && { idle: { applied: pick(idle.applied), watch: pick(idle.watch) } }),
      ...(underLoad && { underLoad: { applied: pick(underLoad.applied), watch: pick(underLoad.watch) } }),
      ...(roundTrip && { roundTrip: pick(roundTrip.applied) }),
      writes: WRITES,
      backgroundChangesPerSec: RATE,
      loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
    };
    recordAndPrint(
      'latency',
      'latency',
      { rxsync },
      {
        record: !ONLY && WRITES === 1000 && RATE === 5000,
        notRecordedNote: '(not recorded in bench/results.json: a partial run or not the default writes/rate)',
      },
    );
  } finally {
    await client?.cleanup();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
