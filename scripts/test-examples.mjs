#!/usr/bin/env node
// Builds and drives the example apps against the package as users get it: `npm pack` of this
// repository (run `npm run build` first), installed into a copy of the example in a temporary
// directory, so the example's own installs stay out of the root `npm ci` and out of the tarball.
//
//   node scripts/test-examples.mjs
//
// examples/vite is type-checked against the installed package and built with `vite build`;
// examples/webpack is built with `webpack`; examples/angular is built with the Angular CLI (`ng build`, which type-checks it too). Each build
// must emit the worker and wa-sqlite's .wasm by itself. Each app is served by a small static server
// and opened in headless Chromium (Debian's, or $CHROMIUM_PATH) with ?sync=<a reference sync server
// started here>: a row inserted on the server must appear in the page, and a todo added with the
// page's form must reach the server. Exits 1 with what failed; the browser, the servers and the
// temporary directory are removed either way.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative, resolve, sep } from 'node:path';
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
/** Runs the cleanups registered since `from` (all by default), the last first. */
async function cleanUp(from = 0) {
  for (const cleanup of cleanups.splice(from).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`test-examples: cleanup: ${error.message}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanUp().finally(() => process.exit(130)));

/** Copies examples/<name> into `work` and installs its dependencies there, rxsync from the tarball. */
function installExample(work, name, tarball) {
  const app = join(work, name);
  cpSync(join(root, 'examples', name), app, { recursive: true, filter: (path) => !/[\\/](node_modules|dist|\.angular)$/.test(path) });
  // Rewrites the copy's `rxsync` dependency to the tarball; the rest comes from its package.json.
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', tarball], app);
  step(`${name}: installed its dependencies and the tarball (node_modules ${mb(sizeOf(join(app, 'node_modules')))})`);
  return app;
}

/** The files under `dir`, as paths relative to it. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)));
}

/** The build must have emitted the worker's two .wasm files itself: nothing was copied. */
function expectEmittedWasm(name, dist) {
  const files = filesUnder(dist);
  const wasm = files.filter((file) => file.endsWith('.wasm'));
  if (wasm.length < 1) fail(`${name}: the build emitted no .wasm: ${files.join(', ')}`);
  step(`${name}: built (${mb(sizeOf(dist))}: ${files.join(', ')})`);
}

/** Serves a built app on 127.0.0.1 until the cleanups run; resolves to its origin. */
async function serveBuilt(dist) {
  const web = await serveStatic(dist);
  cleanups.push(() => new Promise((done) => web.close(done)));
  return `http://127.0.0.1:${web.address().port}`;
}

/**
 * Runs the app's dev server (`command` in `app`, its own process group, stopped by the cleanups)
 * until it prints the URL it serves; resolves to that origin.
 */
async function serveDev(app, command, args) {
  const child = spawn(command, args, { cwd: app, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  cleanups.push(
    () =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        process.kill(-child.pid, 'SIGTERM');
      }),
  );
  return new Promise((done, failed) => {
    const timer = setTimeout(
      () => failed(Object.assign(new Error(`${command} ${args.join(' ')} printed no URL in ${(TIMEOUT_MS * 3) / 1000} s:\n${output}`), { expected: true })),
      TIMEOUT_MS * 3,
    );
    const read = (chunk) => {
      output += chunk;
      // The URL line, without the terminal's colours: `➜  Local:   http://localhost:4200/`.
      const url = /Local:\s+(http:\/\/[^\s/]+)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''))?.[1];
      if (url) {
        clearTimeout(timer);
        done(url);
      }
    };
    child.stdout.setEncoding('utf8').on('data', read);
    child.stderr.setEncoding('utf8').on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      failed(Object.assign(new Error(`${command} ${args.join(' ')} exited (${code}) before serving:\n${output}`), { expected: true }));
    });
  });
}

/**
 * Serves the app (`serve` resolves to its origin) beside a sync server with the example's schema and drives it in
 * Chromium: a row inserted on the server appears in the page, a todo added with the page's form
 * reaches the server.
 */
