import fc from 'fast-check';
import { commandArbitraries, type Model } from './commands.js';
import { World } from './harness.js';

/**
 * Model-based fault-injection test: random client writes on a small key space, server writes,
 * network cuts and partitions, client and server restarts and resets, then heal and check every
 * guarantee of docs/architecture.md on the real system. `npm test` runs a small fixed-seed version;
 * `npm run soak` a long one (SOAK_RUNS, SOAK_COMMANDS). A failure prints the seed and the shrunk
 * command list; MODEL_SEED (and MODEL_PATH, printed by fast-check) replay it.
 */
const runs = Number(process.env.SOAK_RUNS ?? process.env.MODEL_RUNS ?? 25);
const maxCommands = Number(process.env.SOAK_COMMANDS ?? process.env.MODEL_COMMANDS ?? 40);
const seed = Number(process.env.MODEL_SEED ?? 20261125);
const CLIENTS = 2;

const ORDERED_TODOS = 'SELECT id, title, done FROM todos ORDER BY id';
const ORDERED_COUNTERS = 'SELECT n, label FROM counters ORDER BY n';

async function checkInvariants(world: World): Promise<void> {
  const serverTodos = await world.server.query(ORDERED_TODOS);
  const serverCounters = await world.server.query<{ n: number }>(ORDERED_COUNTERS);
  const log = await world.server.store.changesSince('0/0', 1_000_000);
  const perChange = new Map<string, number>();
  for (const change of log)
    if (change.origin)
      perChange.set(`${change.origin.clientId}/${change.origin.changeId}`, (perChange.get(`${change.origin.clientId}/${change.origin.changeId}`) ?? 0) + 1);

  for (const [i, client] of world.clients.entries()) {
    // Convergence: every client equals the server, row for row.
    expect({ client: i, todos: await client.query(ORDERED_TODOS) }).toEqual({ client: i, todos: serverTodos });
    expect({ client: i, counters: await client.query(ORDERED_COUNTERS) }).toEqual({ client: i, counters: serverCounters });
    const entries = await client.localChanges();
    // The outbox drains: nothing pending, sent or given up on.
    expect({ client: i, open: entries.filter((e) => e.status !== 'applied' && e.status !== 'rejected').map((e) => `${e.op} ${e.key} ${e.status}`) }).toEqual({
      client: i,
      open: [],
    });
    // Exactly once in effect: no change of this client is in the server's log twice; every
    // applied insert or update is there once.
    for (const entry of entries) {
      const count = perChange.get(`${client.clientId}/${entry.id}`) ?? 0;
      expect({ change: `${entry.op} ${entry.key}`, count: Math.min(count, 2) }).toEqual({
        change: `${entry.op} ${entry.key}`,
        count: entry.status === 'applied' && entry.op !== 'delete' ? 1 : Math.min(count, 1),
      });
    }
  }
  // Every unique-key insert the API confirmed is on the server.
  const onServer = new Set(serverCounters.map((row) => row.n));
  expect(world.confirmedUnique.filter((n) => !onServer.has(n))).toEqual([]);
  // No LSN ever went backwards on any client.
  expect(world.problems).toEqual([]);
}

/** What a person debugging a failure wants to see: each side's rows, LSN and outbox. */
async function describeWorld(world: World): Promise<string> {
  const clients = await Promise.all(
    world.clients.map(async (c, i) => ({
      journal: world.journal[i].slice(-12),
      id: c.clientId,
      lsn: c.currentLsn,
      status: c.currentStatus,
      session: (({ connection }) => connection.session && { id: connection.session.id, serverHead: connection.session.serverHead })(c as any),
      todos: await c.query(ORDERED_TODOS),
      counters: await c.query(ORDERED_COUNTERS),
      changes: (await c.localChanges()).map(
        (e) =>
          `${e.id.slice(0, 8)} ${e.op} ${e.table} ${e.key} ${e.status} x${e.attempts} ${e.lsn ?? ''}${e.status === 'applied' ? '' : ` ${JSON.stringify([...new Set(e.errors.map((x) => x.message))].slice(-4))}`}`,
      ),
    })),
  );
  const server = { lsn: world.server.currentLsn(), todos: await world.server.query(ORDERED_TODOS), counters: await world.server.query(ORDERED_COUNTERS) };
  return JSON.stringify({ server, clients }, null, 1);
}

describe('model-based fault injection', () => {
  it(
    `keeps every invariant over ${runs} runs of up to ${maxCommands} commands (seed ${seed})`,
    async () => {
      const totals = { runs: 0, commands: 0, faults: 0 };
      await fc.assert(
        fc.asyncProperty(fc.commands(commandArbitraries(CLIENTS), { maxCommands, size: 'max' }), async (commands) => {
          const world = new World();
          await world.start(CLIENTS);
          try {
            await fc.asyncModelRun(() => ({ model: { clients: CLIENTS } as Model, real: world }), commands);
            await world
              .settle()
              .then(() => checkInvariants(world))
              .catch(async (error) => {
                console.log(`model: failing state\n${await describeWorld(world)}`);
                throw error;
              });
          } finally {
            totals.runs += 1;
            totals.commands += [...commands].length;
            totals.faults += world.faults;
            await world.stop();
          }
        }),
        { numRuns: runs, seed, path: process.env.MODEL_PATH, endOnFailure: !process.env.MODEL_SHRINK, verbose: 1 },
      );
      console.log(`model: ${totals.runs} runs, ${totals.commands} commands, ${totals.faults} faults injected, every invariant held`);
    },
    Math.max(120_000, runs * 15_000),
  );
});
