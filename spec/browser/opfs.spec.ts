import type { Page } from 'playwright-core';
import { describeInBrowser } from '../support/browser/chromium.js';
import { ALICE_LIST, openDemo, type DemoServer } from '../support/browser/demo.js';
import { useDemoInBrowser } from '../support/browser/demo-fixture.js';
import { until } from '../support/until.js';

/** Where the page's database is: the OPFS directories rxsync made, and the IndexedDB databases. */
async function whereStored(page: Page): Promise<{ opfs: Record<string, number>; indexedDb: string[] }> {
  return page.evaluate(async () => {
    const opfs: Record<string, number> = {};
    const root = await navigator.storage.getDirectory();
    try {
      const rxsync = await root.getDirectoryHandle('rxsync');
      for await (const [name, handle] of rxsync as unknown as AsyncIterable<[string, FileSystemHandle]>) {
        if (handle.kind !== 'directory') continue;
        let bytes = 0;
        for await (const [, file] of handle as unknown as AsyncIterable<[string, FileSystemFileHandle]>) bytes += (await file.getFile()).size;
        opfs[name] = bytes;
      }
    } catch {
      // no rxsync directory: nothing in OPFS
    }
    const indexedDb = (await indexedDB.databases()).map((info) => info.name ?? '').sort();
    return { opfs, indexedDb };
  });
}

/** alice's lists and one todo in her own list. */
async function seedOneTodo(server: DemoServer): Promise<void> {
  await server.seedLists();
  await server.insertTodo({ id: 'a', title: 'Shared' });
}

