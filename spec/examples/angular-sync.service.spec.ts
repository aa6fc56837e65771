import { filter, firstValueFrom, timeout, type Observable } from 'rxjs';
import { TodoSyncService, todoSchema, type SyncEngine, type Todo } from '../../examples/angular/sync.service.js';
import type { RemoteSyncClient } from '../../src/browser.js';
import { createSyncServer, demoSchema, type SyncServer } from '../../src/server/index.js';
import { fastClientOptions, wsWebSocket } from '../support/test-client.js';

// The service takes the browser's worker client as well: checked by `npm run typecheck`.
export const browserClientFits: (client: RemoteSyncClient) => SyncEngine = (client) => client;

/** The first value of `source$` that passes `predicate`, or a clear failure after `ms`. */
const when = <T>(source$: Observable<T>, predicate: (value: T) => boolean, what: string, ms = 5000): Promise<T> =>
  firstValueFrom(
    source$.pipe(
      filter(predicate),
      timeout({
        first: ms,
        with: () => {
          throw new Error(`timed out waiting for ${what}`);
        },
      }),
    ),
  );

/**
 * Polls until `probe` holds. pending$ replays its last value to a new subscriber, so right after a
 * write it may still say 0 for a moment: wait for the server to hold the write first, then for
 * pending$ to settle.
 */
