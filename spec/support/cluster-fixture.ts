import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { SyncClient } from '../../src/index.js';
import { createAppDatabase, type AppDatabase, type TestPostgres } from './postgres.js';
import { getJson, startServerProcess, stopAllServerProcesses, type ServerProcess } from './server-process.js';
import { TcpBalancer } from './tcp-balancer.js';
import { cleanupClients, testClient } from './test-client.js';
import { testSchema } from './test-schema.js';
import { until } from './until.js';

/** The test schema's tables in Postgres. */
export const CLUSTER_DDL = `
  CREATE TABLE todos (id text PRIMARY KEY, title text, done boolean, score numeric, meta jsonb);
  CREATE TABLE counters (n integer PRIMARY KEY, label text);`;

/**
 * Several `rxsync serve` processes over one Postgres database, behind a TCP balancer that sends
 * each new connection to the next live process: what an operator runs (docs/deploy.md). The
 * processes are real (kill -9, SIGSTOP, SIGTERM reach them); the clients are Node clients in the
 * spec's process, on the test schema.
 */
export class SyncCluster {
  readonly servers: ServerProcess[] = [];
  /** Stands in for the app's backend: it writes to the tables directly. */
  psql!: pg.Client;
  balancer!: TcpBalancer;
  private dir!: string;
  private schemaFile!: string;

  private constructor(
    readonly postgres: TestPostgres,
    readonly database: AppDatabase,
    private readonly args: readonly string[],
  ) {}

  /**
   * `processes` servers on a fresh database made by `ddl`, serving `schema` (a schema.json's
   * content: tables, and rules if any), each with `args` on top. Default: the test schema.
   */
  static async start(
    postgres: TestPostgres,
    processes: number,
    { ddl = CLUSTER_DDL, schema = { tables: testSchema.tables } as object, args = [] as string[] } = {},
  ): Promise<SyncCluster> {
    const cluster = new SyncCluster(postgres, await createAppDatabase(postgres, ddl), args);
    cluster.dir = mkdtempSync(join(tmpdir(), 'rxsync-cluster-'));
    cluster.schemaFile = join(cluster.dir, 'schema.json');
    writeFileSync(cluster.schemaFile, JSON.stringify(schema));
    await cluster.reconnectPsql();
    cluster.balancer = await TcpBalancer.start(() => cluster.servers.map((server) => server.port));
    // Started at the same moment: the set-up and the election must sort themselves out.
    await Promise.all(Array.from({ length: processes }, () => cluster.addServer()));
    return cluster;
  }

  /** A new backend connection (after a Postgres restart). */
  async reconnectPsql(): Promise<void> {
    await this.psql?.end().catch(() => undefined);
    this.psql = new pg.Client({ connectionString: this.database.connectionString });
    this.psql.on('error', () => undefined); // a Postgres restart in a spec; the spec reconnects
    await this.psql.connect();
  }

  /** One more `rxsync serve` on the database (or on `connectionString`, e.g. through a proxy). */
  async addServer(connectionString = this.database.connectionString): Promise<ServerProcess> {
    const server = await startServerProcess([
      '--schema',
      this.schemaFile,
      '--postgres',
      connectionString,
      '--slot',
      this.database.name,
      '--port',
      '0',
      ...this.args,
    ]);
    this.servers.push(server);
    return server;
  }

  /** The process's role from /healthz, or `down` when it does not answer 200. */
  async role(server: ServerProcess): Promise<string> {
    try {
      const { status, body } = await getJson(server, '/healthz');
      return status === 200 ? String(body.role) : 'down';
    } catch {
      return 'down';
    }
  }

  /** Waits until exactly one of `among` reports `replicator` and the rest `follower`; that one. */
  async replicator(among: ServerProcess[] = this.servers, timeoutMs = 20_000): Promise<ServerProcess> {
    return until(
      async () => {
        const roles = await Promise.all(among.map((server) => this.role(server)));
        const leaders = among.filter((_, i) => roles[i] === 'replicator');
        return leaders.length === 1 && roles.every((role) => role === 'replicator' || role === 'follower') ? leaders[0] : undefined;
      },
      timeoutMs,
      'exactly one replicator',
      100,
    );
  }

  /** A client through the balancer, with a quick heartbeat (a stopped process is noticed in about a second). */
  client(): SyncClient {
    return testClient({ heartbeat: { intervalMs: 300, timeoutMs: 1500 } });
  }

  /** Rows of `todos` in Postgres, by id. */
  async todoIds(): Promise<string[]> {
    const { rows } = await this.psql.query<{ id: string }>('SELECT id FROM todos ORDER BY id COLLATE "C"');
    return rows.map((row) => row.id);
  }

  /** Keys the change log holds more than one insert for: the replicator stored a transaction twice. */
  async insertsLoggedTwice(): Promise<string[]> {
    const { rows } = await this.psql.query<{ key: string }>(
      `SELECT key #>> '{}' AS key FROM rxsync.change_log WHERE op = 'insert' GROUP BY key HAVING count(*) > 1`,
    );
    return rows.map((row) => row.key);
  }

  async stop(): Promise<void> {
    await cleanupClients();
    await stopAllServerProcesses();
    await this.balancer?.close();
    await this.psql?.end().catch(() => undefined);
    await this.database.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Keeps `clients` and the backend writing todos until stop() is called: each client inserts a row
 * every ~40 ms (ids `c<client>-<n>`) and the backend one every 50 ms (`pg-<n>`). Returns the ids
 * it wrote, by whom.
 */
export function writeLoad(cluster: SyncCluster, clients: SyncClient[]): { stop(): Promise<{ byClients: string[]; byBackend: string[] }> } {
  let running = true;
  const byClients: string[] = [];
  const byBackend: string[] = [];
  const loops = clients.map(async (client, c) => {
    for (let n = 0; running; n++) {
      const id = `c${c}-${String(n).padStart(4, '0')}`;
      await client.insert('todos', { id, title: `from client ${c}`, done: 0, score: n, meta: { c, n } });
      byClients.push(id);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  });
  const backend = (async () => {
    for (let n = 0; running; n++) {
      const id = `pg-${String(n).padStart(4, '0')}`;
      try {
        await cluster.psql.query('INSERT INTO todos (id, title, done, score, meta) VALUES ($1, $2, false, $3, $4)', [id, 'from the backend', n, { n }]);
        byBackend.push(id);
      } catch {
        // Postgres restarting: the spec writes again once it is back
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([...loops, backend]);
      return { byClients, byBackend };
    },
  };
}

/**
 * Every client caught up with the server and every one of its writes confirmed (status `applied`),
 * and all of them holding exactly the todos Postgres holds.
 */
export async function expectConverged(cluster: SyncCluster, clients: SyncClient[]): Promise<string[]> {
  for (const client of clients) {
    await until(
      async () => ((await client.localChanges()).every((change) => change.status === 'applied') ? true : undefined),
      30_000,
      'every client write confirmed',
      100,
    );
  }
  const ids = await cluster.todoIds();
  for (const client of clients) {
    await client.whenSynced({ timeoutMs: 30_000 });
    await until(
      async () => {
        const held = (await client.query<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((row) => row.id);
        return JSON.stringify(held) === JSON.stringify(ids) ? true : undefined;
      },
      30_000,
      'the client holds what Postgres holds',
      100,
    );
  }
  return ids;
}
