import type { SyncServer } from '../../src/server/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';

describe('push', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    await server.insert('todos', todo(1));
  });
  afterEach(() => server.close());

  const live = (clientId = 'client-a') => helloPeer(server, { clientId, lsn: server.currentLsn() });

  it('applies a push in one go and answers one result per change, in order', async () => {
    const { peer } = await live();
    autoAck(peer);
    peer.send({
      type: 'push',
      changes: [
        { id: 'c1', table: 'todos', op: 'insert', key: 'n1', row: { id: 'n1', title: 'new', done: 0 } },
        { id: 'c2', table: 'todos', op: 'update', key: todo(1).id, row: { done: 1 } },
        { id: 'c3', table: 'todos', op: 'update', key: 'missing', row: { done: 1 } },
        { id: 'c4', table: 'todos', op: 'delete', key: 'n1' },
      ],
    });
    const { results } = await peer.next('push_result');
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['c1', 'applied'],
      ['c2', 'applied'],
      ['c3', 'rejected'],
      ['c4', 'applied'],
    ]);
    expect(results[2]).toEqual({ id: 'c3', status: 'rejected', reason: 'not_found', serverRow: null, code: 'conflict' });
    expect(await server.query('SELECT id, done FROM todos ORDER BY id')).toEqual([{ id: todo(1).id, done: 1 }]);
    const changes = await peer.waitFor(() => {
      const all = peer.all('changes').flatMap((m) => m.changes);
      return all.length === 3 ? all : undefined;
    });
    expect(changes.map((c) => c.origin?.changeId)).toEqual(['c1', 'c2', 'c4']);
    expect(changes.map((c) => c.lsn)).toEqual([results[0], results[1], results[3]].map((r) => (r as { lsn: string }).lsn));
    await peer.close();
  });

  it('applies a push resent after a dropped connection only once', async () => {
    const push = { type: 'push', changes: [{ id: 'once-1', table: 'counters', op: 'insert', key: 5, row: { n: 5, label: 'five' } }] };
    const first = await live();
    const before = server.currentLsn();
    first.peer.send(push);
    // Applied on the server, then the connection drops: the client never saw a result and resends.
    await first.peer.waitFor(() => server.currentLsn() !== before || undefined);
    first.peer.ws.terminate();
    await first.peer.closed;
    const lsnAfterFirst = server.currentLsn();

    const again = await live();
    again.peer.send(push);
    const { results } = await again.peer.next('push_result');
    expect(results).toEqual([{ id: 'once-1', status: 'duplicate', lsn: lsnAfterFirst }]);
    expect(server.currentLsn()).toBe(lsnAfterFirst);
    expect(await server.query('SELECT n, label FROM counters')).toEqual([{ n: 5, label: 'five' }]);
    const log = await server.store.changesSince('0/0', 100);
    expect(log.filter((c) => c.origin?.changeId === 'once-1')).toHaveLength(1);
    await again.peer.close();
  });

  it('lets the later of two conflicting writes win (server order)', async () => {
    const a = await live('client-a');
    const b = await live('client-b');
    a.peer.send({ type: 'push', changes: [{ id: 'a1', table: 'todos', op: 'update', key: todo(1).id, row: { title: 'from a' } }] });
    await a.peer.next('push_result');
    b.peer.send({ type: 'push', changes: [{ id: 'b1', table: 'todos', op: 'update', key: todo(1).id, row: { title: 'from b', done: 1 } }] });
    await b.peer.next('push_result');
    expect(await server.query('SELECT title, done FROM todos')).toEqual([{ title: 'from b', done: 1 }]);
    await Promise.all([a.peer.close(), b.peer.close()]);
  });

  it('takes a custom conflict policy that can refuse writes', async () => {
    await server.close();
    server = await startTestServer({
      conflictPolicy: ({ change, current }) =>
        change.op === 'delete' ? { action: 'reject', reason: 'deletes are not allowed' } : { action: 'apply', row: { ...current, ...change.row } },
    });
    await server.insert('todos', todo(1));
    const { peer } = await live();
    peer.send({ type: 'push', changes: [{ id: 'd1', table: 'todos', op: 'delete', key: todo(1).id }] });
    const { results } = await peer.next('push_result');
    expect(results).toEqual([{ id: 'd1', status: 'rejected', reason: 'deletes are not allowed', serverRow: todo(1), code: 'conflict' }]);
    await peer.close();
  });
});
