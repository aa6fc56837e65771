import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../../src/server/auth/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { cleanupClients, freshIndexedDB, until } from '../support/test-client.js';
import { ids, listsRules, SECRET, startRulesServer, tokenFor, userClient } from '../support/rules-fixture.js';

/** Tokens as the session sees them: refused ones get no session, expiry ends one, and the client comes back with a fresh token. */
describe('per-user rules: tokens', () => {
  let server: SyncServer;
  afterEach(async () => {
    await cleanupClients();
    await server?.close();
  });

  async function seeded(options: Parameters<typeof startRulesServer>[0] = {}) {
    server = await startRulesServer(options);
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('todos', { id: 'ta1', list_id: 'la', title: 'a1', done: 0 });
  }

  it('refuses a forged token: no welcome, no session, no rows, and the client stops', async () => {
    await seeded();
    const forged = await signToken({ secret: 'another-secret-entirely-0123456789abcdef', claims: { sub: 'alice' } });
    const alice = userClient('alice', { authToken: forged });
    const statuses: string[] = [];
    alice.on('status_changed', (data: { status: string }) => statuses.push(data.status));
    const welcomed = await alice.connect(server.url, { timeoutMs: 2000 }).catch(() => false);
    expect(welcomed).toBe(false);
    await until(() => server.sessionCount === 0, 5000, 'the refused session closed');
    expect(await ids(alice, 'lists')).toEqual([]);
    // 4401 is final: no backoff, no second attempt.
    expect(statuses).not.toContain('backoff');
    expect(statuses.filter((status) => status === 'connecting')).toHaveLength(1);
  });

  it('an expired token at hello: the client asks for a new one and syncs', async () => {
    await seeded();
    const tokens: string[] = [await tokenFor('alice', -120), await tokenFor('alice')];
    let asked = 0;
    const alice = userClient('alice', { authToken: () => tokens[Math.min(asked++, 1)] });
    await alice.connect(server.url);
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(asked).toBe(2);
    expect(await ids(alice, 'todos')).toEqual(['ta1']);
  });

  it('a token expiring mid-session: the session ends, the client comes back with a fresh token, keeps its rows and outbox, and does not sync afresh', async () => {
    await seeded({ jwt: { secret: SECRET, clockToleranceSeconds: 1 } });
    let asked = 0;
    const alice = userClient('alice', {
      authToken: () => {
        asked += 1;
        // The first token ends the session within ~2 s; the next ones last.
        return tokenFor('alice', asked === 1 ? 1 : 3600);
      },
    });
    const modes: string[] = [];
    alice.on('connected', (data: { mode: string }) => modes.push(data.mode));
    await alice.connect(server.url);
    await alice.whenSynced({ timeoutMs: 5000 });
    await until(() => modes.length >= 2 || undefined, 6000, 'the reconnect after the token expired');
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(modes[0]).toBe('initial');
    expect(['live', 'catchup']).toContain(modes[1]);
    await alice.insert('todos', { id: 'ta2', list_id: 'la', title: 'after the new token', done: 0 });
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(await ids(alice, 'todos')).toEqual(['ta1', 'ta2']);
    expect(await server.query("SELECT id FROM todos WHERE id = 'ta2'")).toEqual([{ id: 'ta2' }]);
  });

  it('closes an expired session with 4403, which clients take as "fetch a new token"', () => {
    expect(CloseCode.tokenExpired).toBe(4403);
  });
});

describe('per-user rules changed between two server runs', () => {
  let dir: string;
  let server: SyncServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxsync-rules-'));
  });
  afterEach(async () => {
    await cleanupClients();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resets a client whose rows the old rules chose, and it ends with exactly the new set', async () => {
    const database = join(dir, 'sync.db');
    server = await startRulesServer({ database });
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('lists', { id: 'lb', owner_id: 'bob', name: "bob's" });
    await server.insert('tags', { id: 'g1', name: 'everyone' });
    const indexedDB = freshIndexedDB();
    const first = userClient('alice', { database: 'alice', indexedDB });
    await first.connect(server.url);
    await first.whenSynced({ timeoutMs: 5000 });
    expect(await ids(first, 'lists')).toEqual(['la']);
    expect(await ids(first, 'tags')).toEqual(['g1']);
    await first.cleanup();
    await server.close();

    // The new rules: every list is readable, tags no longer synced.
    const rules = { ...listsRules, streams: { all_lists: { table: 'lists' }, list_todos: listsRules.streams.list_todos } };
    server = await startRulesServer({ database, rules });
    const again = userClient('alice', { database: 'alice', indexedDB });
    const connected: Array<{ mode: string; reason?: string }> = [];
    again.on('connected', (data: { mode: string; reason?: string }) => connected.push(data));
    await again.connect(server.url);
    await again.whenSynced({ timeoutMs: 5000 });
    expect(connected[0]).toMatchObject({ mode: 'reset', reason: 'set_changed' });
    expect(await ids(again, 'lists')).toEqual(['la', 'lb']);
    expect(await ids(again, 'tags')).toEqual([]);
  });

  it("a client signed in as another user on the same database is reset to that user's rows", async () => {
    server = await startRulesServer();
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('lists', { id: 'lb', owner_id: 'bob', name: "bob's" });
    const indexedDB = freshIndexedDB();
    const asAlice = userClient('alice', { database: 'shared', indexedDB });
    await asAlice.connect(server.url);
    await asAlice.whenSynced({ timeoutMs: 5000 });
    await asAlice.cleanup();
    const asBob = userClient('bob', { database: 'shared', indexedDB });
    await asBob.connect(server.url);
    await asBob.whenSynced({ timeoutMs: 5000 });
    expect(await ids(asBob, 'lists')).toEqual(['lb']);
  });
});