describeInBrowser('a database in OPFS (Chromium)', () => {
  describe('one tab', () => {
    const demo = useDemoInBrowser({ seed: seedOneTodo });

    it('is where a new database goes; a reload reads it from there, unsent write included', async () => {
      const tab = await openDemo(demo.context, demo.server.pageUrl, 'tab');
      await tab.waitForTitles(['Shared']);
      await tab.waitForStatus('live');
      // Offline (the demo remembers it across the reload): what the page shows next comes from OPFS.
      await tab.page.click('#online-toggle');
      await tab.waitForStatus('disconnected');
      await tab.add('Written offline');
      await tab.waitForPending(1);

      const stored = await whereStored(tab.page);
      // The database's pages are in OPFS; IndexedDB holds only the small meta store.
      expect(Object.keys(stored.opfs)).toEqual(['db-demo-alice']);
      expect(stored.opfs['db-demo-alice']).toBeGreaterThan(8192);
      expect(stored.indexedDb).toEqual(['rxsync-meta:demo-alice']);

      await tab.page.reload();
      await tab.page.waitForFunction(() => Boolean(window.rxsyncDemo?.client));
      await tab.waitForTitles(['Shared', 'Written offline']);
      await tab.waitForPending(1);
      await tab.page.click('#online-toggle');
      await tab.waitForPending(0);
      expect(await demo.server.server.query('SELECT title FROM todos ORDER BY title')).toEqual([{ title: 'Shared' }, { title: 'Written offline' }]);
      // The reload went on from its checkpoint: no second snapshot.
      expect(demo.server.counts.snapshots).toBe(1);
      expect(tab.errors).toEqual([]);
    });

    it('leaves a database made in IndexedDB there: it keeps working without being moved', async () => {
      const before = await openDemo(demo.context, demo.server.pageUrl, 'indexeddb', 'alice', 'storage=indexeddb');
      await before.waitForTitles(['Shared']);
      await before.waitForStatus('live');
      await before.page.click('#online-toggle');
      await before.waitForStatus('disconnected');
      await before.add('Unsent, in IndexedDB');
      await before.waitForPending(1);
      await before.page.close();
      await until(() => demo.server.server.sessionCount === 0 || undefined, 10_000, 'the closed page’s worker to go');

      // Opened again with no storage option: rxsync finds the database in IndexedDB and stays there.
      const after = await openDemo(demo.context, demo.server.pageUrl, 'default');
      await after.waitForTitles(['Shared', 'Unsent, in IndexedDB']);
      const stored = await whereStored(after.page);
      expect(stored.opfs).toEqual({});
      expect(stored.indexedDb).toEqual(['demo-alice', 'rxsync-meta:demo-alice']);
      await after.page.click('#online-toggle');
      await after.waitForPending(0);
      expect(await demo.server.server.query('SELECT title FROM todos ORDER BY title')).toEqual([{ title: 'Shared' }, { title: 'Unsent, in IndexedDB' }]);
      expect(after.errors).toEqual([]);
    });
  });

  describe('two tabs', () => {
    const demo = useDemoInBrowser({ seed: seedOneTodo });

    it('write through one engine in the first tab’s worker; when that tab closes, the other tab’s worker takes over', async () => {
      const one = await openDemo(demo.context, demo.server.pageUrl, 'tab 1');
      await one.waitForStatus('live');
      const two = await openDemo(demo.context, demo.server.pageUrl, 'tab 2');
      await two.waitForTitles(['Shared']);
      await two.waitForStatus('live');
      // One engine (in tab 1's worker) for both tabs: one server session, one snapshot.
      expect(demo.server.server.sessionCount).toBe(1);
      expect(await two.page.evaluate(() => window.rxsyncDemo.client!.debug())).toMatchObject({ engines: 1, engineTabs: 2 });
      expect(demo.server.counts.snapshots).toBe(1);

      await one.add('From tab 1');
      await two.add('From tab 2');
      await Promise.all([one.waitForTitles(['Shared', 'From tab 1', 'From tab 2']), two.waitForTitles(['Shared', 'From tab 1', 'From tab 2'])]);

      await one.page.close();
      // Tab 2's list keeps following the database (its watch moved with the engine), and its writes go out.
      await demo.server.insertTodo({ id: 's', title: 'From the server' });
      await two.add('From tab 2, after');
      await two.waitForTitles(['Shared', 'From tab 1', 'From tab 2', 'From the server', 'From tab 2, after'], 20_000);
      await two.waitForPending(0);
      await two.waitForStatus('live');
      expect(await two.page.evaluate(() => window.rxsyncDemo.client!.debug())).toMatchObject({ engines: 1, engineTabs: 1 });
      expect(await demo.server.server.query('SELECT title FROM todos ORDER BY title')).toEqual(
        ['From tab 1', 'From tab 2', 'From tab 2, after', 'From the server', 'Shared'].map((title) => ({ title })),
      );
      expect(demo.server.server.sessionCount).toBe(1);
      expect(two.errors).toEqual([]);
    });
  });

  describe('the holder’s tab closed in the middle of an initial sync', () => {
    const ROWS = 20_000;
    const id = (i: number) => `r${String(i).padStart(5, '0')}`;
    const demo = useDemoInBrowser({
      limits: { snapshotChunkRows: 250 },
      seed: async (server) => {
        await server.seedLists();
        await server.seed(ROWS, (i) => ({ id: id(i), list_id: ALICE_LIST, title: `row ${i}`, done: 0, updated_at: '2024-01-01T00:00:00.000Z' }));
      },
    });

    it('the other tab finishes it, with no row missing or doubled', async () => {
      const one = await openDemo(demo.context, demo.server.pageUrl, 'holder');
      const two = await openDemo(demo.context, demo.server.pageUrl, 'other');
      await two.page.waitForFunction(() => window.rxsyncDemo.progress.rowsDone >= 2000, undefined, { timeout: 20_000, polling: 10 });
      expect(await two.page.evaluate(() => window.rxsyncDemo.progress.rowsDone)).toBeLessThan(ROWS);
      await one.page.close();

      await two.waitForCount(ROWS, 30_000);
      await two.waitForStatus('live');
      const local = await two.query<{ id: string }>('SELECT id FROM todos ORDER BY id');
      expect(local).toHaveLength(ROWS);
      expect(local).toEqual(await demo.server.server.query('SELECT id FROM todos ORDER BY id'));
      expect(demo.server.counts.snapshots).toBe(2);
      expect(demo.server.server.sessionCount).toBe(1);
      expect(two.errors).toEqual([]);
    });
  });
});
