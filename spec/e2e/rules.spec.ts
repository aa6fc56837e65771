import pg from 'pg';
import { createSqliteStore, type SyncServer } from '../../src/server/index.js';
import { cleanupClients, until } from '../support/test-client.js';
import { ids, LISTS_DDL, listsSchema, postgresRulesServers, startRulesServer, tokenFor, userClient } from '../support/rules-fixture.js';
import { useTestPostgres } from '../support/postgres.js';
import { TestPeer } from '../support/test-peer.js';
import { autoAck } from '../support/test-server.js';

/**
 * Per-user rules end to end: a real server with the rules and HS256 tokens, real clients
 * (wa-sqlite in memory), backend writes as the app's server would make them. Each test checks
 * what a user would: which rows each client holds once synced. The same suite runs on the
 * embedded SQLite store and on a Postgres source (a throwaway cluster, logical replication).
 */
describe('per-user rules (lists shared through memberships), SQLite store', () => {
  rulesSuite(() => startRulesServer());
});

describe('per-user rules (lists shared through memberships), Postgres store', () => {
  const postgres = postgresRulesServers(useTestPostgres());
  describe('the shared suite', () =>
    rulesSuite(
      () => postgres.start(),
      () => postgres.drop(),
    ));

  describe('what only Postgres does: cascades and key changes', () => {
    let server: SyncServer;
    afterEach(async () => {
      await cleanupClients();
      await server?.close();
      await postgres.drop();
    });

    it('deleting a list deletes its memberships (ON DELETE CASCADE) and takes its todos from the members', async () => {
      server = await postgres.start(
        `${LISTS_DDL}
         ALTER TABLE list_members ADD FOREIGN KEY (list_id) REFERENCES lists (id) ON DELETE CASCADE;
         INSERT INTO lists VALUES ('la', 'alice', 'shared'), ('lb', 'bob', 'his');
         INSERT INTO list_members VALUES ('m1', 'la', 'bob');
         INSERT INTO todos VALUES ('ta1', 'la', 'in the shared list', 0), ('tb1', 'lb', 'his', 0);`,
      );
      const bob = userClient('bob');
      await bob.connect(server.url);
      await bob.whenSynced({ timeoutMs: 10_000 });
      expect(await ids(bob, 'todos')).toEqual(['ta1', 'tb1']);
      const psql = new pg.Client({ connectionString: postgres.connectionString });
      await psql.connect();
      try {
        await psql.query(`DELETE FROM lists WHERE id = 'la'`);
      } finally {
        await psql.end();
      }
      await until(async () => !(await ids(bob, 'todos')).includes('ta1'), 10_000, 'the shared todo gone from bob');
      expect(await ids(bob, 'lists')).toEqual(['lb']);
      expect(await ids(bob, 'todos')).toEqual(['tb1']);
    });

    it('a primary key change reaches a member as a delete and an insert, and one out of the set as a delete alone', async () => {
      server = await postgres.start(
        `${LISTS_DDL}
         INSERT INTO lists VALUES ('lb', 'bob', 'his'), ('la', 'alice', 'hers');
         INSERT INTO todos VALUES ('tb1', 'lb', 'renamed soon', 0), ('tb2', 'lb', 'moved away soon', 0);`,
      );
      const bob = userClient('bob');
      await bob.connect(server.url);
      await bob.whenSynced({ timeoutMs: 10_000 });
      expect(await ids(bob, 'todos')).toEqual(['tb1', 'tb2']);
      const psql = new pg.Client({ connectionString: postgres.connectionString });
      await psql.connect();
      try {
        await psql.query(`UPDATE todos SET id = 'tb1-new' WHERE id = 'tb1'`);
        await psql.query(`UPDATE todos SET id = 'ta9', list_id = 'la' WHERE id = 'tb2'`);
      } finally {
        await psql.end();
      }
      await until(async () => (await ids(bob, 'todos')).join() === 'tb1-new' || undefined, 10_000, 'the key change at bob');
      await bob.whenSynced({ timeoutMs: 10_000 });
      expect(await bob.query('SELECT id, title FROM todos')).toEqual([{ id: 'tb1-new', title: 'renamed soon' }]);
    });
  });
});

