import { SyncCluster, expectConverged, writeLoad } from '../support/cluster-fixture.js';
import { useTestPostgres } from '../support/postgres.js';
import { parseMetrics } from '../support/metrics-text.js';
import { getJson } from '../support/server-process.js';
import { TestPeer } from '../support/test-peer.js';
import { testSchema } from '../support/test-schema.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

/**
 * Three `rxsync serve` processes over one throwaway Postgres, clients spread over them by a TCP
 * balancer (docs/deploy.md), through what an operator does and what the network does: a rolling
 * restart (SIGTERM), Postgres restarted under all of them, a process cut off from Postgres.
 */
describe('several sync processes over one Postgres: deploys and outages', () => {
  const postgres = useTestPostgres();
  let cluster: SyncCluster;
  let proxy: TcpProxy | undefined;

  beforeEach(async () => {
    cluster = await SyncCluster.start(postgres(), 3);
  }, 60_000);
  afterEach(async () => {
    await cluster.stop();
    await proxy?.close();
    proxy = undefined;
  });
  jest.setTimeout(120_000);

  it('drains a follower on SIGTERM: its clients are told to reconnect (1012), move to the others, and lose nothing', async () => {
    const replicator = await cluster.replicator();
    const follower = cluster.servers.find((server) => server !== replicator)!;
    // Two clients on the follower itself, two through the balancer.
    const onFollower = [cluster.client(), cluster.client()];
    const closeCodes: unknown[] = [];
    for (const client of onFollower) client.on('disconnected', (event: { reason?: string }) => closeCodes.push(event.reason));
    const clients = [...onFollower, cluster.client(), cluster.client()];
    await Promise.all(onFollower.map((client) => client.connect([follower.url, cluster.balancer.url], { urlOrder: 'listed' })));
    await Promise.all(clients.slice(2).map((client) => client.connect(cluster.balancer.url)));
    const load = writeLoad(cluster, clients);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    follower.signal('SIGTERM');
    expect(await follower.exited).toBe(0);
    expect(closeCodes.some((reason) => /1012/.test(String(reason)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const written = await load.stop();

    const ids = await expectConverged(cluster, clients);
    for (const id of [...written.byClients, ...written.byBackend]) expect(ids).toContain(id);
    expect(await cluster.insertsLoggedTwice()).toEqual([]);
    // The two that were on it went on elsewhere.
    for (const client of onFollower) expect(client.currentStatus).toBe('live');
  });

  it('answers a change pushed again through another process (as after a cut that lost its answer) as a duplicate of the first, at the same LSN', async () => {
    const [first, second] = cluster.servers;
    const change = { id: 'resent-1', table: 'todos', op: 'insert', key: 'resent', row: { id: 'resent', title: 'pushed twice', done: 0, score: 1, meta: null } };
    const pushTo = async (server: { url: string }) => {
      const peer = await TestPeer.connect(server.url);
      peer.hello(testSchema, { clientId: 'moving-client' });
      await peer.next('welcome');
      peer.send({ type: 'push', changes: [change] });
      const { results } = await peer.next('push_result');
      await peer.close();
      return results[0];
    };
    const applied = await pushTo(first);
    expect(applied).toMatchObject({ id: 'resent-1', status: 'applied' });
    // The same change id from the same client, on another process: applied already, not again.
    expect(await pushTo(second)).toEqual({ id: 'resent-1', status: 'duplicate', lsn: (applied as { lsn: string }).lsn });
    const metrics = parseMetrics(await (await fetch(`${second.httpUrl}/metrics`)).text());
    expect(metrics.get('rxsync_push_changes_total{result="duplicate"}')).toBe(1);
    expect(metrics.get('rxsync_push_changes_total{result="applied"}')).toBe(0);
    expect(await cluster.todoIds()).toEqual(['resent']);
    expect(await cluster.insertsLoggedTwice()).toEqual([]);
  });

  it('comes back from a Postgres restart under all three: one replicator again, every client converges', async () => {
    await cluster.replicator();
    const clients = Array.from({ length: 3 }, () => cluster.client());
    await Promise.all(clients.map((client) => client.connect(cluster.balancer.url)));
    await cluster.psql.query(`INSERT INTO todos (id, title) VALUES ('before', 'the restart')`);
    await expectConverged(cluster, clients);

    await cluster.postgres.restart();
    await cluster.reconnectPsql();
    await cluster.replicator(cluster.servers, 30_000);
    await cluster.psql.query(`INSERT INTO todos (id, title) VALUES ('after', 'the restart')`);
    await clients[0].insert('todos', { id: 'client-after', title: 'from a client', done: 0, score: 1, meta: null });
    const ids = await expectConverged(cluster, clients);
    expect(ids).toEqual(['after', 'before', 'client-after']);
    expect(await cluster.insertsLoggedTwice()).toEqual([]);
    for (const server of cluster.servers)
      await until(async () => ((await getJson(server, '/readyz')).status === 200 ? true : undefined), 20_000, 'ready again');
  });

  it('stops claiming to be ready when cut off from Postgres, and is ready again once the network is back', async () => {
    await cluster.replicator();
    proxy = await TcpProxy.start(cluster.postgres.port);
    const through = cluster.database.connectionString.replace(`:${cluster.postgres.port}/`, `:${proxy.port}/`);
    const cutOff = await cluster.addServer(through);
    await until(async () => ((await getJson(cutOff, '/readyz')).status === 200 ? true : undefined), 20_000, 'the fourth process ready');
    expect(await cluster.role(cutOff)).toBe('follower');

    // Packets dropped, connections left open: nothing tells the process, but its reads stop answering.
    proxy.hold();
    const notReady = await until(
      async () => {
        const answer = await getJson(cutOff, '/readyz');
        return answer.status === 503 ? answer.body : undefined;
      },
      20_000,
      '/readyz to say 503',
      200,
    );
    expect(notReady.ready).toBe(false);
    expect(String(notReady.reason)).not.toMatch(/secret/); // the connection string's password stays out
    // The others are unaffected.
    for (const server of cluster.servers.filter((s) => s !== cutOff)) expect((await getJson(server, '/readyz')).status).toBe(200);

    proxy.release();
    proxy.cut(); // connections held that long are dropped, as a real network would after a while
    await until(async () => ((await getJson(cutOff, '/readyz')).status === 200 ? true : undefined), 30_000, 'ready again', 200);
    // And it serves again: a client straight to it gets a backend write.
    const client = cluster.client();
    await client.connect(cutOff.url);
    await cluster.psql.query(`INSERT INTO todos (id, title) VALUES ('healed', 'after the cut')`);
    await expectConverged(cluster, [client]);
  });
});
