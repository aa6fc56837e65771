import {
  cleanupSync,
  connectToSyncServer,
  disconnectFromSyncServer,
  getSyncClient,
  initializeSync,
  offSyncEvent,
  onSyncEvent,
  resetLSN,
} from '../../src/index.js';
import type { SyncClientOptions } from '../../src/client/options.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { fastClientOptions, until } from '../support/test-client.js';

const RECONNECT_DELAY_MS = 50;

/** The facade's options in these specs: the test schema, a real `ws` socket, a short reconnect delay. */
const options = (): Partial<SyncClientOptions> => ({
  schema: testSchema,
  ...fastClientOptions,
  reconnect: { ...fastClientOptions.reconnect, initialDelayMs: RECONNECT_DELAY_MS },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const count = async () => (await getSyncClient().query<{ n: number }>('SELECT count(*) AS n FROM todos'))[0].n;

describe('the callback facade (initializeSync & co.) against a real server', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    await cleanupSync();
    await server.close();
  });

  it('throws a clear error before initializeSync, and initializes once', async () => {
    expect(() => getSyncClient()).toThrow('call initializeSync() first');
    expect(() => onSyncEvent('connected', () => undefined)).toThrow('call initializeSync() first');
    expect(initializeSync(options())).toBe(true);
    expect(initializeSync(options())).toBe(false);
    expect(getSyncClient().schema).toBe(testSchema);
    // Let the database open before afterEach cleans up: see the next spec for why.
    await getSyncClient().initialize();
  });

  // cleanup() while initialize() is still opening the database must still stop everything, or the
  // background timer started at the end of opening would keep the process alive.
  it('cleanupSync right after initializeSync leaves no timer running', async () => {
    initializeSync(options());
    const client = getSyncClient();
    const background = () => (client as unknown as { background?: { closed: boolean; unsubscribe(): void } }).background;
    await cleanupSync();
    try {
      expect(background()?.closed ?? true).toBe(true);
    } finally {
      background()?.unsubscribe(); // so that jest exits either way
    }
  });

  it('connects, syncs the rows, and fires callbacks until offSyncEvent', async () => {
    expect(initializeSync(options())).toBe(true);
    const complete: unknown[] = [];
    onSyncEvent('initial_sync_complete', (data) => complete.push(data));
    const kept: string[] = [];
    const removed: string[] = [];
    const keep = (data: { lsn: string }) => kept.push(data.lsn);
    const remove = (data: { lsn: string }) => removed.push(data.lsn);
    onSyncEvent('lsn_updated', keep);
    onSyncEvent('lsn_updated', remove);

    expect(await connectToSyncServer(server.url)).toBe(true);
    await until(() => complete.length === 1, 5000, 'initial_sync_complete');
    expect(complete).toEqual([{ lsn: server.currentLsn(), rows: 5 }]);
    expect(await count()).toBe(5);
    await until(() => getSyncClient().currentLsn === server.currentLsn(), 5000, 'the server LSN');
    expect(removed).toEqual(kept);

    offSyncEvent('lsn_updated', remove);
    const removedBefore = removed.length;
    const lsn = await server.insert('todos', todo(5));
    await until(() => kept.includes(lsn), 5000, `lsn_updated ${lsn}`);
    expect(removed.length).toBe(removedBefore);
    expect(await getSyncClient().query('SELECT title FROM todos WHERE id = ?', [todo(5).id])).toEqual([{ title: 'todo 5' }]);
  });

  it('disconnectFromSyncServer closes the connection and does not reconnect', async () => {
    initializeSync(options());
    const disconnected: unknown[] = [];
    onSyncEvent('disconnected', (data) => disconnected.push(data));
    expect(await connectToSyncServer(server.url)).toBe(true);
    await until(() => server.sessionCount === 1, 2000, 'a session on the server');

    disconnectFromSyncServer('test is done');
    expect(getSyncClient().currentStatus).toBe('disconnected');
    expect(disconnected).toEqual([{ reason: 'test is done' }]);
    await until(() => server.sessionCount === 0, 2000, 'the server to see the socket close');
    // Well past the reconnect delay (and its first doubling): still nobody.
    await sleep(RECONNECT_DELAY_MS * 6);
    expect(server.sessionCount).toBe(0);
    expect(getSyncClient().currentStatus).toBe('disconnected');
    expect(disconnected).toHaveLength(1);

    // A later connect starts afresh.
    expect(await connectToSyncServer(server.url)).toBe(true);
    await until(() => server.sessionCount === 1, 2000, 'a session after reconnecting');
  });

  it('resetLSN drops the local data and syncs a fresh snapshot', async () => {
    initializeSync(options());
    const started: Array<{ lsn: string }> = [];
    const connected: Array<{ mode: string }> = [];
    onSyncEvent('initial_sync_started', (data) => started.push(data));
    onSyncEvent('connected', (data) => connected.push(data));
    expect(await connectToSyncServer(server.url)).toBe(true);
    await getSyncClient().whenSynced({ timeoutMs: 5000 });
    expect(await count()).toBe(5);
    expect(started).toHaveLength(1);

    await server.insert('todos', todo(9));
    await until(async () => (await count()) === 6, 5000, 'the live insert');
    // A row only this client has (query() writes bypass the outbox): a fresh snapshot drops it.
    await getSyncClient().query("INSERT INTO todos (id, title) VALUES ('local-only', 'never synced')");
    expect(await count()).toBe(7);
    const lsnBefore = getSyncClient().currentLsn;

    const lsnEvents: Array<{ lsn: string; reset?: boolean }> = [];
    onSyncEvent('lsn_updated', (data) => lsnEvents.push(data));
    await resetLSN();
    expect(lsnEvents[0]).toEqual({ lsn: '0/0', reset: true });
    await until(() => started.length === 2, 5000, 'a second initial_sync_started');
    expect(connected).toHaveLength(2);
    expect(['initial', 'reset']).toContain(connected[1].mode);
    await until(() => getSyncClient().currentLsn === server.currentLsn(), 5000, 'the server LSN after the reset');
    expect(getSyncClient().currentLsn).toBe(lsnBefore);
    expect(await count()).toBe(6);
    expect(server.sessionCount).toBe(1);
  });

  it('cleanupSync closes the client; initializeSync then makes a new one that syncs', async () => {
    expect(initializeSync(options())).toBe(true);
    const first = getSyncClient();
    expect(await connectToSyncServer(server.url)).toBe(true);
    await until(() => server.sessionCount === 1, 2000, 'a session');

    await cleanupSync();
    expect(first.currentStatus).toBe('closed');
    expect(() => getSyncClient()).toThrow('call initializeSync() first');
    await until(() => server.sessionCount === 0, 2000, 'the server to see the socket close');
    await cleanupSync(); // a second cleanup is harmless

    expect(initializeSync(options())).toBe(true);
    expect(getSyncClient()).not.toBe(first);
    const complete: unknown[] = [];
    onSyncEvent('initial_sync_complete', (data) => complete.push(data));
    expect(await connectToSyncServer(server.url)).toBe(true);
    await until(() => complete.length === 1, 5000, 'initial_sync_complete on the new client');
    expect(await count()).toBe(5);
  });
});
