import { SyncCluster, expectConverged, writeLoad } from '../support/cluster-fixture.js';
import { useTestPostgres } from '../support/postgres.js';
import { getJson } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

/**
 * Three `rxsync serve` processes over one throwaway Postgres, clients spread over them by a TCP
 * balancer (docs/deploy.md): the replicator killed with SIGKILL or stalled with SIGSTOP under load.
 * Each time another process takes over, every client converges on what Postgres holds, every
 * write a client had confirmed is there, and the change log holds each insert once.
 */
describe('several sync processes over one Postgres: the replicator goes', () => {
  const postgres = useTestPostgres();
  let cluster: SyncCluster;

  beforeEach(async () => {
    cluster = await SyncCluster.start(postgres(), 3);
  }, 60_000);
  afterEach(async () => {
    await cluster.stop();
  });
  jest.setTimeout(120_000);

  it('starts three processes at the same moment on a fresh database: one replicator, two followers, no error, all serving', async () => {
    await cluster.replicator();
    for (const server of cluster.servers) expect(server.output()).not.toMatch(/error|Error/);
    // Any process serves any client: one client straight to each, each gets a backend write.
    const clients = cluster.servers.map((server) => {
      const client = cluster.client();
      void client.connect(server.url);
      return client;
    });
    await cluster.psql.query(`INSERT INTO todos (id, title) VALUES ('hello', 'to everyone')`);
    await expectConverged(cluster, clients);
    expect(await cluster.todoIds()).toEqual(['hello']);
  });

  it('survives kill -9 of the replicator under load: a follower takes over, nothing confirmed is lost, nothing is stored twice', async () => {
    const replicator = await cluster.replicator();
    const clients = Array.from({ length: 6 }, () => cluster.client());
    await Promise.all(clients.map((client) => client.connect(cluster.balancer.url)));
    const load = writeLoad(cluster, clients);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    replicator.signal('SIGKILL');
    expect(await replicator.exited).toBe('SIGKILL');
    const survivors = cluster.servers.filter((server) => server !== replicator);
    const next = await cluster.replicator(survivors);
    expect(survivors).toContain(next);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // writing on, under the new replicator
    const written = await load.stop();
    expect(written.byClients.length).toBeGreaterThan(30);

    const ids = await expectConverged(cluster, clients);
    // Every write: the clients' (all confirmed, see expectConverged) and the backend's.
    for (const id of [...written.byClients, ...written.byBackend]) expect(ids).toContain(id);
    expect(await cluster.insertsLoggedTwice()).toEqual([]);
  });

  it('takes over from a stalled replicator (SIGSTOP) after its lease, and the old one, woken, writes nothing', async () => {
    const stalled = await cluster.replicator();
    const clients = Array.from({ length: 3 }, () => cluster.client());
    await Promise.all(clients.map((client) => client.connect(cluster.balancer.url)));
    await cluster.psql.query(`INSERT INTO todos (id, title) VALUES ('before', 'the stall')`);
    await expectConverged(cluster, clients);

    stalled.signal('SIGSTOP');
    const survivors = cluster.servers.filter((server) => server !== stalled);
    const load = writeLoad(cluster, clients);
    await cluster.replicator(survivors, 30_000); // after the 5 s lease
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stalled.signal('SIGCONT');
    // Awake, it finds its sessions ended and the slot taken: it stands by.
    await until(async () => ((await cluster.role(stalled)) === 'follower' ? true : undefined), 20_000, 'the old replicator standing by', 100);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const written = await load.stop();
    await cluster.replicator(); // still exactly one, counting the old one

    const ids = await expectConverged(cluster, clients);
    for (const id of [...written.byClients, ...written.byBackend]) expect(ids).toContain(id);
    expect(await cluster.insertsLoggedTwice()).toEqual([]);
  });
});

describe('several sync processes over one Postgres: the replicator cut off from Postgres', () => {
  const postgres = useTestPostgres();
  let cluster: SyncCluster;
  let proxy: TcpProxy;

  afterEach(async () => {
    await cluster.stop();
    await proxy.close();
  });
  jest.setTimeout(120_000);

  it('takes over from a replicator whose network to Postgres went silent, and takes it back as a follower once the network heals', async () => {
    cluster = await SyncCluster.start(postgres(), 0);
    proxy = await TcpProxy.start(cluster.postgres.port);
    // The first process reaches Postgres through the proxy, and is the replicator (it started alone).
    const cutOff = await cluster.addServer(cluster.database.connectionString.replace(`:${cluster.postgres.port}/`, `:${proxy.port}/`));
    expect(await cluster.replicator()).toBe(cutOff);
    await Promise.all([cluster.addServer(), cluster.addServer()]);
    const others = cluster.servers.filter((server) => server !== cutOff);
    const clients = Array.from({ length: 3 }, () => cluster.client());
    await Promise.all(clients.map((client, i) => client.connect(others[i % 2].url)));
    // And one on the process that will be cut off, with the others to go to.
    const stranded = cluster.client();
    await stranded.connect([cutOff.url, ...others.map((server) => server.url)], { urlOrder: 'listed' });
    const load = writeLoad(cluster, clients);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Packets dropped, connections left open: Postgres does not see it go; its lease runs out.
    proxy.hold();
    expect(others).toContain(await cluster.replicator(others, 30_000));
    await until(async () => ((await getJson(cutOff, '/readyz')).status === 503 ? true : undefined), 20_000, 'the cut-off process not ready', 200);
    // Its sessions are closed once it stays not ready (10 s): its client moves on and gets what
    // was written meanwhile, while the cut lasts.
    await cluster.psql.query(`INSERT INTO todos (id, title) VALUES ('during-the-cut', 'for the stranded client')`);
    await until(
      async () => ((await stranded.query<{ id: string }>(`SELECT id FROM todos WHERE id = 'during-the-cut'`)).length === 1 ? true : undefined),
      40_000,
      'the stranded client moved and synced',
      200,
    );
    proxy.release();
    proxy.cut(); // connections held that long are dropped, as a real network would after a while
    await until(async () => ((await cluster.role(cutOff)) === 'follower' ? true : undefined), 30_000, 'the old replicator a follower', 200);
    const written = await load.stop();
    await cluster.replicator(); // exactly one, counting the old one

    const ids = await expectConverged(cluster, [...clients, stranded]);
    for (const id of [...written.byClients, ...written.byBackend]) expect(ids).toContain(id);
    expect(await cluster.insertsLoggedTwice()).toEqual([]);
  });
});
