/**
 * bench/fanout: one server process, 1,000 live sessions, a stream of changes written at the server.
 *
 *   node bench/run.mjs fanout [--sessions=1000] [--rate=100] [--seconds=10] [--load-processes=2]
 *                             [--batch=1] [--warm-up=0] [--cpu-prof-server=DIR]
 *
 * - The reference server runs in its own process (bench/seed-server.ts, forked; rate limit and
 *   heartbeat out of the way) on a temp file database (WAL) with an empty `items` table.
 * - Sessions: `--sessions` light clients (bench/fanout-load.ts), raw `ws` sockets speaking the
 *   protocol with no database (hello at the server's LSN, ack of every `changes` frame at once,
 *   pong, snapshot_ack), spread evenly over `--load-processes` forked processes (default 2). They
 *   connect in waves of 100; the bench waits until every one is welcomed.
 * - Stream: the server process writes `--rate` rows/s (default 100) for `--seconds` (default 10),
 *   one store.write (one commit, so one `changes` frame per session) every 1000/rate ms on a fixed
 *   schedule; `--batch=N` writes N rows per commit instead (one applyClientWrites transaction every
 *   N * 1000/rate ms), which shows what coalescing commits would save. Each row carries its
 *   wall-clock write stamp (performance.timeOrigin +
 *   performance.now(), taken just before the write; comparable between processes on one machine).
 * - `--warm-up=S` first writes S seconds of the same stream (rows with a negative `n`: the load
 *   processes ack them and neither measure nor count them), then the measured stream at once. By
 *   default (0, and only then is the run recorded in bench/results.json) the measured stream
 *   starts on a cold server and cold load processes (nothing sent yet, the send path not
 *   compiled): the first ~20 commits take 100-250 ms to reach every session, and at ~2% of the
 *   samples they decide the p99 (docs/benchmarks.md, the fan-out section at the end).
 * - Delivery latency: per change per session, the load process's wall clock when the frame arrived
 *   (the `ws` message event, before JSON.parse) minus the row's stamp. p50/p99 are nearest-rank over
 *   all sessions × changes (1,000,000 by default).
 * - delivered: every session received every change, in order, none repeated (each load process
 *   checks the rows' sequence numbers), within 10 s of the last write.
 * - Memory: the server's RSS after a forced GC (the server runs with --expose-gc) before any
 *   session connects, and again with every session connected and idle; per session = the difference
 *   / sessions. The peak RSS while streaming is shown too (sampled every 500 ms, no GC).
 * - Recorded in bench/results.json as `fanout`; the last line of output is that JSON.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchSchema } from './fixtures.js';
import { option } from './cli-options.js';
import { ask, benchScript } from './forked-server.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { startBenchServer } from './seed-server-process.js';
import { round2, stats } from './stats.js';
import { table } from './text-table.js';
import { clockOffset } from './wall-clock.js';
import { loadAverage, machineLine } from './machine.js';

const SESSIONS = Number(option('sessions') ?? 1000);
const RATE = Number(option('rate') ?? 100);
const SECONDS = Number(option('seconds') ?? 10);
const LOAD_PROCESSES = Math.max(1, Number(option('load-processes') ?? 2));
/** Changes per commit (default 1: every change is its own commit, so its own frame to every session). */
const BATCH = Math.max(1, Number(option('batch') ?? 1));
/** Seconds of the same stream written before the measured one, and not measured (default 0). */
const WARM_UP = Math.max(0, Number(option('warm-up') ?? 0));
const SERVER_PROFILE_DIR = option('cpu-prof-server');
const CHANGES = Math.round(RATE * SECONDS);

interface LoadReport {
  latencies: Float64Array;
  counts: number[];
  complete: number;
  gaps: number;
  errors: string[];
  cpuMs: number;
}

/** A question to a load process, answered by its next message of type `replyType`. */
const askLoad = <T>(child: ChildProcess, message: object | undefined, replyType: string, timeoutMs = 60_000): Promise<T> =>
  ask<T>(child, message, replyType, timeoutMs, 'load process');