async function driveInChromium(name, app, serve) {
  const mark = cleanups.length;
  const origin = await serve();
  const { createSyncServer, defineSchema } = await import(pathToFileURL(join(root, 'dist', 'server', 'index.js')).href);
  // The schema the example's README serves (`rxsync serve --schema examples/<name>/schema.json`).
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
  const pageUrl = `${origin}/?sync=${encodeURIComponent(sync.url)}`;
  await page.goto(pageUrl);
  const status = () => page.locator('[data-testid=status]').textContent();
  try {
    await page.locator('[data-testid=todo][data-id=from-server]').waitFor({ timeout: TIMEOUT_MS });
  } catch {
    fail(`${name}: the server's row did not appear in the page (${pageUrl}); status: ${await status()}; page errors: ${errors.join(' | ') || 'none'}`);
  }
  step(`${name}: the server row synced into the page`);

  const title = `Written in the page ${Date.now()}`;
  await page.locator('[data-testid=title]').fill(title);
  await page.locator('[data-testid=insert]').click();
  await waitFor(`${name}: the page's todo on the server (status: ${await status()})`, async () => {
    const rows = await sync.query('SELECT id FROM todos WHERE title = ?', [title]);
    return rows.length > 0;
  });
  step(`${name}: the page write reached the server`);

  // A new database goes to OPFS where the browser has it: its directory is there, not IndexedDB's.
  const stored = await page.evaluate(async () => {
    const opfs = [];
    try {
      const directory = await (await globalThis.navigator.storage.getDirectory()).getDirectoryHandle('rxsync');
      for await (const entry of directory.keys()) opfs.push(entry);
    } catch {
      // no rxsync directory
    }
    return { opfs, indexedDb: (await globalThis.indexedDB.databases()).map((info) => info.name) };
  });
  if (stored.opfs.length !== 1 || stored.indexedDb.some((db) => !db.startsWith('rxsync-meta:'))) {
    fail(`${name}: the database is not in OPFS alone (OPFS: ${JSON.stringify(stored.opfs)}, IndexedDB: ${JSON.stringify(stored.indexedDb)})`);
  }
  step(`${name}: the database is in OPFS (${stored.opfs[0]})`);

  if (errors.length) fail(`${name}: the page reported errors: ${errors.join(' | ')}`);

  // The rows live in the page's own database: with the server gone, a reload still shows them.
  await sync.close();
  await page.reload();
  for (const row of [page.locator('[data-testid=todo][data-id=from-server]'), page.locator('[data-testid=todo]', { hasText: title })]) {
    try {
      await row.waitFor({ timeout: TIMEOUT_MS });
    } catch {
      fail(`${name}: after a reload with the server down, a synced row is missing; status: ${await status()}`);
    }
  }
  step(`${name}: reloaded with the server down, both rows are still in the page`);
  // The engine's tries to reach the stopped server fail, as they should; nothing else may.
  const offlineErrors = errors.filter((error) => !/WebSocket connection to .* failed/.test(error));
  if (offlineErrors.length) fail(`${name}: the page reported errors after the reload: ${offlineErrors.join(' | ')}`);
  await cleanUp(mark);
}

/** examples/vite: type-checked with tsc, built with `vite build` (no rxsync-specific config). */
async function testVite(work, tarball) {
  const app = installExample(work, 'vite', tarball);
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], app);
  step('vite: type-checked against the installed package');
  run(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], app);
  expectEmittedWasm('vite', join(app, 'dist'));
  await driveInChromium('vite', app, () => serveBuilt(join(app, 'dist')));
}

/** examples/webpack: `webpack` with no rxsync-specific config (webpack 5 follows the package's worker and .wasm URLs). */
async function testWebpack(work, tarball) {
  const app = installExample(work, 'webpack', tarball);
  run(process.execPath, [join(app, 'node_modules', 'webpack-cli', 'bin', 'cli.js'), '--no-stats'], app);
  expectEmittedWasm('webpack', join(app, 'dist'));
  await driveInChromium('webpack', app, () => serveBuilt(join(app, 'dist')));
}

/** examples/angular: `ng build` with the CLI's application builder (which type-checks the app, templates included). */
async function testAngular(work, tarball) {
  const app = installExample(work, 'angular', tarball);
  run(process.execPath, [join(app, 'node_modules', '@angular', 'cli', 'bin', 'ng.js'), 'build'], app);
  expectEmittedWasm('angular', join(app, 'dist', 'browser'));
  await driveInChromium('angular', app, () => serveBuilt(join(app, 'dist', 'browser')));
  // `ng serve` builds differently (the packages go through Vite's pre-bundler): what users run first.
  const ng = join(app, 'node_modules', '@angular', 'cli', 'bin', 'ng.js');
  await driveInChromium('angular (ng serve)', app, () => serveDev(app, process.execPath, [ng, 'serve', '--host', '127.0.0.1', '--port', '0']));
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
  await testWebpack(work, tarball);
  await testAngular(work, tarball);
  await cleanUp();
  console.log(`test-examples: ok (${((performance.now() - started) / 1000).toFixed(1)} s in all)`);
} catch (error) {
  await cleanUp();
  console.error(`test-examples: FAILED: ${error.expected ? error.message : (error.stack ?? error)}`);
  process.exit(1);
}
