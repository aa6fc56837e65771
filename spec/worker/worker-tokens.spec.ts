/**
 * A tab's token function across the worker boundary: the engine in the worker asks the tab
 * (through a comlink proxy) before every connect, so a session ended by its token's expiry comes
 * back with a fresh token and nothing from the page.
 */
import type { SyncServer } from '../../src/server/index.js';
import { WorkerCore } from '../../src/worker/worker-core.js';
import { connectRemoteClient } from '../../src/worker/remote-client.js';
import type { RemoteSyncClient } from '../../src/worker/types.js';
import { listsSchema, SECRET, startRulesServer, tokenFor } from '../support/rules-fixture.js';
import { fastClientOptions, until } from '../support/test-client.js';

describe('token functions across the worker boundary', () => {
  let server: SyncServer;
  let core: WorkerCore;
  const tabs: RemoteSyncClient[] = [];
  beforeEach(async () => {
    server = await startRulesServer({ jwt: { secret: SECRET, clockToleranceSeconds: 1 } });
    await server.insert('lists', { id: 'la', owner_id: 'alice', name: "alice's" });
    await server.insert('todos', { id: 'ta1', list_id: 'la', title: 'a1', done: 0 });
    core = new WorkerCore({ defaults: fastClientOptions });
  });
  afterEach(async () => {
    await Promise.all(tabs.splice(0).map((tab) => tab.cleanup().catch(() => undefined)));
    await core.close();
    await server.close();
  });

  it('the worker asks the tab for a token at every connect; an expired session comes back with a fresh one, no resync', async () => {
    const { port1, port2 } = new MessageChannel();
    core.serve(port1);
    let asked = 0;
    const tab = await connectRemoteClient(port2, {
      schema: listsSchema,
      authToken: async () => {
        asked += 1;
        return tokenFor('alice', asked === 1 ? 1 : 3600); // the first one ends the session in ~2 s
      },
    });
    tabs.push(tab);
    const modes: string[] = [];
    tab.on('connected', (data: { mode: string }) => modes.push(data.mode));
    expect(await tab.connect(server.url)).toBe(true);
    await tab.whenSynced({ timeoutMs: 5000 });
    expect(await tab.query('SELECT id FROM todos')).toEqual([{ id: 'ta1' }]);
    await until(() => modes.length >= 2 || undefined, 8000, 'the reconnect after the token expired');
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(modes[0]).toBe('initial');
    expect(['live', 'catchup']).toContain(modes[1]);
    await server.insert('todos', { id: 'ta2', list_id: 'la', title: 'a2', done: 0 });
    await until(async () => (await tab.query('SELECT id FROM todos ORDER BY id')).length === 2 || undefined, 5000, 'a change after the new token');
  });
});
