/**
 * bench/rxdb-latency: live-sync latency of the peer engine RxDB (open core, 17.x, WebSocket
 * replication), in the same shapes as bench/latency.ts measures rxsync.
 *
 *   node bench/run.mjs rxdb-latency [--writes=1000] [--rate=5000] [--batch-size=5000]
 *                                   [--only=idle|load|roundtrip]
 *
 * - Server: RxDB's `startWebsocketServer` in its own process (bench/rxdb-server.ts, forked) on an
 *   RxDatabase with the memory storage and an empty `items` collection (schema: bench/rxdb-common.ts).
 *   Client (this process): an RxDatabase on the memory storage (multiInstance off, no dev-mode, no
 *   validation plugin) replicating with `replicateWithWebsocketServer({ live: true, batchSize })`,
 *   batchSize 5000 as in bench/rxdb-initial-sync.ts (it only sizes catch-up pulls and push
 *   batches; live changes arrive as the server's change-stream events, whatever their size), and
 *   in sync (awaitInitialReplication + awaitInSync) before anything is timed.
 * - Server write → client (idle, then under load): the server process inserts `--writes` rows
 *   `lat-NNNNNNN`, one collection.insert() each, 4–10 ms apart (random), taking a wall-clock stamp
 *   (performance.timeOrigin + performance.now(), comparable between the two processes; the bench
 *   estimates the clock offset over IPC and prints it, not applied) just before each insert.
 *   * applied: the client collection's `insert$` event for that row (emitted once the pulled
 *     stream batch is written to the client's storage), the counterpart of rxsync's `changes_applied`.
 *   * watch (RECORDED): a live query on the client, `findOne({ selector: { id: { $gte: 'lat-',
 *     $lt: 'lat.' } }, sort: [{ id: 'desc' }] }).$` (the newest `lat-` row, as rxsync's watch() of
 *     `... ORDER BY id DESC LIMIT 1`); a write counts at the first emission showing its `n`.
 * - Under load: the server process also writes a background stream of `--rate` changes/s (default
 *   5,000) to other rows (`bg-`, bulkUpsert over 10,000 keys, one every 10 ms, ~50 rows each),
 *   started 1.5 s before the measured writes and stopped after them; the client replicates all of
 *   it (the bench waits for awaitInSync() after and prints how long that took).
 * - Round trip (idle): the client inserts `--writes` rows `rt-NNNNNNN`, one at a time, 1–3 ms apart;
 *   timed from the insert() call to the replication state's `sent$` emission of that row (RxDB's
 *   push handler got the server's `masterWrite` answer: the server has written it), the counterpart
 *   of rxsync's insert() → push_result applied. Also shown: insert() resolving (local write) and the
 *   server collection emitting the row (wall-clock stamp in the server process, over IPC).
 * - A 100-write untimed warm-up runs first. p50/p99 are nearest-rank percentiles over the writes,
 *   in ms. Records `latency.rxdb = { idle, underLoad, roundTrip }` (each { p50, p99 }, the watch
 *   figures for idle/underLoad) in bench/results.json, on a full run with the default --writes and
 *   --rate only (as bench/latency.ts does); the last line of output is that JSON.
 */
import { performance as nodePerformance } from 'node:perf_hooks';
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket';
import type { RxReplicationState } from 'rxdb/plugins/replication';
import { TABLE } from './fixtures.js';
import { option } from './cli-options.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import {
  createItemsDatabase,
  quietRxdb,
  RXDB_BATCH_SIZE,
  silenced,
  startRxdbServer,
  type ItemDoc,
  type ItemsDatabase,
  type RxdbServer,
} from './rxdb-common.js';
import { round2, stats, type Stats } from './stats.js';
import { table } from './text-table.js';
import { clockOffset, wallNow } from './wall-clock.js';
import { WatchProgress } from './watch-progress.js';
import { loadAverage } from './machine.js';

const WRITES = Number(option('writes') ?? 1000);
const RATE = Number(option('rate') ?? 5000);
const BATCH_SIZE = Number(option('batch-size') ?? RXDB_BATCH_SIZE);
const ONLY = option('only');

/** What the client saw: insert$ time per `lat-` row, and the first live-query emission showing each n. */
class ClientProbe {
  readonly appliedAt = new Map<number, number>();
  readonly watch = new WatchProgress('the live query');

  constructor(db: ItemsDatabase) {
    const items = db[TABLE];
    items.insert$.subscribe((event) => {
      if (event.documentId.startsWith('lat-')) this.appliedAt.set(event.documentData.n, wallNow());
    });
    items.findOne({ selector: { id: { $gte: 'lat-', $lt: 'lat.' } }, sort: [{ id: 'desc' }] }).$.subscribe((doc) => {
      const at = wallNow();
      const n = doc?.n;
      if (n !== undefined) this.watch.saw(n, at);
    });
  }
}

