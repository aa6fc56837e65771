import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { CloseCode } from '../../src/protocol/index.js';
import { createSqliteStore, type SyncServer, type SyncStore } from '../../src/server/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { TestPeer } from '../support/test-peer.js';
import { until } from '../support/until.js';
import { parseMetrics } from '../support/metrics-text.js';

/** The samples of a Prometheus text, by name and labels as printed (`rxsync_pushes_total{result="applied"}`). */
const get = (server: SyncServer, path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

async function scrape(server: SyncServer): Promise<(name: string) => number | undefined> {
  const response = await get(server, '/metrics');
  expect(response.status).toBe(200);
  const samples = parseMetrics(await response.text());
  return (name) => samples.get(name);
}

/** A store whose client writes wait at a gate the spec opens: a push in flight, for as long as the spec wants. */
function gatedStore(): { store: SyncStore; entered: Promise<void>; open: () => void } {
  const store = createSqliteStore({ schema: testSchema, database: ':memory:' });
  const apply = store.applyClientWrites.bind(store);
  let open!: () => void;
  let enter!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  store.applyClientWrites = async (...args) => {
    enter();
    await gate;
    return apply(...args);
  };
  return { store, entered, open };
}

describe('operations endpoints', () => {
  describe('/metrics', () => {
    let server: SyncServer;
    beforeAll(async () => {
      server = await startTestServer();
      for (const i of [1, 2, 3]) await server.insert('todos', todo(i));
    });
    afterAll(() => server.close());

    it("answers in prom-client's Prometheus text format", async () => {
      const response = await get(server, '/metrics');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(new Registry().contentType);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const metric = parseMetrics(await response.text());
      // The process's own metrics only when asked for (the CLI does: ops-cli.spec.ts).
      expect([...metric.keys()].filter((name) => !name.startsWith('rxsync_'))).toEqual([]);
      // What the store's health says, read at scrape time.
      expect(metric.get('rxsync_store_up')).toBe(1);
      expect(metric.get('rxsync_ready')).toBe(1);
      expect(metric.get('rxsync_role{role="replicator"}')).toBe(1);
      expect(metric.get('rxsync_role{role="follower"}')).toBe(0);
      expect(metric.get('rxsync_change_log_lag_seconds')).toBe(0);
      expect(metric.get('rxsync_replication_lag_seconds')).toBe(0);
      expect(metric.get('rxsync_replication_lag_bytes')).toBeNaN(); // unknown: SQLite replicates nothing
      // Every series is there from the start, at 0.
      expect(metric.get('rxsync_sessions')).toBe(0);
      expect(metric.get('rxsync_push_changes_total{result="rejected"}')).toBe(0);
      expect(metric.get('rxsync_messages_sent_total{type="welcome"}')).toBe(0);
    });

    it('counts sessions, messages, bytes, pushes by result, snapshot rows and live deliveries', async () => {
      const peer = await TestPeer.connect(server.url);
      let bytesReceived = 0;
      let bytesSent = 0;
      peer.ws.on('message', (data: Buffer) => (bytesReceived += data.length));
      const send = peer.ws.send.bind(peer.ws) as (data: string) => void;
      peer.ws.send = ((data: string) => {
        bytesSent += Buffer.byteLength(data);
        send(data);
      }) as typeof peer.ws.send;
      autoAck(peer);
      peer.hello(testSchema);
      await peer.next('snapshot_end');
      const snapshotRows = peer.all('snapshot_chunk').reduce((n, chunk) => n + chunk.rows.length, 0);
      expect(snapshotRows).toBe(3);

      const insert = { type: 'push', changes: [{ id: 'p1', table: 'todos', op: 'insert', key: 'n1', row: { id: 'n1', title: 'new' } }] };
      peer.send(insert);
      expect((await peer.next('push_result')).results[0].status).toBe('applied');
      peer.send(insert); // resent, as after a lost connection
      expect((await peer.next('push_result')).results[0].status).toBe('duplicate');
      peer.send({ type: 'push', changes: [{ id: 'p2', table: 'todos', op: 'update', key: 'missing', row: { done: 1 } }] });
      expect((await peer.next('push_result')).results[0].status).toBe('rejected');
      await peer.settle(100);

      const before = await scrape(server);
      expect(before('rxsync_sessions')).toBe(1);
      expect(before('rxsync_push_changes_total{result="applied"}')).toBe(1);
      expect(before('rxsync_push_changes_total{result="duplicate"}')).toBe(1);
      expect(before('rxsync_push_changes_total{result="rejected"}')).toBe(1);
      expect(before('rxsync_snapshot_rows_total')).toBe(snapshotRows);
      expect(before('rxsync_messages_received_total{type="hello"}')).toBe(1);
      expect(before('rxsync_messages_received_total{type="push"}')).toBe(3);
      expect(before('rxsync_messages_received_total{type="snapshot_ack"}')).toBe(peer.all('snapshot_chunk').length);
      expect(before('rxsync_messages_sent_total{type="welcome"}')).toBe(1);
      expect(before('rxsync_messages_sent_total{type="snapshot_chunk"}')).toBe(peer.all('snapshot_chunk').length);
      expect(before('rxsync_messages_sent_total{type="push_result"}')).toBe(3);
      expect(before('rxsync_messages_sent_total{type="changes"}')).toBe(peer.all('changes').length);
      expect(before('rxsync_received_bytes_total')).toBe(bytesSent);
      expect(before('rxsync_sent_bytes_total')).toBe(bytesReceived);

      // A server write reaches the caught-up client live: one delivery measured, and quickly.
      const changes = peer.all('changes').length;
      await server.insert('todos', todo(4));
      await peer.waitFor(() => peer.all('changes').length > changes || undefined);
      const after = await scrape(server);
      expect(after('rxsync_fanout_delivery_seconds_count')).toBe(before('rxsync_fanout_delivery_seconds_count')! + 1);
      expect(after('rxsync_fanout_delivery_seconds_bucket{le="+Inf"}')).toBe(after('rxsync_fanout_delivery_seconds_count'));
      expect(after('rxsync_fanout_delivery_seconds_sum')).toBeGreaterThan(0);
      expect(after('rxsync_fanout_delivery_seconds_bucket{le="1"}')).toBe(after('rxsync_fanout_delivery_seconds_count'));

      await peer.close();
      await until(() => server.sessionCount === 0);
      expect((await scrape(server))('rxsync_sessions')).toBe(0);
    });

    it('keeps the counters of each server apart', async () => {
      const other = await startTestServer();
      try {
        const { peer } = await helloPeer(other, { clientId: 'elsewhere' });
        await peer.close();
        const metric = await scrape(other);
        expect(metric('rxsync_messages_received_total{type="hello"}')).toBe(1);
        expect(metric('rxsync_push_changes_total{result="applied"}')).toBe(0);
        expect((await scrape(server))('rxsync_messages_received_total{type="hello"}')).toBe(1);
      } finally {
        await other.close();
      }
    });

    it('counts frames refused before decoding as invalid, never by what the client wrote', async () => {
      const { peer } = await helloPeer(server, { clientId: 'sloppy' });
      peer.send({ type: 'drop_tables' });
      peer.send('not json');
      await peer.next('error');
      await peer.next('error');
      const text = await (await get(server, '/metrics')).text();
      expect(text).not.toContain('drop_tables');
      expect(parseMetrics(text).get('rxsync_messages_received_total{type="invalid"}')).toBe(2);
      await peer.close();
    });
  });

  describe('a store that cannot answer', () => {
    let server: SyncServer;
    let failure: Error | undefined;
    beforeAll(async () => {
      const store = createSqliteStore({ schema: testSchema, database: ':memory:' });
      const health = store.health.bind(store);
      store.health = () => (failure ? Promise.reject(failure) : health());
      server = await startTestServer({ store });
    });
    afterAll(() => server.close());
    afterEach(() => (failure = undefined));

    it('is not healthy nor ready, and the scrape still answers with rxsync_store_up 0', async () => {
      failure = new Error('connect ECONNREFUSED 127.0.0.1:5432');
      const health = await get(server, '/healthz');
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ok: false, error: failure.message });
      const ready = await get(server, '/readyz');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, reason: `database unreachable: ${failure.message}` });
      const metric = await scrape(server);
      expect(metric('rxsync_store_up')).toBe(0);
      expect(metric('rxsync_ready')).toBe(0);
      expect(metric('rxsync_change_log_lag_seconds')).toBeNaN();
      expect(metric('rxsync_role{role="replicator"}')).toBe(0);
      expect(metric('rxsync_sessions')).toBe(0);

      failure = undefined;
      expect((await get(server, '/readyz')).status).toBe(200);
      expect((await scrape(server))('rxsync_store_up')).toBe(1);
    });
  });

  describe('/healthz and /readyz', () => {
    let server: SyncServer;
    beforeAll(async () => {
      server = await startTestServer();
    });
    afterAll(() => server.close());

    it('/healthz answers ok with the role and the rest of the store health', async () => {
      const response = await get(server, '/healthz');
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        ok: true,
        lsn: server.currentLsn(),
        sessions: 0,
        store: 'sqlite',
        role: 'replicator',
        ready: true,
        changeLogLagSeconds: 0,
        replicationLagSeconds: 0,
        replicationLagBytes: null,
      });
    });

    it('/readyz answers 200 with the role while the store is ready', async () => {
      const response = await get(server, '/readyz');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toMatchObject({ ready: true, role: 'replicator', store: 'sqlite', changeLogLagSeconds: 0, lsn: server.currentLsn() });
    });

    it("/readyz answers 503 with the store's reason when it is not ready", async () => {
      const health = server.store.health.bind(server.store);
      server.store.health = async () => ({ ...(await health()), ready: false, reason: 'the change log is 30 s behind' });
      try {
        const response = await get(server, '/readyz');
        expect(response.status).toBe(503);
        expect(await response.json()).toMatchObject({ ready: false, reason: 'the change log is 30 s behind', role: 'replicator' });
        expect((await get(server, '/healthz')).status).toBe(200); // alive all the same
      } finally {
        server.store.health = health;
      }
    });
  });

  describe('drain', () => {
    it('refuses new clients, answers the push in flight, then closes every session with 1012 and the store', async () => {
      const { store, entered, open } = gatedStore();
      const server = await startTestServer({ store });
      const pusher = await helloPeer(server, { clientId: 'pusher' });
      const idle = await helloPeer(server, { clientId: 'idle' });
      pusher.peer.send({ type: 'push', changes: [{ id: 'd1', table: 'todos', op: 'insert', key: 'd1', row: { id: 'd1', title: 'in flight' } }] });
      await entered;

      const drained = server.drain();
      const ready = await get(server, '/readyz');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, reason: 'shutting down' });
      expect((await get(server, '/healthz')).status).toBe(200); // still alive while it drains
      const refused = new WebSocket(server.url);
      expect((await new Promise<Error>((resolve) => refused.once('error', resolve))).message).toMatch(/503/);
      // The idle session is closed at once; the busy one waits for its push.
      expect(await idle.peer.closed).toBe(CloseCode.serviceRestart);
      expect(idle.peer.closeReason).toBe('server restarting: reconnect');
      expect(pusher.peer.closeCode).toBeUndefined();

      open();
      const { results } = await pusher.peer.next('push_result');
      expect(results).toEqual([{ id: 'd1', status: 'applied', lsn: expect.any(String) }]);
      expect(await pusher.peer.closed).toBe(CloseCode.serviceRestart);
      await drained;
      await expect(store.query('SELECT 1')).rejects.toThrow(); // closed
      await expect(server.close()).resolves.toBeUndefined(); // the same shutdown
    });

    it('closes a session still busy after timeoutMs all the same', async () => {
      const { store, entered, open } = gatedStore();
      const server = await startTestServer({ store });
      const { peer } = await helloPeer(server);
      peer.send({ type: 'push', changes: [{ id: 's1', table: 'todos', op: 'insert', key: 's1', row: { id: 's1' } }] });
      await entered;
      const started = Date.now();
      await server.drain({ timeoutMs: 200 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(await peer.closed).toBe(CloseCode.serviceRestart);
      expect(peer.all('push_result')).toEqual([]); // the client resends it to the server it reconnects to
      open();
    });

    it('close() is the same shutdown, with 1001 (going away)', async () => {
      const server = await startTestServer();
      const { peer } = await helloPeer(server);
      autoAck(peer);
      await server.close();
      expect(peer.closeCode ?? (await peer.closed)).toBe(CloseCode.goingAway);
    });
  });
});
