/**
 * The demo that `rxsync serve --demo` (`npm start`) serves: lists shared through a membership
 * table, their todos, and per-user rules over them, for two users, alice and bob, whose tokens the
 * demo signs itself with a secret made at start. The page (examples/web/) signs in as one of them
 * through {@link demoTokenRoute}.
 *
 * Not the client facade's `demoSchema` (src/protocol/demo-schema.ts), which stays one todos table.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineSchema } from '../protocol/index.js';
import { signToken } from './auth/sign-token.js';
import type { SyncServer } from './server.js';

/** The users the demo hands out tokens for (their `sub` claim). */
export const DEMO_USERS = ['alice', 'bob'] as const;
export type DemoUser = (typeof DEMO_USERS)[number];

/** How long a demo token lives; the page fetches a new one before then. */
export const DEMO_TOKEN_SECONDS = 3600;

/** Where the page asks for a token: `POST /demo/token?user=alice`. */
export const DEMO_TOKEN_PATH = '/demo/token';

/** The demo server's schema: lists, who a list is shared with, and the todos of each list. */
export const demoListsSchema = defineSchema({
  tables: {
    lists: { primaryKey: 'id', columns: { id: 'text', owner_id: 'text', name: 'text' } },
    list_members: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', user_id: 'text' } },
    todos: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', title: 'text', done: 'integer', updated_at: 'text' } },
  },
});

const OWNS_LIST = 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)';
const MEMBER_OF_LIST = 'list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)';

/**
 * Who syncs what (docs/rules.md): a user gets the lists they own and the lists shared with them,
 * the memberships of those, and their todos. Owners and members add and edit todos; only an owner
 * deletes them, changes the list or shares it.
 */
export const demoRules = {
  streams: {
    lists: { table: 'lists', where: 'owner_id = auth.sub OR id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)' },
    members: { table: 'list_members', where: `user_id = auth.sub OR ${OWNS_LIST}` },
    todos: { table: 'todos', where: `${OWNS_LIST} OR ${MEMBER_OF_LIST}` },
  },
  writes: {
    lists: { insert: 'owner_id = auth.sub', update: 'owner_id = auth.sub', delete: 'owner_id = auth.sub' },
    list_members: { insert: OWNS_LIST, delete: OWNS_LIST },
    todos: { insert: `${OWNS_LIST} OR ${MEMBER_OF_LIST}`, update: `${OWNS_LIST} OR ${MEMBER_OF_LIST}`, delete: OWNS_LIST },
  },
};

/** A fresh HS256 secret (256 random bits): tokens of an earlier run stop working at a restart. */
export function createDemoSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A token for a demo user, signed with the demo's secret. */
export function demoToken(secret: string, user: DemoUser): Promise<string> {
  return signToken({ secret, claims: { sub: user }, expiresInSeconds: DEMO_TOKEN_SECONDS });
}

/** The seed, by id: a list of alice's, one of bob's, and one of alice's that she shares with bob. */
export const DEMO_LISTS = {
  groceries: { id: 'alice-groceries', owner_id: 'alice', name: 'Groceries' },
  garage: { id: 'bob-garage', owner_id: 'bob', name: 'Garage' },
  trip: { id: 'shared-trip', owner_id: 'alice', name: 'Weekend trip' },
} as const;

const SEED_TODOS: ReadonlyArray<{ id: string; list_id: string; title: string; done: number }> = [
  { id: 'demo-1', list_id: DEMO_LISTS.groceries.id, title: 'Oat milk', done: 0 },
  { id: 'demo-2', list_id: DEMO_LISTS.garage.id, title: 'Fix the bike light', done: 0 },
  { id: 'demo-3', list_id: DEMO_LISTS.trip.id, title: 'Book the train', done: 1 },
  { id: 'demo-4', list_id: DEMO_LISTS.trip.id, title: 'Pack the tent', done: 0 },
  { id: 'demo-5', list_id: DEMO_LISTS.trip.id, title: 'Check the weather', done: 0 },
];

/** Seeds the lists, the membership that shares the trip with bob, and their todos; nothing when there are lists already. */
export async function seedDemo(server: Pick<SyncServer, 'insert' | 'query'>, options: { todos?: boolean } = {}): Promise<void> {
  const [{ n }] = await server.query<{ n: number }>('SELECT count(*) AS n FROM lists');
  if (n > 0) return;
  for (const list of Object.values(DEMO_LISTS)) await server.insert('lists', { ...list });
  await server.insert('list_members', { id: 'shared-trip-bob', list_id: DEMO_LISTS.trip.id, user_id: 'bob' });
  if (options.todos === false) return;
  const updatedAt = new Date().toISOString();
  for (const todo of SEED_TODOS) await server.insert('todos', { ...todo, updated_at: updatedAt });
}

type HttpHandler = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;

/** The demo's HTTP routes (the `httpHandler` option): its sign-in, then `files` (the page). */
export function demoRoutes(secret: string, files: HttpHandler): HttpHandler {
  const tokens = demoTokenRoute(secret);
  return async (request, response) => (await tokens(request, response)) || files(request, response);
}

/**
 * The demo's sign-in: `POST /demo/token?user=alice` answers `{ "user": "alice", "token": "…",
 * "expiresInSeconds": 3600 }`, a token signed with the demo's secret. Only for the demo users, and
 * only in the demo: anyone who can reach the server may be alice. Other paths fall through.
 */
function demoTokenRoute(secret: string): HttpHandler {
  return async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== DEMO_TOKEN_PATH) return false;
    const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
    if (request.method !== 'POST') {
      response.writeHead(405, { ...headers, allow: 'POST' }).end(JSON.stringify({ error: 'use POST' }));
      return true;
    }
    const user = url.searchParams.get('user');
    if (!isDemoUser(user)) {
      response.writeHead(400, headers).end(JSON.stringify({ error: `user must be one of ${DEMO_USERS.join(', ')}` }));
      return true;
    }
    const token = await demoToken(secret, user);
    response.writeHead(200, headers).end(JSON.stringify({ user, token, expiresInSeconds: DEMO_TOKEN_SECONDS }));
    return true;
  };
}

function isDemoUser(user: string | null): user is DemoUser {
  return (DEMO_USERS as readonly string[]).includes(user ?? '');
}

/** What `rxsync serve --demo` prints at start: the users, the secret and a ready token for each. */
export async function demoStartMessage(secret: string, pageUrl: string): Promise<string> {
  const tokens = await Promise.all(DEMO_USERS.map(async (user) => `  token for ${`${user}:`.padEnd(6)} ${await demoToken(secret, user)}`));
  return [
    `demo: per-user rules (src/server/demo.ts): ${DEMO_USERS.join(' and ')} each sync their own lists and the lists shared with them`,
    `  JWT secret (HS256, made at this start): ${secret}`,
    ...tokens,
    `  (tokens live ${DEMO_TOKEN_SECONDS / 60} minutes; the page gets its own from POST ${DEMO_TOKEN_PATH}?user=alice)`,
    `  open ${pageUrl}/ and sign in as alice, and as bob in another browser (or a private window)`,
    '',
  ].join('\n');
}
