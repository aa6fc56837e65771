#!/usr/bin/env node
/**
 * Builds the demo todo app (examples/web/) into dist/web/, a self-contained directory that
 * `rxsync serve --demo` serves at / (src/server/static-files.ts):
 *
 *   index.html, style.css   copied from examples/web/
 *   app.js (+ .map)         examples/web/app.ts bundled by esbuild (no CDN, no runtime imports)
 *   rxsync-worker.js (...)  the engine's worker script, copied from dist/browser/
 *   wa-sqlite*.wasm         wa-sqlite's wasm files, copied from dist/browser/ (next to the worker)
 *
 * app.ts imports the browser entry by its source path (so that tsc checks it); the bundle takes
 * the published one instead, dist/browser/rxsync.js, the browser entry bundled to find its worker
 * next to itself (`new URL('./rxsync-worker.js', import.meta.url)`). So dist/browser/ must be built
 * first: `node scripts/build-browser.mjs` (this script runs it when dist/browser/ is missing).
 *
 * esbuild leaves that URL as it is (it emits no worker, unlike Vite or webpack 5): relative to
 * app.js it names dist/web/rxsync-worker.js, hence the copies, and the page passes no workerUrl.
 *
 * Usage: node scripts/build-demo.mjs [--outdir dir] [--browser-dir dir] [--no-minify]
 * (--browser-dir: where the browser bundles are, default dist/browser; the browser specs build both
 * into a temporary directory so that they always test the current sources.)
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outdirArg = args.indexOf('--outdir');
const outdir = resolve(root, outdirArg >= 0 ? args[outdirArg + 1] : 'dist/web');
const minify = !args.includes('--no-minify');
const source = join(root, 'examples/web');
const browserDirArg = args.indexOf('--browser-dir');
const browserDist = resolve(root, browserDirArg >= 0 ? args[browserDirArg + 1] : 'dist/browser');
const browserEntry = join(browserDist, 'rxsync.js');
const browserSource = join(root, 'src/browser.ts');

if (!existsSync(browserEntry) || !existsSync(join(browserDist, 'rxsync-worker.js'))) {
  console.log(`${relative(root, browserDist)}/ is missing: running scripts/build-browser.mjs first`);
  const built = spawnSync(process.execPath, [join(root, 'scripts/build-browser.mjs'), '--outdir', browserDist], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

/** Points the source entry (src/browser.ts, as app.ts names it) at the published bundle. */
const usePublishedBundle = {
  name: 'rxsync-browser-bundle',
  setup(builder) {
    builder.onResolve({ filter: /(^rxsync\/browser$)|(\/src\/browser(\.js|\.ts)?$)/ }, (args) => {
      if (args.path === 'rxsync/browser' || resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')) === browserSource) {
        return { path: browserEntry };
      }
      return undefined;
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

const result = await build({
  entryPoints: [join(source, 'app.ts')],
  outfile: join(outdir, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  sourcemap: true,
  minify,
  legalComments: 'linked',
  logLevel: 'warning',
  absWorkingDir: root,
  metafile: true,
  plugins: [usePublishedBundle],
});
const inputs = Object.keys(Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.inputs ?? {});
if (!inputs.some((input) => resolve(root, input) === browserEntry)) throw new Error(`app.js did not take ${relative(root, browserEntry)}`);
if (inputs.some((input) => input.includes('wa-sqlite')))
  throw new Error('app.js must not bundle the engine (it pulled in wa-sqlite): the engine lives in the worker');
if (!/new SharedWorker\(\s*new URL\(\s*(['"])\.\/rxsync-worker\.js\1\s*,\s*import\.meta\.url\s*\)/.test(await readFile(join(outdir, 'app.js'), 'utf8')))
  throw new Error("app.js does not start its worker from new URL('./rxsync-worker.js', import.meta.url): the copies below would not be found");

for (const file of ['index.html', 'style.css']) await copyFile(join(source, file), join(outdir, file));
// The worker and its wasm files, next to app.js: where the bundled entry looks for the worker, and
// the worker for the .wasm files.
const copied = (await readdir(browserDist)).filter((file) => file.startsWith('rxsync-worker.js') || file.endsWith('.wasm'));
for (const file of copied) await copyFile(join(browserDist, file), join(outdir, file));
for (const required of ['rxsync-worker.js', 'wa-sqlite.wasm', 'wa-sqlite-async.wasm']) {
  if (!copied.includes(required)) throw new Error(`${relative(root, browserDist)}/${required} is missing: run node scripts/build-browser.mjs`);
}

for (const file of (await readdir(outdir)).sort()) {
  const { size } = await stat(join(outdir, file));
  console.log(`${relative(root, join(outdir, file))}  ${(size / 1024).toFixed(0)} KiB`);
}
