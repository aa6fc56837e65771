import type { SyncEventMap } from '../../src/streams/events.js';
/**
 * connect() with a list of servers: tried one after the other (shuffled unless `urlOrder:
 * 'listed'`), moving on when one cannot be reached, answers with an HTTP error, or closes; the
 * backoff grows once per round of the list. Real sockets on 127.0.0.1: a closed port, an HTTP
 * server that refuses the upgrade, fake servers driven frame by frame, and a reference server.
 */
import type { SyncServer } from '../../src/server/index.js';
import { initializeSync, connectToSyncServer, cleanupSync, getSyncClient } from '../../src/index.js';
import { FakeServer } from '../support/fake-server.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { cleanupClients, fastClientOptions, testClient, until } from '../support/test-client.js';
import { closedPortUrl, httpErrorServer } from '../support/unreachable.js';

/** A `disconnected` event of a lost connection (with a retry). */
type Disconnected = Extract<SyncEventMap['disconnected'], { attempt: number }>;

/** The client's `disconnected` events (those of a lost connection, with a retry). */
function disconnects(client: ReturnType<typeof testClient>): Disconnected[] {
  const seen: Disconnected[] = [];
  client.on('disconnected', (event) => {
    if (event.attempt !== undefined) seen.push(event);
  });
  return seen;
}

