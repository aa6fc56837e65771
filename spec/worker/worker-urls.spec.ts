/**
 * connect() with a list of URLs or a URL function across the worker boundary (comlink over a
 * MessageChannel, the worker core on the other end): a list crosses as it is; a function stays in
 * the tab and the worker asks it through a comlink proxy before every try; a tab that goes leaves
 * the shared connection on the last URL its function answered.
 */
import { WorkerCore } from '../../src/worker/worker-core.js';
import { connectRemoteClient } from '../../src/worker/remote-client.js';
import type { RemoteSyncClient } from '../../src/worker/types.js';
import { FakeServer } from '../support/fake-server.js';
import { testSchema } from '../support/test-schema.js';
import { fastClientOptions, until } from '../support/test-client.js';
import { closedPortUrl } from '../support/unreachable.js';

describe('server URLs across the worker boundary', () => {
  let core: WorkerCore;
  let servers: FakeServer[];
  const tabs = new Set<RemoteSyncClient>();
  beforeEach(async () => {
    core = new WorkerCore({ defaults: fastClientOptions });
    servers = [await FakeServer.start(), await FakeServer.start()];
  });
  afterEach(async () => {
    await Promise.all([...tabs].map((tab) => tab.cleanup().catch(() => undefined)));
    tabs.clear();
    await core.close();
    await Promise.all(servers.map((server) => server.close()));
  });

  async function openTab(): Promise<RemoteSyncClient> {
    const { port1, port2 } = new MessageChannel();
    core.serve(port1);
    const tab = await connectRemoteClient(port2, { schema: testSchema });
    tabs.add(tab);
    return tab;
  }

  it('a list of URLs: the first down, the second welcomes; a second tab with the same list joins', async () => {
    const [server] = servers;
    const down = await closedPortUrl();
    const tab = await openTab();
    const connected: Array<{ url: string }> = [];
    tab.on('connected', (event) => connected.push(event));
    const connecting = tab.connect([down, server!.url], { urlOrder: 'listed' });
    await server!.welcomeNext(0);
    expect(await connecting).toBe(true);
    await until(() => connected.length > 0 || undefined, 5000, 'the connected event');
    expect(connected[0]!.url).toBe(server!.url);

    const other = await openTab();
    expect(await other.connect([down, server!.url], { urlOrder: 'listed' })).toBe(true);
    expect(server!.connections).toHaveLength(1); // joined the running connection
  });

  it.each([
    ['answering at once', (url: string) => url],
    ['answering with a Promise', (url: string) => Promise.resolve(url)],
  ])('a URL function (%s) is asked from the worker before every try', async (_, answer) => {
    const [first, second] = servers;
    const down = await closedPortUrl();
    const answers = [down, first!.url, second!.url];
    let asked = 0;
    const tab = await openTab();
    const connecting = tab.connect(() => answer(answers[Math.min(asked++, 2)]!));
    const onFirst = await first!.welcomeNext(0);
    expect(await connecting).toBe(true);
    expect(asked).toBe(2);

    onFirst.ws.close(1012, 'restarting'); // at once, to whatever the function says next
    await second!.welcomeNext(0);
    expect(asked).toBe(3);
  });

  it('a URL function that throws fails that try; the next answer is used', async () => {
    const [server] = servers;
    let asked = 0;
    const tab = await openTab();
    const errors: unknown[] = [];
    tab.on('disconnected', (event) => errors.push(event));
    const connecting = tab.connect(() => {
      if (asked++ === 0) throw new Error('no server yet');
      return server!.url;
    });
    await server!.welcomeNext(0);
    expect(await connecting).toBe(true);
    await until(() => errors.length > 0 || undefined, 5000, 'the disconnected event');
    expect(errors[0]).toMatchObject({ attempt: 1, reason: expect.stringContaining('no server yet') });
  });

  it('once the tab that gave the function is gone, the shared connection keeps to the last URL it answered', async () => {
    const [server] = servers;
    const giver = await openTab();
    const stays = await openTab();
    let asked = 0;
    const connecting = giver.connect(() => {
      asked += 1;
      return server!.url;
    });
    const first = await server!.welcomeNext(0);
    expect(await connecting).toBe(true);
    await giver.cleanup();
    tabs.delete(giver);

    first.terminate();
    await server!.welcomeNext(1);
    await until(async () => (await stays.currentStatus) === 'live' || undefined, 5000, 'live again for the other tab');
    expect(asked).toBe(1); // not asked again: that tab is gone
  });
});
