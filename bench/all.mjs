#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark, one after another (never two at once: on a 2-core machine
 * they would measure each other), then bench/report.mjs for the table, results.json's cross-bench
 * ratios and docs/benchmarks.svg. Each bench runs its servers in processes of their own.
 *
 *   node bench/all.mjs                 # everything
 *   node bench/all.mjs latency fanout  # only these, then the report
 *
 * A bench that fails stops the run (exit code 1) after the others have had their turn, so one
 * broken figure does not hide the rest.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['initial-sync', 'rxdb-initial-sync', 'latency', 'rxdb-latency', 'live-queries', 'flood', 'fanout', 'memory', 'browser-initial-sync'];
const chosen = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const names = chosen.length ? chosen : ALL;

const failed = [];
const started = Date.now();
for (const name of names) {
  console.log(`\n=== bench: ${name} ===`);
  const t0 = Date.now();
  const run = spawnSync(process.execPath, [join(root, 'bench', 'run.mjs'), name], { stdio: 'inherit', cwd: root });
  console.log(`=== ${name}: ${run.status === 0 ? 'done' : `FAILED (exit ${run.status ?? run.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s ===`);
  if (run.status !== 0) failed.push(name);
}
console.log('\n=== report ===');
const report = spawnSync(process.execPath, [join(root, 'bench', 'report.mjs')], { stdio: 'inherit', cwd: root });
console.log(`\nall benchmarks: ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exit(failed.length || report.status !== 0 ? 1 : 0);
