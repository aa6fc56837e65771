/**
 * What bench/browser-initial-sync.ts needs around its measurements: the shipped browser bundle,
 * the bench page (and its raw OPFS worker) bundled with esbuild, a small http server for both, and
 * a headless Chromium on that page. Chromium is the browser specs' (spec/support/browser/
 * chromium.ts: Debian's package, the same flags).
 *
 * The profile: by default a PERSISTENT one, in a fresh user-data directory (removed at the end), as
 * a user's browser has. Not the specs' `browser.newContext()`: that is an off-the-record
 * (incognito) profile, where OPFS and IndexedDB live in memory in the browser process, and every
 * call of an OPFS sync access handle is a synchronous IPC to it: measured here, a 4 KB write took
 * 1.1-1.8 ms there against 0.01-0.05 ms in a persistent profile (a read 0.4-0.6 against
 * 0.004-0.008 ms). `incognito: true` measures that case.
 *
 * The bundle: dist/browser when it is at least as new as every file under src/. If dist/browser is
 * missing, `node scripts/build-browser.mjs` builds it (what `npm run build:browser` does). If it is
 * stale, the same script builds the current sources into the bench cache instead (as the browser
 * specs do), and dist is left alone. The bench prints which was used.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { chromium as playwrightChromium, type BrowserContext, type Page } from 'playwright-core';
import { serveStatic } from '../src/server/static-files.js';
import { CHROMIUM_ARGS, chromiumPath, launchChromium } from '../spec/support/browser/chromium.js';
import { launchBareChromium } from './bare-chromium.js';
import { CommandChannel } from './browser-command-channel.js';
import { benchCacheDir } from './cached-seed-server.js';
import { resultsPath } from './results.js';

const root = join(dirname(resultsPath()), '..');
const webDir = join(benchCacheDir, 'browser-web');
const BUNDLE_FILES = ['rxsync.js', 'rxsync-worker.js', 'wa-sqlite.wasm', 'wa-sqlite-async.wasm'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Puts the browser bundle in webDir/browser/ and says where it came from. */
function prepareBundle(): string {
  const dist = join(root, 'dist', 'browser');
  const target = join(webDir, 'browser');
  rmSync(target, { recursive: true, force: true });
  const buildInto = (outdir: string) => {
    const run = spawnSync(process.execPath, [join(root, 'scripts', 'build-browser.mjs'), '--outdir', outdir], { cwd: root, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`node scripts/build-browser.mjs --outdir ${outdir} failed:\n${run.stdout}\n${run.stderr}`);
  };
  let source: string;
  if (!BUNDLE_FILES.every((file) => existsSync(join(dist, file)))) {
    buildInto(dist);
    source = 'dist/browser (missing: built now with scripts/build-browser.mjs)';
  } else if (statSync(join(dist, 'rxsync-worker.js')).mtimeMs < newestMtime(join(root, 'src'))) {
    buildInto(target);
    return 'the current src/, built by scripts/build-browser.mjs into the bench cache (dist/browser is older than src/ and was left alone)';
  } else {
    source = 'dist/browser';
  }
  mkdirSync(target, { recursive: true });
  for (const file of readdirSync(dist)) copyFileSync(join(dist, file), join(target, file));
  return source;
}

/** The page (bench-page.js) and the raw OPFS worker (bench-opfs-worker.js, its own entry: a worker is loaded by URL). */
async function preparePage(): Promise<void> {
  mkdirSync(webDir, { recursive: true });
  await build({
    entryPoints: { 'bench-page': join(root, 'bench', 'browser-page.ts'), 'bench-opfs-worker': join(root, 'bench', 'browser-opfs-worker.ts') },
    outdir: webDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: 'linked',
    // The shipped main-thread entry is loaded at run time from the bundle directory; ws and node:*
    // are never reached in a browser (as in scripts/build-browser.mjs).
    external: ['/browser/*', 'ws', 'node:*'],
    logLevel: 'warning',
  });
  writeFileSync(
    join(webDir, 'index.html'),
    '<!doctype html>\n<meta charset="utf-8">\n<title>rxsync browser bench</title>\n<link rel="icon" href="data:,">\n<script type="module" src="/bench-page.js"></script>\n<p>rxsync browser initial-sync bench</p>\n',
  );
}

function serveWeb(channel?: CommandChannel): Promise<{ url: string; server: Server }> {
  const handler = serveStatic(webDir);
  const server = createServer((request, response) => {
    if (channel?.handle(request, response)) return;
    if (!handler(request, response)) {
      response.statusCode = 404;
      response.end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server })),
  );
}

