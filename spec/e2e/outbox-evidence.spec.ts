import type { SyncClient } from '../../src/index.js';
import { FakeServer, type FakeConnection } from '../support/fake-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

/**
 * What the outbox takes as evidence about a write, driven from a fake server. The model test
 * found both: a write the server had applied was given up on as `failed` after its answers went
 * missing, while the network carried only the server's messages.
 */
const ACK_TIMEOUT_MS = 60;
const MAX_ATTEMPTS = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('outbox evidence', () => {
  let fake: FakeServer;
  let client: SyncClient;
  let conn: FakeConnection;
  let events: string[];

  beforeEach(async () => {
    fake = await FakeServer.start();
    // The client pings every 20 ms and gives up on a silent server only after 10 s.
    client = testClient({ changes: { ackTimeoutMs: ACK_TIMEOUT_MS, maxAttempts: MAX_ATTEMPTS }, heartbeat: { intervalMs: 20, timeoutMs: 10_000 } });
    events = [];
    client.on('client_change_applied', (e) => events.push(`applied ${e.id}`));
    client.on('client_change_failed', (e) => events.push(`failed ${e.id}`));
    void client.connect(fake.url);
    conn = await fake.nextHello(0);
    conn.welcome({ mode: 'catchup', serverLsn: '0/0' });
    await until(() => client.currentStatus === 'live' || undefined, 5000, 'live');
  });
  afterEach(async () => {
    await cleanupClients();
    await fake.close();
  });

  const pushes = () => conn.received.filter((m) => m.type === 'push');

  it('takes its own change coming back in the stream as applied, with no push_result ever', async () => {
    await client.insert('todos', todo(1));
    await until(() => pushes().length > 0 || undefined, 5000, 'the push');
    const [change] = pushes()[0].changes;
    conn.send({
      type: 'changes',
      lsn: '0/1',
      changes: [{ lsn: '0/1', table: 'todos', op: 'insert', key: change.key, row: change.row, origin: { clientId: client.clientId, changeId: change.id } }],
    });
    await until(() => client.currentLsn === '0/1' || undefined, 5000, 'the echo');
    expect((await client.localChanges()).map((e) => [e.id, e.status, e.lsn])).toEqual([[change.id, 'applied', '0/1']]);
    expect(events).toEqual([`applied ${change.id}`]);
    // The answer that comes late changes nothing and announces nothing twice.
    conn.send({ type: 'push_result', results: [{ id: change.id, status: 'applied', lsn: '0/1' }] });
    await sleep(5 * ACK_TIMEOUT_MS);
    expect(events).toEqual([`applied ${change.id}`]);
    expect(pushes().length).toBe(1); // and it was never resent
  });

  it("does not give up on a write while only the server's messages get through (a one-way partition)", async () => {
    // The server keeps talking (its pings arrive) but reads nothing of ours: no pong, no answer.
    const serverPings = setInterval(() => conn.send({ type: 'ping' }), 10);
    try {
      await client.insert('todos', todo(1));
      await until(() => pushes().length > MAX_ATTEMPTS + 2 || undefined, 5000, 'resends');
      expect((await client.localChanges()).map((e) => e.status)).toEqual(['sent']);
      expect(events).toEqual([]);
    } finally {
      clearInterval(serverPings);
    }
  });

  it('gives up on a write the server reads past but never answers', async () => {
    // The server answers every ping (so it has read what came before) but never the push.
    const answering = setInterval(() => {
      for (const ping of conn.received.filter((m) => m.type === 'ping' && !m.answered)) {
        ping.answered = true;
        conn.send({ type: 'pong', ...(ping.id !== undefined && { id: ping.id }) });
      }
    }, 5);
    try {
      await client.insert('todos', todo(1));
      const failed = await until(async () => (await client.localChanges({ status: 'failed' }))[0], 5000, 'the give-up');
      expect(failed.attempts).toBe(MAX_ATTEMPTS);
      expect(failed.errors.at(-1)?.message).toBe(`gave up after ${MAX_ATTEMPTS} attempts`);
      expect(events).toEqual([`failed ${failed.id}`]);
    } finally {
      clearInterval(answering);
    }
  });
});