/** The suite, on the server `start` makes; `stopped` runs after the server closed (its store's database can go then). */
function rulesSuite(start: () => Promise<SyncServer>, stopped?: () => Promise<void>): void {
  let server: SyncServer;
  beforeEach(async () => {
    server = await start();
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('lists', { id: 'lb', owner_id: 'bob', name: "bob's" });
    await server.insert('todos', { id: 'ta1', list_id: 'la', title: 'a1', done: 0 });
    await server.insert('todos', { id: 'tb1', list_id: 'lb', title: 'b1', done: 0 });
    await server.insert('tags', { id: 'g1', name: 'everyone' });
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
    await stopped?.();
  });

  async function synced(sub: string) {
    const client = userClient(sub);
    await client.initialize();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    return client;
  }

  it('gives each user only their rows, and tables with no stream to no one', async () => {
    await server.insert('list_members', { id: 'm1', list_id: 'lb', user_id: 'carol' });
    const alice = await synced('alice');
    const bob = await synced('bob');
    expect(await ids(alice, 'lists')).toEqual(['la']);
    expect(await ids(alice, 'todos')).toEqual(['ta1']);
    expect(await ids(bob, 'lists')).toEqual(['lb']);
    expect(await ids(bob, 'todos')).toEqual(['tb1']);
    for (const client of [alice, bob]) {
      expect(await ids(client, 'tags')).toEqual(['g1']);
      expect(await ids(client, 'list_members')).toEqual([]);
    }
    // Live: a row of bob's reaches bob and not alice.
    await server.insert('todos', { id: 'tb2', list_id: 'lb', title: 'b2', done: 0 });
    await until(async () => (await ids(bob, 'todos')).includes('tb2'), 5000, 'tb2 at bob');
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(await ids(alice, 'todos')).toEqual(['ta1']);
  });

  it('whenSynced resolves when the head moved on through commits the client cannot see', async () => {
    const alice = await synced('alice');
    for (let i = 0; i < 5; i++) await server.insert('todos', { id: `tbx${i}`, list_id: 'lb', title: 'not alice', done: 0 });
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(alice.currentLsn).toBe(server.currentLsn());
    expect(await ids(alice, 'todos')).toEqual(['ta1']);
  });

  it('an update moving a row into or out of a set arrives as an insert or a delete', async () => {
    const alice = await synced('alice');
    // out -> in: bob's todo moved to alice's list
    await server.update('todos', 'tb1', { list_id: 'la' });
    await until(async () => (await ids(alice, 'todos')).includes('tb1'), 5000, 'tb1 moved in');
    // in -> in: an edit
    await server.update('todos', 'tb1', { title: 'edited' });
    await until(async () => (await alice.query<{ title: string }>("SELECT title FROM todos WHERE id = 'tb1'"))[0]?.title === 'edited', 5000, 'the edit');
    // in -> out: moved back
    await server.update('todos', 'tb1', { list_id: 'lb' });
    await until(async () => !(await ids(alice, 'todos')).includes('tb1'), 5000, 'tb1 moved out');
    // out -> out: nothing reaches alice
    await server.update('todos', 'tb1', { title: 'bob only' });
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(await ids(alice, 'todos')).toEqual(['ta1']);
  });

  it('membership added brings the list and its todos; removed takes them; a row reachable two ways stays', async () => {
    const bob = await synced('bob');
    await server.insert('list_members', { id: 'm1', list_id: 'la', user_id: 'bob' });
    await until(async () => (await ids(bob, 'todos')).includes('ta1'), 5000, "alice's todo at bob");
    expect(await ids(bob, 'lists')).toEqual(['la', 'lb']);
    // A second way to reach list la (a second membership row): removing one keeps it.
    await server.insert('list_members', { id: 'm2', list_id: 'la', user_id: 'bob' });
    await server.delete('list_members', 'm1');
    await bob.whenSynced({ timeoutMs: 5000 });
    expect(await ids(bob, 'todos')).toEqual(['ta1', 'tb1']);
    await server.delete('list_members', 'm2');
    await until(async () => !(await ids(bob, 'todos')).includes('ta1'), 5000, "alice's todo gone from bob");
    expect(await ids(bob, 'lists')).toEqual(['lb']);
  });

  it('a client that was away gets exactly what its set gained and lost meanwhile', async () => {
    const bob = await synced('bob');
    await server.insert('list_members', { id: 'm1', list_id: 'la', user_id: 'bob' });
    await until(async () => (await ids(bob, 'todos')).includes('ta1'), 5000, "alice's todo at bob");
    bob.disconnect('away');
    await server.delete('list_members', 'm1'); // loses la
    await server.insert('lists', { id: 'lc', owner_id: 'alice', name: 'third' });
    await server.insert('todos', { id: 'tc1', list_id: 'lc', title: 'c1', done: 0 });
    await server.insert('list_members', { id: 'm3', list_id: 'lc', user_id: 'bob' }); // gains lc
    await server.insert('todos', { id: 'ta2', list_id: 'la', title: 'a2', done: 0 }); // never his
    const modes: string[] = [];
    bob.on('connected', (data: { mode: string }) => modes.push(data.mode));
    await bob.connect(server.url);
    await bob.whenSynced({ timeoutMs: 5000 });
    expect(modes).toEqual(['catchup']);
    expect(await ids(bob, 'lists')).toEqual(['lb', 'lc']);
    expect(await ids(bob, 'todos')).toEqual(['tb1', 'tc1']);
  });

  it('refuses a forbidden write with code forbidden, undoes it on the client, and applies the rest of the push', async () => {
    const alice = await synced('alice');
    const rejected: Array<{ reason: string; key: unknown }> = [];
    alice.on('client_change_rejected', (data: { reason: string; key: unknown }) => rejected.push(data));
    // One push: a list, a todo in it (sees the list created before it), and a todo in bob's list.
    alice.disconnect('batch the writes');
    await alice.insert('lists', { id: 'la2', owner_id: 'alice', name: 'new' });
    await alice.insert('todos', { id: 'ta9', list_id: 'la2', title: 'in my new list', done: 0 });
    await alice.insert('todos', { id: 'tx', list_id: 'lb', title: 'into bob', done: 0 });
    await alice.connect(server.url);
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(rejected).toEqual([expect.objectContaining({ key: 'tx', reason: expect.stringMatching(/^forbidden/) })]);
    expect(await ids(alice, 'todos')).toEqual(['ta1', 'ta9']);
    expect((await server.query<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id)).toEqual(['ta1', 'ta9', 'tb1']);
  });

  it("a user's own write outside their read set is applied and leaves their client", async () => {
    const alice = await synced('alice');
    await alice.insert('list_members', { id: 'm5', list_id: 'la', user_id: 'bob' });
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(await ids(alice, 'list_members')).toEqual([]);
    expect(await server.query('SELECT id, user_id FROM list_members')).toEqual([{ id: 'm5', user_id: 'bob' }]);
  });
}