interface PhaseResult {
  applied: Stats;
  watch: Stats;
  clientBusy: number;
  clientCpuMs: number;
}

async function serverWrites(server: RxdbServer, probe: ClientProbe, from: number): Promise<PhaseResult> {
  const elu = nodePerformance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const done = await server.request<{ writes: Array<{ n: number; t: number }> }>(
    { type: 'stamped', count: WRITES, minGapMs: 4, maxGapMs: 10, prefix: 'lat-', from },
    'stamped_done',
  );
  await probe.watch.shown(from + WRITES - 1, 60_000);
  const clientBusy = nodePerformance.eventLoopUtilization(elu).utilization;
  const used = process.cpuUsage(cpu);
  const applied: number[] = [];
  const watch: number[] = [];
  for (const write of done.writes) {
    const appliedAt = probe.appliedAt.get(write.n);
    const watchAt = probe.watch.shownAt.get(write.n);
    if (appliedAt === undefined || watchAt === undefined) throw new Error(`write n=${write.n} was not seen by the client`);
    applied.push(appliedAt - write.t);
    watch.push(watchAt - write.t);
  }
  return { applied: stats(applied), watch: stats(watch), clientBusy, clientCpuMs: (used.user + used.system) / 1000 };
}

/** Client insert → push (masterWrite) → server writes → answer → sent$, one write at a time. */
async function roundTrips(
  db: ItemsDatabase,
  replication: RxReplicationState<ItemDoc, unknown>,
  server: RxdbServer,
): Promise<{ sent: Stats; local: Stats; server: Stats }> {
  const waiting = new Map<string, () => void>();
  const seenAt = new Map<string, number>();
  const sub = replication.sent$.subscribe((doc) => waiting.get(doc.id)?.());
  const onSeen = (m: { type?: string; id: string; at: number }) => {
    if (m?.type === 'seen') seenAt.set(m.id, m.at);
  };
  server.child.on('message', onSeen);
  const sent: number[] = [];
  const local: number[] = [];
  const starts = new Map<string, number>();
  for (let i = 0; i < WRITES; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 2));
    const id = `rt-${String(i).padStart(7, '0')}`;
    const answered = new Promise<number>((resolve) => waiting.set(id, () => resolve(wallNow())));
    const t0 = wallNow();
    starts.set(id, t0);
    await db[TABLE].insert({ id, title: 'round trip', body: '', n: i, x: t0, updated_at: new Date(t0).toISOString() });
    local.push(wallNow() - t0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${id} was not pushed within 10 s`)), 10_000);
    });
    sent.push((await Promise.race([answered, timeout])) - t0);
    clearTimeout(timer);
    waiting.delete(id);
  }
  // The server's 'seen' IPC messages can trail the sent$ of the last write a little.
  for (let wait = 0; seenAt.size < WRITES && wait < 100; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
  server.child.off('message', onSeen);
  sub.unsubscribe();
  const atServer = [...starts].filter(([id]) => seenAt.has(id)).map(([id, t0]) => seenAt.get(id)! - t0);
  if (atServer.length !== WRITES) throw new Error(`the server reported ${atServer.length} of ${WRITES} round-trip rows`);
  return { sent: stats(sent), local: stats(local), server: stats(atServer) };
}

const fmt = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  quietRxdb();
  const started = performance.now();
  console.log(
    `rxdb latency bench: ${WRITES} writes per figure, background ${RATE.toLocaleString('en-US')} changes/s, batchSize ${BATCH_SIZE}, node ${process.version}, load average ${loadAverage()}`,
  );
  const server = await startRxdbServer(0, 'rxdb-latency');
  let db: ItemsDatabase | undefined;
  let replication: RxReplicationState<ItemDoc, unknown> | undefined;
  try {
    const clock = await clockOffset(async () => (await server.request<{ t: number }>({ type: 'clock' }, 'clock')).t);
    console.log(
      `rxdb server ${server.url} (pid ${server.pid}); clock offset server - client ${clock.offsetMs.toFixed(3)} ms (IPC round trip ${clock.rttMs.toFixed(3)} ms)`,
    );

    db = await createItemsDatabase(`rxdblatencyclient${process.pid}`);
    replication = await replicateWithWebsocketServer<ItemDoc, unknown>({
      collection: db[TABLE],
      url: server.url,
      replicationIdentifier: `rxdb-latency-${process.pid}`,
      live: true,
      batchSize: BATCH_SIZE,
    });
    const errors: unknown[] = [];
    replication.error$.subscribe((error) => errors.push(error));
    await replication.awaitInitialReplication();
    await replication.awaitInSync();
    const probe = new ClientProbe(db);

    let idle: PhaseResult | undefined;
    let underLoad: PhaseResult | undefined;
    let roundTrip: Awaited<ReturnType<typeof roundTrips>> | undefined;
    let backgroundWritten = 0;
    let drainMs = 0;
    let backgroundRate = 0;
    if (!ONLY || ONLY === 'idle') {
      // Warm-up (JIT): 100 untimed writes, as a long-running client would be warm.
      await server.request({ type: 'stamped', count: 100, minGapMs: 1, maxGapMs: 3, prefix: 'lat-', from: 0 }, 'stamped_done');
      await probe.watch.shown(99, 30_000);
      idle = await serverWrites(server, probe, 100);
      console.log(
        `idle: applied p50 ${fmt(idle.applied.p50)} p99 ${fmt(idle.applied.p99)} ms, watch p50 ${fmt(idle.watch.p50)} p99 ${fmt(idle.watch.p99)} ms, client event loop busy ${(100 * idle.clientBusy).toFixed(0)}%`,
      );
    }
    if (!ONLY || ONLY === 'load') {
      server.send({ type: 'background', rate: RATE, tickMs: 10 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      underLoad = await serverWrites(server, probe, 100 + WRITES);
      const stopped = await server.request<{ written: number; elapsedMs: number }>({ type: 'background', rate: 0 }, 'background_stopped');
      backgroundWritten = stopped.written;
      backgroundRate = stopped.written / (stopped.elapsedMs / 1000);
      const t0 = performance.now();
      await replication.awaitInSync();
      drainMs = performance.now() - t0;
      console.log(
        `under load: applied p50 ${fmt(underLoad.applied.p50)} p99 ${fmt(underLoad.applied.p99)} ms, watch p50 ${fmt(underLoad.watch.p50)} p99 ${fmt(underLoad.watch.p99)} ms, client event loop busy ${(100 * underLoad.clientBusy).toFixed(0)}%, client CPU ${underLoad.clientCpuMs.toFixed(0)} ms; ${backgroundWritten.toLocaleString('en-US')} background changes (${Math.round(backgroundRate).toLocaleString('en-US')}/s reached), client in sync ${drainMs.toFixed(0)} ms after they stopped`,
      );
    }
    if (!ONLY || ONLY === 'roundtrip') {
      roundTrip = await roundTrips(db, replication, server);
      console.log(
        `round trip: sent$ p50 ${fmt(roundTrip.sent.p50)} p99 ${fmt(roundTrip.sent.p99)} ms (server collection has it p50 ${fmt(roundTrip.server.p50)} ms, insert() resolved p50 ${fmt(roundTrip.local.p50)} ms)`,
      );
    }
    await replication.awaitInSync();
    if (errors.length) console.warn(`(the replication reported ${errors.length} error(s): ${String(errors[0])})`);
    const count = await db[TABLE].count().exec();
    const { count: total } = await server.request<{ count: number }>({ type: 'count' }, 'count');
    if (count !== total) throw new Error(`the client holds ${count} rows, the server ${total}`);

    const out: string[][] = [['measurement (ms)', 'p50', 'p90', 'p99', 'max', 'mean', 'n']];
    const row = (label: string, s: Stats | undefined) => s && out.push([label, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max), fmt(s.mean), String(s.count)]);
    row('rxdb idle: server write -> client insert$', idle?.applied);
    row('rxdb idle: server write -> live query (findOne().$) emission', idle?.watch);
    row(`rxdb ${RATE}/s load: server write -> client insert$`, underLoad?.applied);
    row(`rxdb ${RATE}/s load: server write -> live query emission`, underLoad?.watch);
    row('rxdb round trip: insert() -> sent$ (masterWrite answered)', roundTrip?.sent);
    row('(insert() -> server collection emits it)', roundTrip?.server);
    row('(insert() -> resolved, local write)', roundTrip?.local);
    console.log('');
    console.log(table(out));
    console.log(`\nclock offset ${clock.offsetMs.toFixed(3)} ms (not applied); client and server row counts agree (${count}).`);
    if (silenced.length) console.log(`(silenced ${silenced.length} RxDB websocket-client console lines: ${silenced.slice(0, 4).join(' | ')})`);
    console.log(
      `total bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`,
    );

    const pick = (s: Stats) => ({ p50: round2(s.p50), p99: round2(s.p99) });
    const rxdb = {
      ...(idle && { idle: pick(idle.watch) }),
      ...(underLoad && { underLoad: pick(underLoad.watch) }),
      ...(roundTrip && { roundTrip: pick(roundTrip.sent) }),
    };
    recordAndPrint(
      'rxdb-latency',
      'latency',
      { rxdb },
      {
        record: !ONLY && WRITES === 1000 && RATE === 5000,
        notRecordedNote: '(not recorded in bench/results.json: a partial run or not the default writes/rate)',
      },
    );
  } finally {
    await replication?.cancel().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await server.close();
  }
}

runMain(main);
