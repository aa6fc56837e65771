import WebSocket from 'ws';
import { FakeServer } from '../support/fake-server.js';
import { todoInsert } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

/**
 * The client acknowledges `changes` as the protocol allows (acks are cumulative): once per turn of
 * the host, with the latest LSN applied, and after the live queries have seen what it acknowledges.
 */
describe('acks of applied changes', () => {
  let fake: FakeServer;
  beforeEach(async () => {
    fake = await FakeServer.start();
  });
  afterEach(async () => {
    await cleanupClients();
    await fake.close();
  });

  it('acks a burst of changes with fewer acks than messages, the last one at the last LSN, in LSN order', async () => {
    const client = testClient();
    const connecting = client.connect(fake.url);
    const conn = await fake.welcomeNext(0);
    expect(await connecting).toBe(true);
    const burst = 50;
    // All in one write to the socket: they arrive together and are applied one after another.
    for (let i = 1; i <= burst; i++) conn.send({ type: 'changes', lsn: `0/${i}`, changes: [todoInsert(`0/${i}`, `t${i}`)] });
    await conn.waitFor('ack', (m) => m.lsn === `0/${burst}`);
    const acks = conn.sent('ack').map((m) => Number(m.lsn.split('/')[1]));
    expect(acks.length).toBeLessThan(burst);
    expect(acks).toEqual([...acks].sort((a, b) => a - b));
    expect(new Set(acks).size).toBe(acks.length);
    expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: burst }]);
  });

  it('sends the ack of a change after a watch on its table has shown it', async () => {
    // What the client did, in order: its socket's sends (seen by wrapping the socket it opens) and the watch's emissions.
    const log: string[] = [];
    class LoggedWebSocket extends WebSocket {
      override send(data: string | Buffer): void {
        const message = JSON.parse(String(data));
        if (message.type === 'ack') log.push(`ack ${message.lsn}`);
        super.send(data);
      }
    }
    const client = testClient({ WebSocketCtor: LoggedWebSocket as unknown as typeof globalThis.WebSocket });
    const connecting = client.connect(fake.url);
    const conn = await fake.welcomeNext(0);
    expect(await connecting).toBe(true);
    const subscription = client.watch<{ id: string }>('SELECT id FROM todos ORDER BY id').subscribe((rows) => log.push(`shown ${rows.length}`));
    await until(() => log.includes('shown 0') || undefined, 5000, 'the first emission');
    for (let i = 1; i <= 5; i++) {
      conn.send({ type: 'changes', lsn: `0/${i}`, changes: [todoInsert(`0/${i}`, `t${i}`)] });
      await conn.waitFor('ack', (m) => m.lsn === `0/${i}`);
    }
    subscription.unsubscribe();
    expect(log).toEqual(['shown 0', 'shown 1', 'ack 0/1', 'shown 2', 'ack 0/2', 'shown 3', 'ack 0/3', 'shown 4', 'ack 0/4', 'shown 5', 'ack 0/5']);
  });
});
