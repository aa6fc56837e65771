import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import type { SyncServer } from '../../src/server/index.js';
import { VERSION } from '../../src/version.js';
import { buildPackage, buildStaleWorker, bundleApp, startAppServer, tempDir } from '../support/browser/bundled-app.js';
import { describeInBrowser, launchChromium, watchPage } from '../support/browser/chromium.js';

/** The app: what a web app of its own would write, `rxsync/browser` and no workerUrl, no wasmUrl. */
const APP = `
import { createWorkerSyncClient, defineSchema } from 'rxsync/browser';
const schema = defineSchema({
  tables: { todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer', updated_at: 'text' } } },
});
window.rxsyncApp = {
  async start(options, serverUrl) {
    try {
      const client = await createWorkerSyncClient({ schema, ...options });
      await client.initialize();
      if (serverUrl) {
        await client.connect(serverUrl);
        await client.whenSynced({ timeoutMs: 10000 });
      }
      return { ok: true, rows: await client.query('SELECT id, title FROM todos ORDER BY id') };
    } catch (error) {
      return { ok: false, name: error.name, code: error.code, message: error.message };
    }
  },
};
`;

type Started = { ok: true; rows: Array<{ id: string; title: string }> } | { ok: false; name: string; code?: string; message: string };

describeInBrowser('an app bundled with rxsync/browser (Chromium)', () => {
  const dir = tempDir('rxsync-bundled-');
  const app = join(dir.path, 'app');
  let files: string[];
  let browser: Browser;
  let context: BrowserContext;
  let server: SyncServer | undefined;

  beforeAll(async () => {
    const pageModule = await buildPackage(join(dir.path, 'rxsync'));
    files = await bundleApp(APP, pageModule, app);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    dir.remove();
  });
  beforeEach(async () => {
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
    await server?.close();
    server = undefined;
  });

  /** Opens the app served by `server` and starts rxsync there with `options`. */
  async function start(options: Record<string, unknown>, sync = false): Promise<{ started: Started; errors: string[] }> {
    const page = await context.newPage();
    const { errors } = watchPage(page, 'app');
    await page.goto(`http://127.0.0.1:${server!.port}/`);
    await page.waitForFunction(() => 'rxsyncApp' in window);
    const serverUrl = sync ? `ws://127.0.0.1:${server!.port}/api/sync` : undefined;
    const started = await page.evaluate(([o, url]) => (window as any).rxsyncApp.start(o, url), [options, serverUrl] as const);
    return { started, errors };
  }

  /** A copy of the built app without `drop` (a file that did not make it to the server). */
  function appWithout(drop: RegExp): string {
    const copy = join(dir.path, `app-without-${drop.source.replace(/\W/g, '')}`);
    cpSync(app, copy, { recursive: true });
    for (const file of files.filter((name) => drop.test(name))) rmSync(join(copy, file));
    return copy;
  }

  it('syncs from the server with nothing copied and no URL passed: the bundler emitted the worker and both .wasm files under hashed names', async () => {
    // What emitUrlAssets found from `new SharedWorker(new URL(...))` in rxsync/browser, and from the
    // worker's own `new URL('./wa-sqlite*.wasm', import.meta.url)`: hashed, so no name built at run time could find them.
    expect(files).toEqual([
      'app.js',
      'index.html',
      expect.stringMatching(/^rxsync-worker-[0-9a-f]{8}\.js$/),
      expect.stringMatching(/^wa-sqlite-[0-9a-f]{8}\.wasm$/),
      expect.stringMatching(/^wa-sqlite-async-[0-9a-f]{8}\.wasm$/),
    ]);
    server = await startAppServer(app);
    await server.insert('todos', { id: 'a', title: 'first', done: 0, updated_at: '2025-01-01' });
    await server.insert('todos', { id: 'b', title: 'second', done: 0, updated_at: '2025-01-01' });

    // An IndexedDB database: the worker loads the async build's .wasm.
    const { started, errors } = await start({ database: 'bundled-app' }, true);

    expect(started).toEqual({
      ok: true,
      rows: [
        { id: 'a', title: 'first' },
        { id: 'b', title: 'second' },
      ],
    });
    expect(errors).toEqual([]);
  });

  it('a .wasm URL that answers the index page fails initialize() with the URL, what came back and the fix', async () => {
    server = await startAppServer(appWithout(/\.wasm$/), { fallback: 'index.html' });
    const wasm = files.find((name) => /^wa-sqlite-[0-9a-f]{8}\.wasm$/.test(name));

    // A dedicated worker and a memory database: the other constructor, and the sync build's .wasm.
    const { started } = await start({ shared: false, database: ':memory:' });

    expect(started).toMatchObject({ ok: false, name: 'AssetLoadError', code: 'asset_load_failed' });
    const { message } = started as { message: string };
    expect(message).toContain(`cannot load wa-sqlite's sync build: http://127.0.0.1:${server.port}/${wasm} answered 200 OK, text/html; charset=utf-8`);
    expect(message).toContain('starting "<!doctype html><html><head>');
    expect(message).toContain("an HTML page (a server's fallback for a missing file?), not WebAssembly (which starts with the bytes 00 61 73 6d)");
    expect(message).toContain('Serve dist/browser/*.wasm next to the worker script, or pass wasmUrl');
  });

  it('a worker URL that answers the index page fails createWorkerSyncClient with the URL and the fix', async () => {
    server = await startAppServer(appWithout(/^rxsync-worker-/), { fallback: 'index.html' });
    const worker = files.find((name) => name.startsWith('rxsync-worker-'));

    const { started } = await start({ database: ':memory:' });

    expect(started).toMatchObject({ ok: false, name: 'AssetLoadError' });
    const { message } = started as { message: string };
    expect(message).toContain(`the rxsync worker script http://127.0.0.1:${server.port}/${worker} did not start`);
    expect(message).toContain('answered 200 OK, text/html; charset=utf-8, starting "<!doctype html><html><head>');
    expect(message).toContain("an HTML page (a server's fallback for a missing file?), not the script");
    expect(message).toContain("Serve rxsync's dist/browser/rxsync-worker.js and its two .wasm files at that URL, or pass workerUrl");
  });

  it('a worker of another rxsync version (a stale copy) is refused by createWorkerSyncClient', async () => {
    await buildStaleWorker(join(app, 'stale/rxsync-worker.js'), '0.0.1-stale');
    server = await startAppServer(app);

    const { started } = await start({ database: ':memory:', workerUrl: '/stale/rxsync-worker.js' });

    expect(started).toMatchObject({ ok: false, name: 'WorkerVersionError', code: 'version_mismatch' });
    expect((started as { message: string }).message).toContain(
      `the rxsync worker at http://127.0.0.1:${server.port}/stale/rxsync-worker.js is version 0.0.1-stale, this page's rxsync is ${VERSION}: a stale copy? Remove your copied worker`,
    );
  });

  it("src/version.ts is package.json's version (the version the page and the worker compare)", () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
