import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, freshIndexedDB, testClient, until } from '../support/test-client.js';

describe('restart over the same IndexedDB', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    for (let i = 0; i < 20; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('resumes from its LSN without a new snapshot, and keeps its outbox', async () => {
    const indexedDB = freshIndexedDB();
    const first = testClient({ database: 'app', indexedDB });
    await first.connect(server.url);
    await first.whenSynced({ timeoutMs: 5000 });
    const clientId = first.clientId;
    const lsn = first.currentLsn;
    first.disconnect();
    await first.insert('todos', todo(100, { title: 'written before the restart' }));
    await first.cleanup();

    await server.update('todos', todo(0).id, { title: 'changed while the app was closed' });

    const second = testClient({ database: 'app', indexedDB });
    const events: Array<{ type: string; data: any }> = [];
    second.events$.subscribe((e) => events.push(e));
    await second.initialize();
    expect(second.clientId).toBe(clientId);
    expect(second.currentLsn).toBe(lsn);
    expect(await second.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 21 }]);
    expect((await second.localChanges({ status: 'pending' })).map((c) => c.key)).toEqual([todo(100).id]);

    await second.connect(server.url);
    await second.whenSynced({ timeoutMs: 5000 });
    expect(events.find((e) => e.type === 'connected')?.data.mode).toBe('catchup');
    expect(events.some((e) => e.type === 'initial_sync_started')).toBe(false);
    expect(await server.query('SELECT title FROM todos WHERE id = ?', [todo(100).id])).toEqual([{ title: 'written before the restart' }]);
    expect(await second.query('SELECT title FROM todos WHERE id = ?', [todo(0).id])).toEqual([{ title: 'changed while the app was closed' }]);
  });

  it('finishes an initial sync cut short by a restart, with no row missing or doubled', async () => {
    await server.close(); // this one wants small chunks and a window of one
    server = await startTestServer({ database: ':memory:', limits: { snapshotChunkRows: 100, snapshotWindow: 1 } });
    for (let i = 0; i < 3000; i++) await server.insert('todos', todo(i));
    const indexedDB = freshIndexedDB();
    const first = testClient({ database: 'app', indexedDB });
    let chunks = 0;
    first.on('initial_sync_progress', () => (chunks += 1));
    void first.connect(server.url);
    await until(() => chunks >= 3 || undefined, 5000, 'a few chunks');
    await first.cleanup(); // the page closes mid-sync
    await server.delete('todos', todo(5).id);

    const second = testClient({ database: 'app', indexedDB });
    await second.connect(server.url);
    await second.whenSynced({ timeoutMs: 10_000 });
    const rows = await second.query<{ id: string }>('SELECT id FROM todos ORDER BY id');
    const expected = await server.query<{ id: string }>('SELECT id FROM todos ORDER BY id');
    expect(rows).toEqual(expected);
    expect(rows).toHaveLength(2999);
  });
});
