import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { welcomeMessage } from '../support/fake-server.js';
import { until } from '../support/until.js';
import { cleanupClients, testClient } from '../support/test-client.js';

/**
 * Small messages arriving as fast as a socket brings them must not starve the host: the client
 * stops reading the socket while many messages wait to be applied (InboundFlow), and applying
 * yields to timers and I/O every apply.yieldAfterMs. A timer in this process, due every 20 ms,
 * measures how late it fires while the flood is applied (the first WARM_UP messages excepted:
 * they compile the statements and warm the JIT, a start-up cost, not the flood's). The server
 * sends from a process of its own, so that its sending does not count.
 */
const COUNT = 20_000;
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const WARM_UP = 500;

describe('a flood of messages', () => {
  let server: ChildProcess | undefined;
  afterAll(async () => {
    await cleanupClients();
    if (server?.pid && server.exitCode === null) server.kill('SIGKILL');
  });

  it('leaves the event loop free: a 20 ms timer fires within 100 ms while 20,000 messages are applied', async () => {
    server = fork(join(__dirname, '../support/flood-server.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      server!.once('message', (m: { port: number }) => resolve(m.port));
      server!.once('exit', (code) => reject(new Error(`the flood server exited (${code})`)));
      server!.send({ welcome: welcomeMessage(), count: COUNT });
    });
    const client = testClient({ heartbeat: { intervalMs: 60_000, timeoutMs: 120_000 } });
    await client.initialize();

    const intervalMs = 20;
    let worst = 0;
    let last = performance.now();
    let applied = 0;
    client.on('changes_applied', () => (applied += 1));
    // A timer can also fire late because the OS gave the CPU to another process (the other test
    // workers, on a 2-core machine): what counts is how long this process's own work held it up,
    // so the lateness is capped by the CPU time the process used meanwhile.
    let worstWallClock = 0;
    let lastCpuMs = cpuMs();
    const timer = setInterval(() => {
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
    try {
      await client.connect(`ws://127.0.0.1:${port}/api/sync`);
      const lastLsn = `0/${COUNT.toString(16).toUpperCase()}`;
      await until(() => client.currentLsn === lastLsn || undefined, 60_000, 'every message applied', 20);
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `flood: ${COUNT} messages applied in ${seconds.toFixed(2)} s (${Math.round(COUNT / seconds)}/s); a 20 ms timer was held up at most ${worst.toFixed(0)} ms by this process (${worstWallClock.toFixed(0)} ms late by the clock)`,
    );
    expect(await client.query('SELECT count(*) AS n FROM counters')).toEqual([{ n: 100 }]);
    expect(worst).toBeLessThan(100);
  }, 90_000);
});
