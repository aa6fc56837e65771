import type { SyncServer } from '../../src/server/index.js';
import { compareLsn } from '../../src/protocol/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { cleanupClients, testClient } from '../support/test-client.js';

const ORDERED = 'SELECT id, title, done, score, meta FROM todos ORDER BY id';

/**
 * A slow, jittery network (both directions delayed by 10–40 ms per chunk, order kept as TCP
 * keeps it): acks, pushes and batches all arrive late, and overlap with new writes. Sync must
 * still converge, and the client must apply the server's batches in LSN order.
 */
describe('sync over a slow, jittery link', () => {
  let server: SyncServer;
  let proxy: TcpProxy;
  beforeEach(async () => {
    server = await startTestServer();
    proxy = await TcpProxy.start(server.port);
  });
  afterEach(async () => {
    await cleanupClients();
    await proxy.close();
    await server.close();
  });

  it('converges, with every batch applied once and in LSN order', async () => {
    for (let i = 0; i < 50; i++) await server.insert('todos', todo(i));
    proxy.delay({ ms: 10, jitterMs: 30 });
    const slow = testClient();
    const direct = testClient();
    const applied: string[] = [];
    slow.lsn$.subscribe((lsn) => applied.push(lsn));
    await Promise.all([slow.connect(proxy.url), direct.connect(server.url)]);
    // Updates need the rows: let the snapshot land first (through the delay, too).
    await Promise.all([slow.whenSynced({ timeoutMs: 20_000 }), direct.whenSynced({ timeoutMs: 20_000 })]);

    const writes: Promise<unknown>[] = [];
    for (let round = 0; round < 40; round++) {
      writes.push(server.update('todos', todo(round % 10).id, { title: `server ${round}` }));
      writes.push(slow.update('todos', todo(round % 7).id, { done: round % 2, title: `slow ${round}` }));
      writes.push(direct.update('todos', todo(round % 5).id, { score: round + 0.25 }));
      if (round % 8 === 0) writes.push(slow.insert('todos', todo(100 + round)));
    }
    await Promise.all(writes);
    await Promise.all([slow.whenSynced({ timeoutMs: 20_000 }), direct.whenSynced({ timeoutMs: 20_000 })]);
    // Both were synced with what the server had when each last heard; one more round settles both.
    await Promise.all([slow.whenSynced({ timeoutMs: 20_000 }), direct.whenSynced({ timeoutMs: 20_000 })]);

    const serverRows = await server.query(ORDERED);
    expect(await slow.query(ORDERED)).toEqual(serverRows);
    expect(await direct.query(ORDERED)).toEqual(serverRows);
    expect(slow.currentLsn).toBe(server.currentLsn());
    // lsn$ reports every checkpoint: each one later than the one before, none twice.
    const checkpoints = applied.filter((lsn) => lsn !== '0/0');
    for (let i = 1; i < checkpoints.length; i++) expect([checkpoints[i - 1], compareLsn(checkpoints[i], checkpoints[i - 1])]).toEqual([checkpoints[i - 1], 1]);
    // Every write of the slow client reached the server exactly once.
    const mine = await slow.localChanges();
    expect(mine.filter((c) => c.status !== 'applied')).toEqual([]);
    const log = await server.store.changesSince('0/0', 100_000);
    for (const change of mine) expect([change.id, log.filter((c) => c.origin?.changeId === change.id).length]).toEqual([change.id, 1]);
    expect(proxy.connections).toBe(1);
  });
});
