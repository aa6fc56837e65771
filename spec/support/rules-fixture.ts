import { defineSchema } from '../../src/protocol/index.js';
import { signToken } from '../../src/server/auth/index.js';
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../../src/server/index.js';
import { createAppDatabase, type AppDatabase, type TestPostgres } from './postgres.js';
import { testClient } from './test-client.js';
import type { SyncClientOptions } from '../../src/client/options.js';

/** Lists shared through a membership table, their todos, and a table every user reads: the example. */
export const listsSchema = defineSchema({
  tables: {
    lists: { primaryKey: 'id', columns: { id: 'text', owner_id: 'text', name: 'text' } },
    list_members: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', user_id: 'text' } },
    todos: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', title: 'text', done: 'integer' } },
    tags: { primaryKey: 'id', columns: { id: 'text', name: 'text' } },
  },
});

/** The same tables in Postgres, as an app would have them. */
export const LISTS_DDL = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text, name text);
  CREATE TABLE list_members (id text PRIMARY KEY, list_id text, user_id text);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text, title text, done integer);
  CREATE TABLE tags (id text PRIMARY KEY, name text);`;

/** The rules of the issue: own and shared lists, their todos, tags for everyone (read-only). */
export const listsRules = {
  streams: {
    my_lists: { table: 'lists', where: 'owner_id = auth.sub OR id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)' },
    list_todos: {
      table: 'todos',
      where: 'list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub) OR list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)',
    },
    tags: { table: 'tags' },
  },
  writes: {
    lists: { insert: 'owner_id = auth.sub', update: 'owner_id = auth.sub', delete: 'owner_id = auth.sub' },
    list_members: {
      insert: 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)',
      delete: 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)',
    },
    todos: {
      insert: 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub) OR list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)',
      update: 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub) OR list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)',
      delete: 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)',
    },
  },
};

export const SECRET = 'rules-spec-secret-of-enough-length-0123456789';

/** A sync server on the lists schema with the rules and HS256 tokens. */
export function startRulesServer(options: Partial<SyncServerOptions> = {}): Promise<SyncServer> {
  return createSyncServer({
    schema: listsSchema,
    port: 0,
    host: '127.0.0.1',
    database: ':memory:',
    rules: listsRules,
    jwt: { secret: SECRET },
    onError: () => undefined,
    ...options,
  });
}

/**
 * Rules servers on fresh Postgres databases of `cluster` (a throwaway cluster, useTestPostgres):
 * `start` makes one (the lists tables, or `ddl`), `drop` removes its database once it is closed.
 */
export function postgresRulesServers(cluster: () => TestPostgres) {
  let database: AppDatabase | undefined;
  return {
    async start(ddl = LISTS_DDL, options: Partial<SyncServerOptions> = {}): Promise<SyncServer> {
      database = await createAppDatabase(cluster(), ddl);
      return startRulesServer({ postgres: { connectionString: database.connectionString, slot: database.name, pollMs: 200 }, ...options });
    },
    get connectionString(): string {
      return database!.connectionString;
    },
    async drop(): Promise<void> {
      await database?.drop();
      database = undefined;
    },
  };
}

/** A token for `sub`, valid for `seconds`. */
export const tokenFor = (sub: string, seconds = 3600, claims: Record<string, unknown> = {}) =>
  signToken({ secret: SECRET, claims: { sub, ...claims }, expiresInSeconds: seconds });

/** A client of the lists schema signed in as `sub` (a fresh token on every hello). */
export function userClient(sub: string, options: Partial<SyncClientOptions> = {}) {
  return testClient({ schema: listsSchema, authToken: () => tokenFor(sub), ...options });
}

/** The client's rows of a table as `id`s, sorted. */
export async function ids(client: { query<T>(sql: string): Promise<T[]> }, table: string): Promise<string[]> {
  const rows = await client.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`);
  return rows.map((row) => row.id);
}