async function until(probe: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('examples/angular: TodoSyncService', () => {
  let server: SyncServer;
  let service: TodoSyncService;
  let tick = 0;

  beforeEach(async () => {
    server = await createSyncServer({ schema: demoSchema, port: 0, host: '127.0.0.1', database: ':memory:', onError: () => undefined });
    for (let i = 1; i <= 3; i++) await server.insert('todos', { id: `s${i}`, title: `server ${i}`, done: 0, updated_at: `2024-01-0${i}T00:00:00.000Z` });
    service = new TodoSyncService({
      url: server.url,
      clientOptions: fastClientOptions,
      // A clock that always moves forward, so the newest write sorts first.
      now: () => new Date(Date.UTC(2030, 0, 1) + ++tick * 1000),
    });
  });
  afterEach(async () => {
    await service.ngOnDestroy();
    await server.close();
  });

  it('uses the schema the demo server serves', async () => {
    expect(todoSchema.hash).toBe(demoSchema.hash);
    await when(service.status$, (s) => s === 'live', 'live');
  });

  it('syncs the server rows into todos$, reports the initial sync in progress$ and goes live in status$', async () => {
    const seen: string[] = [];
    const statuses = service.status$.subscribe((status) => seen.push(status));
    const todos = await when(service.todos$, (rows) => rows.length === 3, 'three todos');
    expect(todos.map((t) => t.id)).toEqual(['s3', 's2', 's1']);
    expect(todos[0]).toEqual({ id: 's3', title: 'server 3', done: 0, updated_at: '2024-01-03T00:00:00.000Z' });
    expect(await when(service.progress$, (p) => !p.active && p.rowsDone === 3, 'initial sync complete')).toEqual({
      rowsDone: 3,
      rowsTotal: 3,
      fraction: 1,
      active: false,
    });
    await when(service.status$, (s) => s === 'live', 'live');
    statuses.unsubscribe();
    expect(seen).toEqual(expect.arrayContaining(['connecting', 'syncing', 'live']));
    expect(await when(service.pending$, () => true, 'pending')).toBe(0);
  });

  it('progress$ passes through the snapshot chunks as they load', async () => {
    await when(service.status$, (s) => s === 'live', 'live');
    await service.ngOnDestroy();
    await server.close();
    server = await createSyncServer({ schema: demoSchema, port: 0, database: ':memory:', limits: { snapshotChunkRows: 10 }, onError: () => undefined });
    for (let i = 0; i < 50; i++) await server.insert('todos', { id: `r${i}`, title: `row ${i}`, done: 0, updated_at: new Date(0).toISOString() });
    service = new TodoSyncService({ url: server.url, clientOptions: { WebSocketCtor: wsWebSocket } });
    const progress: number[] = [];
    const subscription = service.progress$.subscribe((p) => p.active && progress.push(p.rowsDone));
    await when(service.progress$, (p) => !p.active && p.rowsDone === 50, 'all 50 rows');
    subscription.unsubscribe();
    expect(progress).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('add, toggle and remove reach the server and come back through todos$, with pending$ counting down', async () => {
    await when(service.status$, (s) => s === 'live', 'live');
    const pendingSeen: number[] = [];
    const pending = service.pending$.subscribe((n) => pendingSeen.push(n));

    const added = await service.add('  Write the Angular example ');
    expect(added).toMatchObject({ title: 'Write the Angular example', done: 0 });
    const afterAdd = await when(service.todos$, (rows) => rows.some((t) => t.id === added.id), 'the new todo');
    expect(afterAdd[0].id).toBe(added.id); // newest first
    await until(async () => (await server.query('SELECT id FROM todos WHERE id = ?', [added.id])).length === 1, 'the add on the server');
    await when(service.pending$, (n) => n === 0, 'the add confirmed');
    expect(await server.query('SELECT title, done FROM todos WHERE id = ?', [added.id])).toEqual([{ title: 'Write the Angular example', done: 0 }]);

    await service.toggle(added);
    await when(service.todos$, (rows) => rows.find((t) => t.id === added.id)?.done === 1, 'toggled locally');
    await until(async () => (await server.query<Todo>('SELECT done FROM todos WHERE id = ?', [added.id]))[0]?.done === 1, 'the toggle on the server');
    await when(service.pending$, (n) => n === 0, 'the toggle confirmed');
    const [row] = await server.query<Todo>('SELECT done, updated_at FROM todos WHERE id = ?', [added.id]);
    expect(row.done).toBe(1);
    expect(row.updated_at > added.updated_at).toBe(true);

    await service.remove('s1');
    await when(service.todos$, (rows) => !rows.some((t) => t.id === 's1'), 's1 gone locally');
    await until(async () => (await server.query('SELECT id FROM todos WHERE id = ?', ['s1'])).length === 0, 'the delete on the server');
    await when(service.pending$, (n) => n === 0, 'the delete confirmed');

    pending.unsubscribe();
    expect(pendingSeen[0]).toBe(0);
    expect(pendingSeen).toContain(1);
    expect(pendingSeen.at(-1)).toBe(0);
  });

  it('shows changes made elsewhere (on the server) in todos$', async () => {
    await when(service.todos$, (rows) => rows.length === 3, 'three todos');
    await server.update('todos', 's2', { title: 'edited on the server', updated_at: '2031-01-01T00:00:00.000Z' });
    const todos = await when(service.todos$, (rows) => rows[0]?.title === 'edited on the server', 'the server edit');
    expect(todos.map((t) => t.id)).toEqual(['s2', 's3', 's1']);
  });

  it('offline: writes wait in pending$ and sync after connect()', async () => {
    await when(service.status$, (s) => s === 'live', 'live');
    service.disconnect();
    await when(service.status$, (s) => s === 'disconnected', 'disconnected');
    const first = await service.add('offline one');
    await service.add('offline two');
    await service.toggle(first);
    expect(await when(service.pending$, (n) => n === 3, 'three pending')).toBe(3);
    expect(await server.query("SELECT count(*) AS n FROM todos WHERE title LIKE 'offline%'")).toEqual([{ n: 0 }]);

    expect(await service.connect()).toBe(true);
    await when(service.pending$, (n) => n === 0, 'the outbox drained');
    expect(await server.query("SELECT title, done FROM todos WHERE title LIKE 'offline%' ORDER BY title")).toEqual([
      { title: 'offline one', done: 1 },
      { title: 'offline two', done: 0 },
    ]);
  });

  it('shares one query between subscribers and replays the last list to a late one', async () => {
    const held = service.todos$.subscribe(); // e.g. an async pipe that stays on the page
    const a = await when(service.todos$, (rows) => rows.length === 3, 'three todos');
    const late = await firstValueFrom(service.todos$);
    expect(late).toBe(a);
    held.unsubscribe();
  });
});
