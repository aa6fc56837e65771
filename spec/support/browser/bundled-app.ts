import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { createSyncServer, demoSchema, type SyncServer } from '../../../src/server/index.js';
import { serveStatic } from '../../../src/server/static-files.js';

const ROOT = resolve(__dirname, '../../..');

/**
 * The package as an app installs it, built from the current sources into `dir`: dist/browser/ by
 * scripts/build-browser.mjs (the worker, the two .wasm files), and dist/browser.js, the module
 * `rxsync/browser` resolves to. tsc writes that one in `npm run build` (and build-browser.mjs checks
 * its worker URL there); here esbuild bundles the same source to the same place, which keeps the
 * spec fast and the URL the same: `new URL('./browser/rxsync-worker.js', import.meta.url)`.
 */
export async function buildPackage(dir: string): Promise<string> {
  const run = spawnSync(process.execPath, ['scripts/build-browser.mjs', '--outdir', join(dir, 'dist/browser')], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`node scripts/build-browser.mjs failed:\n${run.stdout}\n${run.stderr}`);
  await build({
    entryPoints: [join(ROOT, 'src/browser.ts')],
    outfile: join(dir, 'dist/browser.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    logLevel: 'warning',
  });
  return join(dir, 'dist/browser.js');
}

/** A worker script of rxsync that says another version (an old copy the page must refuse). */
export async function buildStaleWorker(outfile: string, version: string): Promise<void> {
  const otherVersion: Plugin = {
    name: 'other-version',
    setup(builder) {
      builder.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({ contents: `export const VERSION = ${JSON.stringify(version)};`, loader: 'ts' }));
    },
  };
  await build({
    entryPoints: [join(ROOT, 'src/worker/worker-entry.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    external: ['ws', 'node:*'],
    logLevel: 'error',
    plugins: [otherVersion],
  });
}

const LITERAL_URL = /new\s+URL\(\s*(['"])([^'"/:][^'"]*)\1\s*,\s*import\.meta\.url\s*\)/g;
const WORKER_URL = /(new\s+(?:Shared)?Worker\(\s*)new\s+URL\(\s*(['"])([^'"/:][^'"]*)\2\s*,\s*import\.meta\.url\s*\)/g;

/**
 * What Vite and webpack 5 do with a package's `new URL('<relative path>', import.meta.url)`, for
 * esbuild (which leaves it alone): the file it names is emitted next to the app's bundle under a
 * hashed name and the expression rewritten to that name; written inline in `new SharedWorker(...)`
 * or `new Worker(...)`, the file is bundled first, as a worker, by the same rules (so its own .wasm
 * URLs are emitted and rewritten too). A name built at run time is not seen, and breaks: that is
 * what this stands in for.
 */
function emitUrlAssets(outdir: string, packageDir: string): Plugin {
  const emitted = new Map<string, Promise<string>>();
  const emit = (path: string, contents: () => Promise<Uint8Array>): Promise<string> => {
    let name = emitted.get(path);
    if (!name) {
      name = contents().then((bytes) => {
        const hashed = `${basename(path, extname(path))}-${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}${extname(path)}`;
        writeFileSync(join(outdir, hashed), bytes);
        return hashed;
      });
      emitted.set(path, name);
    }
    return name;
  };
  const bundleWorker = async (path: string): Promise<Uint8Array> => {
    const result = await build({ entryPoints: [path], bundle: true, format: 'esm', write: false, logLevel: 'warning', plugins: [plugin] });
    return result.outputFiles[0].contents;
  };
  const plugin: Plugin = {
    name: 'emit-url-assets',
    setup(builder) {
      builder.onLoad({ filter: /\.js$/ }, async (args) => {
        if (!args.path.startsWith(packageDir)) return undefined;
        const here = dirname(args.path);
        let code = readFileSync(args.path, 'utf8');
        const workers = new Map<string, string>();
        for (const [, , , path] of code.matchAll(WORKER_URL)) workers.set(path, await emit(resolve(here, path), () => bundleWorker(resolve(here, path))));
        code = code.replace(
          WORKER_URL,
          (_, constructor: string, quote: string, path: string) => `${constructor}new URL(${quote}./${workers.get(path)}${quote}, import.meta.url)`,
        );
        const assets = new Map<string, string>();
        const done = new Set([...workers.values()].map((name) => `./${name}`));
        for (const [, , path] of code.matchAll(LITERAL_URL)) {
          if (!done.has(path)) assets.set(path, await emit(resolve(here, path), async () => readFileSync(resolve(here, path))));
        }
        code = code.replace(LITERAL_URL, (whole, quote: string, path: string) =>
          assets.has(path) ? `new URL(${quote}./${assets.get(path)}${quote}, import.meta.url)` : whole,
        );
        return { contents: code, loader: 'js' };
      });
    },
  };
  return plugin;
}

/**
 * An app bundled by esbuild, with emitUrlAssets standing in for a bundler's handling of
 * `new URL(..., import.meta.url)`: `entry` (its source) imports `rxsync/browser`, which resolves to
 * `pageModule`; nothing is copied by hand. Writes index.html, app.js and what was emitted to `outdir`.
 */
export async function bundleApp(entry: string, pageModule: string, outdir: string): Promise<string[]> {
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'entry.js'), entry);
  writeFileSync(
    join(outdir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="app.js"></script></head><body>app</body></html>',
  );
  const packageDir = dirname(pageModule);
  await build({
    entryPoints: [join(outdir, 'entry.js')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    logLevel: 'warning',
    alias: { 'rxsync/browser': pageModule },
    plugins: [emitUrlAssets(outdir, packageDir)],
  });
  rmSync(join(outdir, 'entry.js'));
  return readdirSync(outdir).sort();
}

/** A temporary directory, removed by `remove()`. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A reference sync server (the demo's todos schema, no auth) that also serves `webRoot`. With
 * `fallback: 'index.html'` a path with no file answers the index page, 200 text/html, as Vite's dev
 * server and single-page-app hosting do.
 */
export async function startAppServer(webRoot: string, options: { fallback?: 'index.html' } = {}): Promise<SyncServer> {
  const files = serveStatic(webRoot);
  return createSyncServer({
    schema: demoSchema,
    host: '127.0.0.1',
    port: 0,
    httpHandler: (request, response) => {
      if (files(request, response)) return true;
      if (options.fallback !== 'index.html' || request.url?.startsWith('/api/')) return false;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(readFileSync(join(webRoot, 'index.html')));
      return true;
    },
  });
}
