import { createSyncClient, type SyncClient } from '../../src/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { until, wsWebSocket } from '../support/test-client.js';
import { MiB, mib, settledMemory } from './memory.js';
import { activeResources, trackResources } from './resources.js';

const CYCLES = 1000;
/** Cycles run with async_hooks recording every timer and socket (it slows them down several times). */
const TRACKED_CYCLES = 100;
/**
 * Heap growth allowed over the second half of the run (500 cycles): a leak of 4 KiB per cycle
 * would fail it. Over the first 1,000 cycles the heap grows by about 2 MiB once (JIT code and
 * inline caches warming up) and then stays flat (measured: +2.1, +0.3, -0.6 MiB per 1,000
 * cycles), so the slope, not the total, is what tells a leak.
 */
const SLOPE_SLACK = 2 * MiB;
/** Over the whole run, from a baseline after 100 warm-up cycles. */
const TOTAL_SLACK = 6 * MiB;

/** Active handles by kind, timers aside: the runner's own status timer comes and goes (see resources.ts). */
function handles(): Record<string, number> {
  const { Timeout: _timers, ...rest } = activeResources();
  return rest;
}

/**
 * 1,000 connect/disconnect cycles against one server leave nothing behind: no session on the
 * server, no socket or timer in the process (the process's handle counts are back to the
 * baseline, and every timer, immediate and socket the first 100 cycles created is gone), no heap growth
 * beyond warm-up. The baseline is taken after 100 warm-up cycles, so that lazily loaded modules
 * are in it.
 */
describe('connect/disconnect cycles', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer();
    for (let i = 0; i < 3; i++) await server.insert('todos', todo(i));
  });
  afterAll(() => server.close());

  const newClient = () => createSyncClient({ schema: testSchema, database: ':memory:', WebSocketCtor: wsWebSocket });

  async function measure(label: string, cycle: (i: number) => Promise<void>): Promise<void> {
    for (let i = 0; i < 100; i++) await cycle(i);
    await until(() => server.sessionCount === 0 || undefined, 10_000, 'every warm-up session to close');
    const baseline = handles();
    const before = await settledMemory();
    const started = performance.now();
    // The first cycles run with every timer and socket they create recorded (see resources.ts);
    // recording costs time and some memory of its own, so it is done before the heap is sampled.
    const tracked = trackResources();
    let alive: ReturnType<typeof tracked.alive>;
    try {
      for (let i = 0; i < TRACKED_CYCLES; i++) await cycle(i);
      tracked.freeze();
      // Sockets close and timers are cleared a few ticks after the cycle that made them.
      await until(() => tracked.alive().length === 0 || undefined, 5000, 'every resource of the cycles to be released').catch(() => undefined);
      alive = tracked.alive();
    } finally {
      tracked.stop();
    }
    for (let i = TRACKED_CYCLES; i < CYCLES / 2; i++) await cycle(i);
    const half = await settledMemory();
    for (let i = CYCLES / 2; i < CYCLES; i++) await cycle(i);
    const elapsed = performance.now() - started;
    await until(() => server.sessionCount === 0 || undefined, 10_000, 'every session to close');
    const after = await settledMemory();
    console.log(
      `${label}: ${CYCLES} cycles in ${(elapsed / 1000).toFixed(1)} s; heap ${mib(before.heapUsed)} -> ${mib(half.heapUsed)} (500) -> ${mib(after.heapUsed)}, ` +
        `external ${mib(before.external)} -> ${mib(after.external)}; handles ${JSON.stringify(baseline)} -> ${JSON.stringify(handles())}, ` +
        `timers/sockets of the first ${TRACKED_CYCLES} cycles still alive: ${alive.length}; sessions ${server.sessionCount}`,
    );
    expect(alive).toEqual([]);
    expect(server.sessionCount).toBe(0);
    expect(handles()).toEqual(baseline);
    expect(after.heapUsed - half.heapUsed).toBeLessThan(SLOPE_SLACK);
    expect(after.external - half.external).toBeLessThan(SLOPE_SLACK);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(TOTAL_SLACK);
    expect(after.external - before.external).toBeLessThan(TOTAL_SLACK);
  }

  it('of new clients (create, connect, clean up) leak nothing', async () => {
    await measure('new clients', async () => {
      const client = newClient();
      expect(await client.connect(server.url)).toBe(true);
      await client.cleanup();
    });
  }, 60_000);

  it('of one client (connect, disconnect) leak nothing', async () => {
    const client: SyncClient = newClient();
    try {
      await measure('one client', async () => {
        expect(await client.connect(server.url)).toBe(true);
        await client.whenSynced({ timeoutMs: 5000 }); // the first cycle's snapshot, then catch-ups
        client.disconnect();
      });
      expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 3 }]);
    } finally {
      await client.cleanup();
    }
  }, 60_000);
});
