import { describeInBrowser } from '../support/browser/chromium.js';
import { openDemo } from '../support/browser/demo.js';
import { useDemoInBrowser } from '../support/browser/demo-fixture.js';

// Both ways tabs share a database: OPFS (the default, the engine in one tab's worker) and
// IndexedDB (the engine in the SharedWorker).
describeInBrowser('tabs of one browser (Chromium)', () => {
  for (const [storage, query] of [
    ['OPFS', ''],
    ['IndexedDB', 'storage=indexeddb'],
  ] as const)
    describe(`the database in ${storage}`, () => sharingTabs(query));
});

function sharingTabs(query: string): void {
  const demo = useDemoInBrowser({
    // alice's lists, and one todo in her own list; both tabs are alice's.
    seed: async (server) => {
      await server.seedLists();
      await server.insertTodo({ id: 'a', title: 'Shared' });
    },
  });

  it('hold one server session between them, and see each other’s writes', async () => {
    const one = await openDemo(demo.context, demo.server.pageUrl, 'tab 1', 'alice', query);
    await one.waitForStatus('live');
    const two = await openDemo(demo.context, demo.server.pageUrl, 'tab 2', 'alice', query);
    await two.waitForTitles(['Shared']);
    await two.waitForStatus('live');

    expect(demo.server.server.sessionCount).toBe(1);
    const health = await (await fetch(`${demo.server.pageUrl}healthz`)).json();
    expect(health.sessions).toBe(1);
    const debug = await two.page.evaluate(() => window.rxsyncDemo.client!.debug());
    expect(debug).toMatchObject({ engines: 1, engineTabs: 2 });
    // Only the first tab's engine loaded a snapshot; the second joined it.
    expect(demo.server.counts.snapshots).toBe(1);

    await one.add('From tab 1');
    await two.waitForTitles(['Shared', 'From tab 1']);
    await two.toggle('From tab 1');
    await one.page.waitForSelector('#todos li.done .title:text-is("From tab 1")');
    expect(demo.server.server.sessionCount).toBe(1);
    expect(one.errors.concat(two.errors)).toEqual([]);
  });

  it('closing the tab that started the engine loses nothing: its unsent write goes out from the other tab', async () => {
    const one = await openDemo(demo.context, demo.server.pageUrl, 'tab 1', 'alice', query);
    await one.waitForStatus('live');
    const two = await openDemo(demo.context, demo.server.pageUrl, 'tab 2', 'alice', query);
    await two.waitForStatus('live');

    // Offline (shared by the tabs), tab 1 writes, then closes.
    await one.page.click('#online-toggle');
    await Promise.all([one.waitForStatus('disconnected'), two.waitForStatus('disconnected')]);
    await one.add('Written in tab 1, then it closed');
    await two.waitForPending(1);
    await one.page.close();

    await two.page.click('#online-toggle');
    await two.waitForPending(0);
    expect(await demo.server.server.query('SELECT title FROM todos ORDER BY title')).toEqual([
      { title: 'Shared' },
      { title: 'Written in tab 1, then it closed' },
    ]);
    expect(demo.server.server.sessionCount).toBe(1);
    expect(two.errors).toEqual([]);
  });
}