describe('connect() with a list of URLs', () => {
  const fakes: FakeServer[] = [];
  let server: SyncServer | undefined;
  afterEach(async () => {
    await cleanupClients();
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
    await server?.close();
    server = undefined;
  });
  const fake = async () => {
    const started = await FakeServer.start();
    fakes.push(started);
    return started;
  };

  it('the first server down: the second welcomes the client, and the rows sync', async () => {
    server = await startTestServer();
    for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
    const down = await closedPortUrl();
    const client = testClient();
    const lost = disconnects(client);
    const connected: Array<{ url: string; mode: string }> = [];
    client.on('connected', (event) => connected.push(event));

    expect(await client.connect([down, server.url], { urlOrder: 'listed' })).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(client.currentStatus).toBe('live');
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 5 }]);
    expect(lost.map((event) => event.url)).toEqual([down]);
    expect(connected).toEqual([expect.objectContaining({ url: server.url, mode: 'initial' })]);
  });

  it('tries the URLs in the order given (urlOrder: listed), round after round, the delay growing once per round', async () => {
    const urls = [await closedPortUrl(), await closedPortUrl(), await closedPortUrl()];
    const client = testClient({ reconnect: { initialDelayMs: 20, maxDelayMs: 1000, jitter: 0 } });
    const lost = disconnects(client);
    void client.connect(urls, { urlOrder: 'listed' });
    await until(() => lost.length >= 7 || undefined, 5000, 'seven failed tries');
    client.disconnect();
    expect(lost.slice(0, 7).map(({ url, attempt, retryInMs }) => ({ url, attempt, retryInMs }))).toEqual([
      { url: urls[0], attempt: 1, retryInMs: 20 }, // a round starts with the wait...
      { url: urls[1], attempt: 2, retryInMs: 0 }, // ...then the other servers at once
      { url: urls[2], attempt: 3, retryInMs: 0 },
      { url: urls[0], attempt: 4, retryInMs: 40 },
      { url: urls[1], attempt: 5, retryInMs: 0 },
      { url: urls[2], attempt: 6, retryInMs: 0 },
      { url: urls[0], attempt: 7, retryInMs: 80 },
    ]);
  });

  it('shuffles the list by default, each client in its own order (the injected random decides here)', async () => {
    const urls = [await closedPortUrl(), await closedPortUrl(), await closedPortUrl()];
    const firstTried = async (random: () => number) => {
      const client = testClient({ random });
      const lost = disconnects(client);
      void client.connect(urls);
      await until(() => lost.length >= 3 || undefined, 5000, 'a round of tries');
      client.disconnect();
      return lost.slice(0, 3).map((event) => event.url);
    };
    // Fisher-Yates: random() near 1 keeps every item in place, 0 rotates the list by one.
    expect(await firstTried(() => 0.999)).toEqual(urls);
    expect(await firstTried(() => 0)).toEqual([urls[1], urls[2], urls[0]]);
    // Whatever the order, a round covers every server once.
    expect(new Set(await firstTried(Math.random))).toEqual(new Set(urls));
  });

  it('moves on from a server that answers the upgrade with an HTTP error', async () => {
    const refusing = await httpErrorServer();
    try {
      const good = await fake();
      const client = testClient();
      const lost = disconnects(client);
      const connecting = client.connect([refusing.url, good.url], { urlOrder: 'listed' });
      await good.welcomeNext(0);
      expect(await connecting).toBe(true);
      expect(refusing.upgrades()).toBe(1);
      expect(lost.map((event) => event.url)).toEqual([refusing.url]);
    } finally {
      await refusing.close();
    }
  });

  it('moves on to the next server when the welcomed one closes, after the first delay', async () => {
    const [a, b] = [await fake(), await fake()];
    const client = testClient();
    const lost = disconnects(client);
    const connected: string[] = [];
    client.on('connected', (event: { url: string }) => connected.push(event.url));
    const connecting = client.connect([a.url, b.url], { urlOrder: 'listed' });
    const onA = await a.welcomeNext(0);
    expect(await connecting).toBe(true);

    onA.terminate(); // the server went away without a close frame
    await b.welcomeNext(0);
    await until(() => client.currentStatus === 'live' || undefined, 5000, 'live on the second server');
    expect(connected).toEqual([a.url, b.url]);
    // The first failure after a welcome waits the first delay, as with one server.
    expect(lost.map(({ url, attempt, retryInMs }) => ({ url, attempt, retryInMs }))).toEqual([{ url: a.url, attempt: 1, retryInMs: 20 }]);
    expect(a.connections).toHaveLength(1);
  });

  it('a single URL behaves as before: every failure waits, growing each time, on that URL', async () => {
    const down = await closedPortUrl();
    const client = testClient({ reconnect: { initialDelayMs: 20, maxDelayMs: 1000, jitter: 0 } });
    const lost = disconnects(client);
    const statuses: string[] = [];
    client.status$.subscribe((status) => statuses.push(status));
    void client.connect(down);
    await until(() => lost.length >= 3 || undefined, 5000, 'three failed tries');
    client.disconnect();
    expect(lost.slice(0, 3).map(({ url, attempt, retryInMs }) => ({ url, attempt, retryInMs }))).toEqual([
      { url: down, attempt: 1, retryInMs: 20 },
      { url: down, attempt: 2, retryInMs: 40 },
      { url: down, attempt: 3, retryInMs: 80 },
    ]);
    expect(statuses.slice(0, 5)).toEqual(['idle', 'connecting', 'backoff', 'connecting', 'backoff']);
  });

  it('a list of one is a single URL', async () => {
    const down = await closedPortUrl();
    const client = testClient({ reconnect: { initialDelayMs: 20, maxDelayMs: 1000, jitter: 0 } });
    const lost = disconnects(client);
    void client.connect([down]);
    await until(() => lost.length >= 2 || undefined, 5000, 'two failed tries');
    client.disconnect();
    expect(lost.slice(0, 2).map((event) => event.retryInMs)).toEqual([20, 40]);
  });

  it('refuses a list with no URL, or with something that is not one', async () => {
    const client = testClient();
    await expect(client.connect([])).rejects.toThrow(TypeError);
    await expect(client.connect(['ws://127.0.0.1:1/api/sync', ''])).rejects.toThrow(TypeError);
    await expect(client.connect(['ws://127.0.0.1:1/api/sync'], { urlOrder: 'sorted' as never })).rejects.toThrow(TypeError);
    expect(client.currentStatus).toBe('idle');
  });

  it('resetLSN reconnects to the same list', async () => {
    server = await startTestServer();
    await server.insert('todos', todo(1));
    const down = await closedPortUrl();
    const client = testClient();
    expect(await client.connect([down, server.url], { urlOrder: 'listed' })).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });
    const modes: string[] = [];
    client.on('connected', (event: { mode: string }) => modes.push(event.mode));
    await client.resetLSN();
    await until(() => modes.length > 0 || undefined, 5000, 'the reconnect after resetLSN');
    expect(modes).toEqual(['initial']);
    await client.whenSynced({ timeoutMs: 5000 });
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 1 }]);
  });

  it('the callback facade takes a list too', async () => {
    server = await startTestServer();
    const down = await closedPortUrl();
    initializeSync({ schema: testSchema, ...fastClientOptions });
    try {
      expect(await connectToSyncServer([down, server.url], { urlOrder: 'listed' })).toBe(true);
      expect(getSyncClient().currentStatus).toMatch(/syncing|live/);
    } finally {
      await cleanupSync();
    }
  });
});
