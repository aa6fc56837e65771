import type { SyncServer } from '../../src/server/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { CloseCode, compareLsn } from '../../src/protocol/index.js';

describe('catchup and live', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer({ limits: { changesPerMessage: 3, changesWindow: 2 } });
    for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
  });
  afterEach(() => server.close());

  it('sends a returning client exactly the changes made while it was away, in order', async () => {
    const first = await helloPeer(server);
    autoAck(first.peer);
    const { lsn: synced } = await first.peer.next('snapshot_end');
    await first.peer.close();

    const away = [
      await server.insert('todos', todo(10)),
      await server.update('todos', todo(1).id, { done: 1, title: 'edited' }),
      await server.delete('todos', todo(2).id),
      await server.insert('counters', { n: 7, label: 'seven' }),
      await server.update('todos', todo(10).id, { score: 99.25 }),
    ];

    const { peer, welcome } = await helloPeer(server, { lsn: synced });
    expect(welcome).toMatchObject({ mode: 'catchup', serverLsn: away[away.length - 1], clientKnown: true });
    autoAck(peer);
    await peer.waitFor(() => peer.all('changes').flatMap((m) => m.changes).length === away.length || undefined);
    const received = peer.all('changes').flatMap((m) => m.changes);
    expect(received.map((c) => c.lsn)).toEqual(away);
    expect(received.map((c) => [c.op, c.table, c.key])).toEqual([
      ['insert', 'todos', todo(10).id],
      ['update', 'todos', todo(1).id],
      ['delete', 'todos', todo(2).id],
      ['insert', 'counters', 7],
      ['update', 'todos', todo(10).id],
    ]);
    expect(received[1].row).toEqual({ ...todo(1), done: 1, title: 'edited' }); // whole rows, not patches
    expect(received[4].row).toEqual({ ...todo(10), score: 99.25 });
    expect(peer.all('changes').every((m) => m.changes.length <= 3 && m.lsn === m.changes[m.changes.length - 1].lsn)).toBe(true);
    expect(peer.all('snapshot_begin')).toHaveLength(0);
    await peer.close();
  });

  it('holds back changes beyond the window until they are acked', async () => {
    const { peer, welcome } = await helloPeer(server, { lsn: '0/1' });
    expect(welcome.mode).toBe('catchup');
    for (let i = 20; i < 40; i++) await server.insert('todos', todo(i));
    // Waited for, not timed (a busy machine may take longer than any fixed pause), then a pause in
    // which nothing beyond the window may arrive.
    await peer.waitFor(() => peer.all('changes').length >= 2 || undefined, 10_000, 'the window of changes');
    await peer.settle(100);
    const sent = peer.all('changes');
    expect(sent).toHaveLength(2); // the window, whatever the backlog
    peer.send({ type: 'ack', lsn: sent[0].lsn });
    await peer.waitFor(() => peer.all('changes').length >= 3 || undefined, 10_000, 'one more change after the ack');
    await peer.settle(100);
    expect(peer.all('changes')).toHaveLength(3);
    autoAck(peer);
    peer.send({ type: 'ack', lsn: peer.all('changes')[2].lsn });
    await peer.waitFor(() => peer.all('changes').at(-1)?.lsn === server.currentLsn() || undefined);
    const lsns = peer.all('changes').flatMap((m) => m.changes.map((c) => c.lsn));
    expect(lsns).toHaveLength(5 - 1 + 20);
    for (let i = 1; i < lsns.length; i++) expect(compareLsn(lsns[i], lsns[i - 1])).toBe(1);
    await peer.close();
  });

  it('says live to a client already at the head, then streams new commits', async () => {
    const { peer, welcome } = await helloPeer(server, { lsn: server.currentLsn() });
    expect(welcome.mode).toBe('live');
    await peer.settle(50);
    expect(peer.all('changes')).toHaveLength(0);
    const lsn = await server.insert('todos', todo(50));
    const changes = await peer.next('changes');
    expect(changes).toEqual({ type: 'changes', lsn, changes: [{ lsn, table: 'todos', op: 'insert', key: todo(50).id, row: todo(50) }] });
    await peer.close();
  });
});

describe('a session the change log no longer covers', () => {
  it('is closed with resyncRequired when retention prunes past a slow client, and its next hello gets a fresh snapshot', async () => {
    const server = await startTestServer({ retention: { maxChanges: 5 }, limits: { changesPerMessage: 1, changesWindow: 1 } });
    try {
      const { peer } = await helloPeer(server);
      await peer.next('snapshot_end');
      await server.insert('todos', todo(1));
      const { lsn: applied } = await peer.next('changes'); // in flight, never acked: the client is slow
      for (let i = 2; i <= 10; i++) await server.insert('todos', todo(i)); // the log keeps 5: the next change this client needs is gone
      expect(await peer.closed).toBe(CloseCode.resyncRequired);

      const again = await helloPeer(server, { lsn: applied });
      expect(again.welcome).toMatchObject({ mode: 'reset', reason: 'lsn_too_old' });
      await again.peer.close();
    } finally {
      await server.close();
    }
  });
});