const mb = (bytes: number) => bytes / 1048576;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-fanout-'));
  const started = performance.now();
  const loadBefore = loadavg()[0];
  console.log(
    `fanout bench: ${SESSIONS} sessions over ${LOAD_PROCESSES} load process(es), ${RATE} changes/s for ${SECONDS} s, ${machineLine()}, load average ${loadAverage()}`,
  );
  const serverArgv = [
    ...process.execArgv.filter((a) => a !== '--expose-gc'),
    '--expose-gc',
    ...(SERVER_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${SERVER_PROFILE_DIR}`] : []),
  ];
  const server = await startBenchServer('fanout', { database: join(dir, 'server.db') }, serverArgv);
  const loaders: ChildProcess[] = [];
  try {
    const clock = await clockOffset(async () => (await server.request<{ t: number }>({ type: 'clock' }, 'clock')).t);
    const rss = () => server.request<{ rss: number; heapUsed: number; sessions: number; cpuMs: number }>({ type: 'rss', gc: true }, 'rss');
    const before = await rss();
    console.log(
      `server ${server.url} (pid ${server.pid}): RSS ${mb(before.rss).toFixed(1)} MB, heap ${mb(before.heapUsed).toFixed(1)} MB with no session; clock offset ${clock.offsetMs.toFixed(3)} ms`,
    );

    const t0 = performance.now();
    const readies: Array<Promise<unknown>> = [];
    for (let p = 0; p < LOAD_PROCESSES; p++) {
      const sessions = Math.floor(SESSIONS / LOAD_PROCESSES) + (p < SESSIONS % LOAD_PROCESSES ? 1 : 0);
      const child = fork(
        benchScript('fanout-load', 'fanout'),
        [JSON.stringify({ url: server.url, sessions, lsn: server.lsn, schemaHash: benchSchema.hash, index: p, expected: CHANGES })],
        {
          stdio: 'inherit',
          serialization: 'advanced',
          execArgv: process.execArgv.filter((a) => !a.startsWith('--cpu-prof')),
        },
      );
      loaders.push(child);
      readies.push(askLoad(child, undefined, 'ready', 120_000));
    }
    await Promise.all(readies);
    const connectMs = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const connected = await rss();
    if (connected.sessions !== SESSIONS) throw new Error(`the server holds ${connected.sessions} sessions, expected ${SESSIONS}`);
    const perSessionKB = (connected.rss - before.rss) / 1024 / SESSIONS;
    console.log(
      `${SESSIONS} sessions connected in ${connectMs.toFixed(0)} ms: server RSS ${mb(connected.rss).toFixed(1)} MB (+${perSessionKB.toFixed(1)} KB per session), heap ${mb(connected.heapUsed).toFixed(1)} MB`,
    );

    let peakRss = connected.rss;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const m = await server.request<{ rss: number }>({ type: 'rss' }, 'rss');
        peakRss = Math.max(peakRss, m.rss);
      }
    })();
    if (WARM_UP > 0) {
      const count = Math.round(RATE * WARM_UP);
      await server.request(
        { type: 'stamped', count, periodMs: 1000 / RATE, prefix: 'warm-', from: -count, batch: BATCH },
        'stamped_done',
        (WARM_UP + 60) * 1000,
      );
    }
    const streamStart = performance.now();
    const loadCpuBefore = await Promise.all(loaders.map((child) => askLoad<LoadReport>(child, { type: 'report' }, 'report').then((r) => r.cpuMs)));
    const serverCpuBefore = (await server.request<{ cpuMs: number }>({ type: 'rss' }, 'rss')).cpuMs;
    const done = await server.request<{ writes: unknown[] }>(
      { type: 'stamped', count: CHANGES, periodMs: 1000 / RATE, prefix: 'fan-', from: 0, batch: BATCH },
      'stamped_done',
      (SECONDS + 60) * 1000,
    );
    const streamMs = performance.now() - streamStart;
    const serverCpuMs = (await server.request<{ cpuMs: number }>({ type: 'rss' }, 'rss')).cpuMs - serverCpuBefore;
    sampling = false;
    await sampler;

    // Wait (up to 10 s) until every session has every change.
    let reports: LoadReport[] = [];
    const deadline = performance.now() + 10_000;
    for (;;) {
      reports = await Promise.all(loaders.map((child) => askLoad<LoadReport>(child, { type: 'report' }, 'report')));
      if (reports.reduce((n, r) => n + r.complete, 0) === SESSIONS || performance.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const loadCpuMs = reports.map((r, i) => r.cpuMs - loadCpuBefore[i]);
    const complete = reports.reduce((n, r) => n + r.complete, 0);
    const gaps = reports.reduce((n, r) => n + r.gaps, 0);
    const received = reports.reduce((n, r) => n + r.counts.reduce((a, b) => a + b, 0), 0);
    const errors = reports.flatMap((r) => r.errors);
    const all = new Float64Array(reports.reduce((n, r) => n + r.latencies.length, 0));
    let offset = 0;
    for (const r of reports) {
      all.set(r.latencies, offset);
      offset += r.latencies.length;
    }
    const s = stats(all);
    const delivered = complete === SESSIONS && gaps === 0 && received === SESSIONS * CHANGES;

    const out: string[][] = [['measurement', 'value']];
    out.push(['sessions (light ws clients)', `${SESSIONS} over ${LOAD_PROCESSES} process(es), connected in ${connectMs.toFixed(0)} ms`]);
    out.push([
      'stream',
      `${done.writes.length} changes, ${RATE}/s, ${BATCH === 1 ? 'one commit each' : `${BATCH} per commit`}, written in ${(streamMs / 1000).toFixed(1)} s${WARM_UP > 0 ? `, after ${WARM_UP} s of the same not measured` : ''}`,
    ]);
    out.push(['delivery latency p50 / p90 / p99', `${s.p50.toFixed(2)} / ${s.p90.toFixed(2)} / ${s.p99.toFixed(2)} ms`]);
    out.push(['delivery latency max / mean', `${s.max.toFixed(2)} / ${s.mean.toFixed(2)} ms`]);
    out.push([
      'changes received',
      `${received.toLocaleString('en-US')} of ${(SESSIONS * CHANGES).toLocaleString('en-US')}; ${complete} sessions complete; ${gaps} out of order/missing`,
    ]);
    out.push([
      'server RSS: no session -> sessions idle',
      `${mb(before.rss).toFixed(1)} -> ${mb(connected.rss).toFixed(1)} MB (${perSessionKB.toFixed(1)} KB per session)`,
    ]);
    out.push(['server RSS peak while streaming', `${mb(peakRss).toFixed(1)} MB`]);
    out.push([
      'CPU while streaming (share of one core)',
      `server ${((100 * serverCpuMs) / streamMs).toFixed(0)}%, load process(es) ${loadCpuMs.map((ms) => `${((100 * ms) / streamMs).toFixed(0)}%`).join(' + ')}`,
    ]);
    // Less sensitive to other load on the machine than the latencies: CPU time per frame sent (and ack received).
    out.push(['server CPU per change per session', `${((serverCpuMs * 1000) / (SESSIONS * CHANGES)).toFixed(2)} µs (a changes frame out, its ack in)`]);
    console.log('');
    console.log(table(out));
    if (errors.length) console.warn(`load process errors (first ${errors.length}): ${errors.join('; ')}`);
    console.log(`\ngoal: 1,000 sessions with delivery p99 <= 100 ms. Clock offset server - bench ${clock.offsetMs.toFixed(3)} ms (not applied).`);
    console.log(
      `total bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`,
    );

    const result = {
      sessions: SESSIONS,
      changesPerSec: RATE,
      deliveryP50Ms: round2(s.p50),
      deliveryP99Ms: round2(s.p99),
      serverRssPerSessionKB: round2(perSessionKB),
      serverRssMB: round2(mb(connected.rss)),
      delivered,
      seconds: SECONDS,
      changesPerCommit: BATCH,
      warmUpSeconds: WARM_UP,
      loadProcesses: LOAD_PROCESSES,
      serverPeakRssMB: round2(mb(peakRss)),
      serverCpuShare: round2(serverCpuMs / streamMs),
      serverCpuUsPerDelivery: round2((serverCpuMs * 1000) / (SESSIONS * CHANGES)),
      loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
    };
    recordAndPrint('fanout', 'fanout', result, {
      record: SESSIONS === 1000 && RATE === 100 && SECONDS === 10 && BATCH === 1 && WARM_UP === 0,
      notRecordedNote: '(not recorded in bench/results.json: not the default sessions/rate/seconds/batch/warm-up)',
    });
  } finally {
    for (const child of loaders) if (child.exitCode === null) child.send({ type: 'close' });
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
