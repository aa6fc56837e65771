import { firstValueFrom, filter } from 'rxjs';
import { cleanupSync, connectToSyncServer, getSyncClient, initializeSync } from '../../src/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { WorkerCore } from '../../src/worker/worker-core.js';
import { connectRemoteClient } from '../../src/worker/remote-client.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { cleanupClients, fastClientOptions, testClient, until } from '../support/test-client.js';
import { closedPortUrl } from '../support/unreachable.js';

const TIMEOUT_MS = 300;
const portOf = (url: string) => Number(new URL(url).port);

/**
 * connect() to a server that is down waits for a welcome that does not come: with `timeoutMs` it
 * answers false after that long, and the connection keeps trying in the background, so that the
 * server coming up later is found without another connect().
 */
describe('connect({ timeoutMs }) to a server that is down', () => {
  let server: SyncServer | undefined;
  let url: string;
  beforeEach(async () => {
    url = await closedPortUrl();
  });
  afterEach(async () => {
    await cleanupClients();
    await cleanupSync();
    await server?.close();
    server = undefined;
  });

  /** The server comes up on the port the client keeps trying. */
  async function serverComesUp(): Promise<void> {
    server = await startTestServer({ port: portOf(url) });
    await server.insert('todos', todo(1));
  }

  it('SyncClient: resolves false after timeoutMs, then connects in the background once the server is up', async () => {
    const client = testClient();
    const started = Date.now();
    expect(await client.connect(url, { timeoutMs: TIMEOUT_MS })).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2000);
    expect(['connecting', 'backoff']).toContain(client.currentStatus); // still trying

    await serverComesUp();
    await until(() => client.currentStatus === 'live' || undefined, 5000, 'the background connection');
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await client.query('SELECT id FROM todos')).toEqual([{ id: todo(1).id }]);
  });

  it('a welcome before timeoutMs resolves true', async () => {
    await serverComesUp();
    expect(await testClient().connect(url, { timeoutMs: 5000 })).toBe(true);
  });

  it('the callback facade: connectToSyncServer(url, { timeoutMs })', async () => {
    initializeSync({ schema: testSchema, ...fastClientOptions });
    expect(await connectToSyncServer(url, { timeoutMs: TIMEOUT_MS })).toBe(false);
    await serverComesUp();
    await until(() => getSyncClient().currentStatus === 'live' || undefined, 5000, 'the background connection');
  });

  it('the worker proxy: connect(url, { timeoutMs })', async () => {
    const core = new WorkerCore({ defaults: fastClientOptions, watchTab: () => () => undefined });
    const { port1, port2 } = new MessageChannel();
    core.serve(port1);
    const tab = await connectRemoteClient(port2, { schema: testSchema });
    try {
      expect(await tab.connect(url, { timeoutMs: TIMEOUT_MS })).toBe(false);
      expect(['connecting', 'backoff']).toContain(await tab.currentStatus);
      // connect() again to the same URL joins the running connection, with a timeout of its own.
      expect(await tab.connect(url, { timeoutMs: TIMEOUT_MS })).toBe(false);
      const live = firstValueFrom(tab.status$.pipe(filter((status) => status === 'live')));
      await serverComesUp();
      await live;
    } finally {
      await tab.cleanup();
      await core.close();
    }
  });
});
