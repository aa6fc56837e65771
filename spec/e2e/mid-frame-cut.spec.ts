import type { SyncServer } from '../../src/server/index.js';
import type { SyncClient } from '../../src/index.js';
import { compareLsn } from '../../src/protocol/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

const ORDERED = 'SELECT id, title, done, score, meta FROM todos ORDER BY id';

/**
 * The connection dies in the middle of a server frame: the client got the first bytes of a
 * WebSocket frame and never the rest. It must apply nothing of that frame, reconnect, resume from
 * its checkpoint and converge, applying every batch once.
 */
describe('a cut in the middle of a frame', () => {
  let server: SyncServer;
  let proxy: TcpProxy;
  beforeEach(async () => {
    server = await startTestServer({ limits: { snapshotChunkRows: 100 } });
    proxy = await TcpProxy.start(server.port);
  });
  afterEach(async () => {
    await cleanupClients();
    await proxy.close();
    await server.close();
  });

  /** Every checkpoint the client reports, and every batch it applies, from the start. */
  function record(client: SyncClient) {
    const checkpoints: string[] = [];
    const batches: string[] = [];
    const snapshots: unknown[] = [];
    client.lsn$.subscribe((lsn) => lsn !== '0/0' && checkpoints.push(lsn));
    client.on('changes_applied', ({ lsn }) => batches.push(lsn));
    client.on('initial_sync_started', (data) => snapshots.push(data));
    return { checkpoints, batches, snapshots };
  }

  /** Strictly increasing: no batch applied twice, none out of order. */
  function expectIncreasing(lsns: string[]): void {
    for (let i = 1; i < lsns.length; i++) expect([lsns[i - 1], lsns[i], compareLsn(lsns[i], lsns[i - 1])]).toEqual([lsns[i - 1], lsns[i], 1]);
  }

  it('during a snapshot: restarts the snapshot from its checkpoint (0/0) and ends with the server rows', async () => {
    for (let i = 0; i < 600; i++) await server.insert('todos', todo(i));
    const client = testClient();
    const seen = record(client);
    // The third chunk: two chunks of 100 rows are applied before the connection dies.
    const cut = proxy.cutMidFrame({ match: '"type":"snapshot_chunk","seq":3,', keepBytes: 40 });
    await client.connect(proxy.url);
    expect(await cut).toBeGreaterThan(0);
    await until(() => proxy.connections >= 2 || undefined, 5000, 'a reconnect');
    await client.whenSynced({ timeoutMs: 10_000 });

    expect(await client.query(ORDERED)).toEqual(await server.query(ORDERED));
    expect(client.currentLsn).toBe(server.currentLsn());
    // The client had no checkpoint yet (the first snapshot never ended): the second one starts over.
    expect(seen.snapshots).toHaveLength(2);
    expect(seen.checkpoints).toEqual([server.currentLsn()]);
  });

  it('during a live batch: resumes after its last checkpoint and applies each batch once', async () => {
    for (let i = 0; i < 20; i++) await server.insert('todos', todo(i));
    const client = testClient();
    const seen = record(client);
    await client.connect(proxy.url);
    await client.whenSynced({ timeoutMs: 5000 });
    const before = client.currentLsn;

    // The next `changes` frame is cut 24 bytes into its payload (inside it: its LSN comes next).
    // A write of the client's own goes out around the cut, and another client's pushes commit 200 rows.
    const cut = proxy.cutMidFrame({ match: '"type":"changes"', keepBytes: 24 });
    await client.insert('todos', todo(500, { title: 'mine, around the cut' }));
    const other = testClient();
    await other.connect(server.url);
    await other.whenSynced({ timeoutMs: 5000 });
    const rows = Array.from({ length: 200 }, (_, i) => todo(1000 + i));
    await Promise.all(rows.map((row) => other.insert('todos', row)));
    expect(await cut).toBeGreaterThan(0);
    // Writes that land while the client is away come to it by catch-up.
    await server.update('todos', todo(3).id, { title: 'while away' });
    await other.whenSynced({ timeoutMs: 10_000 });

    await until(() => proxy.connections >= 2 || undefined, 5000, 'a reconnect');
    await client.whenSynced({ timeoutMs: 10_000 });
    await other.whenSynced({ timeoutMs: 10_000 });
    expect(await client.query(ORDERED)).toEqual(await server.query(ORDERED));
    expect(client.currentLsn).toBe(server.currentLsn());
    // No new snapshot: the resume started from the checkpoint the client had.
    expect(seen.snapshots).toHaveLength(1);
    expect(compareLsn(seen.checkpoints[0], before)).toBeLessThanOrEqual(0);
    expectIncreasing(seen.checkpoints);
    expectIncreasing(seen.batches);
    // Its outbox: the write went to the server exactly once, and is settled.
    const [mine] = await client.localChanges();
    expect(mine).toMatchObject({ status: 'applied' });
    const log = await server.store.changesSince('0/0', 100_000);
    expect(log.filter((c) => c.origin?.changeId === mine.id)).toHaveLength(1);
  });
});
