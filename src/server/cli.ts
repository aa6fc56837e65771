import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { defineSchema, type SyncSchema } from '../protocol/index.js';
import { createJwtVerifier, type JwtOptions } from './auth/jwt-verifier.js';
import { createDemoSecret, demoListsSchema, demoRoutes, demoRules, demoStartMessage, seedDemo } from './demo.js';
import type { CompiledRules } from './rules/ast.js';
import { compileRules } from './rules/compile-rules.js';
import { RulesError } from './rules/errors.js';
import { loadRules } from './rules/load-rules.js';
import type { SyncServerOptions } from './options.js';
import { createSyncServer, type SyncServer } from './server.js';
import { describeConnection } from './store/postgres/describe-connection.js';
import { createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from './ops/logger.js';
import { storeHealth } from './ops/routes.js';
import type { Logger } from 'pino';

export const HELP = `rxsync — the reference sync server

Usage:
  rxsync serve [options]
  rxsync --version

The embedded SQLite store needs better-sqlite3 and the server needs ws, optional peer
dependencies of rxsync: npm install rxsync better-sqlite3 ws (Postgres alone: rxsync ws).

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
                   text, integer, real and json; a "rules" key next to "tables" holds
                   per-user rules (as in a --rules file)
  --demo           serve the demo (instead of --schema): lists that alice and bob own
                   or share, with per-user rules, seeded data, the demo page at / and
                   tokens signed with a secret made at start (printed with a token for
                   each user); data in ./data/demo-lists.db
  --retention <n>  changes kept in the log for catch-up (default 100000); older
                   clients get a fresh snapshot
  --slot <name>    Postgres: the replication slot (default rxsync; slots are named
                   cluster-wide, so one per database)
  --drop-slot      Postgres: drop the replication slot and the publication, then exit
                   (stop the sync servers first; the next start resets every client)
  --log-level <l>  how much the JSON logs (stdout, one object a line) say: trace, debug,
                   info, warn, error, fatal or silent (default $RXSYNC_LOG_LEVEL, else info)
  -h, --help       show this help

Per-user rules and tokens (docs/rules.md; rules need the SQLite store for now):
  --rules <file>          rules file, YAML or JSON: which rows each user syncs and which
                          writes each may make; checked against the schema at start
  --jwt-secret <s>        verify client tokens as HS256 JWTs signed with this secret;
                          better: set RXSYNC_JWT_SECRET (used when no key flag is given),
                          which \`ps\` does not show
  --jwt-public-key <file> ... signed with this key's private half (PEM: RSA, EC or Ed25519)
  --jwks-url <url>        ... signed with a key of this JSON Web Key Set
  --jwt-audience <a>      tokens must name this audience (aud)
  --jwt-issuer <i>        tokens must come from this issuer (iss)
  One key source at most. A token's claims are what rules read as auth.<claim> (auth.sub
  is the user); a refused token closes the connection with 4401, an expired one with 4403.

The sync endpoint is ws://HOST:PORT/api/sync; GET /healthz answers {"ok":true,...}.
GET /readyz answers 200 while this process should get clients, GET /metrics Prometheus text;
SIGTERM drains: clients reconnect elsewhere (1012), then exit 0 (docs/operations.md).
With --demo, POST /demo/token?user=alice (or bob) answers a demo token.
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
  /** Per-user rules, checked against the schema: from --rules, the schema file's `rules`, or the demo's. */
  rules?: CompiledRules;
  /** How client tokens are verified: from the token flags (or RXSYNC_JWT_SECRET), or the demo's secret. */
  jwt?: JwtOptions;
  demo: boolean;
  retention?: number;
  /** How much the JSON logs say: from --log-level, else RXSYNC_LOG_LEVEL, else info. */
  logLevel: LogLevel;
  /** What is worth saying at start without stopping it (main prints each to stderr). */
  warnings: string[];
}

/** The flags that choose how tokens are verified; `--demo` brings its own. */
const TOKEN_FLAGS = ['rules', 'jwt-secret', 'jwt-public-key', 'jwks-url', 'jwt-audience', 'jwt-issuer'] as const;
/** Shorter HS256 secrets can be guessed offline from any one token. */
const MIN_SECRET_LENGTH = 32;

/**
 * Parses `serve` arguments and reads the files they name (schema, rules, public key); throws an
 * Error with a message meant for the terminal (a RulesError for a mistake in the rules).
 */
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
      rules: { type: 'string' },
      'jwt-secret': { type: 'string' },
      'jwt-public-key': { type: 'string' },
      'jwks-url': { type: 'string' },
      'jwt-audience': { type: 'string' },
      'jwt-issuer': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port ?? env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port ?? env.PORT}`);
  if (values.demo && values.schema) throw new Error('use either --demo or --schema, not both');
  if (!values.demo && !values.schema) throw new Error('--schema <file> is required (or --demo for the todo demo)');
  const demoConflict = values.demo && TOKEN_FLAGS.find((flag) => values[flag] !== undefined);
  if (demoConflict) throw new Error(`--demo brings its own rules and signs its own tokens: --${demoConflict} is for a server of yours (--schema)`);
  const schemaFile = values.demo ? { schema: demoListsSchema, rules: undefined } : loadSchema(values.schema!);
  const { schema } = schemaFile;
  if (values.db && values.postgres) throw new Error('use either --db (SQLite) or --postgres, not both');
  const postgres = values.postgres ?? (values.db || values.demo ? undefined : env.DATABASE_URL || undefined);
  if (values.slot && !postgres) throw new Error('--slot is for a Postgres source (--postgres or DATABASE_URL)');
  if (values['drop-slot'] && !postgres) throw new Error('--drop-slot is for a Postgres source (--postgres or DATABASE_URL)');
  const retention = values.retention === undefined ? undefined : Number(values.retention);
  if (retention !== undefined && (!Number.isInteger(retention) || retention < 1)) throw new Error('--retention must be a positive integer');
  const logLevel = values['log-level'] ?? (env.RXSYNC_LOG_LEVEL || 'info');
  if (!isLogLevel(logLevel)) {
    throw new Error(`${values['log-level'] === undefined ? 'RXSYNC_LOG_LEVEL' : '--log-level'} must be one of ${LOG_LEVELS.join(', ')}, got ${logLevel}`);
  }

  const warnings: string[] = [];
  let rules: CompiledRules | undefined;
  if (values.demo) rules = compileRules(demoRules, schema, { file: 'src/server/demo.ts' });
  else if (values.rules !== undefined) {
    rules = readRules(values.rules, schema);
    if (schemaFile.rules) warnings.push(`--rules ${values.rules} replaces the rules in ${values.schema}`);
  } else rules = schemaFile.rules;
  // The demo makes its own tables and data: it runs on its own SQLite database, never on an app's Postgres.
  if (values.demo && postgres && !values['drop-slot']) throw new Error('--demo serves its own SQLite database; it does not run on --postgres');
  const jwt = values.demo ? { secret: createDemoSecret() } : tokenOptions(values, env, warnings);
  if (rules && !jwt) {
    warnings.push(
      'rules without a token source (--jwt-secret, RXSYNC_JWT_SECRET, --jwt-public-key or --jwks-url): every client is anonymous, with no claims, so auth.<claim> is NULL and whatever a rule guards with a claim is refused to everyone',
    );
  }
  return {
    port,
    host: values.host ?? '127.0.0.1',
    database: values.db ?? (values.demo ? './data/demo-lists.db' : './data/sync.db'),
    ...(postgres && { postgres }),
    ...(values.slot && { slot: values.slot }),
    ...(values['drop-slot'] && { dropSlot: true }),
    schema,
    ...(rules && { rules }),
    ...(jwt && { jwt }),
    demo: Boolean(values.demo),
    retention,
    logLevel,
    warnings,
  };
}

