/**
 * bench/fanout-rules: fan-out under per-user rules against the same fan-out with none (issue 12),
 * in one run: 1,000 sessions of 1,000 different users.
 *
 *   node bench/run.mjs fanout-rules [--sessions=1000] [--rate=10] [--seconds=20] [--load-processes=2]
 *                                   [--ping-ms=0] [--seed=12] [--cpu-prof-server=DIR]
 *
 * Schema (bench/fanout-rules-fixtures.ts): `items { id, owner, n, x, payload }` and
 * `news { id, body, n, x }`; rules: `mine: { table: items, where: "owner = auth.sub" }` and
 * `news: { table: news }` (no where: every user). Every session has a token of its own user
 * (u0 .. u999, HS256) and really speaks the protocol (bench/fanout-rules-load.ts: hello with the
 * token at 0/0, the snapshot acked chunk by chunk, every `changes` acked, the empty ones too, pings
 * answered); sessions are spread over `--load-processes` forked processes (default 2).
 *
 * Two server processes (bench/fanout-rules-server.ts), each on its own temp SQLite file, up at
 * once with their 1,000 sessions each (idle sessions cost ~0.1% of a core): one without rules
 * (JWT still verified), one with them. Each phase is its server writing `--rate` changes/s
 * (default 10; one store.write, one commit each) for `--seconds` (default 20), every row stamped
 * with its wall-clock write time, after an unmeasured 2 s of the same writes (JIT warm-up):
 * - (a) no rules, `items` rows: every change goes to all 1,000 sessions. Run twice, before (b) and
 *   after (c), and reported together, so that a drift of the shared machine's speed moves (a) as
 *   much as the rules phases (the two halves are shown too);
 * - (b) rules, per user: `items` rows each owned by one user drawn at random (seeded, `--seed`):
 *   every change concerns exactly one session, and only that session may receive it (a row of
 *   another owner arriving is counted as a leak);
 * - (c) rules, to all: `news` rows: every change goes to all 1,000 sessions through the rules
 *   (routed by `news|*`, judged by each session's view).
 * Order: a, b, c, a. At 10 changes/s (a) takes ~37% of a core; at 20/s (c) reached 100% in a
 * trial, and a saturated server coalesces commits into fewer frames, which would change what is
 * compared. Before its sessions connect, each server also writes 3 s of `items` with no session:
 * the write's own CPU per change (the floor under (b)).
 *
 * - Delivery latency: per change per receiving session, the frame's arrival (the load process's
 *   wall clock at the `ws` message event, before JSON.parse) minus the row's stamp; p50/p99
 *   nearest-rank over all deliveries of the phase (400,000 in (a), 200,000 in (c), 200 in (b)).
 * - Server CPU: process.cpuUsage() in the server process, from just before the first write until
 *   every session has every change it should (so the last frames' sends are in). Per change =
 *   that / changes written; per delivery = that / (changes x receiving sessions). It includes the
 *   write itself (store.write: SQLite insert and change log), most of what (b) costs. User and
 *   system (kernel) time are both counted; the system part is shown.
 * - After (a) and after (b), a ping round: every session pings once (spread over 1 s) and gets a
 *   pong; under rules, a session whose checkpoint is behind the commits it could not see also gets
 *   an empty `changes` (and acks it). The round's server CPU and the empty messages are reported.
 * - delivered: every session got exactly the changes it should, in order, none of another user,
 *   within 10 s of the last write, and no session closed or errored.
 * - Heartbeats are off on both sides by default (server interval 10 min, no client ping), so the
 *   CPU figures are the changes' own; `--ping-ms=15000` makes every session ping like the client's
 *   default heartbeat, during all phases (not recorded; the ping rounds then count its pongs too).
 * - `--cpu-prof-server=DIR` runs both servers under --cpu-prof and prints each phase's window in
 *   its profile (for bench/cpuprofile-summary.mjs --from-ms/--to-ms); so does `node --trace-gc`
 *   (for the servers' GC lines). Neither is recorded.
 * - Recorded in bench/results.json as `fanoutRules` (default options only); the last line of
 *   output is that JSON.
 *
 * The server and load processes are this same bundle, forked with a `role` in their JSON
 * argument (bench/fanout-rules-server.ts, bench/fanout-rules-load.ts), so bench/run.mjs needs no
 * extra entry point.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { option } from './cli-options.js';
import { rulesBenchSchema } from './fanout-rules-fixtures.js';
import { runFanoutRulesLoad } from './fanout-rules-load.js';
import { runFanoutRulesServer } from './fanout-rules-server.js';
import { ask, startForkedServer, type ForkedServer } from './forked-server.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { round2, stats, type Stats } from './stats.js';
import { table } from './text-table.js';
import { clockOffset } from './wall-clock.js';
import { loadAverage, machineLine } from './machine.js';

const SESSIONS = Number(option('sessions') ?? 1000);
const RATE = Number(option('rate') ?? 10);
const SECONDS = Number(option('seconds') ?? 20);
const LOAD_PROCESSES = Math.max(1, Number(option('load-processes') ?? 2));
const PING_MS = Number(option('ping-ms') ?? 0);
const SEED = Number(option('seed') ?? 12);
const SERVER_PROFILE_DIR = option('cpu-prof-server');
/** Profiled or GC-traced: the phase windows are printed, and the figures (slowed) are not recorded. */
const PROFILING = SERVER_PROFILE_DIR !== undefined || process.execArgv.includes('--trace-gc');
const CHANGES = Math.round(RATE * SECONDS);
/** Seconds of writes with no session connected, for the write's own cost. */
const FLOOR_SECONDS = 3;
/** Unmeasured writes before each phase (2 s worth). */
const WARM_CHANGES = Math.min(CHANGES, Math.round(RATE * 2));
/** This bundle: the server and load processes run it with a role. */
const SELF = fileURLToPath(import.meta.url);

