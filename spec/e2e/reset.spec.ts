import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, freshIndexedDB, testClient, until } from '../support/test-client.js';

describe('resets', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer({ retention: { maxChanges: 5 } });
    for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('resetLSN() drops the synced data and syncs afresh, keeping pending local writes', async () => {
    const client = testClient();
    const started: unknown[] = [];
    client.on('initial_sync_started', (e) => started.push(e));
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    await client.query(`INSERT INTO todos (id, title) VALUES ('stray', 'not from the server')`); // local drift
    await client.resetLSN();
    expect(client.currentLsn).toBe('0/0');
    await until(() => started.length === 2 || undefined, 5000, 'second snapshot');
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await client.query('SELECT id FROM todos ORDER BY id')).toEqual(await server.query('SELECT id FROM todos ORDER BY id'));
  });

  it('follows the server into a reset when its LSN is older than the server keeps', async () => {
    const indexedDB = freshIndexedDB();
    const client = testClient({ database: 'app', indexedDB });
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    client.disconnect();
    for (let i = 5; i < 20; i++) await server.insert('todos', todo(i));
    await server.delete('todos', todo(0).id);
    const connected: any[] = [];
    client.on('connected', (e) => connected.push(e));
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(connected[0]).toMatchObject({ mode: 'reset', reason: 'lsn_too_old' });
    expect(await client.query('SELECT id FROM todos ORDER BY id')).toEqual(await server.query('SELECT id FROM todos ORDER BY id'));
  });

  it('registers itself again with a server that lost track of it, keeping its outbox', async () => {
    const indexedDB = freshIndexedDB();
    const client = testClient({ database: 'app', indexedDB });
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    client.disconnect();
    await client.insert('todos', todo(50, { title: 'written while the server was replaced' }));

    await server.close();
    server = await startTestServer(); // a new server: it has never seen this client
    await server.insert('todos', todo(77));
    const reidentified: any[] = [];
    client.on('client_reidentified', (e) => reidentified.push(e));
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(reidentified).toHaveLength(1);
    expect(reidentified[0]).toMatchObject({ clientId: client.clientId, mode: 'reset' });
    const ids = (await server.query<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id);
    expect(ids).toEqual([todo(50).id, todo(77).id]);
    expect(await client.query('SELECT id FROM todos ORDER BY id')).toEqual(ids.map((id) => ({ id })));
  });
});
