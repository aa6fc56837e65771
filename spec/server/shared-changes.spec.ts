import type { ChangeRecord, Changes } from '../../src/protocol/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { changesMessage } from '../../src/server/session/shared-changes.js';
import { listsSchema, startRulesServer, tokenFor } from '../support/rules-fixture.js';
import { TestPeer } from '../support/test-peer.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';

const record = (lsn: string, key: string): ChangeRecord => ({ lsn, table: 'todos', op: 'insert', key, row: { id: key } });

describe('changesMessage (one message for the sessions that send the same records)', () => {
  const [a, b, c] = [record('0/1', 'a'), record('0/2', 'b'), record('0/3', 'c')];

  it('gives arrays of the very same records, up to the same LSN, one message', () => {
    const first = changesMessage([a, b], '0/2');
    expect(changesMessage([a, b], '0/2')).toBe(first);
    expect(first).toEqual({ type: 'changes', lsn: '0/2', changes: [a, b] });
  });

  it('gives anything else a message of its own: another record in the middle, another LSN, an equal copy of a record', () => {
    const first = changesMessage([a, b, c], '0/3');
    expect(changesMessage([a, record('0/2', 'b'), c], '0/3')).not.toBe(first);
    expect(changesMessage([a, c, c], '0/3')).not.toBe(first);
    expect(changesMessage([a, b, c], '0/4')).not.toBe(first);
    expect(changesMessage([a, b], '0/3')).not.toBe(first);
  });

  it('never shares an empty one', () => {
    expect(changesMessage([], '0/3')).not.toBe(changesMessage([], '0/3'));
  });

  it('keeps a message only for the turn it was made in, so a large one is not held once sent', async () => {
    const first = changesMessage([a, b, c], '0/3');
    await new Promise((resolve) => setImmediate(resolve));
    expect(changesMessage([a, b, c], '0/3')).not.toBe(first);
  });
});

/** Every `changes` message a peer received, as [lsn, keys]. */
const received = (peer: TestPeer) => peer.all('changes').map((m: Changes) => [m.lsn, m.changes.map((change) => change.key)]);

describe('sessions catching up from the log (their window was full)', () => {
  let server: SyncServer;
  afterEach(async () => {
    await server.close();
  });

  it('each gets every change after its own position, in one message per read', async () => {
    server = await startTestServer({ limits: { changesWindow: 1 } });
    const lsn = server.currentLsn();
    const peers = await Promise.all(['a', 'b', 'c'].map((id) => helloPeer(server, { clientId: id, lsn }).then(({ peer }) => peer)));
    const l1 = await server.insert('todos', todo(1));
    const firsts = await Promise.all(peers.map((peer) => peer.next('changes')));
    // Not acked: every window is full, so the next commits wait in the log.
    await server.insert('todos', todo(2));
    const l3 = await server.insert('todos', todo(3));
    const [a, b, c] = peers;
    a.send({ type: 'ack', lsn: firsts[0].lsn });
    b.send({ type: 'ack', lsn: firsts[1].lsn });
    await Promise.all([a.next('changes'), b.next('changes')]);
    // c is further behind when it acks: a later commit is in its read too.
    const l4 = await server.insert('todos', todo(4));
    c.send({ type: 'ack', lsn: firsts[2].lsn });
    await c.next('changes');
    await Promise.all(peers.map((peer) => peer.settle(50)));

    const keys = (...ids: number[]) => ids.map((i) => todo(i).id);
    expect(received(a)).toEqual([
      [l1, keys(1)],
      [l3, keys(2, 3)],
    ]);
    expect(received(b)).toEqual(received(a));
    expect(received(c)).toEqual([
      [l1, keys(1)],
      [l4, keys(2, 3, 4)],
    ]);
    await Promise.all(peers.map((peer) => peer.close()));
  });

  it('under rules, two users at the same position, whose reads start with the same shared row, each get only their own', async () => {
    server = await startRulesServer({ limits: { changesWindow: 1 } });
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('lists', { id: 'lb', owner_id: 'bob', name: "bob's" });
    const connect = async (user: string, clientId: string) => {
      const peer = await TestPeer.connect(server.url);
      peer.hello(listsSchema, { clientId, token: await tokenFor(user) });
      await peer.next('snapshot_begin');
      const end = await peer.next('snapshot_end');
      for (const chunk of peer.all('snapshot_chunk')) peer.send({ type: 'snapshot_ack', seq: chunk.seq });
      peer.send({ type: 'ack', lsn: end.lsn });
      return peer;
    };
    const alice = await connect('alice', 'alice-1');
    const alice2 = await connect('alice', 'alice-2');
    const bob = await connect('bob', 'bob-1');
    const peers = [alice, alice2, bob];
    await Promise.all(peers.map((peer) => peer.settle(50)));
    // A row everyone reads, sent live; not acked, so every window is full.
    await server.insert('tags', { id: 'tag1', name: 'one' });
    const firsts = await Promise.all(peers.map((peer) => peer.next('changes')));
    // Then a shared row and one of each user's: one read from the log, the same first record
    // and the same LSN for everyone, the same length for both users, different rows.
    await server.insert('tags', { id: 'tag2', name: 'two' });
    await server.insert('todos', { id: 'ta', list_id: 'la', title: "alice's", done: 0 });
    const end = await server.insert('todos', { id: 'tb', list_id: 'lb', title: "bob's", done: 0 });
    peers.forEach((peer, i) => peer.send({ type: 'ack', lsn: firsts[i].lsn }));
    await Promise.all(peers.map((peer) => peer.next('changes')));
    await Promise.all(peers.map((peer) => peer.settle(50)));

    expect(received(alice).slice(-1)).toEqual([[end, ['tag2', 'ta']]]);
    expect(received(alice2)).toEqual(received(alice));
    expect(received(bob).slice(-1)).toEqual([[end, ['tag2', 'tb']]]);
    expect(JSON.stringify(bob.messages)).not.toContain("alice's");
    expect(JSON.stringify(alice.messages)).not.toContain("bob's");
    await Promise.all(peers.map((peer) => peer.close()));
  });
});
