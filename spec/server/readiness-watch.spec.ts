import { CloseCode } from '../../src/protocol/index.js';
import { ReadinessWatch } from '../../src/server/ops/readiness-watch.js';
import type { StoreHealth } from '../../src/server/store/store.js';
import { TestPeer } from '../support/test-peer.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { until } from '../support/until.js';

const healthy: StoreHealth = { store: 'test', role: 'follower', ready: true, changeLogLagSeconds: 0, replicationLagSeconds: 0, replicationLagBytes: null };

describe('a server whose store stays not ready sends its clients elsewhere', () => {
  it('says lost once the store was not ready for closeAfterMs (down or stale alike), and back once it is ready', async () => {
    // In virtual time: what is asserted is the order of checks and answers, not how fast a machine runs them.
    jest.useFakeTimers();
    let answer: () => Promise<StoreHealth> = async () => healthy;
    const events: string[] = [];
    const watch = new ReadinessWatch(
      { health: () => answer() },
      { checkMs: 10, closeAfterMs: 150, onLost: (reason) => events.push(`lost: ${reason}`), onBack: () => events.push('back') },
    );
    watch.start();
    try {
      await jest.advanceTimersByTimeAsync(100);
      expect(events).toEqual([]);
      answer = () => Promise.reject(new Error('connection refused'));
      await jest.advanceTimersByTimeAsync(140); // not ready for less than closeAfterMs
      expect(events).toEqual([]);
      await jest.advanceTimersByTimeAsync(30);
      expect(events).toEqual(['lost: database unreachable: connection refused']);
      expect(watch.isLost).toBe(true);
      // Reachable but stale: still not ready, and said once only.
      answer = async () => ({ ...healthy, ready: false, reason: 'the change log is 30 s behind' });
      await jest.advanceTimersByTimeAsync(500);
      expect(events).toHaveLength(1);
      answer = async () => healthy;
      await jest.advanceTimersByTimeAsync(20);
      expect(events).toEqual(['lost: database unreachable: connection refused', 'back']);
      expect(watch.isLost).toBe(false);
      // A blip shorter than closeAfterMs is not an outage, nor are blips apart.
      for (let i = 0; i < 3; i++) {
        answer = () => Promise.reject(new Error('blip'));
        await jest.advanceTimersByTimeAsync(100);
        answer = async () => healthy;
        await jest.advanceTimersByTimeAsync(20);
      }
      expect(events).toHaveLength(2);
    } finally {
      watch.close();
      jest.useRealTimers();
    }
  });

  it('closes its sessions with 1012 and refuses new ones while the store is lost, then takes clients again', async () => {
    const server = await startTestServer({ closeSessionsWhenNotReadyMs: 0 });
    try {
      const { peer } = await helloPeer(server, { clientId: 'stranded' });
      const health = server.store.health.bind(server.store);
      server.store.health = () => Promise.reject(new Error('the database went away'));
      expect(await peer.closed).toBe(CloseCode.serviceRestart);
      expect(peer.closeReason).toBe('this server lost its database: reconnect elsewhere');
      await expect(TestPeer.connect(server.url)).rejects.toThrow(/503/);
      server.store.health = health;
      const again = await until(
        async () => {
          try {
            return await helloPeer(server, { clientId: 'stranded' });
          } catch {
            return undefined;
          }
        },
        10_000,
        'the server taking clients again',
        100,
      );
      expect(again.welcome.type).toBe('welcome');
      await again.peer.close();
    } finally {
      await server.close();
    }
  });
});
