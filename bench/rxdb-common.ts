/**
 * Shared by the RxDB peer benches (bench/rxdb-initial-sync.ts, bench/rxdb-latency.ts) and their
 * server process (bench/rxdb-server.ts): the RxDB schema equivalent to bench/fixtures.ts's `items`
 * table, the database setup and the forked server.
 *
 * RxDB setup: RxDB's open-core package only. Memory storage (`getRxStorageMemory`) on both sides,
 * `multiInstance: false` (no BroadcastChannel / leader election), `eventReduce: true` (the default),
 * no dev-mode plugin (so no schema/document checks, no dev-mode console banner) and no validation
 * plugin (RxDB then does not check document values against the schema at all).
 */
import { createRxDatabase, type RxCollection, type RxDatabase, type RxJsonSchema } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { TABLE, type benchRow } from './fixtures.js';
import { benchScript, startForkedServer, type ForkedServer } from './forked-server.js';

/**
 * The pull batch size the RxDB benches use by default. bench/rxdb-initial-sync.ts --sweep on the
 * 2-core bench machine: 2,000–10,000 form a plateau (within noise of each other), 1,000 is 20–35%
 * slower, RxDB's default of 100 ~8x slower (see that file's header).
 */
export const RXDB_BATCH_SIZE = 5000;

export type ItemDoc = ReturnType<typeof benchRow>;
export type ItemsDatabase = RxDatabase<{ [TABLE]: RxCollection<ItemDoc> }>;

/**
 * bench/fixtures.ts's table as an RxDB JSON schema. RxDB requires a maxLength on the primary key
 * (the bench's ids are 12 characters; the latency bench's up to ~10), and has no integer/real split
 * beyond JSON schema's `integer` and `number`.
 */
export const itemsSchema: RxJsonSchema<ItemDoc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 32 },
    title: { type: 'string' },
    body: { type: 'string' },
    n: { type: 'integer' },
    x: { type: 'number' },
    updated_at: { type: 'string' },
  },
  required: ['id', 'title', 'body', 'n', 'x', 'updated_at'],
};

/** `validate`: wrap the storage in RxDB's free ajv validation (checks every written document against the schema). */
export async function createItemsDatabase(name: string, options: { validate?: boolean } = {}): Promise<ItemsDatabase> {
  const db = (await createRxDatabase({
    name,
    storage: options.validate ? wrappedValidateAjvStorage({ storage: getRxStorageMemory() }) : getRxStorageMemory(),
    multiInstance: false,
    eventReduce: true,
  })) as ItemsDatabase;
  await db.addCollections({ [TABLE]: { schema: itemsSchema } });
  return db;
}

/**
 * RxDB's open core prints no premium nag for the memory storage and, without the dev-mode plugin,
 * no dev-mode banner. The one console line it may print is the websocket client's
 * "--- WAS CLIENT GOT ERROR:" (console.log, plugins/replication-websocket/websocket-client.js) when
 * a socket errors, e.g. as a server process is closed under a still-open client. That line has no
 * off switch, so it is filtered here, counted, and reported at the end.
 */
export const silenced: string[] = [];
export function quietRxdb(): void {
  const log = console.log.bind(console);
  let swallowNext = false;
  console.log = (...args: unknown[]) => {
    const first = typeof args[0] === 'string' ? args[0] : '';
    if (first.startsWith('--- WAS CLIENT GOT ERROR')) {
      silenced.push(first);
      swallowNext = true; // the next console.log is that error's message
      return;
    }
    if (swallowNext) {
      swallowNext = false;
      silenced.push(String(args[0]));
      return;
    }
    log(...args);
  };
}

// ---- the server process --------------------------------------------------------------------

/** What bench/rxdb-server.ts reports once it listens. */
interface RxdbServerReady {
  type: 'ready';
  url: string;
  seedMs: number;
  rows: number;
  pid: number;
}

export type RxdbServer = ForkedServer<RxdbServerReady> & {
  /** The server process's CPU time so far (ms). */
  cpuMs(): Promise<number>;
};

export async function startRxdbServer(rows: number, bench: string): Promise<RxdbServer> {
  // A server that does not exit on 'close' is killed after 3 s, so that the bench does not hang on it.
  const server = await startForkedServer<RxdbServerReady>(benchScript('rxdb-server', bench), { rows }, { label: 'RxDB server process', killAfterMs: 3000 });
  return { ...server, cpuMs: () => server.request<{ ms: number }>({ type: 'cpu' }, 'cpu').then((r) => r.ms) };
}
