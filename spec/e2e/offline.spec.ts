import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

describe('offline writes', () => {
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

  const countOrigin = async (changeIds: string[]) => {
    const log = await server.store.changesSince('0/0', 10_000);
    return changeIds.map((id) => log.filter((c) => c.origin?.changeId === id).length);
  };

  it('reach the server exactly once after the network comes back', async () => {
    const client = testClient();
    expect(await client.connect(proxy.url)).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });

    proxy.down();
    await until(() => client.currentStatus === 'backoff' || undefined, 5000, 'backoff');
    for (let i = 0; i < 10; i++) await client.insert('todos', todo(i));
    await client.update('todos', todo(3).id, { title: 'edited offline' });
    await client.delete('todos', todo(4).id);
    expect((await client.localChanges({ status: 'pending' })).length).toBe(12);
    expect(await server.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 0 }]);

    proxy.up();
    await client.whenSynced({ timeoutMs: 10_000 });
    expect(await server.query('SELECT id, title FROM todos ORDER BY id')).toEqual(
      [0, 1, 2, 3, 5, 6, 7, 8, 9].map((i) => ({ id: todo(i).id, title: i === 3 ? 'edited offline' : todo(i).title })),
    );
    const ids = (await client.localChanges()).map((c) => c.id);
    expect(await countOrigin(ids)).toEqual(ids.map(() => 1));
  });

  it('applies a push whose answer was lost only once when it is sent again', async () => {
    const client = testClient();
    await client.connect(proxy.url);
    await client.whenSynced({ timeoutMs: 5000 });
    proxy.hold(); // the server gets the push, the client never hears back
    await client.insert('todos', todo(1));
    const [entry] = await client.localChanges();
    await until(async () => (await countOrigin([entry.id]))[0] === 1 || undefined, 5000, 'server applied the push');
    proxy.cut(); // the answer is lost with the connection
    await client.whenSynced({ timeoutMs: 10_000 });
    expect(await countOrigin([entry.id])).toEqual([1]);
    const [after] = await client.localChanges();
    expect(after).toMatchObject({ id: entry.id, status: 'applied' });
    expect(after.attempts).toBeGreaterThanOrEqual(2);
    expect(await server.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 1 }]);
  });

  it('resumes from its checkpoint after a cut, without a new snapshot', async () => {
    for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
    const client = testClient();
    const snapshots: unknown[] = [];
    client.on('initial_sync_started', (data) => snapshots.push(data));
    await client.connect(proxy.url);
    await client.whenSynced({ timeoutMs: 5000 });
    proxy.down();
    await server.update('todos', todo(1).id, { title: 'while away' });
    await server.delete('todos', todo(2).id);
    proxy.up();
    await until(async () => client.currentLsn === server.currentLsn() || undefined, 10_000, 'caught up');
    expect(snapshots).toHaveLength(1);
    expect(await client.query('SELECT id, title FROM todos ORDER BY id')).toEqual(await server.query('SELECT id, title FROM todos ORDER BY id'));
  });
});
