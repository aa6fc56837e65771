import { describeInBrowser } from '../support/browser/chromium.js';
import { openDemo } from '../support/browser/demo.js';
import { useDemoInBrowser } from '../support/browser/demo-fixture.js';

describeInBrowser('writes while the server is down (Chromium)', () => {
  const demo = useDemoInBrowser();

  it('sync once the server is back (same port, same database), each exactly once', async () => {
    await demo.server.server.insert('todos', { id: 'kept', title: 'Kept on the server', done: 0, updated_at: new Date().toISOString() });
    await demo.server.server.insert('todos', { id: 'doomed', title: 'Deleted while the server is down', done: 0, updated_at: new Date().toISOString() });
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

    await demo.server.start(); // a new server process, as far as the page can tell
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
});
