/**
 * bench/flood: the client's event loop while a flood of small server messages is applied, against
 * the same process's event loop idle, measured in the same run.
 *
 *   node bench/run.mjs flood [--messages=20000]
 *
 * - The server is spec/support/flood-server.mjs, forked (its own process, so its sending is not
 *   measured): it welcomes the client (live at 0/0, spec/support/fake-server.ts's welcome) and
 *   sends `--messages` `changes` messages of one `counters` row each (spec/support/test-schema.ts),
 *   at LSNs 0/1, 0/2, ..., as fast as the socket takes them. spec/pressure/flood.spec.ts checks
 *   the same flood for correctness and that the host is not starved; this bench times it.
 * - The client (this process) is a `createSyncClient({ database: ':memory:' })` on the `ws`
 *   package, with the default apply options (a yield to timers and I/O every 25 ms of applying)
 *   and no heartbeat in the way. Each message is one SQLite transaction and one ack.
 * - Flood: from the WARM_UP-th `changes_applied` event (statements compiled, JIT warm) to the
 *   last one. Event-loop delay of this process with perf_hooks `monitorEventLoopDelay({ resolution:
 *   10 })`: p50, p99 and max in ms, as Node reports them, i.e. the time between two runs of its
 *   10 ms timer (about 10 ms means no delay). Also messages/s, this process's CPU per message
 *   (process.cpuUsage, all threads), the share of the time its event loop was busy, and the most
 *   messages applied between two runs of a 20 ms timer (what the spec bounds).
 * - Baseline, same run: the same histogram over an idle period of the flood's length, right after
 *   it (the client still connected, nothing arriving), after a GC as before the flood. Reported
 *   as flood / idle ratios of p50, p99 and max.
 * - Checked: every message applied (one `changes_applied` each, currentLsn at the last LSN, the
 *   100 distinct rows in `counters`).
 * - Recorded in bench/results.json as `flood` (see docs/benchmarks.md) for the default
 *   `--messages`; the last line of output is that JSON.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance as nodePerformance, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createSyncClient, type SyncClient } from '../src/client/sync-client.js';
import { welcomeMessage } from '../spec/support/fake-server.js';
import { testSchema } from '../spec/support/test-schema.js';
import { option } from './cli-options.js';
import { loadAverage, machineLine } from './machine.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { round2 } from './stats.js';
import { table } from './text-table.js';

const MESSAGES = Number(option('messages') ?? 20_000);
/** Messages before the measured part: the first ones compile the statements and warm the JIT. */
const WARM_UP = 500;
const RESOLUTION_MS = 10;
const TICK_MS = 20;

