import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defineSchema, type SyncSchema } from '../protocol/index.js';
import { demoSchema } from '../protocol/demo-schema.js';
import { createSyncServer, type SyncServer } from './server.js';
import { describeConnection } from './store/postgres/describe-connection.js';

export const HELP = `rxsync — the reference sync server

Usage:
  rxsync serve [options]

Options:
  --port <n>       TCP port to listen on (default: $PORT, else 8787; 0 picks a free port)
  --host <addr>    address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --db <path>      SQLite database file, created if missing (default ./data/sync.db;
                   ':memory:' keeps nothing)
  --postgres <url> serve an existing Postgres database instead (wal_level=logical; see
                   docs/postgres.md); DATABASE_URL alone does the same when neither
                   --db nor --postgres is given
  --schema <file>  JSON schema: {"tables": {"todos": {"primaryKey": "id",
                   "columns": {"id": "text", "title": "text"}}}}; column types are
                   text, integer, real and json
  --demo           serve the demo todo schema (instead of --schema) and seed a few todos
  --retention <n>  changes kept in the log for catch-up (default 100000); older
                   clients get a fresh snapshot
  --slot <name>    Postgres: the replication slot (default rxsync; slots are named
                   cluster-wide, so one per database)
  --drop-slot      Postgres: drop the replication slot and the publication, then exit
                   (stop the sync servers first; the next start resets every client)
  -h, --help       show this help

The sync endpoint is ws://HOST:PORT/api/sync; GET /healthz answers {"ok":true,...}.
`;

export interface ServeOptions {
  port: number;
  host: string;
  database: string;
  /** A Postgres connection string: serve that database instead of the SQLite file. */
  postgres?: string;
  slot?: string;
  /** Drop the Postgres slot and publication instead of serving. */
  dropSlot?: boolean;
  schema: SyncSchema;
  demo: boolean;
  retention?: number;
}

/** Parses `serve` arguments; throws an Error with a message meant for the terminal. */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      db: { type: 'string' },
      postgres: { type: 'string' },
      slot: { type: 'string' },
      'drop-slot': { type: 'boolean' },
      schema: { type: 'string' },
      demo: { type: 'boolean' },
      retention: { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port ?? env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port ?? env.PORT}`);
  if (values.demo && values.schema) throw new Error('use either --demo or --schema, not both');
  if (!values.demo && !values.schema) throw new Error('--schema <file> is required (or --demo for the todo demo)');
  const schema = values.demo ? demoSchema : loadSchema(values.schema!);
  if (values.db && values.postgres) throw new Error('use either --db (SQLite) or --postgres, not both');
  const postgres = values.postgres ?? (values.db || values.demo ? undefined : env.DATABASE_URL || undefined);
  if (values.slot && !postgres) throw new Error('--slot is for a Postgres source (--postgres or DATABASE_URL)');
  if (values['drop-slot'] && !postgres) throw new Error('--drop-slot is for a Postgres source (--postgres or DATABASE_URL)');
  const retention = values.retention === undefined ? undefined : Number(values.retention);
  if (retention !== undefined && (!Number.isInteger(retention) || retention < 1)) throw new Error('--retention must be a positive integer');
  return {
    port,
    host: values.host ?? '127.0.0.1',
    database: values.db ?? (values.demo ? './data/demo.db' : './data/sync.db'),
    ...(postgres && { postgres }),
    ...(values.slot && { slot: values.slot }),
    ...(values['drop-slot'] && { dropSlot: true }),
    schema,
    demo: Boolean(values.demo),
    retention,
  };
}

function loadSchema(file: string): SyncSchema {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read schema ${file}: ${(error as Error).message}`, { cause: error });
  }
  return defineSchema(json);
}

export async function serve(options: ServeOptions): Promise<SyncServer> {
  const retention = options.retention === undefined ? undefined : { maxChanges: options.retention };
  const server = await createSyncServer({
    schema: options.schema,
    port: options.port,
    host: options.host,
    ...(options.postgres
      ? { postgres: { connectionString: options.postgres, slot: options.slot, retention } }
      : { sqlite: { database: options.database, retention } }),
    // --demo also serves the demo todo app (dist/web, built by scripts/build-demo.mjs) at /.
    httpHandler: options.demo ? (await import('./static-files.js')).demoHttpHandler() : undefined,
  });
  if (options.demo) await seedDemo(server);
  return server;
}

async function seedDemo(server: SyncServer): Promise<void> {
  const [{ n }] = await server.query<{ n: number }>('SELECT count(*) AS n FROM todos');
  if (n > 0) return;
  const titles = ['Try rxsync', 'Open a second window', 'Go offline, edit, come back'];
  for (const [i, title] of titles.entries()) {
    await server.insert('todos', { id: `demo-${i + 1}`, title, done: 0, updated_at: new Date().toISOString() });
  }
}

/**
 * The `rxsync` command. Returns the exit code (the server keeps the process alive).
 * @public (bin/rxsync.js runs it from dist/, where the unused-export check does not look)
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return command ? 0 : 1;
  }
  if (command !== 'serve') {
    process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
    return 2;
  }
  let options: ServeOptions;
  try {
    options = parseServeArgs(rest);
  } catch (error) {
    process.stderr.write(`rxsync: ${(error as Error).message}\n(see rxsync --help)\n`);
    return 2;
  }
  if (options.dropSlot) return dropSlot(options);
  let server: SyncServer;
  try {
    server = await serve(options);
  } catch (error) {
    process.stderr.write(`rxsync: ${(error as Error).message}\n`);
    return 1;
  }
  const httpUrl = server.url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '');
  const source = options.postgres ? describeConnection(options.postgres) : options.database;
  process.stdout.write(`rxsync server listening: ${server.url} (health: ${httpUrl}/healthz, db: ${source})\n`);
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return 0;
}

/** `--drop-slot`: removes the Postgres source's slot and publication, and says what it did. */
async function dropSlot(options: ServeOptions): Promise<number> {
  const [{ default: pg }, { dropReplicationSetup }] = await Promise.all([import('pg'), import('./store/postgres/setup.js')]);
  const db = new pg.Client({ connectionString: options.postgres });
  const slot = options.slot ?? 'rxsync';
  try {
    await db.connect();
    const dropped = await dropReplicationSetup(db, { slot });
    process.stdout.write(
      `rxsync: ${dropped.slot ? `dropped replication slot ${slot}` : `no replication slot ${slot}`}, ${dropped.publication ? 'dropped publication rxsync' : 'no publication rxsync'} (${describeConnection(options.postgres!)})\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`rxsync: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await db.end().catch(() => undefined);
  }
}
