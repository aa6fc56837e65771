import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

type Title = { id: string; title: string | null };

/**
 * watch() emits when its rows changed, not on every commit to a table it reads: a local write
 * commits the row (one emission), then its push, the server's answer and its echo commit again
 * to the same tables without changing the rows (none).
 */
describe('watch emits only when its rows changed', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('one insert plus updates the query does not read: one emission for the insert, then one per change of its rows', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    const seen: Title[][] = [];
    const subscription = client.watch<Title>('SELECT id, title FROM todos ORDER BY id').subscribe((rows) => seen.push(rows));
    await until(() => seen.length === 1 || undefined, 5000, 'the first rows');

    const row = todo(1, { title: 'write the spec' });
    await client.insert('todos', row);
    await client.update('todos', row.id, { done: 1 }); // a column the query does not read
    await client.insert('counters', { n: 1, label: 'another table' });
    await client.whenSynced({ timeoutMs: 5000 }); // pushed, answered, echoed and applied
    expect(seen).toEqual([[], [{ id: row.id, title: 'write the spec' }]]);

    await server.update('todos', row.id, { title: 'renamed on the server' });
    await until(() => seen.length === 3 || undefined, 5000, 'the server change');
    await server.update('todos', row.id, { score: 9.5 }); // again a column the query does not read
    await client.whenSynced({ timeoutMs: 5000 });
    expect(seen).toEqual([[], [{ id: row.id, title: 'write the spec' }], [{ id: row.id, title: 'renamed on the server' }]]);
    subscription.unsubscribe();
  });

  it('each subscriber gets the current rows first, whatever the others saw', async () => {
    const client = testClient();
    await client.insert('todos', todo(1));
    const watch$ = client.watch<Title>('SELECT id, title FROM todos');
    const first: Title[][] = [];
    const second: Title[][] = [];
    const a = watch$.subscribe((rows) => first.push(rows));
    await until(() => first.length === 1 || undefined, 5000, 'the first subscriber');
    const b = watch$.subscribe((rows) => second.push(rows));
    await until(() => second.length === 1 || undefined, 5000, 'the second subscriber');
    expect(second).toEqual(first);
    a.unsubscribe();
    b.unsubscribe();
  });
});
