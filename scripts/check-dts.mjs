#!/usr/bin/env node
// Checks the shipped type declarations as an app sees them: a small consumer that imports
// `rxsync`, `rxsync/browser` and `rxsync/server` is type-checked with `skipLibCheck: false` (so
// every .d.ts of the package is checked too) under `moduleResolution: nodenext` and `bundler`.
//
//   node scripts/check-dts.mjs           the package as built (`npm run build` first): ./dist
//   node scripts/check-dts.mjs --fresh   declarations emitted from src now, into a temporary
//                                        package (./dist is left alone)
//
// Exits 1 if either configuration has errors, listing them by file.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const fresh = process.argv.includes('--fresh');
const work = mkdtempSync(join(tmpdir(), 'rxsync-check-dts-'));

/** Hand-written declarations under src (tsc does not copy them): a built package must ship them too. */
function handWrittenDeclarations(dir = join(root, 'src')) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return handWrittenDeclarations(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The package the consumer installs: the repository itself, or a copy with freshly emitted declarations. */
function packageDir() {
  if (!fresh) {
    if (!existsSync(join(root, 'dist', 'index.d.ts'))) {
      console.error('check-dts: dist/index.d.ts is missing: run `npm run build` first (or use --fresh)');
      process.exit(2);
    }
    return root;
  }
  const pkg = join(work, 'package');
  mkdirSync(pkg);
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--emitDeclarationOnly', '--outDir', join(pkg, 'dist')], { stdio: 'inherit' });
  for (const file of handWrittenDeclarations()) cpSync(file, join(pkg, 'dist', relative(join(root, 'src'), file)));
  return pkg;
}

const CONSUMER = `import { createSyncClient, defineSchema, onSyncEvent, type SyncEventMap } from 'rxsync';
import { createWorkerSyncClient, type RemoteSyncClient } from 'rxsync/browser';
import { createSyncServer } from 'rxsync/server';
import asyncWasm from 'rxsync/browser/wa-sqlite-async.wasm' with { loader: 'file' };

const schema = defineSchema({ tables: { todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer' } } } });
const client = createSyncClient({ schema });
void client.insert('todos', { id: 'a', title: 'typed from the schema' });
// @ts-expect-error no table todoz (rows are typed through the shipped declarations too)
void client.insert('todoz', { id: 'a' });
// @ts-expect-error initial_sync_progress has no rowsDoneTypo
client.on('initial_sync_progress', (p) => p.rowsDoneTypo);
onSyncEvent('connected', (e: SyncEventMap['connected']) => e.url);
client.syncStatus$.subscribe((status) => status.pending);

export async function tab(): Promise<RemoteSyncClient> {
  return createWorkerSyncClient({ schema, database: 'db', workerUrl: new URL('https://example.com/rxsync-worker.js') });
}
// As the Angular CLI needs it: the app starts the worker and gives the URL of a .wasm it emitted.
export async function appWorkerTab(): Promise<RemoteSyncClient> {
  return createWorkerSyncClient({
    schema,
    database: 'db',
    worker: () => new SharedWorker(new URL('./rxsync.worker.js', import.meta.url), { type: 'module', name: 'rxsync' }),
    wasmUrl: { 'wa-sqlite-async.wasm': asyncWasm },
  });
}
export const server = () => createSyncServer({ schema, port: 0 });
`;

const CONFIGS = {
  nodenext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  bundler: { module: 'ESNext', moduleResolution: 'Bundler' },
};

const pkg = packageDir();
const consumer = join(work, 'consumer');
mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
symlinkSync(pkg, join(consumer, 'node_modules', 'rxsync'), 'dir');
symlinkSync(join(root, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'), 'dir');
writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
writeFileSync(join(consumer, 'consumer.ts'), CONSUMER);

let failed = false;
for (const [name, resolution] of Object.entries(CONFIGS)) {
  const config = join(consumer, `tsconfig.${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        ...resolution,
        target: 'ES2022',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      },
      files: ['consumer.ts'],
    }),
  );
  const run = spawnSync(process.execPath, [tsc, '-p', config, '--pretty', 'false'], { cwd: consumer, encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`.trim();
  if (run.status === 0) {
    console.log(`check-dts ${name}: ok`);
    continue;
  }
  failed = true;
  const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
  const byFile = new Map();
  // tsc names the package's files by their real path, relative to the consumer.
  const named = (text) => text.replaceAll(`${relative(consumer, pkg)}/`, 'rxsync/').replaceAll(`${pkg}/`, 'rxsync/');
  for (const line of errors) {
    const file = named(line.replace(/\(\d+,\d+\).*$/, ''));
    byFile.set(file, (byFile.get(file) ?? 0) + 1);
  }
  console.log(`check-dts ${name}: ${errors.length} errors in ${byFile.size} files`);
  for (const [file, count] of byFile) console.log(`  ${count}\t${file}`);
  console.log(named(output));
}
rmSync(work, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