type RulesServer = ForkedServer<{ type: 'ready'; url: string; lsn: string; pid: number }>;

interface CpuSample {
  /** User + system. */
  cpuMs: number;
  systemMs: number;
  rss: number;
  heapUsed: number;
  sessions: number;
  /** The server's performance.now(): ms since it started, as in its --cpu-prof profile. */
  at: number;
}

interface LoadReport {
  latencies: Float64Array;
  counts: number[];
  disorder: number;
  leaks: number;
  empty: number;
  pongs: number;
  errors: string[];
  cpuMs: number;
}

interface PhaseResult {
  name: string;
  written: number;
  writeMs: number;
  streamMs: number;
  serverCpuMs: number;
  serverSystemMs: number;
  loadCpuMs: number[];
  expectedTotal: number;
  received: number;
  /** Sessions that got exactly what they should. */
  exact: number;
  disorder: number;
  leaks: number;
  empty: number;
  errors: string[];
  latencies: Float64Array;
  latency: Stats;
}

interface PingRound {
  pongs: number;
  empty: number;
  serverCpuMs: number;
}

interface Part {
  server: RulesServer;
  loaders: ChildProcess[];
  connectMs: number;
  rssBefore: number;
  rssConnected: number;
  idleCpuShare: number;
  /** Server CPU per change (µs, user + system) with no session connected: the write alone. */
  writeFloorUs: number;
}

const askLoad = <T>(child: ChildProcess, message: object | undefined, replyType: string, timeoutMs = 60_000): Promise<T> =>
  ask<T>(child, message, replyType, timeoutMs, 'load process');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => bytes / 1048576;
const cpuOf = (server: RulesServer, gc = false) => server.request<CpuSample>({ type: 'cpu', gc }, 'cpu');

/** A small seeded PRNG (mulberry32): the owners of (b) are the same run after run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Server CPU per change (µs) of the same `items` writes at RATE with no session connected (after
 * an unmeasured second of them): what a change costs before any fan-out.
 */
async function writeFloor(server: RulesServer): Promise<number> {
  const write = (prefix: string, count: number) =>
    server.request({ type: 'write', table: 'items', count, periodMs: 1000 / RATE, prefix }, 'write_done', 60_000);
  await write('floor-warm-', Math.round(RATE));
  const count = Math.round(RATE * FLOOR_SECONDS);
  const before = await cpuOf(server);
  await write('floor-', count);
  return (((await cpuOf(server)).cpuMs - before.cpuMs) * 1000) / count;
}

