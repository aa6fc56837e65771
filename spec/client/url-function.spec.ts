import type { SyncEventMap } from '../../src/streams/events.js';
/**
 * connect() with a function: asked for the URL before every try (it may answer with a Promise);
 * a throw, a rejection or an answer that is not a URL fails that try like an unreachable server
 * (the backoff follows, as for one URL). Real sockets on 127.0.0.1.
 */
import { FakeServer } from '../support/fake-server.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';
import { closedPortUrl } from '../support/unreachable.js';

/** A `disconnected` event of a lost connection (with a retry). */
type Disconnected = Extract<SyncEventMap['disconnected'], { attempt: number }>;

describe('connect() with a URL function', () => {
  let server: FakeServer;
  let down: string;
  beforeEach(async () => {
    server = await FakeServer.start();
    down = await closedPortUrl();
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  function lostConnections(client: ReturnType<typeof testClient>): Disconnected[] {
    const lost: Disconnected[] = [];
    client.on('disconnected', (event) => {
      if (event.attempt !== undefined) lost.push(event);
    });
    return lost;
  }

  it.each([
    ['answering at once', (url: string) => url],
    ['answering with a Promise', (url: string) => new Promise<string>((resolve) => setTimeout(() => resolve(url), 5))],
  ])('is asked before every try, %s', async (_, answer) => {
    const answers = [down, down, server.url];
    let asked = 0;
    const client = testClient({ reconnect: { initialDelayMs: 20, maxDelayMs: 1000, jitter: 0 } });
    const lost = lostConnections(client);
    const connected: string[] = [];
    client.on('connected', (event: { url: string }) => connected.push(event.url));
    const connecting = client.connect(() => answer(answers[Math.min(asked++, answers.length - 1)]!));
    await server.welcomeNext(0);
    expect(await connecting).toBe(true);
    expect(asked).toBe(3);
    expect(connected).toEqual([server.url]);
    // One URL at a time: every failure is a step of the backoff.
    expect(lost.map(({ url, attempt, retryInMs }) => ({ url, attempt, retryInMs }))).toEqual([
      { url: down, attempt: 1, retryInMs: 20 },
      { url: down, attempt: 2, retryInMs: 40 },
    ]);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('no server known yet');
      },
      'no server known yet',
    ],
    ['rejects', () => Promise.reject(new Error('discovery is down')), 'discovery is down'],
    ['answers something that is not a URL', () => '' as string, 'not a URL'],
  ])('a function that %s fails that try like an unreachable server, and is asked again', async (_, failing, message) => {
    let asked = 0;
    const client = testClient();
    const lost = lostConnections(client);
    const statuses: string[] = [];
    client.status$.subscribe((status) => statuses.push(status));
    const connecting = client.connect(() => (asked++ === 0 ? failing() : server.url));
    await server.welcomeNext(0);
    expect(await connecting).toBe(true);
    expect(asked).toBe(2);
    expect(lost).toEqual([expect.objectContaining({ attempt: 1, retryInMs: 20 })]);
    expect(lost[0]!.reason).toContain(message);
    expect(lost[0]!.url).toBeUndefined(); // that try never dialed
    expect(statuses).toEqual(['idle', 'connecting', 'backoff', 'connecting', 'handshaking', 'live']);
  });

  it('a function asked again after a 1012 can send the client elsewhere', async () => {
    const other = await FakeServer.start();
    try {
      const urls = [server.url, other.url];
      let asked = 0;
      const client = testClient();
      const lost = lostConnections(client);
      const connecting = client.connect(() => urls[asked++ % 2]!);
      const first = await server.welcomeNext(0);
      expect(await connecting).toBe(true);
      first.ws.close(1012, 'restarting');
      await other.welcomeNext(0);
      await until(() => client.currentStatus === 'live' || undefined, 5000, 'live on the other server');
      expect(lost).toEqual([expect.objectContaining({ url: server.url, retryInMs: 0 })]);
    } finally {
      await other.close();
    }
  });
});
