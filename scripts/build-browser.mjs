#!/usr/bin/env node
/**
 * Bundles rxsync for browsers into dist/browser/:
 *
 *   rxsync.js            src/browser.ts, ESM: createWorkerSyncClient and the protocol helpers (no engine)
 *   rxsync-worker.js     src/worker/worker-entry.ts, ESM module worker: the engine, wa-sqlite's JS glue
 *   wa-sqlite.wasm       wa-sqlite's sync build (':memory:' databases)
 *   wa-sqlite-async.wasm wa-sqlite's Asyncify build (IndexedDB databases)
 *   wasm-url.d.ts        the type of either .wasm imported as a URL (src/wasm-url.d.ts)
 *
 * The URLs between these files are literal `new URL('./file', import.meta.url)` expressions, which
 * esbuild leaves as they are in ES modules, so that an app's bundler (Vite, webpack 5) finds the
 * files and emits them under its own (hashed) names:
 *
 *   dist/browser.js (tsc's, what `rxsync/browser` resolves to)  new SharedWorker(new URL('./browser/rxsync-worker.js', import.meta.url), ...)
 *   rxsync.js (this bundle of the same source, next to the worker)  new SharedWorker(new URL('./rxsync-worker.js', import.meta.url), ...)
 *   rxsync-worker.js  new URL('./wa-sqlite.wasm', import.meta.url), new URL('./wa-sqlite-async.wasm', import.meta.url)
 *
 * The build checks that each bundle still holds its expressions, written the way bundlers look for
 * them (and dist/browser.js too, when it builds into dist/browser/ after tsc). Served as they are,
 * the four files work from one directory.
 *
 * src/version.ts must say package.json's version (the page and the worker compare theirs): the
 * build fails otherwise.
 *
 * Node-only code stays out of the way: the `ws` import of the client (used only where there is no
 * global WebSocket) is external and never reached in a browser; storage/node-wasm.ts has no static
 * `node:` import. The build fails if a bundle names a `node:` module or requires anything.
 *
 * Usage: node scripts/build-browser.mjs [--outdir dir] [--no-minify]
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outdirArg = args.indexOf('--outdir');
const outdir = resolve(root, outdirArg >= 0 ? args[outdirArg + 1] : 'dist/browser');
const minify = !args.includes('--no-minify');

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  sourcemap: true,
  minify,
  legalComments: 'eof',
  logLevel: 'warning',
  external: ['node:*'],
  absWorkingDir: root,
  metafile: true,
};

const packageVersion = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version;
const sourceVersion = /export const VERSION = '([^']*)'/.exec(await readFile(join(root, 'src/version.ts'), 'utf8'))?.[1];
if (sourceVersion !== packageVersion) {
  throw new Error(`src/version.ts says VERSION = '${sourceVersion}', package.json says ${packageVersion}: make them the same`);
}

/** `new <ctor>(new URL('<path>', import.meta.url)` as written, quotes and spaces as esbuild or tsc leave them. */
const literalUrl = (path, ctor) =>
  new RegExp(`${ctor ? `new ${ctor}\\(\\s*` : ''}new URL\\(\\s*(['"])${path.replace(/[.]/g, '\\.')}\\1\\s*,\\s*import\\.meta\\.url\\s*\\)`);
const workerUrls = (path) => [literalUrl(path, 'SharedWorker'), literalUrl(path, 'Worker')];

/**
 * The client imports the `ws` package only where there is no global WebSocket (Node), never in a
 * browser. In the bundle it is a stub, so that the worker has no dynamic import left: Vite bundles
 * a package's worker as one IIFE file by default, which a dynamic import of a module would split.
 */
const noWsPackage = {
  name: 'rxsync-no-ws-package',
  setup(builder) {
    builder.onResolve({ filter: /^ws$/ }, () => ({ path: 'ws', namespace: 'rxsync-no-ws' }));
    builder.onLoad({ filter: /.*/, namespace: 'rxsync-no-ws' }, () => ({
      contents: "throw new Error('rxsync needs a global WebSocket in the browser');",
      loader: 'js',
    }));
  },
};

/** The page's module sits next to the worker in this directory: its URL of the worker drops `browser/`. */
const workerNextToPage = {
  name: 'rxsync-worker-next-to-page',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]src[\\/]browser\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const contents = source.replaceAll("new URL('./browser/rxsync-worker.js', import.meta.url)", "new URL('./rxsync-worker.js', import.meta.url)");
      if (contents === source) throw new Error("src/browser.ts no longer names new URL('./browser/rxsync-worker.js', import.meta.url)");
      return { contents, loader: 'ts' };
    });
  },
};

