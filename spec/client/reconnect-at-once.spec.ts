import type { SyncEventMap } from '../../src/streams/events.js';
/**
 * Close codes with which a server asks its clients to come back at once: 1012 (serviceRestart, a
 * draining process: go to another server) and 4403 (tokenExpired: come back with a fresh token).
 * The client reconnects without the backoff wait (the `disconnected` event says `retryInMs: 0`)
 * and without counting a failure, to the next URL of its list; once between two welcomes, so a
 * server that keeps closing that way is backed off from as usual. 1001 (goingAway) keeps the
 * backoff. Fake servers driven frame by frame on 127.0.0.1, and two reference servers (one drained).
 */
import { CloseCode } from '../../src/protocol/index.js';
import { FakeServer, type FakeConnection } from '../support/fake-server.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

/** A `disconnected` event of a lost connection (with a retry). */
type Disconnected = Extract<SyncEventMap['disconnected'], { attempt: number }>;

describe('close codes that ask for an immediate reconnect', () => {
  const fakes: FakeServer[] = [];
  afterEach(async () => {
    await cleanupClients();
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });
  const fake = async () => {
    const started = await FakeServer.start();
    fakes.push(started);
    return started;
  };

  /** A client (slow backoff, so that a wait would show) with its lost connections and welcomes. */
  function client(options: Parameters<typeof testClient>[0] = {}) {
    // A backoff this long would fail the spec's timeouts: every reconnect below that is not
    // expected to wait must happen without it.
    const c = testClient({ reconnect: { initialDelayMs: 20_000, maxDelayMs: 60_000, jitter: 0 }, ...options });
    const lost: Disconnected[] = [];
    c.on('disconnected', (event) => {
      if (event.attempt !== undefined) lost.push(event);
    });
    const connected: string[] = [];
    c.on('connected', (event: { url: string }) => connected.push(event.url));
    return { client: c, lost, connected };
  }

  const close = (connection: FakeConnection, code: number, reason = '') => connection.ws.close(code, reason);

  it('1012: on to the next server of the list at once, not counted as a failure', async () => {
    const [a, b] = [await fake(), await fake()];
    const { client: c, lost, connected } = client();
    const connecting = c.connect([a.url, b.url], { urlOrder: 'listed' });
    const onA = await a.welcomeNext(0);
    expect(await connecting).toBe(true);

    close(onA, CloseCode.serviceRestart, 'server restarting');
    const onB = await b.welcomeNext(0);
    await until(() => connected.length === 2 || undefined, 5000, 'the welcome on the second server');
    expect(connected).toEqual([a.url, b.url]);
    expect(lost).toEqual([expect.objectContaining({ url: a.url, attempt: 1, retryInMs: 0 })]);
    expect(lost[0]!.reason).toContain('1012');

    // Welcomed again: the next 1012 is answered at once again (back to the first server).
    close(onB, CloseCode.serviceRestart);
    await a.welcomeNext(1);
    await until(() => connected.length === 3 || undefined, 5000, 'the welcome back on the first server');
    expect(connected).toEqual([a.url, b.url, a.url]);
    expect(lost.map((event) => event.retryInMs)).toEqual([0, 0]);
  });

  it('1012 with one URL (a load balancer): reconnects to it at once', async () => {
    const balancer = await fake();
    const { client: c, lost } = client();
    const connecting = c.connect(balancer.url);
    const first = await balancer.welcomeNext(0);
    expect(await connecting).toBe(true);
    close(first, CloseCode.serviceRestart);
    await balancer.welcomeNext(1);
    await until(() => c.currentStatus === 'live' || undefined, 5000, 'live again');
    expect(lost).toEqual([expect.objectContaining({ url: balancer.url, attempt: 1, retryInMs: 0 })]);
  });

  it('a server that closes with 1012 again before welcoming is backed off from as usual', async () => {
    const server = await fake();
    const { client: c, lost } = client({ reconnect: { initialDelayMs: 30, maxDelayMs: 1000, jitter: 0 } });
    void c.connect(server.url);
    close(await server.welcomeNext(0), CloseCode.serviceRestart);
    close(await server.nextHello(1), CloseCode.serviceRestart); // the second try is refused the same way
    await until(() => lost.length >= 2 || undefined, 5000, 'two lost connections');
    expect(lost.map(({ attempt, retryInMs }) => ({ attempt, retryInMs }))).toEqual([
      { attempt: 1, retryInMs: 0 }, // at once
      { attempt: 2, retryInMs: 30 }, // counted: the first step of the backoff
    ]);
  });

  it('4403: reconnects at once, asking the token function again', async () => {
    const server = await fake();
    let asked = 0;
    const { client: c, lost } = client({
      authToken: () => {
        asked += 1;
        return `token-${asked}`;
      },
    });
    const connecting = c.connect(server.url);
    const first = await server.welcomeNext(0);
    expect(await connecting).toBe(true);
    expect(first.hello.token).toBe('token-1');
    close(first, CloseCode.tokenExpired, 'token expired');
    const second = await server.welcomeNext(1);
    expect(second.hello.token).toBe('token-2');
    expect(lost).toEqual([expect.objectContaining({ attempt: 1, retryInMs: 0 })]);
  });

  it("a reference server's drain() (1012) sends its client at once to the next server of the list", async () => {
    const [a, b] = [await startTestServer(), await startTestServer()];
    try {
      const { client: c, lost, connected } = client();
      expect(await c.connect([a.url, b.url], { urlOrder: 'listed' })).toBe(true);
      await a.drain({ timeoutMs: 2000 });
      await until(() => connected.length === 2 || undefined, 5000, 'the welcome on the second server');
      expect(connected).toEqual([a.url, b.url]);
      expect(lost).toEqual([expect.objectContaining({ url: a.url, attempt: 1, retryInMs: 0 })]);
      await b.insert('todos', todo(1));
      await c.whenSynced({ timeoutMs: 5000 });
      expect(await c.query('SELECT id FROM todos')).toEqual([{ id: todo(1).id }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('1001 (goingAway) keeps the backoff', async () => {
    const server = await fake();
    const { client: c, lost } = client({ reconnect: { initialDelayMs: 30, maxDelayMs: 1000, jitter: 0 } });
    const connecting = c.connect(server.url);
    const first = await server.welcomeNext(0);
    expect(await connecting).toBe(true);
    close(first, CloseCode.goingAway, 'server shutting down');
    await server.welcomeNext(1);
    expect(lost).toEqual([expect.objectContaining({ attempt: 1, retryInMs: 30 })]);
  });
});