/** A schema file, and the rules it carries under `rules` (checked against its tables). */
function loadSchema(file: string): { schema: SyncSchema; rules?: CompiledRules } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read schema ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || !('rules' in json)) return { schema: defineSchema(json) };
  const { rules: definition, ...tables } = json as { rules: unknown };
  const schema = defineSchema(tables);
  try {
    return { schema, rules: compileRules(definition, schema, { file }) };
  } catch (error) {
    // Placed under the key they sit at in the schema file.
    if (error instanceof RulesError) throw error.at({ file, path: error.path ? `rules.${error.path}` : 'rules' });
    throw error;
  }
}

function readRules(file: string, schema: SyncSchema): CompiledRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read rules ${file}: ${(error as Error).message}`, { cause: error });
  }
  return loadRules(text, schema, file);
}

type TokenFlags = Partial<Record<(typeof TOKEN_FLAGS)[number], string>>;

/** The JWT settings the flags ask for, checked now (a bad key stops the start), or undefined. */
function tokenOptions(values: TokenFlags, env: NodeJS.ProcessEnv, warnings: string[]): JwtOptions | undefined {
  const given = (['jwt-secret', 'jwt-public-key', 'jwks-url'] as const).filter((flag) => values[flag] !== undefined);
  if (given.length > 1) throw new Error(`give one token key source, not ${given.map((flag) => `--${flag}`).join(' and ')}`);
  const envSecret = given.length === 0 ? env.RXSYNC_JWT_SECRET || undefined : undefined;
  const source = given[0] ? `--${given[0]}` : envSecret !== undefined ? 'RXSYNC_JWT_SECRET' : undefined;
  if (!source) {
    const stray = values['jwt-audience'] !== undefined ? '--jwt-audience' : values['jwt-issuer'] !== undefined ? '--jwt-issuer' : undefined;
    if (stray) throw new Error(`${stray} needs a token key source: --jwt-secret (or RXSYNC_JWT_SECRET), --jwt-public-key or --jwks-url`);
    return undefined;
  }
  const secret = values['jwt-secret'] ?? envSecret;
  const jwt: JwtOptions = {
    ...(secret !== undefined && { secret }),
    ...(values['jwt-public-key'] !== undefined && { publicKey: readPublicKey(values['jwt-public-key']) }),
    ...(values['jwks-url'] !== undefined && { jwksUrl: values['jwks-url'] }),
    ...(values['jwt-audience'] !== undefined && { audience: values['jwt-audience'] }),
    ...(values['jwt-issuer'] !== undefined && { issuer: values['jwt-issuer'] }),
  };
  try {
    createJwtVerifier(jwt);
  } catch (error) {
    // The verifier's messages name the option, never its value: the secret stays out of the terminal.
    throw new Error(`${source}: ${(error as Error).message.replace(/^JWT options: /, '')}`, { cause: error });
  }
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    warnings.push(`the ${source} secret is shorter than ${MIN_SECRET_LENGTH} characters: anyone holding one token can try to guess it offline`);
  }
  return jwt;
}

function readPublicKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read --jwt-public-key ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Starts the server the options describe; `operations`: the logger and process metrics main() adds. */
export async function serve(options: ServeOptions, operations: Pick<SyncServerOptions, 'logger' | 'processMetrics'> = {}): Promise<SyncServer> {
  const retention = options.retention === undefined ? undefined : { maxChanges: options.retention };
  const server = await createSyncServer({
    schema: options.schema,
    port: options.port,
    host: options.host,
    ...(options.postgres
      ? { postgres: { connectionString: options.postgres, slot: options.slot, retention } }
      : { sqlite: { database: options.database, retention } }),
    ...(options.rules && { rules: options.rules }),
    ...(options.jwt && { jwt: options.jwt }),
    httpHandler: options.demo ? await demoHttpHandler(options.jwt!.secret!) : undefined,
    ...operations,
  });
  if (options.demo) await seedDemo(server);
  return server;
}

/** --demo's routes: its sign-in (demo.ts) and the demo page (dist/web, built by scripts/build-demo.mjs) at /. */
async function demoHttpHandler(secret: string): Promise<NonNullable<SyncServerOptions['httpHandler']>> {
  return demoRoutes(secret, (await import('./static-files.js')).demoHttpHandler());
}

/** One line on how clients are told apart; never the secret. */
function describeAuth(options: ServeOptions): string | undefined {
  const { rules, jwt } = options;
  if (!rules && !jwt) return undefined;
  const tokens = !jwt
    ? 'none (every client anonymous)'
    : jwt.secret !== undefined
      ? 'HS256 secret'
      : jwt.publicKey !== undefined
        ? 'PEM public key'
        : `JWKS ${jwt.jwksUrl}`;
  const checks = [jwt?.audience && `audience ${String(jwt.audience)}`, jwt?.issuer && `issuer ${String(jwt.issuer)}`].filter(Boolean);
  const streams = rules ? `${rules.streams.length} ${rules.streams.length === 1 ? 'stream' : 'streams'}` : 'none (every row to every client)';
  return `per-user rules: ${streams}; tokens: ${[tokens, ...checks].join(', ')}`;
}

/**
 * The `rxsync` command. Returns the exit code (the server keeps the process alive).
 * @public (bin/rxsync.js runs it from dist/, where the unused-export check does not look)
 */
/** The installed package's version (package.json sits two folders up from dist/server/ and src/server/ alike). */
export function packageVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
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
    // A rules mistake reads `rules.yaml:3: streams.x.where: ...`, as it is, for the editor to jump to.
    if (error instanceof RulesError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    process.stderr.write(`rxsync: ${(error as Error).message}\n(see rxsync --help)\n`);
    return 2;
  }
  if (options.dropSlot) return dropSlot(options);
  for (const warning of options.warnings) process.stderr.write(`rxsync: warning: ${warning}\n`);
  const log = createLogger(options.logLevel);
  let server: SyncServer;
  try {
    server = await serve(options, { logger: log, processMetrics: true });
  } catch (error) {
    process.stderr.write(`rxsync: ${(error as Error).message}\n`);
    return 1;
  }
  const httpUrl = server.url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '');
  const source = options.postgres ? describeConnection(options.postgres) : options.database;
  process.stdout.write(`rxsync server listening: ${server.url} (health: ${httpUrl}/healthz, db: ${source})\n`);
  const auth = describeAuth(options);
  if (auth) process.stdout.write(`${auth}\n`);
  if (options.demo) process.stdout.write(await demoStartMessage(options.jwt!.secret!, httpUrl));
  // The lines above are for people and the scripts that read them; the JSON logs start here.
  const health = await storeHealth(server.store).catch(() => undefined);
  log.info({ url: server.url, store: health?.store, role: health?.role, db: source }, 'server started');
  drainOnSignals(server, log);
  return 0;
}

/** SIGTERM or SIGINT drains the server (SyncServer.drain) and exits 0; a second signal exits at once. */
function drainOnSignals(server: SyncServer, log: Logger): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (draining) {
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    draining = true;
    log.info({ signal, sessions: server.sessionCount }, 'signal received: draining, clients are told to reconnect elsewhere');
    server.drain().then(
      () => {
        log.info('drained: exiting');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'drain failed: exiting');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
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
