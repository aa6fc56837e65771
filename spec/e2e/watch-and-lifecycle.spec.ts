import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

describe('watch', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    await server.insert('todos', todo(1));
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('emits the current rows, then again on local and on remote changes', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    const seen: string[][] = [];
    const subscription = client.watch<{ title: string }>('SELECT title FROM todos ORDER BY id').subscribe((rows) => seen.push(rows.map((r) => r.title)));
    await until(() => seen.length === 1 || undefined);
    expect(seen[0]).toEqual([todo(1).title]);

    await client.insert('todos', todo(2, { title: 'local' }));
    await until(() => seen.some((titles) => titles.includes('local')) || undefined, 5000, 'local write');

    await server.insert('todos', todo(3, { title: 'remote' }));
    await until(() => seen.some((titles) => titles.includes('remote')) || undefined, 5000, 'remote write');
    expect(seen.at(-1)).toEqual([todo(1).title, 'local', 'remote']);

    // A change to another table does not re-run it.
    const count = seen.length;
    await client.insert('counters', { n: 1, label: 'x' });
    await client.whenSynced({ timeoutMs: 5000 });
    expect(seen.length).toBe(count);
    subscription.unsubscribe();
  });

  it('watches the outbox too: the pending count of a UI', async () => {
    const client = testClient();
    const counts: number[] = [];
    client.watch<{ n: number }>(`SELECT count(*) AS n FROM local_changes WHERE status IN ('pending', 'sent')`).subscribe(([row]) => counts.push(row.n));
    await until(() => counts.length > 0 || undefined);
    await client.insert('todos', todo(9));
    await until(() => counts.includes(1) || undefined, 5000, 'one pending');
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    await until(() => counts.at(-1) === 0 || undefined, 5000, 'drained');
  });
});

describe('lifecycle', () => {
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

  it('walks the states: connecting, handshaking, syncing, live; then backoff and back', async () => {
    const client = testClient();
    const states: string[] = [];
    client.status$.subscribe((s) => states.push(s));
    await client.connect(proxy.url);
    await until(() => client.currentStatus === 'live' || undefined);
    proxy.cut();
    await until(() => states.includes('backoff') || undefined, 5000, 'backoff');
    await until(() => (client.currentStatus === 'live' && states.lastIndexOf('live') > states.indexOf('backoff')) || undefined, 5000, 'live again');
    expect(states.slice(0, 5)).toEqual(['idle', 'connecting', 'handshaking', 'syncing', 'live']);
  });

  it('cancels a pending reconnect on disconnect(), and connects again on connect()', async () => {
    const client = testClient({ reconnect: { initialDelayMs: 100, maxDelayMs: 100, jitter: 0 } });
    await client.connect(proxy.url);
    proxy.down();
    await until(() => client.currentStatus === 'backoff' || undefined, 5000, 'backoff');
    client.disconnect('user went offline');
    expect(client.currentStatus).toBe('disconnected');
    proxy.up();
    const connectionsBefore = proxy.connections;
    await new Promise((resolve) => setTimeout(resolve, 300)); // well past the reconnect delay
    expect(proxy.connections).toBe(connectionsBefore);
    expect(client.currentStatus).toBe('disconnected');

    expect(await client.connect(proxy.url)).toBe(true);
    expect(server.sessionCount).toBe(1);
  });

  it('leaves no socket or timer behind after cleanup()', async () => {
    const client = testClient();
    await client.connect(proxy.url);
    await client.insert('todos', todo(1));
    await client.whenSynced({ timeoutMs: 5000 });
    await client.cleanup();
    await until(() => server.sessionCount === 0 || undefined, 5000, 'session gone');
    expect(client.currentStatus).toBe('closed');
    await expect(client.connect(proxy.url)).rejects.toThrow(/cleaned up/);
    // Jest's own open-handle check fails the run if any timer or socket survived.
  });

  it('reconnects when the server goes silent (heartbeat timeout)', async () => {
    const client = testClient({ heartbeat: { intervalMs: 50, timeoutMs: 200 } });
    const reasons: string[] = [];
    client.on('disconnected', (e) => reasons.push(e.reason));
    await client.connect(proxy.url);
    await until(() => client.currentStatus === 'live' || undefined);
    proxy.hold(); // the socket stays open but nothing comes back
    await until(() => reasons.some((r) => /no message from the server/.test(r)) || undefined, 5000, 'heartbeat timeout');
    proxy.release();
    await until(() => client.currentStatus === 'live' || undefined, 5000, 'live again');
  });

  it('stops for good when the server refuses the client (unauthorized)', async () => {
    await server.close();
    server = await startTestServer({ authenticate: (token) => token === 'right' });
    const refused = testClient({ authToken: 'wrong' });
    const errors: any[] = [];
    refused.on('error', (e) => errors.push(e));
    expect(await refused.connect(server.url)).toBe(false);
    expect(refused.currentStatus).toBe('disconnected');
    expect(errors.map((e) => e.code)).toEqual(expect.arrayContaining(['unauthorized', 'connection_failed']));

    const allowed = testClient({ authToken: async () => 'right' });
    expect(await allowed.connect(server.url)).toBe(true);
  });
});

describe('cleanup racing connect', () => {
  it('a connect() still opening the database when cleanup() runs never connects', async () => {
    const server = await startTestServer();
    try {
      const client = testClient();
      const connecting = client.connect(server.url); // opening the database takes a moment
      await client.cleanup();
      expect(await connecting).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(server.sessionCount).toBe(0);
    } finally {
      await server.close();
    }
  });
});