export interface BenchBrowser {
  /** Where the browser bundle came from (see the module comment). */
  bundle: string;
  /** Chromium's version, from its user agent. */
  chromium: string;
  chromiumPath: string;
  /** 'persistent profile' or 'off-the-record profile (incognito)'. */
  profile: string;
  /** How the page is driven: with no DevTools client attached (the default), or by Playwright. */
  driver: string;
  /** Runs `window.rxsyncBench[name](...args)` on the page. */
  call<T>(name: string, ...args: unknown[]): Promise<T>;
  /** The Playwright page, when driven by Playwright (`devtools: true`): what a profiler needs. */
  page?: Page;
  /** The page's uncaught errors and console errors (under Playwright, its workers' included). */
  pageErrors: string[];
  close(): Promise<void>;
}

/** A fresh browser context: a persistent profile in a new directory, or the specs' off-the-record one. */
async function newContext(incognito: boolean): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (incognito) {
    const browser = await launchChromium();
    return { context: await browser.newContext(), close: () => browser.close() };
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'rxsync-bench-profile-'));
  try {
    const context = await playwrightChromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 20_000,
    });
    return {
      context,
      close: async () => {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Chromium's version from its user agent. */
const chromiumVersion = (userAgent: string): string => /Chrome\/([\d.]+)/.exec(userAgent)?.[1] ?? 'unknown';

/**
 * Builds and serves the page, launches Chromium and opens the page in a fresh profile. By default
 * Chromium runs with no DevTools client and the page takes its commands over HTTP
 * (browser-command-channel.ts says why); `devtools: true` drives it with Playwright instead, which
 * a CPU profile of a worker needs.
 */
export async function openBenchBrowser({ incognito = false, devtools = false } = {}): Promise<BenchBrowser> {
  if (!chromiumPath) throw new Error('no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)');
  const bundle = prepareBundle();
  await preparePage();
  const profile = incognito ? 'off-the-record profile (incognito)' : 'persistent profile (a fresh user-data directory)';
  return devtools ? openWithPlaywright(bundle, profile, incognito) : openBare(bundle, profile, incognito);
}

async function openBare(bundle: string, profile: string, incognito: boolean): Promise<BenchBrowser> {
  const channel = new CommandChannel();
  const web = await serveWeb(channel);
  const chromiumProcess = launchBareChromium(chromiumPath!, `${web.url}?channel`, { incognito });
  const close = async () => {
    channel.close();
    await chromiumProcess.close();
    web.server.close();
  };
  try {
    const userAgent = await Promise.race([
      channel.call<string>('userAgent'),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`the bench page did not answer within 20 s; Chromium said: ${chromiumProcess.stderrTail() || '(nothing)'}`)),
          20_000,
        ).unref(),
      ),
    ]);
    return {
      bundle,
      chromium: chromiumVersion(userAgent),
      chromiumPath: chromiumPath!,
      profile,
      driver: 'no DevTools client (the page takes its commands over HTTP)',
      call: (name, ...args) => channel.call(name, ...args),
      pageErrors: channel.errors,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function openWithPlaywright(bundle: string, profile: string, incognito: boolean): Promise<BenchBrowser> {
  const web = await serveWeb();
  let browser: { context: BrowserContext; close(): Promise<void> } | undefined;
  try {
    browser = await newContext(incognito);
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
      else if (message.type() === 'warning') console.warn(`  (page: ${message.text()})`);
    });
    await page.goto(web.url);
    await page.waitForFunction(() => Boolean(window.rxsyncBench), undefined, { timeout: 15_000 });
    const userAgent = await page.evaluate(() => window.rxsyncBench.userAgent);
    const opened = browser;
    return {
      bundle,
      chromium: chromiumVersion(userAgent),
      chromiumPath: chromiumPath!,
      profile,
      driver: 'Playwright (a DevTools client attached, its Network domain on)',
      call: <T>(name: string, ...args: unknown[]) =>
        page.evaluate(([n, a]) => (window.rxsyncBench as unknown as Record<string, (...args: unknown[]) => unknown>)[n](...a), [
          name,
          args,
        ] as const) as Promise<T>,
      page,
      pageErrors,
      close: async () => {
        await opened.close();
        web.server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    web.server.close();
    throw error;
  }
}
