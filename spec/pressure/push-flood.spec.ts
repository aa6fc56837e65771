import type { SyncServer } from '../../src/server/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

const BURST = 50;
const FLOOD = 500;

/**
 * One client sends 500 pushes at once. The bucket holds 50 tokens and refills at one per 1000 s,
 * so exactly which frames are accepted does not depend on timing: the hello and the first 49
 * pushes. The rest are dropped unread; the client hears `rate_limited` once, then is closed with
 * 4429 when more than `rateLimitBurst` in a row were dropped. The server writes exactly the
 * accepted pushes, and a normal client syncs on as if nothing happened.
 */
describe('a flood of pushes from one client', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer({ limits: { rateLimitPerSecond: 0.001, rateLimitBurst: BURST } });
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('meets the rate limit, writes only what was accepted, and leaves other clients alone', async () => {
    const normal = testClient();
    await normal.connect(server.url);
    await normal.whenSynced({ timeoutMs: 5000 });

    const { peer: flooder } = await helloPeer(server, { clientId: 'flooder' }); // the hello took one token
    for (let i = 0; i < FLOOD; i++) {
      flooder.send({ type: 'push', changes: [{ id: `flood-${i}`, table: 'counters', op: 'insert', key: i, row: { n: i, label: `flood ${i}` } }] });
    }
    // Meanwhile the normal client writes and syncs.
    await normal.insert('todos', todo(1, { title: 'during the flood' }));

    expect(await flooder.closed).toBe(CloseCode.rateLimited);
    const errors = flooder.all('error');
    expect(errors).toEqual([expect.objectContaining({ code: 'rate_limited', retryable: true })]);
    expect(errors[0].retryAfterMs).toBeGreaterThanOrEqual(1);
    await until(() => server.sessionStats().every((s) => s.clientId !== 'flooder') || undefined, 5000, 'the flooder session to go');

    // Pushes accepted before the close are still applied (a closed session finishes its queue).
    const accepted = BURST - 1;
    await until(
      async () => (await server.query<{ n: number }>('SELECT count(*) AS n FROM counters'))[0].n >= accepted || undefined,
      5000,
      'the accepted pushes',
    );
    const log = await server.store.changesSince('0/0', 10_000);
    const flooded = log.filter((c) => c.origin?.clientId === 'flooder').map((c) => c.origin!.changeId);
    expect(flooded).toEqual(Array.from({ length: accepted }, (_, i) => `flood-${i}`));
    expect(await server.query('SELECT n FROM counters ORDER BY n')).toEqual(Array.from({ length: accepted }, (_, n) => ({ n })));
    // Every push_result the flooder got before the close is for an accepted push, each once.
    const answered = flooder.all('push_result').flatMap((m) => m.results.map((r) => r.id));
    expect(new Set(answered).size).toBe(answered.length);
    expect(answered.every((id) => flooded.includes(id))).toBe(true);

    // The normal client was never limited: its write landed, and it has the flood's rows too.
    await normal.whenSynced({ timeoutMs: 5000 });
    expect(await server.query('SELECT title FROM todos')).toEqual([{ title: 'during the flood' }]);
    expect(await normal.query('SELECT count(*) AS n FROM counters')).toEqual([{ n: accepted }]);
    expect(normal.currentStatus).toBe('live');
    // And a newcomer still gets in.
    const late = testClient();
    expect(await late.connect(server.url)).toBe(true);
    await late.whenSynced({ timeoutMs: 5000 });
    expect(await late.query('SELECT count(*) AS n FROM counters')).toEqual([{ n: accepted }]);
  });
});
