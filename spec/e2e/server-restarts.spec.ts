import type { SyncEventMap } from '../../src/streams/events.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { until } from '../support/until.js';
import { cleanupClients, testClient } from '../support/test-client.js';

/**
 * A deploy restarts the server; a client that was live must come back after the initial delay
 * every time, however many restarts it has seen (the backoff starts over at each welcome).
 */
describe('a server restarted under a connected client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-restarts-'));
  let server: SyncServer | undefined;
  afterAll(async () => {
    await cleanupClients();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconnects within the initial delay after each of 20 restarts, and stays in sync', async () => {
    const database = join(dir, 'sync.db');
    server = await startTestServer({ database });
    const port = server.port;
    const initialDelayMs = 300;
    const client = testClient({ reconnect: { initialDelayMs, maxDelayMs: 10_000, jitter: 0.3 } });
    const disconnects: Array<SyncEventMap['disconnected']> = [];
    client.on('disconnected', (e) => disconnects.push(e));
    expect(await client.connect(server.url)).toBe(true);

    for (let restart = 1; restart <= 20; restart++) {
      await server.close();
      server = await startTestServer({ database, port });
      await server.insert('todos', todo(restart));
      const lsn = server.currentLsn();
      await until(() => client.currentLsn === lsn || undefined, 5000, `the write after restart ${restart}`);
    }

    expect(disconnects).toHaveLength(20);
    for (const { attempt, retryInMs } of disconnects) {
      expect(attempt).toBe(1);
      expect(retryInMs).toBeGreaterThanOrEqual(initialDelayMs * 0.7); // jitter 0.3 takes off at most 30%
      expect(retryInMs).toBeLessThanOrEqual(initialDelayMs);
    }
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 20 }]);
  }, 30_000);
});
