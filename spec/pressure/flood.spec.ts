import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { welcomeMessage } from '../support/fake-server.js';
import { until } from '../support/until.js';
import { cleanupClients, testClient } from '../support/test-client.js';

/**
 * Small messages arriving as fast as a socket brings them must not starve the host: the client
 * stops reading the socket while many messages wait to be applied (InboundFlow), and applying
 * yields to timers and I/O every apply.yieldAfterMs. The server sends from a process of its own,
 * so that its sending does not count.
 *
 * What is asserted does not depend on how fast the machine is: a timer in this process, due every
 * 20 ms, records at each tick how many messages had been applied so far (`changes_applied`
 * events, one per message). A host that is not starved runs the timer all through the flood: its
 * ticks see many distinct counts strictly between 0 and COUNT, and never many messages apart.
 * Were the apply to hold the event loop, the timer would see 0, then COUNT, and little between.
 * A slow or busy machine only stretches the flood, which gives the timer more ticks; whatever takes
 * the CPU away from this process (other test workers) stops the applies as well as the timer, so
 * it does not widen the gap between two ticks either (with two CPU hogs on this 2-core machine:
 * 443 distinct counts, at most 119 messages apart). How late the timer fired and the throughput
 * are printed as information only: bench/flood.ts measures them against an idle baseline.
 */
const COUNT = 20_000;
/**
 * The most messages applied between two consecutive ticks, the two ends of the flood included:
 * a twentieth of the flood. A tick sees about one 25 ms apply slice's messages (two when it just
 * misses one): at most ~120 here, in jest, at ~2,000 messages/s on a 2-core VM (~500 µs
 * a message: a SQLite transaction and an ack each), and 270 in bench/flood.ts's plain node
 * process at 4,300/s. The client would have to apply ~18,000 messages/s to reach it honestly
 * (then raise COUNT with it). With the yields taken out (apply.yieldAfterMs: Infinity) four runs
 * saw 2,008 (with 11 distinct counts) and ~14,600 messages between two ticks.
 */
const MAX_BETWEEN_TICKS = COUNT / 20;
/**
 * At least this many ticks must see distinct counts strictly inside the flood (implied by the bound
 * above, and asserted for what it says). It takes at least MIN_TICKS × 20 ms = 400 ms of flood:
 * fewer than 50,000 messages/s, 25× the rate here; the flood gave 300–570 ticks here.
 */
const MIN_TICKS = 20;
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
/** The first messages compile the statements and warm the JIT: not counted in the printed lateness. */
const WARM_UP = 500;

describe('a flood of messages', () => {
  let server: ChildProcess | undefined;
  afterAll(async () => {
    await cleanupClients();
    if (server?.pid && server.exitCode === null) server.kill('SIGKILL');
  });

  it(`leaves the event loop free: a 20 ms timer runs at ${MIN_TICKS}+ distinct points while 20,000 messages are applied, never more than ${MAX_BETWEEN_TICKS.toLocaleString('en-US')} messages apart`, async () => {
    server = fork(join(__dirname, '../support/flood-server.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      server!.once('message', (m: { port: number }) => resolve(m.port));
      server!.once('exit', (code) => reject(new Error(`the flood server exited (${code})`)));
      server!.send({ welcome: welcomeMessage(), count: COUNT });
    });
    const client = testClient({ heartbeat: { intervalMs: 60_000, timeoutMs: 120_000 } });
    await client.initialize();

    const intervalMs = 20;
    let applied = 0;
    client.on('changes_applied', () => (applied += 1));
    /** The applied count at each tick of the timer. */
    const ticks: number[] = [];
    // Information only (printed, not asserted): how late the timer fired, capped by the CPU time
    // this process used meanwhile (the OS may also give the CPU to other processes).
    let worst = 0;
    let worstWallClock = 0;
    let last = performance.now();
    let lastCpuMs = cpuMs();
    const timer = setInterval(() => {
      ticks.push(applied);
      const now = performance.now();
      const cpu = cpuMs();
      const late = now - last - intervalMs;
      if (applied >= WARM_UP) {
        worstWallClock = Math.max(worstWallClock, late);
        worst = Math.max(worst, Math.min(late, cpu - lastCpuMs));
      }
      last = now;
      lastCpuMs = cpu;
    }, intervalMs);
    const started = performance.now();
    const lastLsn = `0/${COUNT.toString(16).toUpperCase()}`;
    try {
      await client.connect(`ws://127.0.0.1:${port}/api/sync`);
      await until(() => client.currentLsn === lastLsn || undefined, 60_000, 'every message applied', 20);
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;

    const during = [...new Set(ticks.filter((n) => n > 0 && n < COUNT))];
    const points = [0, ...during, COUNT];
    let mostBetweenTicks = 0;
    for (let i = 1; i < points.length; i++) mostBetweenTicks = Math.max(mostBetweenTicks, points[i] - points[i - 1]);
    console.log(
      `flood: ${COUNT} messages applied in ${seconds.toFixed(2)} s (${Math.round(COUNT / seconds)}/s); the 20 ms timer ran ${ticks.length} times, at ${during.length} distinct counts during the flood, at most ${mostBetweenTicks} messages apart; it was held up at most ${worst.toFixed(0)} ms by this process (${worstWallClock.toFixed(0)} ms late by the clock)`,
    );

    expect(applied).toBe(COUNT);
    expect(client.currentLsn).toBe(lastLsn);
    expect(await client.query('SELECT count(*) AS n FROM counters')).toEqual([{ n: 100 }]);
    expect(during.length).toBeGreaterThanOrEqual(MIN_TICKS);
    expect(mostBetweenTicks).toBeLessThanOrEqual(MAX_BETWEEN_TICKS);
  }, 90_000);
});
