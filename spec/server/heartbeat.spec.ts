import { CloseCode } from '../../src/protocol/index.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { TestPeer } from '../support/test-peer.js';

describe('heartbeat and session lifetime', () => {
  it('pings a quiet client and drops it with 4408 once it has said nothing for the timeout', async () => {
    const server = await startTestServer({ limits: { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 150 } });
    const { peer } = await helloPeer(server);
    const started = Date.now();
    expect(await peer.closed).toBe(CloseCode.heartbeatTimeout);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(peer.all('ping').length).toBeGreaterThanOrEqual(2);
    await peer.waitFor(() => server.sessionCount === 0 || undefined);
    await server.close();
  });

  it('keeps a client that answers pings', async () => {
    const server = await startTestServer({ limits: { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 150 } });
    const { peer } = await helloPeer(server);
    peer.ws.on('message', (data) => {
      if (JSON.parse(data.toString()).type === 'ping') peer.send({ type: 'pong' });
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(peer.closeCode).toBeUndefined();
    expect(server.sessionCount).toBe(1);
    await peer.close();
    await server.close();
  });

  it('drops a connection that never says hello', async () => {
    const server = await startTestServer({ limits: { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 150 } });
    const peer = await TestPeer.connect(server.url);
    expect(await peer.closed).toBe(CloseCode.heartbeatTimeout);
    await server.close();
  });

  it('closes the older session with 4409 when the same client connects again', async () => {
    const server = await startTestServer();
    const first = await helloPeer(server, { clientId: 'tabbed' });
    const second = await helloPeer(server, { clientId: 'tabbed' });
    expect(await first.peer.closed).toBe(CloseCode.replaced);
    expect(second.welcome.clientKnown).toBe(true);
    expect(second.peer.closeCode).toBeUndefined();
    await second.peer.close();
    await server.close();
  });

  it('says goodbye with 1001 to every client when it closes', async () => {
    const server = await startTestServer();
    const { peer } = await helloPeer(server);
    await server.close();
    expect(await peer.closed).toBe(CloseCode.goingAway);
  });
});
