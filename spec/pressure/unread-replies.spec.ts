import type { SyncServer } from '../../src/server/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { until } from '../support/test-client.js';

const MAX_BUFFERED = 256 * 1024;
const CHANGES = 1000;

/**
 * A client that keeps sending requests but never reads the answers. Data can wait in the log;
 * answers cannot, so without a limit every `push_result` would pile up in the server's send
 * buffer for as long as the client goes on. The server must close it with 4413 once its unsent
 * replies pass `maxBufferedBytes`, having held no more than that plus one reply, and must write
 * each pushed change once (the resends are answered `duplicate`).
 */
describe('a client that does not read its replies', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer({ limits: { maxBufferedBytes: MAX_BUFFERED } });
  });
  afterAll(() => server.close());

  it('is closed with 4413 before its replies grow the server memory past the limit', async () => {
    const { peer } = await helloPeer(server, { clientId: 'deaf', lsn: server.currentLsn() });
    peer.ws.pause();
    const changes = Array.from({ length: CHANGES }, (_, n) => ({ id: `deaf-${n}`, table: 'counters', op: 'insert', key: n, row: { n, label: `row ${n}` } }));
    // The largest reply: a push_result of 1000 `applied` results with long LSNs.
    const largestReply = Buffer.byteLength(
      JSON.stringify({ type: 'push_result', results: changes.map((c) => ({ id: c.id, status: 'applied', lsn: 'FFFFFFFF/FFFFFFFF' })) }),
    );
    const deaf = () => server.sessionStats().find((s) => s.clientId === 'deaf');
    let peakReplies = 0;
    let peakBuffered = 0;
    let sent = 0;
    // The same push, again and again, at the pace the server takes it (its queue must not be what grows).
    while (deaf()?.phase === 'streaming' && sent < 2000) {
      peer.send({ type: 'push', changes });
      sent += 1;
      const stats = deaf();
      if (stats) {
        peakReplies = Math.max(peakReplies, stats.bufferedReplyBytes);
        peakBuffered = Math.max(peakBuffered, stats.bufferedBytes);
      }
      // Received (the hello was frame 1) and handled, or the session is gone.
      await until(
        () => {
          const s = deaf();
          return !s || s.phase === 'closed' || (s.framesReceived > sent && s.queuedMessages === 0);
        },
        5000,
        'the server to take the push',
      );
    }
    console.log(
      `unread replies: closed after ${sent} pushes; peak unsent replies ${(peakReplies / 1024).toFixed(0)} KiB, all unsent ${(peakBuffered / 1024).toFixed(0)} KiB (limit ${MAX_BUFFERED / 1024} KiB + one reply ${(largestReply / 1024).toFixed(0)} KiB)`,
    );
    expect(deaf()?.phase ?? 'closed').toBe('closed');
    expect(peakReplies).toBeLessThanOrEqual(MAX_BUFFERED + largestReply);

    // Reading again, the client gets what was queued for it, then the close frame.
    peer.ws.resume();
    expect(await peer.closed).toBe(CloseCode.slowConsumer);
    expect(peer.all('push_result')[0].results.every((r) => r.status === 'applied')).toBe(true);
    expect(
      peer
        .all('push_result')
        .slice(1)
        .every((m) => m.results.every((r) => r.status === 'duplicate')),
    ).toBe(true);
    expect(await server.query('SELECT count(*) AS n FROM counters')).toEqual([{ n: CHANGES }]);
    await until(() => server.sessionCount === 0 || undefined, 5000, 'the session to go');
  });
});
