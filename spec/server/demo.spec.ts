import { parseServeArgs, serve } from '../../src/server/cli.js';
import { createDemoSecret, demoListsSchema, demoToken, type DemoUser } from '../../src/server/demo.js';
import type { SyncServer } from '../../src/server/index.js';
import { ids } from '../support/rules-fixture.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

/**
 * The demo as `rxsync serve --demo` starts it (its schema, rules, generated secret, seed and token
 * route), with real clients that sign in the way the demo page does: a token from
 * `POST /demo/token?user=...` on every connect.
 */
describe('the demo (rxsync serve --demo)', () => {
  let server: SyncServer;
  let http: string;
  beforeEach(async () => {
    server = await serve(parseServeArgs(['--demo', '--port', '0', '--db', ':memory:'], {}));
    http = `http://127.0.0.1:${server.port}`;
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  const demoTokenOf = async (user: string): Promise<string> => {
    const response = await fetch(`${http}/demo/token?user=${user}`, { method: 'POST' });
    if (!response.ok) throw new Error(`no token for ${user}: ${response.status}`);
    return ((await response.json()) as { token: string }).token;
  };

  async function signedIn(user: DemoUser) {
    const client = testClient({ schema: demoListsSchema, authToken: () => demoTokenOf(user) });
    await client.initialize();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    return client;
  }

  it('alice and bob each see their own lists and the one alice shares with bob, and nothing else', async () => {
    const [alice, bob] = await Promise.all([signedIn('alice'), signedIn('bob')]);
    expect(await ids(alice, 'lists')).toEqual(['alice-groceries', 'shared-trip']);
    expect(await ids(bob, 'lists')).toEqual(['bob-garage', 'shared-trip']);
    expect(await ids(alice, 'todos')).toEqual(['demo-1', 'demo-3', 'demo-4', 'demo-5']);
    expect(await ids(bob, 'todos')).toEqual(['demo-2', 'demo-3', 'demo-4', 'demo-5']);
    // The membership that shares the trip: its owner and its member both see it.
    for (const client of [alice, bob]) expect(await ids(client, 'list_members')).toEqual(['shared-trip-bob']);
  });

  it("a todo bob adds to the shared list reaches alice; one he slips into alice's own list is refused", async () => {
    const [alice, bob] = await Promise.all([signedIn('alice'), signedIn('bob')]);
    const rejected: Array<{ key: unknown; reason: string }> = [];
    bob.on('client_change_rejected', (data: { key: unknown; reason: string }) => rejected.push(data));

    await bob.insert('todos', { id: 'bob-1', list_id: 'shared-trip', title: 'Bring the map', done: 0, updated_at: new Date().toISOString() });
    await until(async () => (await ids(alice, 'todos')).includes('bob-1'), 5000, "bob's todo at alice");

    await bob.insert('todos', { id: 'bob-2', list_id: 'alice-groceries', title: 'Not his list', done: 0, updated_at: new Date().toISOString() });
    // Only an owner deletes a list's todos.
    await bob.delete('todos', 'demo-4');
    await bob.whenSynced({ timeoutMs: 5000 });
    expect(rejected).toEqual([
      expect.objectContaining({ key: 'bob-2', reason: expect.stringMatching(/^forbidden/) }),
      expect.objectContaining({ key: 'demo-4', reason: expect.stringMatching(/^forbidden/) }),
    ]);
    expect(await ids(bob, 'todos')).toEqual(['bob-1', 'demo-2', 'demo-3', 'demo-4', 'demo-5']);
    await alice.whenSynced({ timeoutMs: 5000 });
    expect(await ids(alice, 'todos')).toEqual(['bob-1', 'demo-1', 'demo-3', 'demo-4', 'demo-5']);
  });

  it('hands out tokens for the demo users only, on POST', async () => {
    const answer = async (path: string, method = 'POST') => {
      const response = await fetch(`${http}${path}`, { method });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect(await answer('/demo/token?user=bob')).toEqual({ status: 200, body: { user: 'bob', token: expect.stringMatching(/^ey/), expiresInSeconds: 3600 } });
    expect(await answer('/demo/token?user=carol')).toEqual({ status: 400, body: { error: 'user must be one of alice, bob' } });
    expect(await answer('/demo/token')).toMatchObject({ status: 400 });
    expect(await answer('/demo/token?user=alice', 'GET')).toMatchObject({ status: 405 });
  });

  it.each([
    ['without a token', undefined],
    // A token of an earlier run: each start makes a new secret.
    ['with a token signed by another secret', () => demoToken(createDemoSecret(), 'alice')],
  ])('refuses a client %s for good (4401)', async (_, authToken) => {
    const errors: Array<{ context?: { code?: number } }> = [];
    const refused = testClient({ schema: demoListsSchema, ...(authToken && { authToken }) });
    refused.on('error', (data) => errors.push(data));
    await refused.initialize();
    expect(await refused.connect(server.url)).toBe(false);
    expect(errors).toContainEqual(expect.objectContaining({ context: expect.objectContaining({ code: 4401, fatal: true }) }));
    expect(await ids(refused, 'lists')).toEqual([]);
  });
});
