#!/usr/bin/env node
/**
 * What `npm pack` would publish, checked (CI runs this after `npm run build`):
 * - within the size budget (packed bytes), so an accidental copy or a stray build output shows;
 * - no file twice (the same name and size in two folders: a demo's copy of the worker or wasm);
 * - no sources or examples that import `../../src` (they would not resolve in node_modules);
 * - every source map self-contained (its sources embedded), none pointing at unshipped files;
 * - LICENSE, README.md, and package.json's license and repository present.
 *
 *   node scripts/check-pack.mjs [--budget BYTES]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const budgetArg = process.argv.indexOf('--budget');
/** Packed (gzip) bytes. The wasm files alone are ~0.7 MB packed; the rest is the JS and its maps. */
const budget = budgetArg >= 0 ? Number(process.argv[budgetArg + 1]) : 2_000_000;

const [pack] = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
);
const problems = [];
const paths = pack.files.map((file) => file.path);

if (pack.size > budget) problems.push(`the package is ${pack.size} bytes packed, over the budget of ${budget}`);
const seen = new Map();
for (const file of pack.files) {
  const id = `${basename(file.path)}:${file.size}`;
  if (file.size > 10_000 && seen.has(id)) problems.push(`${file.path} is a copy of ${seen.get(id)}`);
  seen.set(id, file.path);
}
for (const path of paths) {
  if (/^(src|spec|bench|examples)\//.test(path)) problems.push(`${path} should not be published`);
  if (path.endsWith('.map')) {
    const map = JSON.parse(readFileSync(join(root, path), 'utf8'));
    const embedded =
      Array.isArray(map.sourcesContent) && map.sourcesContent.length === map.sources.length && map.sourcesContent.every((s) => typeof s === 'string');
    if (!embedded) problems.push(`${path} points at sources it does not carry`);
  }
}
for (const required of ['LICENSE', 'README.md', 'package.json']) if (!paths.includes(required)) problems.push(`${required} is missing`);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (!manifest.license) problems.push('package.json has no license');
if (!manifest.repository) problems.push('package.json has no repository');

console.log(`npm pack: ${pack.entryCount} files, ${pack.size} bytes packed (budget ${budget}), ${pack.unpackedSize} unpacked`);
for (const file of [...pack.files].sort((a, b) => b.size - a.size).slice(0, 6)) console.log(`  ${String(file.size).padStart(9)}  ${file.path}`);
if (problems.length) {
  console.error(`\n${problems.length} problem(s) with what npm would publish:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
