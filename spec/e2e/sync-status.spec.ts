import type { SyncStatus } from '../../src/client/sync-status.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, freshIndexedDB, testClient, until } from '../support/test-client.js';

describe('syncStatus$', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer({ limits: { snapshotChunkRows: 10 } });
    for (let i = 0; i < 50; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('follows a first sync: connecting, the download, synced and live; then local writes pending until answered', async () => {
    const client = testClient();
    const seen: SyncStatus[] = [];
    client.syncStatus$.subscribe((status) => seen.push(status));
    expect(client.syncStatus).toEqual({ phase: 'idle', connected: false, hasSynced: false, lastSyncedAt: null, pending: 0, download: null });

    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    await until(() => client.syncStatus.phase === 'live' || undefined, 5000, 'live');
    expect(client.syncStatus).toEqual({ phase: 'live', connected: true, hasSynced: true, lastSyncedAt: expect.any(Number), pending: 0, download: null });
    const downloads = seen.flatMap((status) => (status.download ? [status.download] : []));
    expect(downloads[0]).toEqual({ rowsDone: 0, rowsTotal: 50 });
    expect(downloads.at(-1)).toEqual({ rowsDone: 50, rowsTotal: 50 });
    expect(seen.filter((status) => status.download).every((status) => status.phase === 'syncing' && !status.hasSynced)).toBe(true);
    expect(seen.at(-1)).toBe(client.syncStatus);

    client.disconnect();
    await client.insert('todos', todo(100));
    await client.update('todos', todo(100).id, { done: 1 });
    await until(() => client.syncStatus.pending === 2 || undefined, 5000, 'two pending writes');
    expect(client.syncStatus).toMatchObject({ phase: 'disconnected', connected: false, hasSynced: true, pending: 2 });

    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    await until(() => client.syncStatus.pending === 0 || undefined, 5000, 'the writes answered');
  });

  it('knows a stored checkpoint: synced in an earlier run', async () => {
    const indexedDB = freshIndexedDB();
    const first = testClient({ database: 'app', indexedDB });
    await first.connect(server.url);
    await first.whenSynced({ timeoutMs: 5000 });
    await first.cleanup();
    expect(first.syncStatus.phase).toBe('closed');

    const again = testClient({ database: 'app', indexedDB });
    await again.initialize();
    expect(again.syncStatus).toMatchObject({ phase: 'idle', connected: false, hasSynced: true, lastSyncedAt: null });
    await again.resetLSN();
    expect(again.syncStatus.hasSynced).toBe(false);
  });
});
