import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { describeInBrowser, launchChromium } from '../support/browser/chromium.js';
import { buildDemo, DemoServer, openDemo, type DemoPage } from '../support/browser/demo.js';

const ROOT = resolve(__dirname, '../..');
const todo = (id: string, title: string, done = 0) => ({ id, title, done, updated_at: new Date().toISOString() });

describeInBrowser('the demo page in Chromium', () => {
  let build: ReturnType<typeof buildDemo>;
  let browser: Browser;
  let server: DemoServer;
  const contexts: BrowserContext[] = [];
  const pages: DemoPage[] = [];

  /** A fresh browser profile (its own IndexedDB, its own SharedWorker): a different user. */
  const profile = async () => {
    const context = await browser.newContext({ viewport: { width: 640, height: 480 } });
    contexts.push(context);
    return context;
  };
  const open = async (context: BrowserContext, label: string) => {
    const page = await openDemo(context, server.pageUrl, label);
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
    await server.server.insert('todos', todo('demo-1', 'Try rxsync'));
    await server.server.insert('todos', todo('demo-2', 'Open a second window', 1));
    await server.server.insert('todos', todo('demo-3', 'Go offline, edit, come back'));
  });
  afterEach(async () => {
    const errors = pages.flatMap((page) => page.errors);
    pages.length = 0;
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    await server.close();
    expect(errors).toEqual([]);
  });

  it("a fresh page syncs the server's rows, shows the progress and goes live", async () => {
    const context = await profile();
    const a = await open(context, 'A');
    await a.waitForTitles(['Try rxsync', 'Open a second window', 'Go offline, edit, come back']);
    await a.waitForStatus('live');
    expect(await a.page.isChecked('#todos li[data-id="demo-2"] input[type=checkbox]')).toBe(true);
    await a.page.waitForSelector('#progress-text:text("Synced 3 rows")');
    expect(await a.page.textContent('#status')).toContain('Live');
    expect(await a.eventCounts()).toMatchObject({ initial_sync_started: 1, initial_sync_complete: 1 });
    expect(server.counts).toEqual({ snapshots: 1, chunks: 1 });
    expect(server.server.sessionCount).toBe(1);
    expect(await a.page.textContent('#pending')).toBe('0 pending changes');
    expect(await a.page.textContent('#lsn')).toBe(`LSN ${server.server.currentLsn()}`);
  });

  it('a write in window A appears in window B, and the reverse', async () => {
    const a = await open(await profile(), 'A');
    const b = await open(await profile(), 'B');
    const seeded = ['Try rxsync', 'Open a second window', 'Go offline, edit, come back'];
    await Promise.all([a.waitForTitles(seeded), b.waitForTitles(seeded)]);
    expect(server.server.sessionCount).toBe(2); // two profiles: two clients, two connections

    await a.add('Written in A');
    await b.waitForTitles([...seeded, 'Written in A']);
    await b.add('Written in B');
    await a.waitForTitles([...seeded, 'Written in A', 'Written in B']);

    await b.toggle('Written in A');
    await a.page.waitForSelector('#todos li.done .title:text-is("Written in A")');
    await a.remove('Written in B');
    await b.waitForTitles([...seeded, 'Written in A']);
    await a.toggle('Open a second window');
    await b.page.waitForSelector('#todos li[data-id="demo-2"]:not(.done)');

    const rows = await server.server.query<{ title: string; done: number; updated_at: string }>('SELECT title, done, updated_at FROM todos ORDER BY title');
    expect(rows.map(({ title, done }) => ({ title, done }))).toEqual([
      { title: 'Go offline, edit, come back', done: 0 },
      { title: 'Open a second window', done: 0 },
      { title: 'Try rxsync', done: 0 },
      { title: 'Written in A', done: 1 },
    ]);
    // Every write sets updated_at: the toggled rows carry a newer stamp than the seed.
    const seedStamp = rows.find((r) => r.title === 'Try rxsync')!.updated_at;
    expect(rows.find((r) => r.title === 'Written in A')!.updated_at > seedStamp).toBe(true);
    await Promise.all([a.waitForPending(0), b.waitForPending(0)]);
  });

  it('a reload keeps the data and resumes from its LSN, without a new snapshot', async () => {
    const context = await profile();
    const a = await open(context, 'A');
    await a.waitForTitles(['Try rxsync', 'Open a second window', 'Go offline, edit, come back']);
    await a.add('Before the reload');
    await a.waitForPending(0);
    expect(server.counts).toEqual({ snapshots: 1, chunks: 1 });

    // What a user would check: after a reload the list is there at once, the page loads no
    // snapshot (no initial_sync_started, the progress bar stays hidden), and the server, counted
    // at its store, read no snapshot chunk for it.
    await a.page.reload();
    await a.page.waitForFunction(() => Boolean(window.rxsyncDemo?.client));
    await a.waitForTitles(['Try rxsync', 'Open a second window', 'Go offline, edit, come back', 'Before the reload']);
    await a.waitForStatus('live');
    await server.server.insert('todos', todo('after-reload', 'Inserted on the server after the reload'));
    await a.waitForCount(5);
    expect((await a.eventCounts()).initial_sync_started ?? 0).toBe(0);
    expect(await a.page.isHidden('#progress-box')).toBe(true);
    expect(server.counts).toEqual({ snapshots: 1, chunks: 1 });

    // Closing every page stops the SharedWorker; the next page starts a new one, reads the database
    // back from IndexedDB and catches up from its LSN (a change made meanwhile arrives).
    await a.page.close();
    await server.server.insert('todos', todo('while-closed', 'Inserted while no page was open'));
    const again = await open(context, 'A again');
    await again.waitForCount(6);
    await again.waitForStatus('live');
    expect(await again.titles()).toContain('Inserted while no page was open');
    const connected = await again.page.evaluate(() => window.rxsyncDemo.lastConnected);
    expect(connected?.mode).toBe('catchup');
    expect((await again.eventCounts()).initial_sync_started ?? 0).toBe(0);
    expect(server.counts).toEqual({ snapshots: 1, chunks: 1 });
  });

  it('the screenshot of the demo (test-artifacts/demo.png; docs/demo.png when missing or RXSYNC_UPDATE_SCREENSHOT=1)', async () => {
    // Two windows side by side: A live, B offline with writes waiting; the same list in both.
    const a = await open(await profile(), 'A');
    const b = await open(await profile(), 'B');
    const seeded = ['Try rxsync', 'Open a second window', 'Go offline, edit, come back'];
    await Promise.all([a.waitForTitles(seeded), b.waitForTitles(seeded)]);
    await a.add('Buy oat milk');
    await b.waitForTitles([...seeded, 'Buy oat milk']);
    await b.page.click('#online-toggle');
    await b.waitForStatus('disconnected');
    await b.add('Written offline in B');
    await b.toggle('Try rxsync');
    await b.waitForPending(2);
    await Promise.all([a.page.waitForSelector('#progress-box', { state: 'hidden' }), b.page.waitForSelector('#progress-box', { state: 'hidden' })]);

    const shots = await Promise.all([a, b].map((p) => p.page.locator('.app').screenshot()));
    const composerContext = await browser.newContext({ viewport: { width: 1000, height: 400 } });
    contexts.push(composerContext);
    const composer = await composerContext.newPage();
    await composer.setContent(`<body style="margin:0;background:#e9ecf1;display:flex;gap:16px;padding:16px;align-items:flex-start;font:13px system-ui">
      ${shots.map((png, i) => `<figure style="margin:0;flex:1"><figcaption style="color:#555;margin:0 0 6px 4px">Window ${i === 0 ? 'A' : 'B'}</figcaption><img style="width:100%;border-radius:10px" src="data:image/png;base64,${png.toString('base64')}"></figure>`).join('')}
    </body>`);
    await composer.waitForFunction(() => [...document.images].every((img) => img.complete));
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    const artifact = join(ROOT, 'test-artifacts/demo.png');
    await composer.screenshot({ path: artifact, fullPage: true });
    const docs = join(ROOT, 'docs/demo.png');
    if (!existsSync(docs) || process.env.RXSYNC_UPDATE_SCREENSHOT === '1') copyFileSync(artifact, docs);
    expect(existsSync(artifact)).toBe(true);

    // B's writes go out once it is back online.
    await b.page.click('#online-toggle');
    await b.waitForPending(0);
    await a.waitForTitles([...seeded, 'Buy oat milk', 'Written offline in B']);
  });
});
