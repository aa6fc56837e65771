import type { SyncClient } from '../../src/index.js';
import type { Row } from '../../src/protocol/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { prng, type Random } from '../support/prng.js';
import { useTestPostgres } from '../support/postgres.js';
import { postgresRulesServers, startRulesServer, userClient } from '../support/rules-fixture.js';
import { cleanupClients } from '../support/test-client.js';

/**
 * Per-user rules under random writes: four users, each with a real client, and a sequence of
 * backend writes and client writes (some forbidden) over lists, memberships and todos, with
 * clients dropping off and coming back. Once everyone is connected and synced, each client must
 * hold exactly the rows a plain model of the rules (written here without the rules code) gives
 * for that user from the server's final tables: row for row, every column.
 */
const USERS = ['u0', 'u1', 'u2', 'u3'];
/** More with RULES_FUZZ_SEEDS=n (a soak); CI runs eight on SQLite and two on Postgres. */
const seeds = (n: number) => Array.from({ length: Number(process.env.RULES_FUZZ_SEEDS ?? n) }, (_, i) => 11 + i);
const STEPS = 120;

describe('per-user rules, randomized against a model, SQLite store', () => {
  fuzzSuite(seeds(8), () => startRulesServer());
});

describe('per-user rules, randomized against a model, Postgres store', () => {
  const postgres = postgresRulesServers(useTestPostgres());
  fuzzSuite(
    seeds(2),
    () => postgres.start(),
    () => postgres.drop(),
  );
});

/** The randomized run for each seed, on the server `start` makes; `stopped` runs once it closed. */
function fuzzSuite(seedList: number[], start: () => Promise<SyncServer>, stopped?: () => Promise<void>): void {
  let server: SyncServer;
  afterEach(async () => {
    await cleanupClients();
    await server.close();
    await stopped?.();
  });

  it.each(seedList)(
    'seed %i: every client converges to exactly its user’s rows',
    async (seed) => {
      const random = prng(seed);
      server = await start();
      const clients = new Map<string, SyncClient>(USERS.map((user) => [user, userClient(user)]));
      await Promise.all([...clients.values()].map((client) => client.connect(server.url)));
      const online = new Set(USERS);
      let n = 0;
      for (let step = 0; step < STEPS; step++) {
        n += 1;
        const roll = random.next();
        if (roll < 0.1) {
          const user = random.pick(USERS);
          const client = clients.get(user)!;
          if (online.delete(user)) client.disconnect('fuzz: away');
          else {
            online.add(user);
            void client.connect(server.url);
          }
        } else if (roll < 0.55) {
          await backendWrite(server, random, n);
        } else {
          const user = random.pick(USERS);
          await clientWrite(clients.get(user)!, user, server, random, n).catch(() => undefined);
        }
        if (random.chance(0.2)) await new Promise((resolve) => setImmediate(resolve));
      }
      for (const user of USERS) if (!online.has(user)) void clients.get(user)!.connect(server.url);
      // Quiet: every outbox empty, then every client at the head as of after that (one client's
      // last push may land after another client was already synced).
      await Promise.all([...clients.values()].map((client) => client.whenSynced({ timeoutMs: 15_000 })));
      await Promise.all([...clients.values()].map((client) => client.whenSynced({ timeoutMs: 15_000 })));

      const tables = await serverTables(server);
      for (const [user, client] of clients) {
        const expected = visibleTo(user, tables);
        for (const table of ['lists', 'list_members', 'todos', 'tags'] as const) {
          const held = await client.query<Row>(`SELECT * FROM ${table} ORDER BY id`);
          expect({ user, table, rows: held }).toEqual({ user, table, rows: expected[table] });
        }
      }
    },
    60_000,
  );
}

type Tables = Record<'lists' | 'list_members' | 'todos' | 'tags', Row[]>;

async function serverTables(server: SyncServer): Promise<Tables> {
  const read = (table: string) => server.query<Row>(`SELECT * FROM ${table} ORDER BY id`);
  return { lists: await read('lists'), list_members: await read('list_members'), todos: await read('todos'), tags: await read('tags') };
}

/** The rules of spec/support/rules-fixture.ts, written out plainly. */
function visibleTo(user: string, tables: Tables): Tables {
  const memberOf = new Set(tables.list_members.filter((m) => m.user_id === user).map((m) => m.list_id));
  const owns = new Set(tables.lists.filter((l) => l.owner_id === user).map((l) => l.id));
  return {
    lists: tables.lists.filter((l) => l.owner_id === user || memberOf.has(l.id)),
    list_members: [],
    todos: tables.todos.filter((t) => memberOf.has(t.list_id) || owns.has(t.list_id)),
    tags: tables.tags,
  };
}

const LISTS = ['l0', 'l1', 'l2', 'l3', 'l4'];

async function backendWrite(server: SyncServer, random: Random, n: number): Promise<void> {
  const tables = await serverTables(server);
  const kind = random.pick(['list', 'list', 'member', 'member', 'member', 'todo', 'todo', 'todo', 'move', 'drop', 'tag']);
  switch (kind) {
    case 'list': {
      const id = random.pick(LISTS);
      const row = { id, owner_id: random.pick(USERS), name: `list ${n}` };
      if (tables.lists.some((l) => l.id === id)) await server.update('lists', id, { owner_id: row.owner_id, name: row.name });
      else await server.insert('lists', row);
      return;
    }
    case 'member':
      await server.insert('list_members', { id: `m${n}`, list_id: random.pick(LISTS), user_id: random.pick(USERS) });
      return;
    case 'todo':
      await server.insert('todos', { id: `t${n}`, list_id: random.pick(LISTS), title: `todo ${n}`, done: 0 });
      return;
    case 'move': {
      const todo = tables.todos.length ? random.pick(tables.todos) : undefined;
      if (todo) await server.update('todos', todo.id as string, { list_id: random.pick(LISTS), title: `moved ${n}` });
      return;
    }
    case 'drop': {
      const pool = random.chance(0.5) ? ('list_members' as const) : ('todos' as const);
      const row = tables[pool].length ? random.pick(tables[pool]) : undefined;
      if (row) await server.delete(pool, row.id as string);
      return;
    }
    case 'tag':
      await server.insert('tags', { id: `g${n}`, name: `tag ${n}` });
      return;
  }
}

/** A user's own write through their client: allowed or not, the server decides. */
async function clientWrite(client: SyncClient, user: string, server: SyncServer, random: Random, n: number): Promise<void> {
  const kind = random.pick(['todo', 'todo', 'list', 'share', 'edit']);
  switch (kind) {
    case 'todo':
      await client.insert('todos', { id: `c${n}`, list_id: random.pick(LISTS), title: `by ${user}`, done: 0 });
      return;
    case 'list':
      await client.insert('lists', { id: `cl${n}`, owner_id: random.chance(0.8) ? user : random.pick(USERS), name: `${user}'s` });
      return;
    case 'share':
      await client.insert('list_members', { id: `cm${n}`, list_id: random.pick(LISTS), user_id: random.pick(USERS) });
      return;
    case 'edit': {
      const mine = await client.query<{ id: string }>('SELECT id FROM todos ORDER BY id');
      if (mine.length) await client.update('todos', random.pick(mine).id, { title: `edited by ${user} ${n}`, list_id: random.pick(LISTS) });
      void server;
      return;
    }
  }
}
