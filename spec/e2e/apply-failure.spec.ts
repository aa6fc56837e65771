import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

describe('a server batch that fails to apply', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    await server.insert('todos', todo(1));
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('rolls back, retries, pauses without moving the LSN past it, and resumes when asked', async () => {
    const client = testClient();
    const errors: any[] = [];
    client.on('error', (e) => errors.push(e));
    const paused: any[] = [];
    client.on('sync_paused', (e) => paused.push(e));
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    const before = client.currentLsn;

    // A real SQLite error, injected into the client's database.
    await client.query(`CREATE TRIGGER boom BEFORE INSERT ON todos WHEN NEW.title = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    // One commit with two changes: one batch, which must apply whole or not at all.
    const [first] = await server.store.applyClientWrites('other-client', [
      { id: 'x1', table: 'todos', op: 'insert', key: 'fine', row: { id: 'fine', title: 'fine' } },
      { id: 'x2', table: 'todos', op: 'insert', key: 'bad', row: { id: 'bad', title: 'boom' } },
    ]);
    const failedLsn = server.currentLsn();
    // A later batch must wait, not skip ahead. Written once the first is being retried, so that
    // it is a batch of its own (commits in one server turn may share a changes message).
    await until(() => errors.some((e) => e.context?.retrying) || undefined, 5000, 'the first retry');
    await server.insert('todos', todo(2));

    await until(() => paused.length > 0 || undefined, 5000, 'sync_paused');
    expect(paused[0]).toMatchObject({ message: 'changes', lsn: failedLsn });
    const applyError = errors.find((e) => e.code === 'apply_failed');
    expect(applyError.message).toMatch(/injected failure/);
    expect(errors.filter((e) => e.context?.retrying).length).toBe(2); // maxAttempts 3: two retries, then pause
    expect(client.currentLsn).toBe(before);
    expect(await client.query(`SELECT id FROM todos WHERE id IN ('fine', 'bad', '${todo(2).id}')`)).toEqual([]);
    expect(first.status).toBe('applied');

    await client.query('DROP TRIGGER boom');
    client.resumeSync();
    await until(() => client.currentLsn === server.currentLsn() || undefined, 5000, 'resumed');
    expect(await client.query('SELECT id, title FROM todos ORDER BY id')).toEqual(await server.query('SELECT id, title FROM todos ORDER BY id'));
  });
});
