import type { Caller, SyncServer, SyncStore } from '../../src/server/index.js';
import { createSqliteStore } from '../../src/server/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';

/** The store calls made for a session, each with the principal it was made for (and its first argument). */
type Seen = Array<{ method: string; principal: unknown; first: unknown }>;

/** A real SQLite store that notes the caller of every call that takes one. */
function recordingStore(seen: Seen): SyncStore {
  const store = createSqliteStore({ schema: testSchema });
  const withCaller = new Set(['openSnapshot', 'changesSince', 'applyClientWrites']);
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (withCaller.has(String(property))) {
          const caller = args.find((arg): arg is Caller => typeof arg === 'object' && arg !== null && 'principal' in arg);
          seen.push({ method: String(property), principal: caller?.principal, first: args[0] });
        }
        return value.apply(target, args);
      };
    },
  });
}

describe('the principal authenticate returns', () => {
  const alice = { claims: { sub: 'alice' } };
  const bob = { claims: { sub: 'bob' } };
  const principals: Record<string, object> = { 'alice-token': alice, 'bob-token': bob };
  let seen: Seen;
  let server: SyncServer;
  beforeEach(async () => {
    seen = [];
    const store = recordingStore(seen);
    // Written before the server starts, so that only the store can answer a catch-up from 0/1.
    for (let i = 0; i < 3; i++) await store.write({ op: 'insert', table: 'todos', row: todo(i) });
    server = await startTestServer({ store, authenticate: (token) => (token ? principals[token] : undefined) });
  });
  afterEach(() => server.close());

  it('reaches the store with every read and write made for its session', async () => {
    const a = await helloPeer(server, { clientId: 'client-a', token: 'alice-token' });
    expect(a.welcome.mode).toBe('initial');
    autoAck(a.peer);
    await a.peer.next('snapshot_end');

    const b = await helloPeer(server, { clientId: 'client-b', token: 'bob-token', lsn: '0/1' });
    expect(b.welcome.mode).toBe('catchup');
    autoAck(b.peer);
    await b.peer.waitFor(() => b.peer.all('changes').flatMap((m) => m.changes).length === 2 || undefined);

    a.peer.send({ type: 'push', changes: [{ id: 'c1', table: 'todos', op: 'update', key: todo(1).id, row: { done: 1 } }] });
    expect((await a.peer.next('push_result')).results[0].status).toBe('applied');

    const made = (method: string) => seen.filter((call) => call.method === method);
    expect(made('openSnapshot').map((call) => call.principal)).toEqual([alice]);
    expect(
      made('changesSince')
        .filter((call) => call.first === '0/1')
        .map((call) => call.principal),
    ).toEqual([bob]);
    expect(made('applyClientWrites').map((call) => [call.first, call.principal])).toEqual([['client-a', alice]]);
    // The hook's own objects, kept as they are, and nothing made for a session without them.
    expect(seen.every((call) => call.principal === alice || call.principal === bob)).toBe(true);
    await Promise.all([a.peer.close(), b.peer.close()]);
  });

  it('is undefined for a server without authenticate', async () => {
    const calls: Seen = [];
    const open = await startTestServer({ store: recordingStore(calls) });
    try {
      const { peer } = await helloPeer(open);
      autoAck(peer);
      await peer.next('snapshot_end');
      await peer.close();
      expect(calls.map((call) => call.method)).toContain('openSnapshot');
      expect(calls.every((call) => call.principal === undefined)).toBe(true);
    } finally {
      await open.close();
    }
  });
});
