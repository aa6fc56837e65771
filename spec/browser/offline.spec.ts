import { describeInBrowser } from '../support/browser/chromium.js';
import { openDemo } from '../support/browser/demo.js';
import { useDemoInBrowser } from '../support/browser/demo-fixture.js';
import { until } from '../support/until.js';

describeInBrowser('writes while the server is down (Chromium)', () => {
  const demo = useDemoInBrowser();

  it('sync once the server is back (same port, same database), each exactly once', async () => {
    // In alice's own list: she may add, tick and delete there.
    await demo.server.seedLists();
    await demo.server.insertTodo({ id: 'kept', title: 'Kept on the server' });
    await demo.server.insertTodo({ id: 'doomed', title: 'Deleted while the server is down' });
    const page = await openDemo(demo.context, demo.server.pageUrl, 'A');
    await page.waitForTitles(['Kept on the server', 'Deleted while the server is down']);
    await page.waitForStatus('live');
    const port = demo.server.port;

    await demo.server.stop();
    await page.page.waitForSelector('#status[data-status="backoff"], #status[data-status="connecting"]', { timeout: 10_000 });
    expect(await page.page.textContent('#status')).toMatch(/Reconnecting|Connecting/);

    await page.add('Offline one');
    await page.add('Offline two');
    await page.toggle('Kept on the server');
    await page.remove('Deleted while the server is down');
    await page.toggle('Offline one');
    await page.waitForPending(5);
    await page.waitForTitles(['Kept on the server', 'Offline one', 'Offline two']);

    await demo.server.start(); // a new server process, as far as the page can tell (same secret: the token still holds)
    expect(demo.server.port).toBe(port);
    await page.waitForPending(0, 20_000);
    await page.waitForStatus('live');

    expect(await demo.server.server.query('SELECT title, done FROM todos ORDER BY title')).toEqual([
      { title: 'Kept on the server', done: 1 },
      { title: 'Offline one', done: 1 },
      { title: 'Offline two', done: 0 },
    ]);
    const local = await page.page.evaluate(() => window.rxsyncDemo.client!.localChanges());
    const mine = local.filter((change) => change.status === 'applied');
    expect(mine).toHaveLength(5);
    expect(await demo.server.timesApplied(mine.map((change) => change.id))).toEqual([1, 1, 1, 1, 1]);
    expect(page.errors).toEqual([]);
  });

  it('comes back when the demo server restarts with a new secret: the refused token (4401) is renewed', async () => {
    await demo.server.seedLists();
    await demo.server.insertTodo({ id: 'kept', title: 'Kept on the server' });
    const page = await openDemo(demo.context, demo.server.pageUrl, 'A');
    await page.waitForTitles(['Kept on the server']);
    await page.waitForStatus('live');

    await demo.server.restartWithNewSecret();
    // The engine's token is refused for good (4401); the page fetches a new one and connects again.
    await page.page.waitForFunction(() => window.rxsyncDemo.events.some((event) => event.type === 'error' && event.data?.context?.code === 4401), undefined, {
      timeout: 15_000,
    });
    await page.waitForStatus('live', 15_000);
    await page.add('After the restart');
    const reached = async () => (await demo.server.server.query("SELECT id FROM todos WHERE title = 'After the restart'")).length === 1;
    await until(reached, 10_000, 'the write after the restart on the server');
    await page.waitForPending(0);
    expect(page.errors).toEqual([]);
  });
});