describe('per-user rules on the wire: nothing outside the set ever leaves the server', () => {
  let server: SyncServer;
  afterEach(async () => {
    await server.close();
  });

  it("bob's connection never carries a row, key or value of alice's private list, whatever happens around it", async () => {
    server = await startRulesServer();
    await server.insert('lists', { id: 'secret-list', owner_id: 'alice', name: 'SECRET-NAME' });
    await server.insert('todos', { id: 'secret-todo', list_id: 'secret-list', title: 'SECRET-TITLE', done: 0 });
    await server.insert('lists', { id: 'lb', owner_id: 'bob', name: "bob's" });
    const peer = await TestPeer.connect(server.url);
    autoAck(peer);
    peer.hello(listsSchema, { clientId: 'bob-peer', token: await tokenFor('bob') });
    await peer.next('welcome');
    // Around bob: alice edits, adds and deletes secret rows, shares her list with someone else,
    // and bob tries to overwrite, take over and delete her rows.
    await server.update('todos', 'secret-todo', { title: 'SECRET-TITLE-2' });
    await server.insert('list_members', { id: 'm-carol', list_id: 'secret-list', user_id: 'carol' });
    await server.insert('todos', { id: 'secret-todo-2', list_id: 'secret-list', title: 'SECRET-TITLE-3', done: 0 });
    await server.delete('todos', 'secret-todo-2');
    peer.send({ type: 'push', changes: [{ id: 'x1', table: 'todos', op: 'update', key: 'secret-todo', row: { title: 'hijack' } }] });
    peer.send({
      type: 'push',
      changes: [{ id: 'x2', table: 'lists', op: 'insert', key: 'secret-list', row: { id: 'secret-list', owner_id: 'bob', name: 'mine now' } }],
    });
    peer.send({ type: 'push', changes: [{ id: 'x3', table: 'todos', op: 'delete', key: 'secret-todo' }] });
    const results = [await peer.next('push_result'), await peer.next('push_result'), await peer.next('push_result')];
    // A change he may see, so we know the stream went past all of the above.
    await server.insert('todos', { id: 'tb1', list_id: 'lb', title: 'his', done: 0 });
    await until(() => peer.messages.some((m) => m.type === 'changes' && m.changes.some((c) => c.key === 'tb1')) || undefined, 5000, 'tb1');
    peer.send({ type: 'ping', id: 1 });
    await peer.next('pong');

    expect(results.map((r) => (r.type === 'push_result' ? r.results[0] : undefined))).toEqual([
      expect.objectContaining({ id: 'x1', status: 'rejected', code: 'forbidden', serverRow: null }),
      expect.objectContaining({ id: 'x2', status: 'rejected', code: 'forbidden', serverRow: null }),
      expect.objectContaining({ id: 'x3', status: 'rejected', code: 'forbidden', serverRow: null }),
    ]);
    const wire = JSON.stringify(peer.messages);
    for (const secret of ['secret-list', 'secret-todo', 'SECRET', 'm-carol', 'carol']) expect(wire).not.toContain(secret);
    expect((await server.query<{ title: string }>("SELECT title FROM todos WHERE id = 'secret-todo'"))[0].title).toBe('SECRET-TITLE-2');
    await peer.close();
  });
});

