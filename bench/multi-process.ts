/**
 * bench/multi-process: several `rxsync serve` processes over one Postgres database (issue 13).
 *
 *   node bench/run.mjs multi-process [--sessions=1000] [--processes=3] [--rates=5,100] [--seconds=10]
 *                                    [--warmup-seconds=2] [--failovers=5]
 *
 * - A throwaway PostgreSQL 15 cluster (spec/support/postgres.ts: wal_level=logical, fsync off), a
 *   database owned by a LOGIN REPLICATION role with the bench table `items` (empty), and the
 *   bench schema (bench/fixtures.ts) in a temp schema.json. Each sync process is the real CLI,
 *   `rxsync serve --postgres URL --schema schema.json --port 0` (bench/cli-process.ts: src/server/cli.ts
 *   bundled by bench/run.mjs, default limits and log level), one OS process each.
 * - Writes: a `pg` connection in this process commits rows into `items` at each of `--rates` rows/s
 *   in turn (default 5, then 100) for `--seconds` (default 10), one INSERT (one commit) each, on a
 *   fixed schedule; each row carries the wall clock taken just before its INSERT (`x`) and its
 *   sequence number (`n`), as bench/fanout.ts stamps rows. Every change goes commit → the
 *   replicator (one of the processes, elected) → rxsync.change_log + NOTIFY → each process's tail
 *   → its sessions. Two rates because on a 2-core machine 3,000 sessions fill both cores from
 *   about 10 rows/s on (the sync processes and the load processes that parse and ack every frame):
 *   5 rows/s compares the configurations with cores to spare, 100 rows/s with none.
 * - Fan-out, two configurations on the same database: (1) `--sessions` light sessions on ONE sync
 *   process, then (2) `--processes` sync processes (the first one and new ones) with `--sessions`
 *   each. Sessions are bench/fanout-load.ts's raw `ws` clients (hello at the process's LSN, every
 *   `changes` acked at once, pings answered), one load process per sync process, connected once
 *   per configuration. At each rate, `--warmup-seconds` (default 2) of rows first, delivered to
 *   every session before the measured rows start (processes started for it are cold).
 *   - delivery latency: per change per session, the frame's arrival at the load process minus the
 *     row's stamp; p50/p99 nearest-rank over all sessions × changes;
 *   - delivered: every session got every change, in order, none repeated (the load processes check),
 *     within 15 s of the last write;
 *   - server CPU per delivery: the sync processes' utime + stime (/proc/PID/stat) from the first
 *     write until every session had every change, summed, / (sessions × changes). The load
 *     processes' CPU and Postgres's (the postmaster and all its backends) over the same window are
 *     shown beside it as shares of a core, and the same shares with no session and no write (5 s)
 *     before each configuration, with the connections opened per second meanwhile
 *     (pg_stat_database).
 * - Failover, `--failovers` times (default 5) with `--processes` processes: a light session (in
 *   this process) on a follower; `kill -9` of the replicator (the process whose /healthz says
 *   `role: 'replicator'`); from the kill on, a row committed every 50 ms. Measured from the kill:
 *   to the first of those rows arriving at the session (the new replicator streams and stores it,
 *   the follower's tail delivers it), and to a survivor's /healthz saying `role: 'replicator'`
 *   (polled every 25 ms). Every row committed during the failover must reach the session, in
 *   order. The killed process is then started again (a new follower) before the next round.
 * - Recorded in bench/results.json as `multiProcess` (default options only); the last line of
 *   output is that JSON. Not in `npm run bench`'s default list (it takes about 90 s): run it by
 *   name. The machine's cores are shared by every sync process, the load processes, Postgres
 *   and this writer: read the load average printed at the start and the end.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { schemaDefinition } from '../src/protocol/index.js';
import { createAppDatabase, startPostgres } from '../spec/support/postgres.js';
import { option } from './cli-options.js';
import { postmasterPid, processTreeCpuMs, startCliProcess, stopAllCliProcesses, type CliProcess } from './cli-process.js';
import { benchSchema, TABLE } from './fixtures.js';
import { ask, benchScript } from './forked-server.js';
import { loadAverage, machineLine } from './machine.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { median, round2, stats } from './stats.js';
import { table } from './text-table.js';
import { failover, insertStamped, settled, type FailoverRound } from './multi-process-failover.js';

const SESSIONS = Number(option('sessions') ?? 1000);
const PROCESSES = Math.max(2, Number(option('processes') ?? 3));
/** Each configuration streams at each of these rates in turn, on the same sessions. */
const RATES = (option('rates') ?? '5,100').split(',').map(Number);
const SECONDS = Number(option('seconds') ?? 10);
const WARMUP_SECONDS = Number(option('warmup-seconds') ?? 2);
const FAILOVERS = Math.max(1, Number(option('failovers') ?? 5));
/** Per rate: rows written (and delivered everywhere) to warm up, then the measured ones. */
const PHASES = RATES.map((rate) => ({ rate, warmup: Math.round(rate * WARMUP_SECONDS), changes: Math.round(rate * SECONDS) }));
/** Rows every session receives over all phases. */
const EXPECTED = PHASES.reduce((n, p) => n + p.warmup + p.changes, 0);
/** How long CPU is measured with no session and no write, with 1 process and with `--processes`. */
const IDLE_MS = 5000;

