import type { SyncServer } from '../../src/server/index.js';
import { compareLsn } from '../../src/protocol/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

describe('a client syncing with the reference server', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('gets the server rows, then live changes, and pushes its writes', async () => {
    for (let i = 0; i < 50; i++) await server.insert('todos', todo(i));
    const client = testClient();
    const events: string[] = [];
    client.events$.subscribe((e) => events.push(e.type));
    const lsns: string[] = [];
    client.lsn$.subscribe((lsn) => lsns.push(lsn));
    expect(await client.connect(server.url)).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 50 }]);
    expect(client.currentLsn).toBe(server.currentLsn());

    await server.update('todos', todo(3).id, { title: 'from server' });
    await until(async () => (await client.query<{ title: string }>('SELECT title FROM todos WHERE id = ?', [todo(3).id]))[0]?.title === 'from server');

    await client.insert('todos', { id: 'local-1', title: 'from client', done: 0, score: 2, meta: { a: 1 } });
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await server.query('SELECT id, title, score, meta FROM todos WHERE id = ?', ['local-1'])).toEqual([
      { id: 'local-1', title: 'from client', score: 2, meta: '{"a":1}' },
    ]);
    // lsn$: the current LSN first (0/0 for a new client), then each checkpoint, never backwards.
    expect(lsns[0]).toBe('0/0');
    expect(lsns.at(-1)).toBe(server.currentLsn());
    for (let i = 1; i < lsns.length; i++) expect(compareLsn(lsns[i], lsns[i - 1])).toBe(1);
    expect(events).toEqual(expect.arrayContaining(['initial_sync_complete', 'changes_applied', 'client_change_sent', 'client_change_applied', 'lsn_updated']));
    await client.cleanup();
  });
});