describe('per-user rules and retention', () => {
  let server: SyncServer;
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('an idle client whose user sees none of the commits is not reset when the log is pruned past its last message', async () => {
    server = await startRulesServer({ retention: { maxChanges: 5 } });
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    const alice = userClient('alice');
    const modes: string[] = [];
    alice.on('connected', (data: { mode: string }) => modes.push(data.mode));
    await alice.connect(server.url);
    await alice.whenSynced({ timeoutMs: 5000 });
    for (let i = 0; i < 20; i++) await server.insert('todos', { id: `tb${i}`, list_id: 'lb', title: 'not hers', done: 0 });
    await server.insert('todos', { id: 'ta1', list_id: 'la', title: 'hers', done: 0 });
    await until(async () => (await ids(alice, 'todos')).includes('ta1'), 5000, 'her todo');
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(modes).toEqual(['initial']);
    expect(await ids(alice, 'todos')).toEqual(['ta1']);
  });
});

describe('per-user rules when a store read fails', () => {
  let server: SyncServer;
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('a session whose set read fails closes with 1011; the client reconnects from its checkpoint and converges', async () => {
    // The embedded store, with rowsAt failing while `failing` is set (a Postgres replicator that
    // does not answer in time fails it the same way).
    const store = createSqliteStore({ schema: listsSchema });
    let failing = false;
    const flaky = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'rowsAt')
          return (...args: Parameters<typeof store.rowsAt>) => (failing ? Promise.reject(new Error('rowsAt refused (injected)')) : target.rowsAt(...args));
        const value = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    server = await startRulesServer({ store: flaky });
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('todos', { id: 'ta1', list_id: 'la', title: 'a1', done: 0 });
    const bob = userClient('bob');
    const closes: string[] = [];
    bob.on('disconnected', (data: { reason?: string }) => closes.push(String(data.reason ?? '')));
    await bob.connect(server.url);
    await bob.whenSynced({ timeoutMs: 5000 });

    failing = true;
    await server.insert('list_members', { id: 'm1', list_id: 'la', user_id: 'bob' }); // his set moves: rowsAt fails
    await until(() => closes.some((reason) => reason.includes('1011')) || undefined, 5000, 'the 1011 close');
    failing = false;
    await until(async () => (await ids(bob, 'todos')).includes('ta1'), 5000, "the shared list's todo after the reconnect");
    await bob.whenSynced({ timeoutMs: 5000 });
    expect(await ids(bob, 'lists')).toEqual(['la']);
    expect(await ids(bob, 'todos')).toEqual(['ta1']);
  });
});

describe('per-user rules: the position message when the window is full', () => {
  let server: SyncServer;
  afterEach(async () => {
    await server.close();
  });

  it('a ping while the changes window is full gets its position message once the client acks', async () => {
    server = await startRulesServer({ limits: { changesWindow: 1 } });
    await server.insert('lists', { id: 'lb', owner_id: 'bob', name: "bob's" });
    const peer = await TestPeer.connect(server.url);
    peer.hello(listsSchema, { clientId: 'bob-peer', token: await tokenFor('bob') });
    await peer.next('welcome');
    await peer.next('snapshot_begin');
    for (const chunk of peer.all('snapshot_chunk')) peer.send({ type: 'snapshot_ack', seq: chunk.seq });
    await peer.next('snapshot_end');
    await peer.settle(50); // the session is caught up: its next change goes out live
    // One change of his, not acked: the window (1) is full. Then commits he cannot see.
    await server.insert('todos', { id: 'tb1', list_id: 'lb', title: 'his', done: 0 });
    const first = await peer.next('changes');
    for (let i = 0; i < 3; i++) await server.insert('todos', { id: `tx${i}`, list_id: 'elsewhere', title: 'not his', done: 0 });
    peer.send({ type: 'ping', id: 1 });
    const pong = await peer.next('pong');
    expect(pong.lsn).toBe(server.currentLsn());
    await peer.settle(100);
    expect(peer.all('changes')).toHaveLength(1); // held back by the window
    peer.send({ type: 'ack', lsn: first.lsn });
    const position = await peer.next('changes');
    expect(position).toEqual({ type: 'changes', lsn: server.currentLsn(), changes: [] });
    await peer.close();
  });
});
