/**
 * The worker boundary in-process: the worker core on one end of a real MessageChannel, the
 * main-thread proxy on the other, comlink in between, the engine behind it talking to a real
 * server over `ws`. Each "tab" is one channel to the same core.
 */
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import type { SyncServer } from '../../src/server/index.js';
import { SyncProtocolError } from '../../src/protocol/index.js';
import { SyncError } from '../../src/errors.js';
import { WorkerCore } from '../../src/worker/worker-core.js';
import { connectRemoteClient } from '../../src/worker/remote-client.js';
import { holdTabLock, watchTab } from '../../src/worker/tab-coordination.js';
import type { RemoteSyncClient } from '../../src/worker/types.js';
import { LocalLockManager } from '../../src/storage/local-locks.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { fastClientOptions, until, wsWebSocket } from '../support/test-client.js';

type Todo = { id: string; title: string };

describe('the worker boundary (comlink over a MessageChannel)', () => {
  let server: SyncServer;
  let core: WorkerCore;
  let locks: LocalLockManager;
  const tabs = new Set<RemoteSyncClient>();

  beforeEach(async () => {
    server = await startTestServer();
    locks = new LocalLockManager();
    core = new WorkerCore({
      defaults: fastClientOptions,
      watchTab: (tabId, onGone) => watchTab(tabId, onGone, locks),
    });
  });
  afterEach(async () => {
    await Promise.all([...tabs].map((tab) => tab.cleanup().catch(() => undefined)));
    tabs.clear();
    await core.close();
    await server.close();
  });

  /** A new tab: its own channel to the core, attached to `database`. */
  async function openTab(options: { database?: string; tabId?: string; schema?: typeof testSchema } = {}): Promise<RemoteSyncClient> {
    const { port1, port2 } = new MessageChannel();
    core.serve(port1);
    const tab = await connectRemoteClient(port2, { schema: options.schema ?? testSchema, database: options.database }, { tabId: options.tabId });
    tabs.add(tab);
    return tab;
  }

  it('connects, syncs the rows, pushes writes, and streams events$, status$ and lsn$', async () => {
    for (let i = 0; i < 20; i++) await server.insert('todos', todo(i));
    const tab = await openTab();
    const events: string[] = [];
    const statuses: string[] = [];
    const lsns: string[] = [];
    const subscriptions = [
      tab.events$.subscribe((e) => events.push(e.type)),
      tab.status$.subscribe((s) => statuses.push(s)),
      tab.lsn$.subscribe((l) => lsns.push(l)),
    ];
    const named: unknown[] = [];
    const onLsn = (data: unknown) => named.push(data);
    tab.on('lsn_updated', onLsn);

    expect(await tab.connect(server.url)).toBe(true);
    await tab.whenSynced({ timeoutMs: 5000 });
    expect(await tab.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 20 }]);
    expect(await tab.query<Todo>('SELECT id, title FROM todos WHERE id = ?', [todo(3).id])).toEqual([{ id: todo(3).id, title: 'todo 3' }]);
    expect(await tab.clientId).toMatch(/.+/);
    expect(await tab.currentStatus).toBe('live');

    await tab.insert('todos', { id: 'from-tab', title: 'hello', done: 0, score: 1.5, meta: { a: 1 } });
    await tab.whenSynced({ timeoutMs: 5000 });
    expect(await server.query('SELECT title FROM todos WHERE id = ?', ['from-tab'])).toEqual([{ title: 'hello' }]);
    expect(await tab.localChanges({ status: 'applied' })).toEqual([expect.objectContaining({ table: 'todos', key: 'from-tab', status: 'applied' })]);

    await until(() => events.includes('client_change_applied') && lsns.at(-1) === server.currentLsn(), 5000, 'events and lsn');
    expect(events).toEqual(
      expect.arrayContaining(['status_changed', 'connected', 'initial_sync_complete', 'changes_applied', 'client_change_sent', 'lsn_updated']),
    );
    expect(statuses[0]).toBe('idle');
    expect(statuses).toEqual(expect.arrayContaining(['connecting', 'live']));
    expect(await tab.currentLsn).toBe(server.currentLsn());
    expect(named.length).toBeGreaterThan(0);

    expect((await tab.debug()).tabSubscriptions).toBe(4); // events$, status$, lsn$, and on()'s shared events$
    tab.off('lsn_updated', onLsn);
    subscriptions.forEach((s) => s.unsubscribe());
    await until(async () => (await tab.debug()).tabSubscriptions === 0, 2000, 'the worker-side subscriptions to stop');
  });

  it('watch() emits on a server change, and unsubscribing stops it in the worker', async () => {
    await server.insert('todos', todo(1));
    const tab = await openTab();
    expect(await tab.connect(server.url)).toBe(true);
    await tab.whenSynced({ timeoutMs: 5000 });
    const seen: Todo[][] = [];
    const subscription = tab.watch<Todo>('SELECT id, title FROM todos ORDER BY id').subscribe((rows) => seen.push(rows));
    await until(() => seen.length > 0, 2000, 'the first rows');
    expect(seen[0]).toEqual([{ id: todo(1).id, title: 'todo 1' }]);
    expect(core.debugInfo().subscriptions).toBe(1);

    await server.update('todos', todo(1).id, { title: 'changed on the server' });
    await until(() => seen.at(-1)?.[0]?.title === 'changed on the server', 5000, 'the server change in watch()');

    subscription.unsubscribe();
    await until(() => core.debugInfo().subscriptions === 0, 2000, 'the worker-side subscription to stop');
    const count = seen.length;
    await server.update('todos', todo(1).id, { title: 'after unsubscribe' });
    await until(async () => (await tab.query<Todo>('SELECT title FROM todos'))[0]?.title === 'after unsubscribe', 5000, 'the change to apply');
    expect(seen.length).toBe(count);

    // Unsubscribed before the worker even answered with the subscription's id: stopped there too.
    tab.watch('SELECT * FROM todos').subscribe().unsubscribe();
    tab.status$.subscribe().unsubscribe();
    await until(async () => (await tab.debug()).subscriptions === 0 && core.debugInfo().subscriptions === 0, 2000, 'early unsubscribes to reach the worker');
  });

  it('watchChanges() crosses to the tab: the rows, and which were added and changed', async () => {
    await server.insert('todos', todo(1));
    const tab = await openTab();
    expect(await tab.connect(server.url)).toBe(true);
    await tab.whenSynced({ timeoutMs: 5000 });
    const updates: Array<{ rows: readonly Todo[]; added: readonly Todo[]; changed: readonly Todo[]; removed: readonly Todo[] }> = [];
    const subscription = tab.watchChanges<Todo>('SELECT id, title FROM todos ORDER BY id').subscribe((update) => updates.push(update));
    await until(() => updates.length === 1, 2000, 'the first update');
    expect(updates[0]).toEqual({ rows: [{ id: todo(1).id, title: 'todo 1' }], added: [{ id: todo(1).id, title: 'todo 1' }], removed: [], changed: [] });

    await server.insert('todos', todo(2));
    await server.update('todos', todo(1).id, { title: 'changed on the server' });
    await until(() => updates.at(-1)?.rows[0]?.title === 'changed on the server', 5000, 'the server changes');
    expect(updates.flatMap((update) => update.added.map((row) => row.id))).toEqual([todo(1).id, todo(2).id]);
    expect(updates.at(-1)?.changed).toEqual([{ id: todo(1).id, title: 'changed on the server' }]);
    subscription.unsubscribe();
    await until(() => core.debugInfo().subscriptions === 0, 2000, 'the worker-side subscription to stop');
  });

  it("gives the worker's errors back with their name and code", async () => {
    const tab = await openTab();
    const error = await tab.insert('todos', { id: 'x', nope: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncProtocolError);
    expect(error).toMatchObject({ name: 'SyncProtocolError', code: 'unknown_column' });
    expect((error as Error).message).toMatch(/nope/);

    const timeout = await tab.whenSynced({ timeoutMs: 10 }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(SyncError);
    expect(timeout).toMatchObject({ name: 'TimeoutError', code: 'timeout' });

    // An error inside a stream errors the Observable, and the worker lets go of it.
    const watchError = await firstValueFrom(tab.watch('SELECT * FROM no_such_table')).catch((e: unknown) => e);
    expect(watchError).toMatchObject({ name: 'SqliteError' });
    expect((watchError as Error).message).toMatch(/no_such_table/);
    await until(() => core.debugInfo().subscriptions === 0, 2000, 'the failed subscription to be released');

    const mismatch = await openTab({
      schema: { ...testSchema, tables: { only: { primaryKey: 'id', columns: { id: 'text' } } } } as unknown as typeof testSchema,
    }).catch((e: unknown) => e);
    expect(mismatch).toMatchObject({ name: 'EngineMismatchError', code: 'engine_mismatch' });

    await tab.cleanup();
    await expect(tab.query('SELECT 1')).rejects.toMatchObject({ code: 'cancelled' });
  });

  it("shares one engine and one server session between two tabs; each sees the other's writes; cleanup detaches one tab", async () => {
    await server.insert('todos', todo(1));
    const a = await openTab();
    const b = await openTab();
    expect(await a.connect(server.url)).toBe(true);
    expect(await b.connect(server.url)).toBe(true); // joins the running connection
    expect(server.sessionCount).toBe(1);
    expect(await a.clientId).toBe(await b.clientId);
    expect(core.debugInfo()).toMatchObject({ engines: 1, tabs: 2 });

    const inA: Todo[][] = [];
    const inB: Todo[][] = [];
    a.watch<Todo>('SELECT id, title FROM todos ORDER BY id').subscribe((rows) => inA.push(rows));
    b.watch<Todo>('SELECT id, title FROM todos ORDER BY id').subscribe((rows) => inB.push(rows));
    await a.insert('todos', { id: 'from-a', title: 'A', done: 0, score: 0, meta: null });
    await until(() => inB.at(-1)?.some((row) => row.id === 'from-a'), 2000, "A's write in B");
    await b.insert('todos', { id: 'from-b', title: 'B', done: 0, score: 0, meta: null });
    await until(() => inA.at(-1)?.some((row) => row.id === 'from-b'), 2000, "B's write in A");
    await a.whenSynced({ timeoutMs: 5000 });
    expect(await server.query('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'from-a' }, { id: 'from-b' }, { id: todo(1).id }]);

    // A leaves: its subscriptions stop, the engine and the session stay for B.
    await a.cleanup();
    tabs.delete(a);
    expect(core.debugInfo()).toMatchObject({ engines: 1, tabs: 1, subscriptions: 1 });
    expect(await b.currentStatus).toBe('live');
    await server.update('todos', 'from-a', { title: 'server edit' });
    await until(() => inB.at(-1)?.find((row) => row.id === 'from-a')?.title === 'server edit', 5000, 'a server change in B');
    await b.insert('todos', { id: 'b2', title: 'B2', done: 0, score: 0, meta: null });
    await b.whenSynced({ timeoutMs: 5000 });
    expect(server.sessionCount).toBe(1);

    // The last tab closes the engine, and with it the server session.
    await b.cleanup();
    tabs.delete(b);
    expect(core.debugInfo()).toMatchObject({ engines: 0, tabs: 0, subscriptions: 0 });
    await until(() => server.sessionCount === 0, 2000, 'the session to close');
  });

  it('disconnect() acts on the shared connection', async () => {
    const a = await openTab();
    const b = await openTab();
    expect(await a.connect(server.url)).toBe(true);
    const statusesB = firstValueFrom(
      b.status$.pipe(
        filter((s) => s === 'disconnected'),
        take(1),
        toArray(),
      ),
    );
    await a.disconnect('bye');
    expect(await statusesB).toEqual(['disconnected']);
    expect(await b.currentStatus).toBe('disconnected');
    expect(await b.connect(server.url)).toBe(true);
    expect(await a.currentStatus).toBe('live');
  });

  it('detaches a tab whose lock is released (the tab closed without cleanup)', async () => {
    const release = await holdTabLock('tab-1', locks);
    const a = await openTab({ tabId: 'tab-1' });
    const b = await openTab();
    expect(await a.connect(server.url)).toBe(true);
    a.watch('SELECT * FROM todos').subscribe();
    await until(() => core.debugInfo().subscriptions === 1, 2000, 'the subscription');
    release(); // the tab is gone
    await until(() => core.debugInfo().tabs === 1, 2000, 'the dead tab to be detached');
    expect(core.debugInfo().subscriptions).toBe(0);
    expect(await b.currentStatus).toBe('live');
    await expect(a.query('SELECT 1')).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('detaches a tab whose proxy is released without cleanup (comlink finalizer)', async () => {
    const a = await openTab();
    const b = await openTab();
    a.status$.subscribe();
    await until(() => core.debugInfo().subscriptions === 1, 2000, 'the subscription');
    await (a as unknown as { close(): Promise<void> }).close();
    tabs.delete(a);
    await until(() => core.debugInfo().tabs === 1 && core.debugInfo().subscriptions === 0, 2000, 'the released tab to be detached');
    expect(await b.currentStatus).toBe('idle');
  });

  it('keeps one engine per database name', async () => {
    const a = await openTab({ database: ':memory:' });
    const { fakeIndexedDB } = await import('../support/fake-indexeddb.js');
    // A persisted database needs an IndexedDB factory: a core with one injected.
    const persisted = new WorkerCore({ defaults: { WebSocketCtor: wsWebSocket, indexedDB: fakeIndexedDB() } });
    const channels = [new MessageChannel(), new MessageChannel()];
    persisted.serve(channels[0].port1);
    persisted.serve(channels[1].port1);
    const p1 = await connectRemoteClient(channels[0].port2, { schema: testSchema, database: 'db-one' });
    const p2 = await connectRemoteClient(channels[1].port2, { schema: testSchema, database: 'db-two' });
    try {
      await p1.insert('todos', { id: 'one', title: '1', done: 0, score: 0, meta: null });
      expect(await p2.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 0 }]);
      expect(persisted.debugInfo()).toMatchObject({ engines: 2, tabs: 2 });
      expect(await a.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 0 }]);
    } finally {
      await p1.cleanup();
      await p2.cleanup();
      await persisted.close();
    }
    expect(persisted.debugInfo()).toMatchObject({ engines: 0, tabs: 0 });
  });
});