/** The repo root (the first folder up with a package.json), whether this runs from source or from the bundle cache. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench/flood.ts: no package.json above this file');
    dir = parent;
  }
  return dir;
}

interface Delay {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

const delayOf = (h: IntervalHistogram): Delay => ({
  p50: h.percentile(50) / 1e6,
  p99: h.percentile(99) / 1e6,
  max: h.max / 1e6,
  samples: h.count,
});

const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  if (!(MESSAGES > WARM_UP)) throw new Error(`--messages must be more than the ${WARM_UP} warm-up messages`);
  const started = performance.now();
  const loadBefore = loadavg()[0];
  console.log(
    `flood bench: ${MESSAGES.toLocaleString('en-US')} one-row changes messages (${WARM_UP} warm-up), ${machineLine()}, load average ${loadAverage()}`,
  );

  const server = fork(join(repoRoot(), 'spec', 'support', 'flood-server.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  let client: SyncClient | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.once('message', (m: { port: number }) => resolve(m.port));
      server.once('exit', (code) => reject(new Error(`the flood server exited early (${code})`)));
      server.send({ welcome: welcomeMessage(), count: MESSAGES });
    });
    server.removeAllListeners('exit');

    client = createSyncClient({
      schema: testSchema,
      database: ':memory:',
      WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket,
      heartbeat: { intervalMs: 600_000, timeoutMs: 1_200_000 },
    });
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    await client.initialize();

    // The measured part starts at the WARM_UP-th applied message and ends at the last one; both
    // ends are taken in the event handler, so no polling delay counts.
    const flood = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    let applied = 0;
    let t0 = 0;
    let t1 = 0;
    let cpu0 = process.cpuUsage();
    let cpuMs = 0;
    let elu0 = nodePerformance.eventLoopUtilization();
    let busy = 0;
    const done = new Promise<void>((resolve) => {
      client!.on('changes_applied', () => {
        applied += 1;
        if (applied === WARM_UP) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
          elu0 = nodePerformance.eventLoopUtilization();
          flood.enable();
        } else if (applied === MESSAGES) {
          flood.disable();
          t1 = performance.now();
          const cpu = process.cpuUsage(cpu0);
          cpuMs = (cpu.user + cpu.system) / 1000;
          busy = nodePerformance.eventLoopUtilization(elu0).utilization;
          resolve();
        }
      });
    });
    // What spec/pressure/flood.spec.ts bounds: messages applied between two runs of a 20 ms timer.
    let lastTick = 0;
    let mostBetweenTicks = 0;
    const ticker = setInterval(() => {
      if (applied > lastTick) mostBetweenTicks = Math.max(mostBetweenTicks, applied - lastTick);
      lastTick = applied;
    }, TICK_MS);

    collectGarbage();
    const connected = performance.now();
    try {
      if (!(await client.connect(`ws://127.0.0.1:${port}/api/sync`, { timeoutMs: 30_000 }))) throw new Error('the client did not connect');
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`only ${applied} of ${MESSAGES} messages applied within 300 s`)), 300_000).unref(),
      );
      await Promise.race([done, timeout]);
    } finally {
      clearInterval(ticker);
    }
    mostBetweenTicks = Math.max(mostBetweenTicks, applied - lastTick);
    const totalMs = performance.now() - connected;
    const floodMs = t1 - t0;
    const measured = MESSAGES - WARM_UP;
    const perSec = measured / (floodMs / 1000);

    const lastLsn = `0/${MESSAGES.toString(16).toUpperCase()}`;
    if (client.currentLsn !== lastLsn) throw new Error(`the client is at ${client.currentLsn}, not ${lastLsn}`);
    const [{ n }] = await client.query<{ n: number }>('SELECT count(*) AS n FROM counters');
    if (n !== Math.min(100, MESSAGES)) throw new Error(`the client holds ${n} counters rows, not 100`);

    // Baseline: the same histogram, idle, for as long as the flood's measured part lasted.
    collectGarbage();
    const idle = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    idle.enable();
    await sleep(floodMs);
    idle.disable();

    const f = delayOf(flood);
    const i = delayOf(idle);
    const fmt = (x: number) => x.toFixed(2);
    const ratio = (a: number, b: number) => round2(a / b);
    console.log(
      `\nflood: ${measured.toLocaleString('en-US')} messages in ${(floodMs / 1000).toFixed(2)} s after the warm-up (${Math.round(perSec).toLocaleString('en-US')}/s; all ${MESSAGES.toLocaleString('en-US')} from connect() in ${(totalMs / 1000).toFixed(2)} s), client CPU ${((cpuMs * 1000) / measured).toFixed(0)} µs per message, event loop busy ${(100 * busy).toFixed(0)}%, at most ${mostBetweenTicks} messages between two runs of a ${TICK_MS} ms timer\n`,
    );
    console.log(
      table([
        [`event-loop delay (ms, ${RESOLUTION_MS} ms resolution)`, 'p50', 'p99', 'max', 'samples'],
        ['flood', fmt(f.p50), fmt(f.p99), fmt(f.max), String(f.samples)],
        ['idle, same length (baseline)', fmt(i.p50), fmt(i.p99), fmt(i.max), String(i.samples)],
        ['flood / idle', fmt(f.p50 / i.p50), fmt(f.p99 / i.p99), fmt(f.max / i.max), ''],
      ]),
    );
    if (errors.length) console.warn(`(the client reported ${errors.length} error event(s): ${JSON.stringify(errors[0])})`);
    console.log(
      `\ntotal bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`,
    );

    const pick = (d: Delay) => ({ p50: round2(d.p50), p99: round2(d.p99), max: round2(d.max) });
    recordAndPrint(
      'flood',
      'flood',
      {
        messages: MESSAGES,
        warmUp: WARM_UP,
        messagesPerSec: Math.round(perSec),
        cpuPerMessageUs: Math.round((cpuMs * 1000) / measured),
        eventLoopBusy: round2(busy),
        mostMessagesBetweenTicks: mostBetweenTicks,
        loopDelayMs: { flood: pick(f), idle: pick(i) },
        floodToIdle: { p50: ratio(f.p50, i.p50), p99: ratio(f.p99, i.p99), max: ratio(f.max, i.max) },
        loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
      },
      {
        record: MESSAGES === 20_000,
        notRecordedNote: '(not recorded in bench/results.json: not the default --messages)',
      },
    );
  } finally {
    await client?.cleanup();
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

runMain(main);