const DDL = `CREATE TABLE ${TABLE} (id text PRIMARY KEY, title text, body text, n bigint, x double precision, updated_at text)`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LoadReport {
  latencies: Float64Array;
  counts: number[];
  gaps: number;
  errors: string[];
  cpuMs: number;
}

/**
 * With no session and no write for `ms`: the sync processes' CPU (each) and Postgres's, as shares of
 * a core, and the connections opened to the database per second (pg_stat_database.sessions).
 */
async function idle(
  servers: CliProcess[],
  db: pg.Client,
  postgresPid: number | undefined,
  ms: number,
): Promise<{ sync: number[]; postgres: number; connectionsPerSec: number }> {
  const sessions = async () =>
    Number((await db.query<{ n: string }>('SELECT sessions::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n);
  const sessionsBefore = await sessions();
  const before = servers.map((s) => s.cpuMs());
  const postgresBefore = postgresPid ? processTreeCpuMs(postgresPid) : NaN;
  const started = performance.now();
  await sleep(ms);
  const elapsed = performance.now() - started;
  return {
    sync: servers.map((s, i) => round2((s.cpuMs() - before[i]) / elapsed)),
    postgres: round2(((postgresPid ? processTreeCpuMs(postgresPid) : NaN) - postgresBefore) / elapsed),
    connectionsPerSec: round2(((await sessions()) - sessionsBefore) / (elapsed / 1000)),
  };
}

interface FanOutResult {
  changesPerSec: number;
  sessions: number;
  deliveryP50Ms: number;
  deliveryP99Ms: number;
  deliveryMaxMs: number;
  /** Every session got every measured change, in order, none repeated. */
  delivered: boolean;
  serverCpuUsPerDelivery: number;
  /** Each sync process's CPU over the window, in ms (the replicator's at `replicatorIndex`). */
  serverCpuMs: number[];
  replicatorIndex: number;
  /** The load processes' CPU over the window, in ms. */
  loadCpuMs: number[];
  /** The postmaster and all its backends, share of one core over the window. */
  postgresCpuShare: number;
  /** From the first measured write until every session had the last. */
  windowMs: number;
}

/**
 * `SESSIONS` light sessions on each of `servers` (one load process each), then each rate of
 * PHASES in turn on those sessions: warm-up rows, then the measured ones (see the header).
 */
async function fanOut(servers: CliProcess[], db: pg.Client, postgresPid: number | undefined, prefix: string): Promise<FanOutResult[]> {
  const healths = await Promise.all(servers.map((s) => s.health()));
  const replicatorIndex = healths.findIndex((h) => h.role === 'replicator');
  const sessions = servers.length * SESSIONS;
  const loaders: ChildProcess[] = [];
  try {
    const readies = servers.map((server, index) => {
      const child = fork(
        benchScript('fanout-load', 'multi-process'),
        [JSON.stringify({ url: server.url, sessions: SESSIONS, lsn: healths[index].lsn, schemaHash: benchSchema.hash, index, expected: EXPECTED })],
        { stdio: 'inherit', serialization: 'advanced', execArgv: process.execArgv.filter((a) => !a.startsWith('--cpu-prof')) },
      );
      loaders.push(child);
      return ask(child, undefined, 'ready', 120_000, 'load process');
    });
    const t0 = performance.now();
    await Promise.all(readies);
    console.log(`  ${sessions} sessions on ${servers.length} process(es) connected in ${(performance.now() - t0).toFixed(0)} ms`);
    await sleep(500);
    const connected = await Promise.all(servers.map((s) => s.health()));
    if (connected.some((h) => h.sessions !== SESSIONS))
      throw new Error(`sessions per process: ${connected.map((h) => h.sessions).join(', ')}, expected ${SESSIONS}`);

    const report = () => Promise.all(loaders.map((child) => ask<LoadReport>(child, { type: 'report' }, 'report', 60_000, 'load process')));
    /** Rows n = from .. from + count - 1, one commit each at `rate`. */
    const write = async (from: number, count: number, rate: number) => {
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        await insertStamped(db, prefix, from + i);
      }
    };
    /** The load processes' reports once every session has `rows` rows (or once the deadline passed). */
    const untilEverySessionHas = async (rows: number, timeoutMs: number) => {
      for (const deadline = performance.now() + timeoutMs; ; await sleep(100)) {
        const reports = await report();
        if (reports.every((r) => r.counts.every((c) => c >= rows)) || performance.now() > deadline) return reports;
      }
    };
    const results: FanOutResult[] = [];
    let base = 0; // rows every session has had so far
    for (const { rate, warmup, changes } of PHASES) {
      await write(base, warmup, rate);
      base += warmup;
      // Each load process lists latencies in arrival order: the measured ones follow these.
      const before = await untilEverySessionHas(base, 30_000);
      if (before.some((r) => r.counts.some((c) => c !== base))) throw new Error(`the warm-up rows did not reach every session within 30 s`);
      const cpuBefore = servers.map((s) => s.cpuMs());
      const postgresBefore = postgresPid ? processTreeCpuMs(postgresPid) : NaN;
      const started = performance.now();
      await write(base, changes, rate);
      const writtenMs = performance.now() - started;
      const after = await untilEverySessionHas(base + changes, 15_000);
      const windowMs = performance.now() - started;
      const serverCpuMs = servers.map((s, i) => s.cpuMs() - cpuBefore[i]);
      const postgresCpuMs = postgresPid ? processTreeCpuMs(postgresPid) - postgresBefore : NaN;
      const loadCpuMs = after.map((r, i) => r.cpuMs - before[i].cpuMs);

      const latencies = new Float64Array(after.reduce((n, r, i) => n + r.latencies.length - before[i].latencies.length, 0));
      let offset = 0;
      for (const [i, r] of after.entries()) {
        latencies.set(r.latencies.subarray(before[i].latencies.length), offset);
        offset += r.latencies.length - before[i].latencies.length;
      }
      const s = stats(latencies);
      const gaps = after.reduce((n, r, i) => n + r.gaps - before[i].gaps, 0);
      const delivered = gaps === 0 && latencies.length === sessions * changes && after.every((r) => r.counts.every((c) => c === base + changes));
      const share = (ms: number[]) => ms.map((m) => `${((100 * m) / windowMs).toFixed(0)}%`).join(' + ');
      console.log(
        `  ${rate} rows/s: ${changes} rows written in ${(writtenMs / 1000).toFixed(1)} s, all delivered ${((windowMs - writtenMs) / 1000).toFixed(2)} s after the last; CPU (share of a core): sync ${share(serverCpuMs)}, load ${share(loadCpuMs)}, Postgres ${share([postgresCpuMs])}`,
      );
      for (const error of after.flatMap((r) => r.errors).slice(0, 5)) console.warn(`  load process: ${error}`);
      results.push({
        changesPerSec: rate,
        sessions,
        deliveryP50Ms: round2(s.p50),
        deliveryP99Ms: round2(s.p99),
        deliveryMaxMs: round2(s.max),
        delivered,
        serverCpuUsPerDelivery: round2((serverCpuMs.reduce((a, b) => a + b, 0) * 1000) / (sessions * changes)),
        serverCpuMs: serverCpuMs.map(Math.round),
        replicatorIndex,
        loadCpuMs: loadCpuMs.map(Math.round),
        postgresCpuShare: round2(postgresCpuMs / windowMs),
        windowMs: Math.round(windowMs),
      });
      base += changes;
    }
    return results;
  } finally {
    for (const child of loaders) if (child.exitCode === null) child.send({ type: 'close' });
    await Promise.all(loaders.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg()[0];
  console.log(
    `multi-process bench: ${SESSIONS} sessions on 1 process, then ${SESSIONS} on each of ${PROCESSES}; ${RATES.join(' then ')} rows/s for ${SECONDS} s each; ${FAILOVERS} failovers; ${machineLine()}, load average ${loadAverage()}`,
  );
  const postgres = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-multi-'));
  // Interrupted (Ctrl-C) or crashed: the cluster still stops (its stop() is synchronous: spawnSync)
  // and the temp folder goes, and bench/cli-process.ts kills the sync processes on the same 'exit'.
  process.once('exit', () => {
    void postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  let db: pg.Client | undefined;
  try {
    const database = await createAppDatabase(postgres, DDL);
    const postgresPid = postmasterPid(postgres.port);
    db = new pg.Client({ connectionString: database.connectionString });
    await db.connect();
    const schemaFile = join(dir, 'schema.json');
    writeFileSync(schemaFile, JSON.stringify(schemaDefinition(benchSchema), null, 2));
    const serverArgs = ['--postgres', database.connectionString, '--schema', schemaFile, '--port', '0'];

    const servers = [await startCliProcess('multi-process', serverArgs, 'sync process 0')];
    await settled(servers);
    const idleOne = await idle(servers, db, postgresPid, IDLE_MS);
    console.log(`fan-out, 1 process (pid ${servers[0].pid}):`);
    const one = await fanOut(servers, db, postgresPid, 'one-');

    for (let i = 1; i < PROCESSES; i++) servers.push(await startCliProcess('multi-process', serverArgs, `sync process ${i}`));
    await settled(servers);
    const idleMany = await idle(servers, db, postgresPid, IDLE_MS);
    console.log(`fan-out, ${PROCESSES} processes (pids ${servers.map((s) => s.pid).join(', ')}):`);
    const many = await fanOut(servers, db, postgresPid, 'many-');

    console.log(`failover, ${FAILOVERS} rounds:`);
    const rounds: FailoverRound[] = [];
    for (let round = 0; round < FAILOVERS; round++) {
      const result = await failover(servers, serverArgs, db, round);
      console.log(
        `  round ${round + 1}: kill -9 -> first row delivered ${result.killToDeliveredMs.toFixed(0)} ms (${result.rowsWaiting} rows committed by then), -> /healthz role replicator ${result.killToRoleMs.toFixed(0)} ms; all delivered in order: ${result.allDelivered}`,
      );
      rounds.push(result);
    }

    const delivered = rounds.map((r) => r.killToDeliveredMs);
    const role = rounds.map((r) => r.killToRoleMs);
    const byRate = PHASES.map(({ rate }, i) => ({
      changesPerSec: rate,
      one: one[i],
      many: many[i],
      cpuPerDeliveryManyOverOne: round2(many[i].serverCpuUsPerDelivery / one[i].serverCpuUsPerDelivery),
      deliveryP99ManyOverOne: round2(many[i].deliveryP99Ms / one[i].deliveryP99Ms),
    }));
    const share = (r: FanOutResult, ms: number[], replicator = -1) =>
      ms.map((m, i) => `${((100 * m) / r.windowMs).toFixed(0)}%${i === replicator ? ' (replicator)' : ''}`).join(' + ');
    const out: string[][] = [
      ['measurement', ...byRate.flatMap(({ changesPerSec: rate }) => [`1 × ${SESSIONS}, ${rate}/s`, `${PROCESSES} × ${SESSIONS}, ${rate}/s`])],
    ];
    const row = (name: string, cell: (r: FanOutResult) => string) => out.push([name, ...byRate.flatMap((b) => [cell(b.one), cell(b.many)])]);
    row('delivery p50 / p99 / max', (r) => `${r.deliveryP50Ms} / ${r.deliveryP99Ms} / ${r.deliveryMaxMs} ms`);
    row('every session got every change, in order', (r) => String(r.delivered));
    row('sync processes: CPU per delivery', (r) => `${r.serverCpuUsPerDelivery} µs`);
    row('sync processes: share of a core each', (r) => share(r, r.serverCpuMs, r.replicatorIndex));
    row('load processes: share of a core each', (r) => share(r, r.loadCpuMs));
    row('Postgres (all backends): share of a core', (r) => `${(100 * r.postgresCpuShare).toFixed(0)}%`);
    console.log('');
    console.log(table(out));
    for (const b of byRate) {
      console.log(
        `${b.changesPerSec} rows/s: CPU per delivery ${PROCESSES} processes / 1 process ${b.cpuPerDeliveryManyOverOne}; delivery p99 ${PROCESSES}×${SESSIONS} / 1×${SESSIONS} ${b.deliveryP99ManyOverOne}`,
      );
    }
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    console.log(
      `idle (no session, no write, ${IDLE_MS / 1000} s): 1 process ${idleOne.sync.map(pct).join('')} and Postgres ${pct(idleOne.postgres)} of a core, ${idleOne.connectionsPerSec} new connections/s; ${PROCESSES} processes ${idleMany.sync.map(pct).join(' + ')} and Postgres ${pct(idleMany.postgres)}, ${idleMany.connectionsPerSec} new connections/s`,
    );
    console.log(
      `failover (kill -9 of the replicator, ${FAILOVERS} rounds): first row committed after the kill delivered median ${median(delivered)} ms, max ${Math.max(...delivered)} ms; a survivor's /healthz says replicator median ${median(role)} ms, max ${Math.max(...role)} ms; every row delivered in order: ${rounds.every((r) => r.allDelivered)}`,
    );
    console.log(
      `total bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (${machineLine()}: every process shares these cores)\n`,
    );

    const data = {
      sessionsPerProcess: SESSIONS,
      processes: PROCESSES,
      seconds: SECONDS,
      idle: { one: idleOne, many: idleMany },
      fanOut: byRate,
      failover: {
        rounds: FAILOVERS,
        killToDeliveredMs: delivered,
        killToDeliveredMedianMs: median(delivered),
        killToDeliveredMaxMs: Math.max(...delivered),
        killToReplicatorRoleMs: role,
        killToReplicatorRoleMedianMs: median(role),
        killToReplicatorRoleMaxMs: Math.max(...role),
        allDelivered: rounds.every((r) => r.allDelivered),
      },
      loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
      benchSeconds: Math.round((performance.now() - started) / 1000),
    };
    recordAndPrint('multi-process', 'multiProcess', data, {
      record: SESSIONS === 1000 && PROCESSES === 3 && RATES.join() === '5,100' && SECONDS === 10 && WARMUP_SECONDS === 2 && FAILOVERS === 5,
      notRecordedNote: '(not recorded in bench/results.json: not the default options)',
    });
  } finally {
    stopAllCliProcesses();
    await db?.end().catch(() => undefined);
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
