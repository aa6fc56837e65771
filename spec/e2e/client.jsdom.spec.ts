/** @jest-environment ./spec/support/jsdom-environment.cjs */
// The basic sync of basic-sync.spec.ts, in jest's jsdom project: the client runs in a browser-like
// global scope (window, document, EventTarget `online` events, jsdom's own WebSocket). The custom
// environment adds the Node globals jsdom lacks (structuredClone, TextEncoder/TextDecoder), as the
// storage jsdom spec does.
import WebSocket from 'ws';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until, wsWebSocket } from '../support/test-client.js';

/** Closes the server once the clients have closed their sockets, so close() has nothing to wait for. */
async function closeServer(server: SyncServer): Promise<void> {
  await until(() => server.sessionCount === 0, 5000, 'every session to close').catch(() => undefined);
  await server.close();
}

describe('a client syncing with the reference server, in jsdom', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    for (let i = 0; i < 10; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    await cleanupClients();
    await closeServer(server);
  });

  it('runs in a browser-like global scope', () => {
    expect(typeof window).toBe('object');
    expect(typeof document.createElement).toBe('function');
    expect(typeof globalThis.WebSocket).toBe('function'); // jsdom's, not the `ws` package
    expect(globalThis.WebSocket).not.toBe(WebSocket);
  });

  it('gets the server rows, then live changes, and pushes its writes (WebSocketCtor: ws)', async () => {
    const client = testClient({ WebSocketCtor: wsWebSocket });
    const events: string[] = [];
    client.events$.subscribe((e) => events.push(e.type));
    expect(await client.connect(server.url)).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 10 }]);
    expect(client.currentLsn).toBe(server.currentLsn());

    await server.update('todos', todo(3).id, { title: 'from server' });
    await until(async () => (await client.query<{ title: string }>('SELECT title FROM todos WHERE id = ?', [todo(3).id]))[0]?.title === 'from server');

    await client.insert('todos', { id: 'jsdom-1', title: 'from jsdom', done: 0, score: 1.5, meta: { browser: true } });
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await server.query('SELECT id, title, score, meta FROM todos WHERE id = ?', ['jsdom-1'])).toEqual([
      { id: 'jsdom-1', title: 'from jsdom', score: 1.5, meta: '{"browser":true}' },
    ]);
    expect(client.clientId).not.toBe('');
    expect(events).toEqual(expect.arrayContaining(['initial_sync_complete', 'changes_applied', 'client_change_sent', 'client_change_applied', 'lsn_updated']));
    expect(events).not.toContain('error');
  });

  it("syncs with the global WebSocket when no WebSocketCtor is given (jsdom's, as a page would)", async () => {
    const client = testClient({ WebSocketCtor: undefined });
    expect(await client.connect(server.url)).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 10 }]);
    await client.insert('todos', { id: 'jsdom-2', title: 'over the global WebSocket', done: 1, score: 0, meta: null });
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await server.query('SELECT title FROM todos WHERE id = ?', ['jsdom-2'])).toEqual([{ title: 'over the global WebSocket' }]);
  });
});