/** A server process (rules or none) with every session connected and ready. */
async function startPart(dir: string, rules: boolean): Promise<Part> {
  const execArgv = [
    ...process.execArgv.filter((a) => a !== '--expose-gc' && !a.startsWith('--cpu-prof')),
    '--expose-gc',
    ...(SERVER_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${SERVER_PROFILE_DIR}`] : []),
  ];
  const server = await startForkedServer<{ type: 'ready'; url: string; lsn: string; pid: number }>(
    SELF,
    { role: 'server', database: join(dir, rules ? 'rules.db' : 'plain.db'), rules },
    { label: 'bench server', execArgv },
  );
  const loaders: ChildProcess[] = [];
  try {
    const writeFloorUs = await writeFloor(server);
    const before = await cpuOf(server, true);
    const t0 = performance.now();
    const readies: Array<Promise<unknown>> = [];
    let offset = 0;
    for (let p = 0; p < LOAD_PROCESSES; p++) {
      const sessions = Math.floor(SESSIONS / LOAD_PROCESSES) + (p < SESSIONS % LOAD_PROCESSES ? 1 : 0);
      const child = fork(SELF, [JSON.stringify({ role: 'load', url: server.url, sessions, offset, schemaHash: rulesBenchSchema.hash, pingMs: PING_MS })], {
        stdio: 'inherit',
        serialization: 'advanced',
        execArgv: process.execArgv.filter((a) => !a.startsWith('--cpu-prof')),
      });
      offset += sessions;
      loaders.push(child);
      readies.push(askLoad(child, undefined, 'ready', 120_000));
    }
    await Promise.all(readies);
    const connectMs = performance.now() - t0;
    await sleep(500);
    const connected = await cpuOf(server, true);
    if (connected.sessions !== SESSIONS) throw new Error(`the server holds ${connected.sessions} sessions, expected ${SESSIONS}`);
    // Idle: every session connected, nothing written. With no heartbeats this should be ~0.
    const idleStart = performance.now();
    const idleBefore = await cpuOf(server);
    await sleep(2000);
    const idleCpuShare = ((await cpuOf(server)).cpuMs - idleBefore.cpuMs) / (performance.now() - idleStart);
    console.log(
      `${rules ? 'rules' : 'no rules'}: server pid ${server.pid}, ${SESSIONS} sessions ready in ${connectMs.toFixed(0)} ms; RSS ${mb(before.rss).toFixed(1)} -> ${mb(connected.rss).toFixed(1)} MB; idle CPU ${(100 * idleCpuShare).toFixed(1)}%`,
    );
    return { server, loaders, connectMs, rssBefore: before.rss, rssConnected: connected.rss, idleCpuShare, writeFloorUs };
  } catch (error) {
    await stopPart({ server, loaders });
    throw error;
  }
}

async function stopPart(part: Pick<Part, 'server' | 'loaders'>): Promise<void> {
  for (const child of part.loaders) if (child.exitCode === null) child.send({ type: 'close' });
  await part.server.close();
}

/** Total changes received so far in the current phase, over every load process. */
async function progress(loaders: ChildProcess[]): Promise<{ received: number; empty: number; pongs: number }> {
  const all = await Promise.all(loaders.map((child) => askLoad<{ received: number; empty: number; pongs: number }>(child, { type: 'progress' }, 'progress')));
  return all.reduce((sum, p) => ({ received: sum.received + p.received, empty: sum.empty + p.empty, pongs: sum.pongs + p.pongs }), {
    received: 0,
    empty: 0,
    pongs: 0,
  });
}

/**
 * One phase: `table` rows at RATE for SECONDS; `expected[g]`: what session g must receive. Waits
 * (up to 10 s after the last write) until every change has arrived.
 */
async function runPhase(part: Part, name: string, table: 'items' | 'news', expected: Uint32Array, owners?: number[], count = CHANGES): Promise<PhaseResult> {
  const { server, loaders } = part;
  await Promise.all(loaders.map((child) => askLoad(child, { type: 'phase', checkOwner: owners !== undefined }, 'phase_started')));
  const expectedTotal = expected.reduce((a, b) => a + b, 0);
  const loadCpuBefore = await Promise.all(loaders.map((child) => askLoad<LoadReport>(child, { type: 'report' }, 'report').then((r) => r.cpuMs)));
  const streamStart = performance.now();
  const before = await cpuOf(server);
  const cpuBefore = before.cpuMs;
  const done = await server.request<{ written: number; writeMs: number }>(
    { type: 'write', table, count, periodMs: 1000 / RATE, owners, prefix: `${name}-` },
    'write_done',
    (SECONDS + 60) * 1000,
  );
  const deadline = performance.now() + 10_000;
  while ((await progress(loaders)).received < expectedTotal && performance.now() < deadline) await sleep(50);
  const after = await cpuOf(server);
  const serverCpuMs = after.cpuMs - cpuBefore;
  const serverSystemMs = after.systemMs - before.systemMs;
  const streamMs = performance.now() - streamStart;
  if (PROFILING) {
    // Where the phase is in the server's profile (ms since it started) or its --trace-gc lines.
    console.log(`(${name}) server pid ${server.pid}: window --from-ms=${before.at.toFixed(0)} --to-ms=${after.at.toFixed(0)}`);
  }
  await sleep(200); // anything more (a repeat, a leak) would show up now
  const reports = await Promise.all(loaders.map((child) => askLoad<LoadReport>(child, { type: 'report' }, 'report')));
  const counts = reports.flatMap((r) => r.counts);
  let exact = 0;
  for (let g = 0; g < SESSIONS; g++) if (counts[g] === expected[g]) exact++;
  const all = new Float64Array(reports.reduce((n, r) => n + r.latencies.length, 0));
  let offset = 0;
  for (const r of reports) {
    all.set(r.latencies, offset);
    offset += r.latencies.length;
  }
  return {
    name,
    written: done.written,
    writeMs: done.writeMs,
    streamMs,
    serverCpuMs,
    serverSystemMs,
    loadCpuMs: reports.map((r, i) => r.cpuMs - loadCpuBefore[i]),
    expectedTotal,
    received: all.length,
    exact,
    disorder: reports.reduce((n, r) => n + r.disorder, 0),
    leaks: reports.reduce((n, r) => n + r.leaks, 0),
    empty: reports.reduce((n, r) => n + r.empty, 0),
    errors: reports.flatMap((r) => r.errors),
    latencies: all,
    latency: stats(all),
  };
}

/**
 * The same writes for WARM_CHANGES, not measured: the server's code for this path compiled (and
 * its first-use costs paid) before the phase, so that (b)'s few milliseconds are not JIT time.
 */
async function warmUp(part: Part, name: string, table: 'items' | 'news', owners?: number[]): Promise<void> {
  const expected = new Uint32Array(SESSIONS);
  if (owners) for (const owner of owners.slice(0, WARM_CHANGES)) expected[owner]++;
  else expected.fill(WARM_CHANGES);
  const warm = await runPhase(part, `${name}-warm`, table, expected, owners?.slice(0, WARM_CHANGES), WARM_CHANGES);
  if (!delivered(warm)) throw new Error(`(${name}) warm-up: not every session got its changes: ${warm.errors.join('; ')}`);
}

/** Every session pings once, spread over 1 s; waits for the pongs (and any empty `changes`, acked by the sessions). */
async function pingRound(part: Part): Promise<PingRound> {
  const { server, loaders } = part;
  await Promise.all(loaders.map((child) => askLoad(child, { type: 'phase', checkOwner: false }, 'phase_started')));
  const cpuBefore = (await cpuOf(server)).cpuMs;
  await Promise.all(loaders.map((child) => askLoad(child, { type: 'ping_round', spreadMs: 1000 }, 'ping_round_sent')));
  const deadline = performance.now() + 5000;
  let seen = await progress(loaders);
  while (seen.pongs < SESSIONS && performance.now() < deadline) {
    await sleep(50);
    seen = await progress(loaders);
  }
  await sleep(300); // the acks of the empty changes
  const serverCpuMs = (await cpuOf(server)).cpuMs - cpuBefore;
  seen = await progress(loaders);
  return { pongs: seen.pongs, empty: seen.empty, serverCpuMs };
}

/** Two runs of one phase as one: their changes, CPU and latencies together. */
function combine(name: string, x: PhaseResult, y: PhaseResult): PhaseResult {
  const latencies = new Float64Array(x.latencies.length + y.latencies.length);
  latencies.set(x.latencies);
  latencies.set(y.latencies, x.latencies.length);
  return {
    name,
    written: x.written + y.written,
    writeMs: x.writeMs + y.writeMs,
    streamMs: x.streamMs + y.streamMs,
    serverCpuMs: x.serverCpuMs + y.serverCpuMs,
    serverSystemMs: x.serverSystemMs + y.serverSystemMs,
    loadCpuMs: x.loadCpuMs.map((ms, i) => ms + y.loadCpuMs[i]),
    expectedTotal: x.expectedTotal + y.expectedTotal,
    received: x.received + y.received,
    exact: Math.min(x.exact, y.exact),
    disorder: x.disorder + y.disorder,
    leaks: x.leaks + y.leaks,
    empty: x.empty + y.empty,
    errors: [...x.errors, ...y.errors],
    latencies,
    latency: stats(latencies),
  };
}

/** Per change (µs): the phase's server CPU over the changes written. */
const perChange = (r: PhaseResult) => (r.serverCpuMs * 1000) / r.written;
/** Per delivery (µs): over the changes received by all sessions. */
const perDelivery = (r: PhaseResult) => (r.serverCpuMs * 1000) / Math.max(1, r.received);
const delivered = (r: PhaseResult) => r.exact === SESSIONS && r.received === r.expectedTotal && r.disorder === 0 && r.leaks === 0 && r.errors.length === 0;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-fanout-rules-'));
  const started = performance.now();
  const loadBefore = loadavg()[0];
  console.log(
    `fanout-rules bench: ${SESSIONS} sessions of ${SESSIONS} users over ${LOAD_PROCESSES} load process(es), ${RATE} changes/s for ${SECONDS} s per phase, ` +
      `${machineLine()}, load average ${loadAverage()}`,
  );
  const rand = random(SEED);
  const owners = Array.from({ length: CHANGES }, () => Math.floor(rand() * SESSIONS));
  const warmOwners = Array.from({ length: WARM_CHANGES }, () => Math.floor(rand() * SESSIONS));
  const everyone = new Uint32Array(SESSIONS).fill(CHANGES);
  const perOwner = new Uint32Array(SESSIONS);
  for (const owner of owners) perOwner[owner]++;

  // Both servers up at once, their sessions idle when not in use (~0.2% of a core): (a) runs
  // before and after (b) and (c), so that a drift of the machine's speed during the run moves (a)
  // as much as the rules phases.
  const plain = await startPart(dir, false);
  let ruled: Part | undefined;
  let a1: PhaseResult, a2: PhaseResult, b: PhaseResult, c: PhaseResult;
  let pingPlain: PingRound, pingRules: PingRound;
  let clock: { offsetMs: number };
  try {
    ruled = await startPart(dir, true);
    clock = await clockOffset(async () => (await plain.server.request<{ t: number }>({ type: 'clock' }, 'clock')).t);
    await warmUp(plain, 'a1', 'items');
    a1 = await runPhase(plain, 'a1', 'items', everyone);
    pingPlain = await pingRound(plain);
    await warmUp(ruled, 'b', 'items', warmOwners);
    b = await runPhase(ruled, 'b', 'items', perOwner, owners);
    pingRules = await pingRound(ruled);
    await warmUp(ruled, 'c', 'news');
    c = await runPhase(ruled, 'c', 'news', everyone);
    await warmUp(plain, 'a2', 'items');
    a2 = await runPhase(plain, 'a2', 'items', everyone);
  } finally {
    if (ruled) await stopPart(ruled);
    await stopPart(plain);
    rmSync(dir, { recursive: true, force: true });
  }
  const a = combine('a', a1, a2);

  const phases = [a, b, c];
  const col = (f: (r: PhaseResult) => string) => phases.map(f);
  const ms = (x: number) => x.toFixed(2);
  const share = (cpuMs: number, wallMs: number) => `${((100 * cpuMs) / wallMs).toFixed(0)}%`;
  const out: string[][] = [['measurement', '(a) no rules', '(b) rules, per user', '(c) rules, to all']];
  out.push(['changes written (one commit each)', `${a.written} at ${RATE}/s (2 runs)`, `${b.written} at ${RATE}/s`, `${c.written} at ${RATE}/s`]);
  out.push(['sessions each change goes to', `${SESSIONS}`, '1 (its owner)', `${SESSIONS}`]);
  out.push([
    'deliveries received / expected',
    ...col((r) => `${r.received.toLocaleString('en-US')} / ${r.expectedTotal.toLocaleString('en-US')}${delivered(r) ? '' : ' (INCOMPLETE)'}`),
  ]);
  out.push(['delivery p50 / p90 / p99 (ms)', ...col((r) => `${ms(r.latency.p50)} / ${ms(r.latency.p90)} / ${ms(r.latency.p99)}`)]);
  out.push(['delivery max / mean (ms)', ...col((r) => `${ms(r.latency.max)} / ${ms(r.latency.mean)}`)]);
  out.push(['server CPU per change', ...col((r) => `${perChange(r).toFixed(1)} µs`)]);
  out.push(['  of which system (kernel) time', ...col((r) => `${((r.serverSystemMs * 1000) / r.written).toFixed(1)} µs`)]);
  out.push(['  less the write alone (no sessions)', ...col((r) => `${(perChange(r) - (r === a ? plain : ruled!).writeFloorUs).toFixed(1)} µs`)]);
  out.push(['server CPU per delivery', ...col((r) => `${perDelivery(r).toFixed(2)} µs`)]);
  out.push(['server CPU (share of one core)', ...col((r) => share(r.serverCpuMs, r.streamMs))]);
  out.push(['load processes CPU', ...col((r) => r.loadCpuMs.map((cpu) => share(cpu, r.streamMs)).join(' + '))]);
  out.push(['store.write per change (mean)', ...col((r) => `${(r.writeMs / r.written).toFixed(3)} ms`)]);
  out.push(['sessions exact / out of order / leaked rows', ...col((r) => `${r.exact} / ${r.disorder} / ${r.leaks}`)]);
  out.push(['empty changes received', ...col((r) => `${r.empty}`)]);
  console.log('');
  console.log(table(out));

  const ratio = (x: number, y: number) => x / y;
  const ratios = {
    perUserCpuPerChange: ratio(perChange(b), perChange(a)),
    toAllCpuPerChange: ratio(perChange(c), perChange(a)),
    toAllCpuPerDelivery: ratio(perDelivery(c), perDelivery(a)),
    perUserP99: ratio(b.latency.p99, a.latency.p99),
    toAllP99: ratio(c.latency.p99, a.latency.p99),
  };
  const rssPerSession = (p: Part) => (p.rssConnected - p.rssBefore) / 1024 / SESSIONS;
  const other: string[][] = [['measurement', 'value']];
  other.push([
    '(a) before / after the rules phases',
    `CPU per delivery ${perDelivery(a1).toFixed(2)} / ${perDelivery(a2).toFixed(2)} µs, p50 ${ms(a1.latency.p50)} / ${ms(a2.latency.p50)} ms, p99 ${ms(a1.latency.p99)} / ${ms(a2.latency.p99)} ms`,
  ]);
  other.push(['server CPU per change: (b) / (a)', ratios.perUserCpuPerChange.toFixed(4)]);
  other.push(['server CPU per change: (c) / (a)', ratios.toAllCpuPerChange.toFixed(2)]);
  other.push(['server CPU per delivery: (c) / (a)', ratios.toAllCpuPerDelivery.toFixed(2)]);
  other.push(['delivery p99: (b) / (a)', ratios.perUserP99.toFixed(2)]);
  other.push(['delivery p99: (c) / (a)', ratios.toAllP99.toFixed(2)]);
  other.push([
    'ping round after (a) / after (b)',
    `${pingPlain.pongs} / ${pingRules.pongs} pongs, ${pingPlain.empty} / ${pingRules.empty} empty changes (acked), server CPU ${((pingPlain.serverCpuMs * 1000) / SESSIONS).toFixed(1)} / ${((pingRules.serverCpuMs * 1000) / SESSIONS).toFixed(1)} µs per ping`,
  ]);
  other.push(['sessions ready (hello, token, snapshot)', `no rules ${plain.connectMs.toFixed(0)} ms, rules ${ruled!.connectMs.toFixed(0)} ms`]);
  other.push(['server RSS per session (after GC)', `no rules ${rssPerSession(plain).toFixed(1)} KB, rules ${rssPerSession(ruled!).toFixed(1)} KB`]);
  other.push(['server CPU per change, no session connected', `no rules ${plain.writeFloorUs.toFixed(1)} µs, rules ${ruled!.writeFloorUs.toFixed(1)} µs`]);
  other.push(['server CPU idle, sessions connected', `no rules ${(100 * plain.idleCpuShare).toFixed(1)}%, rules ${(100 * ruled!.idleCpuShare).toFixed(1)}%`]);
  console.log('');
  console.log(table(other));
  for (const r of phases) if (r.errors.length) console.warn(`(${r.name}) load process errors (first ${r.errors.length}): ${r.errors.join('; ')}`);
  console.log(
    `\nclock offset server - bench ${clock.offsetMs.toFixed(3)} ms (not applied). Heartbeat pings: ${PING_MS > 0 ? `every ${PING_MS} ms per session` : 'off'}.`,
  );
  console.log(
    `total bench time ${((performance.now() - started) / 1000).toFixed(1)} s, load average ${loadAverage()} (other load on the machine skews every figure)\n`,
  );

  const allDelivered = delivered(a) && delivered(b) && delivered(c) && pingPlain.pongs >= SESSIONS && pingRules.pongs >= SESSIONS;
  const result = {
    sessions: SESSIONS,
    changesPerSec: RATE,
    seconds: SECONDS,
    changesPerPhase: CHANGES,
    noRulesCpuUsPerDeliveryBeforeAfter: [round2(perDelivery(a1)), round2(perDelivery(a2))],
    noRulesP50Ms: round2(a.latency.p50),
    noRulesP99Ms: round2(a.latency.p99),
    noRulesCpuUsPerChange: round2(perChange(a)),
    noRulesCpuUsPerDelivery: round2(perDelivery(a)),
    noRulesCpuShare: round2(a.serverCpuMs / a.streamMs),
    perUserP50Ms: round2(b.latency.p50),
    perUserP99Ms: round2(b.latency.p99),
    perUserCpuUsPerChange: round2(perChange(b)),
    perUserCpuShare: round2(b.serverCpuMs / b.streamMs),
    perUserCpuUsPerChangeLessWrite: round2(perChange(b) - ruled!.writeFloorUs),
    writeAloneCpuUsPerChange: { noRules: round2(plain.writeFloorUs), rules: round2(ruled!.writeFloorUs) },
    toAllP50Ms: round2(c.latency.p50),
    toAllP99Ms: round2(c.latency.p99),
    toAllCpuUsPerChange: round2(perChange(c)),
    toAllCpuUsPerDelivery: round2(perDelivery(c)),
    toAllCpuShare: round2(c.serverCpuMs / c.streamMs),
    ratioPerUserCpuPerChange: Math.round(ratios.perUserCpuPerChange * 10000) / 10000,
    ratioToAllCpuPerChange: round2(ratios.toAllCpuPerChange),
    ratioPerUserP99: round2(ratios.perUserP99),
    ratioToAllP99: round2(ratios.toAllP99),
    pingRoundCpuUsPerPing: { noRules: round2((pingPlain.serverCpuMs * 1000) / SESSIONS), rules: round2((pingRules.serverCpuMs * 1000) / SESSIONS) },
    emptyChangesOnPing: pingRules.empty,
    serverRssPerSessionKB: { noRules: round2(rssPerSession(plain)), rules: round2(rssPerSession(ruled!)) },
    delivered: allDelivered,
    loadProcesses: LOAD_PROCESSES,
    loadavg1m: [Number(loadBefore.toFixed(2)), Number(loadavg()[0].toFixed(2))],
  };
  recordAndPrint('fanout-rules', 'fanoutRules', result, {
    record: SESSIONS === 1000 && RATE === 10 && SECONDS === 20 && PING_MS === 0 && LOAD_PROCESSES === 2 && !PROFILING,
    notRecordedNote: '(not recorded in bench/results.json: not the default sessions/rate/seconds/ping-ms/load-processes, or profiled)',
  });
  if (!allDelivered) throw new Error('fanout-rules: not every session got exactly its changes (see the table)');
}

// The same bundle is the bench, its server process and its load processes.
const role = process.argv[2]?.startsWith('{') ? (JSON.parse(process.argv[2]) as { role?: string }).role : undefined;
if (role === 'server') {
  runFanoutRulesServer(process.argv[2]).catch((error) => {
    console.error('[fanout-rules server]', error);
    process.exit(1);
  });
} else if (role === 'load') {
  runFanoutRulesLoad(process.argv[2]).catch((error) => {
    console.error('[fanout-rules load]', error);
    process.exit(1);
  });
} else {
  runMain(main);
}
