#!/usr/bin/env node
/**
 * Runs a TypeScript benchmark from source, with no build step and no TS runner:
 *
 *   node bench/run.mjs initial-sync [bench args...]
 *
 * bundles bench/<name>.ts and bench/seed-server.ts (the server process it forks) with esbuild
 * (a devDependency) into node_modules/.cache/rxsync-bench/*.mjs, npm packages left as imports
 * (so they resolve from the repo's node_modules), then runs the bench with this same node.
 * `--build-only` stops after bundling (e.g. to run the .mjs under `node --cpu-prof` yourself).
 * The bench process gets `--expose-gc`; node flags given to this script are passed on as well.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [name = 'initial-sync', ...rest] = process.argv.slice(2);
const buildOnly = rest.includes('--build-only');
const args = rest.filter((a) => a !== '--build-only');
const entry = join(root, 'bench', `${name}.ts`);
if (!existsSync(entry)) {
  console.error(`no such benchmark: bench/${name}.ts`);
  process.exit(2);
}
const outdir = join(root, 'node_modules', '.cache', 'rxsync-bench');
await build({
  entryPoints: [
    entry,
    join(root, 'bench', 'seed-server.ts'),
    join(root, 'bench', 'rxdb-server.ts'),
    join(root, 'bench', 'fanout-load.ts'),
    join(root, 'bench', 'cli-entry.ts'),
  ],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outdir,
  outExtension: { '.js': '.mjs' },
  sourcemap: 'linked',
  logLevel: 'warning',
});
const out = join(outdir, `${name}.mjs`);
if (buildOnly) {
  console.log(out);
  process.exit(0);
}
// --expose-gc: the bench collects garbage before each timed client run, so runs start alike.
const child = spawn(process.execPath, ['--expose-gc', ...process.execArgv, out, ...args], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
