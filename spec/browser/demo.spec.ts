import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { describeInBrowser, launchChromium } from '../support/browser/chromium.js';
import { buildDemo, DemoServer, openDemo, type DemoPage } from '../support/browser/demo.js';
import { watchPage } from '../support/browser/chromium.js';
import { DEMO_LISTS, type DemoUser } from '../../src/server/demo.js';
import { until } from '../support/until.js';

const ROOT = resolve(__dirname, '../..');
/** What `npm start` seeds, as each user sees it. */
const ALICE_TITLES = ['Oat milk', 'Book the train', 'Pack the tent', 'Check the weather'];
const BOB_TITLES = ['Fix the bike light', 'Book the train', 'Pack the tent', 'Check the weather'];
const SHARED = DEMO_LISTS.trip.id;

describeInBrowser('the demo page in Chromium', () => {
  let build: ReturnType<typeof buildDemo>;
  let browser: Browser;
  let server: DemoServer;
  const contexts: BrowserContext[] = [];
  const pages: DemoPage[] = [];

  /** A fresh browser profile (its own IndexedDB, its own SharedWorker): another browser. */
  const profile = async () => {
    const context = await browser.newContext({ viewport: { width: 640, height: 480 } });
    contexts.push(context);
    return context;
  };
  const open = async (context: BrowserContext, label: string, user: DemoUser = 'alice') => {
    const page = await openDemo(context, server.pageUrl, label, user);
    pages.push(page);
    return page;
  };

  beforeAll(async () => {
    build = buildDemo();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    build?.remove();
  });
  beforeEach(async () => {
    server = await DemoServer.start(build.webRoot);
    await server.seedDemo();
  });
  afterEach(async () => {
    const errors = pages.flatMap((page) => page.errors);
    pages.length = 0;
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    await server.close();
    expect(errors).toEqual([]);
  });

  it("a fresh page syncs alice's lists and their todos, shows the progress and goes live", async () => {
    const a = await open(await profile(), 'alice');
    await a.waitForTitles(ALICE_TITLES);
    await a.waitForStatus('live');
    expect(await a.lists()).toEqual([
      { name: 'Groceries', badge: 'only you' },
      { name: 'Weekend trip', badge: 'shared with bob' },
    ]);
    expect(await a.page.isChecked('#todos li[data-id="demo-3"] input[type=checkbox]')).toBe(true);
    // Two lists, the membership that shares one, four todos.
    await a.page.waitForSelector('#progress-text:text("Synced 7 rows")');
    expect(await a.page.textContent('#status')).toContain('Live');
    expect(await a.page.textContent('#user-name')).toBe('alice');
    expect(await a.page.textContent('#other-user-note')).toContain('bob sees “Weekend trip” too, but not “Groceries”');
    expect(await a.eventCounts()).toMatchObject({ initial_sync_started: 1, initial_sync_complete: 1 });
    expect(server.counts.snapshots).toBe(1);
    expect(server.server.sessionCount).toBe(1);
    expect(await a.page.textContent('#pending')).toBe('0 pending changes');
    expect(await a.page.textContent('#lsn')).toBe(`LSN ${server.server.currentLsn()}`);
    // alice's rows only, in a database of her own.
    expect(await a.query('SELECT id FROM lists ORDER BY id')).toEqual([{ id: 'alice-groceries' }, { id: 'shared-trip' }]);
    expect(await a.page.evaluate(() => window.rxsyncDemo.database)).toBe('demo-alice');
  });

  it('signs in with a button, as bob: his list and the one shared with him, and he may not delete in hers', async () => {
    const page = await (await profile()).newPage();
    const { errors } = watchPage(page, 'sign-in');
    await page.goto(server.pageUrl);
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(await page.isHidden('#signed-in')).toBe(true);
    await page.click('#sign-in button[data-user="bob"]');
    await page.waitForFunction(() => Boolean(window.rxsyncDemo?.client), undefined, { timeout: 15_000 });
    const bob = await openDemo(page.context(), server.pageUrl, 'bob again', 'bob'); // a second tab, for the helpers
    pages.push(bob);
    await bob.waitForTitles(BOB_TITLES);
    expect(await bob.lists()).toEqual([
      { name: 'Garage', badge: 'only you' },
      { name: 'Weekend trip', badge: 'shared by alice' },
    ]);
    // Only an owner deletes todos: no delete button on alice's list, one on his own.
    expect(await bob.page.locator(`.list[data-list-id="${SHARED}"] button.delete`).count()).toBe(0);
    expect(await bob.page.locator('.list[data-list-id="bob-garage"] button.delete').count()).toBe(1);
    expect(await bob.page.textContent('#other-user-note')).toContain('alice sees “Weekend trip” too, but not “Garage”');

    // The sign-in is remembered in this browser; switching user signs out.
    await page.reload();
    await page.waitForFunction(() => window.rxsyncDemo?.user === 'bob');
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(await page.evaluate(() => window.rxsyncDemo.user)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it("alice and bob in two browsers: the shared list's todos reach both, alice's own list never reaches bob", async () => {
    const alice = await open(await profile(), 'alice');
    const bob = await open(await profile(), 'bob', 'bob');
    await Promise.all([alice.waitForTitles(ALICE_TITLES), bob.waitForTitles(BOB_TITLES)]);
    expect(server.server.sessionCount).toBe(2);

    await alice.add('Written by alice', SHARED);
    await bob.waitForTitles([...BOB_TITLES, 'Written by alice']);
    await bob.add('Written by bob', SHARED);
    await alice.waitForTitles([...ALICE_TITLES, 'Written by alice', 'Written by bob']);
    await bob.toggle('Written by alice');
    await alice.page.waitForSelector('#todos li.done .title:text-is("Written by alice")');

    await alice.add('Only for alice', 'alice-groceries');
    // Shown means written with its outbox entry; whenSynced then waits for the server's answer.
    await alice.waitForTitles([...ALICE_TITLES, 'Written by alice', 'Written by bob', 'Only for alice']);
    await alice.page.evaluate(() => window.rxsyncDemo.client!.whenSynced({ timeoutMs: 5000 }));
    await bob.page.evaluate(() => window.rxsyncDemo.client!.whenSynced({ timeoutMs: 5000 }));
    expect(await bob.titles()).not.toContain('Only for alice');
    expect(await bob.query("SELECT count(*) AS n FROM todos WHERE list_id = 'alice-groceries'")).toEqual([{ n: 0 }]);

    const rows = await server.server.query<{ title: string; done: number; updated_at: string; list_id: string }>(
      "SELECT title, done, list_id, updated_at FROM todos WHERE title LIKE '%alice' OR title LIKE '%bob' ORDER BY title",
    );
    expect(rows.map(({ title, done, list_id }) => ({ title, done, list_id }))).toEqual([
      { title: 'Only for alice', done: 0, list_id: 'alice-groceries' },
      { title: 'Written by alice', done: 1, list_id: SHARED },
      { title: 'Written by bob', done: 0, list_id: SHARED },
    ]);
    await Promise.all([alice.waitForPending(0), bob.waitForPending(0)]);
  });

  it('a reload keeps the data and resumes from its LSN, without a new snapshot', async () => {
    const context = await profile();
    const a = await open(context, 'A');
    await a.waitForTitles(ALICE_TITLES);
    await a.add('Before the reload');
    await a.waitForTitles([...ALICE_TITLES, 'Before the reload']); // written, with its outbox entry
    await a.waitForPending(0);
    expect(server.counts.snapshots).toBe(1);
    const chunks = server.counts.chunks;

    // What a user would check: after a reload the list is there at once, the page loads no
    // snapshot (no initial_sync_started, the progress bar stays hidden), and the server, counted
    // at its store, read no snapshot chunk for it.
    await a.page.reload();
    await a.page.waitForFunction(() => Boolean(window.rxsyncDemo?.client));
    await a.waitForTitles([...ALICE_TITLES, 'Before the reload']);
    await a.waitForStatus('live');
    await server.insertTodo({ id: 'after-reload', title: 'Inserted on the server after the reload' });
    await a.waitForCount(6);
    expect((await a.eventCounts()).initial_sync_started ?? 0).toBe(0);
    expect(await a.page.isHidden('#progress-box')).toBe(true);
    expect(server.counts).toEqual({ snapshots: 1, chunks });

    // Closing every page stops the SharedWorker; the next page starts a new one, reads the database
    // back from IndexedDB and catches up from its LSN (a change made meanwhile arrives).
    await a.page.close();
    // Chromium ends the worker a moment after its last page; until then it is connected and would
    // get the insert live (the next page would then find nothing to catch up). Its connection
    // closing says it is gone.
    await until(() => server.server.sessionCount === 0 || undefined, 10_000, 'the worker of the closed page to go');
    await server.insertTodo({ id: 'while-closed', title: 'Inserted while no page was open' });
    const again = await open(context, 'A again');
    await again.waitForCount(7);
    await again.waitForStatus('live');
    expect(await again.titles()).toContain('Inserted while no page was open');
    const connected = await again.page.evaluate(() => window.rxsyncDemo.lastConnected);
    expect(connected?.mode).toBe('catchup');
    expect((await again.eventCounts()).initial_sync_started ?? 0).toBe(0);
    expect(server.counts).toEqual({ snapshots: 1, chunks });
  });

  it('the screenshot of the demo (test-artifacts/demo.png; docs/demo.png when missing or RXSYNC_UPDATE_SCREENSHOT=1)', async () => {
    // Two browsers side by side: alice live, bob offline with writes waiting; the shared list in both.
    const a = await open(await profile(), 'alice');
    const b = await open(await profile(), 'bob', 'bob');
    await Promise.all([a.waitForTitles(ALICE_TITLES), b.waitForTitles(BOB_TITLES)]);
    await a.add('Buy sunscreen', SHARED);
    await b.waitForTitles([...BOB_TITLES, 'Buy sunscreen']);
    await b.page.click('#online-toggle');
    await b.waitForStatus('disconnected');
    await b.add('Written offline by bob', SHARED);
    await b.toggle('Pack the tent');
    await b.waitForPending(2);
    await Promise.all([a.page.waitForSelector('#progress-box', { state: 'hidden' }), b.page.waitForSelector('#progress-box', { state: 'hidden' })]);

    const shots = await Promise.all([a, b].map((p) => p.page.locator('.app').screenshot()));
    const composerContext = await browser.newContext({ viewport: { width: 1000, height: 400 } });
    contexts.push(composerContext);
    const composer = await composerContext.newPage();
    await composer.setContent(`<body style="margin:0;background:#e9ecf1;display:flex;gap:16px;padding:16px;align-items:flex-start;font:13px system-ui">
      ${shots.map((png, i) => `<figure style="margin:0;flex:1"><figcaption style="color:#555;margin:0 0 6px 4px">${i === 0 ? 'alice, live' : 'bob, in another browser, offline'}</figcaption><img style="width:100%;border-radius:10px" src="data:image/png;base64,${png.toString('base64')}"></figure>`).join('')}
    </body>`);
    await composer.waitForFunction(() => [...document.images].every((img) => img.complete));
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    const artifact = join(ROOT, 'test-artifacts/demo.png');
    await composer.screenshot({ path: artifact, fullPage: true });
    const docs = join(ROOT, 'docs/demo.png');
    if (!existsSync(docs) || process.env.RXSYNC_UPDATE_SCREENSHOT === '1') copyFileSync(artifact, docs);
    expect(existsSync(artifact)).toBe(true);

    // bob's writes go out once he is back online, and reach alice through the shared list.
    await b.page.click('#online-toggle');
    await b.waitForPending(0);
    await a.waitForTitles([...ALICE_TITLES, 'Buy sunscreen', 'Written offline by bob']);
    await a.page.waitForSelector('#todos li.done .title:text-is("Pack the tent")');
  });
});
