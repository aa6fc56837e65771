import { describeInBrowser } from '../support/browser/chromium.js';
import { ALICE_LIST, openDemo } from '../support/browser/demo.js';
import { useDemoInBrowser } from '../support/browser/demo-fixture.js';
import { until } from '../support/until.js';

const ROWS = 20_000;
/** What alice syncs besides the todos: her two lists and the membership that shares one with bob. */
const ALICE_OTHER_ROWS = 3;
const id = (i: number) => `r${String(i).padStart(5, '0')}`;

describeInBrowser('an initial sync interrupted by closing the page (Chromium)', () => {
  const demo = useDemoInBrowser({
    // Small chunks, so that the sync takes many round trips and the page can close in the middle.
    limits: { snapshotChunkRows: 250 },
    seed: async (server) => {
      await server.seedLists();
      await server.seed(ROWS, (i) => ({
        id: id(i),
        list_id: ALICE_LIST,
        title: `row ${i}`,
        done: i % 3 === 0 ? 1 : 0,
        updated_at: '2024-01-01T00:00:00.000Z',
      }));
    },
  });

  it('finishes when the page is opened again, with no row missing or doubled', async () => {
    const first = await openDemo(demo.context, demo.server.pageUrl, 'first');
    await first.page.waitForFunction(() => window.rxsyncDemo.progress.rowsDone >= 2000, undefined, { timeout: 20_000, polling: 10 });
    const progress = await first.page.evaluate(() => window.rxsyncDemo.progress);
    expect(progress.rowsTotal).toBe(ROWS + ALICE_OTHER_ROWS);
    expect(progress.rowsDone).toBeLessThan(ROWS); // really in the middle
    const chunksBefore = demo.server.counts.chunks;
    await first.page.close(); // the last page of the profile: the SharedWorker goes with it
    // Chromium ends the worker a moment after its last page: a page opened before that would
    // attach to the same worker and carry on its snapshot. Its connection closing says it is gone.
    await until(() => demo.server.server.sessionCount === 0 || undefined, 10_000, 'the worker of the closed page to go');

    const second = await openDemo(demo.context, demo.server.pageUrl, 'second');
    await second.page.waitForSelector(`#count[data-count="${ROWS}"]`, { timeout: 25_000 });
    await second.waitForStatus('live');
    await second.page.waitForSelector('#progress-text:text("Synced 20,003 rows")');

    const local = await second.query<{ id: string; title: string; done: number }>('SELECT id, title, done FROM todos ORDER BY id');
    const remote = await demo.server.server.query<{ id: string; title: string; done: number }>('SELECT id, title, done FROM todos ORDER BY id');
    expect(local).toHaveLength(ROWS);
    expect(new Set(local.map((row) => row.id)).size).toBe(ROWS);
    expect(local).toEqual(remote);
    // The interrupted snapshot was started over: a second snapshot, and every chunk of it was read.
    expect(demo.server.counts.snapshots).toBe(2);
    expect(demo.server.counts.chunks - chunksBefore).toBeGreaterThanOrEqual(ROWS / 250);
    expect(second.errors).toEqual([]);
  });
});
