import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway PostgreSQL cluster with `wal_level=logical`, for the specs of the Postgres source. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication, loopback only). */
  readonly connectionString: string;
  readonly port: number;
  /** Stops the server (by its data directory, fast shutdown) and removes every file it had. */
  stop(): Promise<void>;
  /** Restarts the server (fast shutdown: every connection is cut), keeping its data and port. */
  restart(): Promise<void>;
}

/** The binaries of the newest PostgreSQL installed the Debian way (they are not on PATH). */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) {
    throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql (.ci/run does)');
  }
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a fresh cluster in a temporary folder (about 2 s): initdb, then pg_ctl with logical
 * replication on, listening on 127.0.0.1 and a socket in that folder only. initdb refuses to run
 * as root, so as root the cluster belongs to the `postgres` user and its commands run as that
 * user (runuser). `stop()` must be called (afterAll): it stops the server by its data folder.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  // initdb refuses root: as root, every command runs as the postgres user.
  const command = (name: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, name), ...args]] : [join(bin, name), args];
  const run = (name: string, args: string[]) => execFileSync(...command(name, args), { stdio: 'pipe' });
  if (asRoot) {
    const postgres = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const group = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, postgres, group);
    chmodSync(dir, 0o700);
  }
  const port = await freePort();
  const options = [
    '-c wal_level=logical',
    '-c max_wal_senders=10',
    '-c max_replication_slots=10',
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off', // a throwaway cluster: durability is not what these specs test
  ].join(' ');
  try {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', 'start']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a test PostgreSQL: ${(error as { stderr?: Buffer }).stderr?.toString() ?? (error as Error).message}`, { cause: error });
  }
  let stopped = false;
  return {
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart() {
      // Not execFileSync: this process must go on answering its replication connection while
      // Postgres shuts down (a walsender waits for its client's last reply), as any real client does.
      // -l again: without it the server would log to this pipe, which is never closed.
      await new Promise<void>((resolve, reject) =>
        execFile(...command('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-m', 'fast', '-w', 'restart', '-o', options]), (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      spawnSync(...command('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']), { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A database of its own for one store, owned by a least-privileged role, and how to remove it. */
export interface AppDatabase {
  /** `postgres://app:secret@127.0.0.1:PORT/NAME`: the role has LOGIN and REPLICATION, no superuser. */
  readonly connectionString: string;
  readonly name: string;
  /** Drops the database's replication slots and the database (its connections are ended). */
  drop(): Promise<void>;
}

let databases = 0;

/**
 * Creates a fresh database owned by the role `app` (LOGIN REPLICATION, created on first use), runs
 * `ddl` in it as that role, and returns its connection string: the privileges a production
 * database grants a sync server.
 */
export async function createAppDatabase(postgres: TestPostgres, ddl: string): Promise<AppDatabase> {
  const { Client } = (await import('pg')).default;
  const admin = new Client({ connectionString: postgres.connectionString });
  await admin.connect();
  const name = `app_${process.pid}_${++databases}`;
  try {
    const role = await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = 'app'`);
    if (role.rowCount === 0) await admin.query(`CREATE ROLE app LOGIN REPLICATION PASSWORD 'secret'`).catch(() => undefined);
    await admin.query(`CREATE DATABASE ${name} OWNER app`);
  } finally {
    await admin.end();
  }
  const connectionString = `postgres://app:secret@127.0.0.1:${postgres.port}/${name}`;
  const app = new Client({ connectionString });
  await app.connect();
  try {
    await app.query(ddl);
  } finally {
    await app.end();
  }
  return {
    connectionString,
    name,
    async drop() {
      const admin = new Client({ connectionString: postgres.connectionString });
      await admin.connect();
      try {
        await admin.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, [name]);
        await admin.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, [name]);
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * A throwaway cluster for the specs of the enclosing describe block (or file): started before
 * them, stopped after them. Returns a getter, valid from the first spec on.
 */
export function useTestPostgres(): () => TestPostgres {
  let postgres: TestPostgres | undefined;
  beforeAll(async () => {
    postgres = await startPostgres();
  }, 30_000);
  afterAll(async () => {
    await postgres?.stop();
  });
  return () => {
    if (!postgres) throw new Error('the test PostgreSQL is not running (useTestPostgres runs it in beforeAll)');
    return postgres;
  };
}
