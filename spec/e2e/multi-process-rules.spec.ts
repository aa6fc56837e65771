import type { SyncClient } from '../../src/index.js';
import { SyncCluster } from '../support/cluster-fixture.js';
import { useTestPostgres } from '../support/postgres.js';
import { ids, LISTS_DDL, listsRules, listsSchema, SECRET, userClient } from '../support/rules-fixture.js';
import { until } from '../support/until.js';

/**
 * Per-user rules over several processes (docs/rules.md, docs/deploy.md): each process works out
 * its own sessions' rows from the shared change log, so a user's rows move when another user's
 * write lands on another process, and a user who moves to another process carries on from their
 * checkpoint. Nothing needs sticky sessions.
 */
describe('per-user rules over several sync processes', () => {
  const postgres = useTestPostgres();
  let cluster: SyncCluster;

  beforeEach(async () => {
    cluster = await SyncCluster.start(postgres(), 2, {
      ddl: LISTS_DDL,
      schema: { tables: listsSchema.tables, rules: listsRules },
      args: ['--jwt-secret', SECRET],
    });
  }, 60_000);
  afterEach(async () => {
    await cluster.stop();
  });
  jest.setTimeout(120_000);

  const rowsOf = async (client: SyncClient) => ({ lists: await ids(client, 'lists'), todos: await ids(client, 'todos') });
  const eventually = (client: SyncClient, expected: { lists: string[]; todos: string[] }, what: string) =>
    until(async () => (JSON.stringify(await rowsOf(client)) === JSON.stringify(expected) ? true : undefined), 20_000, what, 50);

  it("moves a user's rows when another user's write on another process shares a list, and again after the user moves process", async () => {
    await cluster.replicator();
    const [a, b] = cluster.servers;
    await cluster.psql.query(`
      INSERT INTO lists VALUES ('bob-list', 'bob', 'groceries'), ('alice-list', 'alice', 'books');
      INSERT INTO todos VALUES ('bob-1', 'bob-list', 'milk', 0), ('bob-2', 'bob-list', 'eggs', 0), ('alice-1', 'alice-list', 'dune', 0);`);
    const bob = userClient('bob', { heartbeat: { intervalMs: 300, timeoutMs: 1500 } });
    await bob.connect(a.url);
    // Alice on the other process, then on the first when hers drains.
    const alice = userClient('alice', { heartbeat: { intervalMs: 300, timeoutMs: 1500 } });
    const modes: string[] = [];
    alice.on('connected', (event: { mode: string }) => modes.push(event.mode));
    await alice.connect([b.url, a.url], { urlOrder: 'listed' });
    await eventually(alice, { lists: ['alice-list'], todos: ['alice-1'] }, "alice's own rows");

    // Bob shares his list on process A: Alice, on B, gets it and its todos.
    await bob.whenSynced({ timeoutMs: 10_000 });
    await bob.insert('list_members', { id: 'm1', list_id: 'bob-list', user_id: 'alice' });
    await eventually(alice, { lists: ['alice-list', 'bob-list'], todos: ['alice-1', 'bob-1', 'bob-2'] }, 'the shared list reaching alice');

    // B drains (a deploy): Alice moves to A and resumes from her checkpoint, without a snapshot.
    const initialModes = modes.length;
    b.signal('SIGTERM');
    expect(await b.exited).toBe(0);
    await until(() => modes.length > initialModes || undefined, 20_000, 'alice reconnected elsewhere');
    expect(modes.slice(initialModes).every((mode) => mode === 'catchup' || mode === 'live')).toBe(true);

    // Bob unshares on A, where Alice is now: the list and its todos leave her client.
    await bob.delete('list_members', 'm1');
    await eventually(alice, { lists: ['alice-list'], todos: ['alice-1'] }, 'the list leaving alice');
    expect(await rowsOf(bob)).toEqual({ lists: ['bob-list'], todos: ['bob-1', 'bob-2'] });
  });
});
