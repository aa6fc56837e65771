#!/usr/bin/env node
// Builds and drives the example apps against the package as users get it: `npm pack` of this
// repository (run `npm run build` first), installed into a copy of the example in a temporary
// directory, so the example's own installs stay out of the root `npm ci` and out of the tarball.
//
//   node scripts/test-examples.mjs
//
// examples/vite: type-checked against the installed package, built with `vite build`, served by a
// small static server, and opened in headless Chromium (Debian's, or $CHROMIUM_PATH) with
// ?sync=<a reference sync server started here>. A row inserted on the server must appear in the
// page, and a todo added with the page's form must reach the server. Exits 1 with what failed;
// the browser, the servers and the temporary directory are removed either way.
import { execFileSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path && existsSync(path));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const TIMEOUT_MS = 20_000;

const started = performance.now();
let last = started;
/** Prints a step with the time it took. */
function step(what) {
  const now = performance.now();
  console.log(`test-examples: ${what} (${((now - last) / 1000).toFixed(1)} s)`);
  last = now;
}

function fail(message) {
  throw Object.assign(new Error(message), { expected: true });
}

function run(command, args, cwd) {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    fail(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
  }
}

function sizeOf(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, name) => total + sizeOf(join(path, name)), 0);
}
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** Serves `dir` (a built app) on 127.0.0.1; `/` is index.html. */
async function serveStatic(dir) {
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const file = normalize(join(dir, pathname.endsWith('/') ? `${pathname}index.html` : pathname));
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  await new Promise((done, failed) => server.once('error', failed).listen(0, '127.0.0.1', done));
  return server;
}

/** Polls `check` until it returns something truthy, or fails with `what` after TIMEOUT_MS. */
async function waitFor(what, check) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out after ${TIMEOUT_MS / 1000} s waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

const cleanups = [];
async function cleanUp() {
  for (const cleanup of cleanups.reverse().splice(0)) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`test-examples: cleanup: ${error.message}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanUp().finally(() => process.exit(130)));

async function testVite(work, tarball) {
  const app = join(work, 'vite');
  cpSync(join(root, 'examples', 'vite'), app, { recursive: true, filter: (path) => !/[\\/](node_modules|dist)$/.test(path) });
  // Rewrites the copy's `rxsync` dependency to the tarball; vite comes from its devDependencies.
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', tarball], app);
  step(`vite: installed vite and the tarball (node_modules ${mb(sizeOf(join(app, 'node_modules')))})`);

  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], app);
  step('vite: type-checked against the installed package');

  run(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], app);
  const dist = join(app, 'dist');
  const assets = readdirSync(join(dist, 'assets'));
  if (!assets.some((name) => name.endsWith('.wasm'))) fail(`vite build emitted no .wasm: ${assets.join(', ')}`);
  step(`vite: built (${mb(sizeOf(dist))}: ${assets.join(', ')})`);

  const web = await serveStatic(dist);
  cleanups.push(() => new Promise((done) => web.close(done)));
  const { createSyncServer, defineSchema } = await import(pathToFileURL(join(root, 'dist', 'server', 'index.js')).href);
  // The schema the example's README serves (`rxsync serve --schema examples/vite/schema.json`).
  const schema = defineSchema(JSON.parse(readFileSync(join(app, 'schema.json'), 'utf8')));
  const sync = await createSyncServer({ schema, host: '127.0.0.1', port: 0, processMetrics: false });
  cleanups.push(() => sync.close());
  await sync.insert('todos', { id: 'from-server', title: 'Written on the server', done: 0 });

  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: TIMEOUT_MS });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('response', (response) => response.status() >= 400 && errors.push(`HTTP ${response.status()} ${response.url()}`));
  const pageUrl = `http://127.0.0.1:${web.address().port}/?sync=${encodeURIComponent(sync.url)}`;
  await page.goto(pageUrl);
  const status = () => page.locator('[data-testid=status]').textContent();
  try {
    await page.locator('[data-testid=todo][data-id=from-server]').waitFor({ timeout: TIMEOUT_MS });
  } catch {
    fail(`the server's row did not appear in the page (${pageUrl}); status: ${await status()}; page errors: ${errors.join(' | ') || 'none'}`);
  }
  step('vite: the server row synced into the page');

  const title = `Written in the page ${Date.now()}`;
  await page.locator('[data-testid=title]').fill(title);
  await page.locator('[data-testid=insert]').click();
  await waitFor(`the page's todo on the server (status: ${await status()})`, async () => {
    const rows = await sync.query('SELECT id FROM todos WHERE title = ?', [title]);
    return rows.length > 0;
  });
  step('vite: the page write reached the server');
  if (errors.length) fail(`the page reported errors: ${errors.join(' | ')}`);
}

try {
  if (!existsSync(join(root, 'dist', 'browser.js'))) fail('dist/ is missing: run `npm run build` first');
  if (!chromiumPath) fail('no Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH');
  const work = mkdtempSync(join(tmpdir(), 'rxsync-examples-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  mkdirSync(join(work, 'pack'));
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--silent', '--pack-destination', join(work, 'pack')], root));
  const tarball = join(work, 'pack', packed.filename);
  step(`packed ${packed.filename} (${mb(packed.size)})`);

  await testVite(work, tarball);
  await cleanUp();
  console.log(`test-examples: ok (${((performance.now() - started) / 1000).toFixed(1)} s in all)`);
} catch (error) {
  await cleanUp();
  console.error(`test-examples: FAILED: ${error.expected ? error.message : (error.stack ?? error)}`);
  process.exit(1);
}
