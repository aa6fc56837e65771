#!/usr/bin/env node
/**
 * Bundles rxsync for browsers into dist/browser/:
 *
 *   rxsync.js            src/browser.ts, ESM: createWorkerSyncClient and the protocol helpers (no engine)
 *   rxsync-worker.js     src/worker/worker-entry.ts, ESM module worker: the engine, wa-sqlite's JS glue
 *   wa-sqlite.wasm       wa-sqlite's sync build (':memory:' databases)
 *   wa-sqlite-async.wasm wa-sqlite's Asyncify build (IndexedDB databases)
 *
 * The worker loads the .wasm files next to itself (new URL(file, import.meta.url)), so the four
 * files are served from one directory. Node-only code stays out of the way: the `ws` import of the
 * client (used only where there is no global WebSocket) is external and never reached in a browser;
 * storage/node-wasm.ts has no static `node:` import. The build fails if a bundle names a `node:`
 * module or requires anything.
 *
 * Usage: node scripts/build-browser.mjs [--outdir dir] [--no-minify]
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
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
  // Only reached in Node (no global WebSocket there); a browser never evaluates this import.
  external: ['ws', 'node:*'],
  absWorkingDir: root,
  metafile: true,
};

const entries = [
  { in: 'src/browser.ts', out: 'rxsync.js' },
  { in: 'src/worker/worker-entry.ts', out: 'rxsync-worker.js' },
];

await mkdir(outdir, { recursive: true });
for (const entry of entries) {
  const result = await build({ ...common, entryPoints: [join(root, entry.in)], outfile: join(outdir, entry.out) });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(entry.out));
  const inputs = Object.keys(output?.[1].inputs ?? {});
  const code = await readFile(join(outdir, entry.out), 'utf8');
  // What a browser must never meet: a require() (esbuild's __require shim throws), or a static or
  // literal dynamic import of a node: module. (storage/node-wasm.ts names 'node:fs' as data, for a
  // computed import that only runs in Node: that is allowed.)
  const bad = [/\brequire\(\s*["'`]/, /\bfrom\s*["'`]node:/, /\bimport\s*\(\s*["'`]node:/, /\bimport\s*["'`]node:/].flatMap((re) =>
    re.test(code) ? [re.source] : [],
  );
  if (bad.length) throw new Error(`${entry.out} contains ${bad.join(' and ')}: a browser would hit Node-only code`);
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
