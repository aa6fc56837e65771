import type { SyncServer } from '../../src/server/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { compareLsn } from '../../src/protocol/index.js';

describe('live streaming', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('shows two sessions the same changes in the same LSN order, with origins', async () => {
    const head = server.currentLsn();
    const a = await helloPeer(server, { clientId: 'watcher-a', lsn: head });
    const b = await helloPeer(server, { clientId: 'watcher-b', lsn: head });
    autoAck(a.peer);
    autoAck(b.peer);
    const writer = await helloPeer(server, { clientId: 'writer', lsn: head });
    autoAck(writer.peer);

    // Backend writes and client pushes interleaved, without waiting for one another.
    const backend: Promise<string>[] = [];
    for (let i = 0; i < 30; i++) {
      backend.push(server.insert('todos', todo(i)));
      writer.peer.send({ type: 'push', changes: [{ id: `push-${i}`, table: 'counters', op: 'insert', key: i, row: { n: i, label: `c${i}` } }] });
    }
    await Promise.all(backend);
    await writer.peer.waitFor(() => writer.peer.all('push_result').length === 30 || undefined);
    const total = 60;
    const seen = (peer: typeof a.peer) => peer.all('changes').flatMap((m) => m.changes);
    await a.peer.waitFor(() => seen(a.peer).length === total || undefined);
    await b.peer.waitFor(() => seen(b.peer).length === total || undefined);
    // The writer's frames travel on their own socket: a and b having all of theirs says nothing of it.
    await writer.peer.waitFor(() => seen(writer.peer).length === total || undefined);

    expect(seen(a.peer)).toEqual(seen(b.peer));
    const lsns = seen(a.peer).map((c) => c.lsn);
    for (let i = 1; i < lsns.length; i++) expect(compareLsn(lsns[i], lsns[i - 1])).toBe(1);
    const pushed = seen(a.peer).filter((c) => c.table === 'counters');
    expect(pushed).toHaveLength(30);
    expect(pushed.every((c) => c.origin?.clientId === 'writer' && c.origin.changeId === `push-${c.key}`)).toBe(true);
    expect(
      seen(a.peer)
        .filter((c) => c.table === 'todos')
        .every((c) => c.origin === undefined),
    ).toBe(true);
    // The writer sees its own changes come back at their LSN too: its pending writes stay unsettled
    // until then (docs/architecture.md, Invariant 5).
    expect(seen(writer.peer)).toEqual(seen(a.peer));
    await Promise.all([a.peer.close(), b.peer.close(), writer.peer.close()]);
  });

  it("sends a commit once when the client's ack starts the pump before the feed hands the commit out", async () => {
    const { peer } = await helloPeer(server, { clientId: 'racer', lsn: server.currentLsn() });
    void server.insert('todos', todo(100));
    let last = await peer.next('changes');
    // The ack and the next commit in the same turn: the ack, read first, sends the commit from the
    // log, and the feed's turn must find it sent (most rounds; either way, each change once).
    for (let i = 101; i < 120; i++) {
      peer.send({ type: 'ack', lsn: last.lsn });
      void server.insert('todos', todo(i));
      last = await peer.next('changes');
    }
    await peer.settle(50);
    const keys = peer.all('changes').flatMap((m) => m.changes.map((c) => c.key));
    expect(keys).toEqual(Array.from({ length: 20 }, (_, i) => todo(100 + i).id));
    await peer.close();
  });
});