const entries = [
  { in: 'src/browser.ts', out: 'rxsync.js', plugins: [workerNextToPage], urls: workerUrls('./rxsync-worker.js') },
  {
    in: 'src/worker/worker-entry.ts',
    out: 'rxsync-worker.js',
    // An app's bundler bundles this file again: esbuild keeps the `webpackIgnore` / `@vite-ignore`
    // comments of a computed import() (storage/node-wasm.ts, Node only) only when it does not
    // minify syntax or whitespace, and without them webpack warns and adds an empty chunk. The
    // app's bundler minifies; served as it is, the file is a little larger (gzip: ~120 KiB, not 95).
    options: { minify: false, minifyIdentifiers: minify },
    plugins: [noWsPackage],
    urls: [literalUrl('./wa-sqlite.wasm'), literalUrl('./wa-sqlite-async.wasm')],
  },
];

await mkdir(outdir, { recursive: true });
for (const entry of entries) {
  const result = await build({
    ...common,
    entryPoints: [join(root, entry.in)],
    outfile: join(outdir, entry.out),
    plugins: entry.plugins ?? [],
    ...entry.options,
  });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(entry.out));
  const inputs = Object.keys(output?.[1].inputs ?? {});
  const code = await readFile(join(outdir, entry.out), 'utf8');
  // What a browser must never meet: a require() (esbuild's __require shim throws), or a static
  // import of a node: module. Nor a dynamic import of a named module (`node:` or any other: a
  // bundler would split the worker there, see noWsPackage). storage/node-wasm.ts names 'node:fs' as
  // data, for a computed import that only runs in Node: that is allowed.
  const bad = [/\brequire\(\s*["'`]/, /\bfrom\s*["'`]node:/, /\bimport\s*\(\s*["'`]/, /\bimport\s*["'`]node:/].flatMap((re) =>
    re.test(code) ? [re.source] : [],
  );
  if (bad.length) throw new Error(`${entry.out} contains ${bad.join(' and ')}: a browser would hit Node-only code`);
  const lost = entry.urls.filter((re) => !re.test(code));
  if (lost.length) throw new Error(`${entry.out} lost ${lost.map((re) => re.source).join(' and ')}: a bundler would not find the file it names`);
  if (entry.out === 'rxsync.js' && inputs.some((input) => input.includes('wa-sqlite'))) {
    throw new Error('rxsync.js (the main-thread entry) must not bundle the engine: it pulled in wa-sqlite');
  }
  const { size } = await stat(join(outdir, entry.out));
  console.log(`${relative(root, join(outdir, entry.out))}  ${(size / 1024).toFixed(0)} KiB  (${inputs.length} modules)`);
}

const require = createRequire(import.meta.url);
const waSqliteDist = dirname(require.resolve('wa-sqlite/dist/wa-sqlite.mjs'));
for (const file of ['wa-sqlite.wasm', 'wa-sqlite-async.wasm']) {
  await copyFile(join(waSqliteDist, file), join(outdir, file));
  console.log(`${relative(root, join(outdir, file))}  (copied)`);
}
// The types of `import url from 'rxsync/browser/wa-sqlite.wasm' with { loader: 'file' }` (package.json exports).
await copyFile(join(root, 'src/wasm-url.d.ts'), join(outdir, 'wasm-url.d.ts'));

// tsc's dist/browser.js (built before this script by `npm run build`) names the worker in dist/browser/.
const pageModule = join(outdir, '..', 'browser.js');
if (outdir === join(root, 'dist/browser') && existsSync(pageModule)) {
  const lost = workerUrls('./browser/rxsync-worker.js').filter((re) => !re.test(readFileSync(pageModule, 'utf8')));
  if (lost.length) throw new Error(`dist/browser.js lost ${lost.map((re) => re.source).join(' and ')}: a bundler would not find the worker`);
}
