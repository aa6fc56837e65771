#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark, one after another (never two at once: on a 2-core machine
 * they would measure each other), three passes by default; then bench/report.mjs for the last
 * pass's table, results.json's cross-bench ratios and docs/benchmarks.svg, and
 * bench/report-runs.mjs for every figure over the passes (median, spread, and whether each goal
 * held in every pass, in some, or in none).
 *
 *   node bench/all.mjs                          # everything, 3 passes
 *   node bench/all.mjs --runs=1                 # one pass
 *   node bench/all.mjs latency fanout --runs=2  # only these
 *
 * Each pass's bench/results.json is kept in bench/results-runs.json. A bench that fails stops the
 * run (exit code 1) after the others have had their turn, so one broken figure does not hide the rest.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['initial-sync', 'rxdb-initial-sync', 'latency', 'rxdb-latency', 'live-queries', 'flood', 'fanout', 'memory', 'browser-initial-sync'];
const args = process.argv.slice(2);
const chosen = args.filter((a) => !a.startsWith('--'));
const names = chosen.length ? chosen : ALL;
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 3);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number of passes, at least 1 (got ${runs})`);

const resultsFile = join(root, 'bench', 'results.json');
const runsFile = join(root, 'bench', 'results-runs.json');
const passes = [];
const failed = [];
const started = Date.now();
for (let pass = 1; pass <= runs; pass++) {
  const passStartedAt = new Date().toISOString();
  for (const name of names) {
    console.log(`\n=== pass ${pass} of ${runs}, bench: ${name} ===`);
    const t0 = Date.now();
    const run = spawnSync(process.execPath, [join(root, 'bench', 'run.mjs'), name], { stdio: 'inherit', cwd: root });
    console.log(`=== ${name}: ${run.status === 0 ? 'done' : `FAILED (exit ${run.status ?? run.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s ===`);
    if (run.status !== 0) failed.push(`${name} (pass ${pass})`);
  }
  // report.mjs adds the cross-bench ratios to results.json; each pass keeps its own copy.
  spawnSync(process.execPath, [join(root, 'bench', 'report.mjs'), '--no-chart'], { stdio: 'ignore', cwd: root });
  passes.push({ ...JSON.parse(readFileSync(resultsFile, 'utf8')), passStartedAt });
  writeFileSync(runsFile, `${JSON.stringify(passes, null, 2)}\n`);
}
console.log('\n=== report (the last pass) ===');
const report = spawnSync(process.execPath, [join(root, 'bench', 'report.mjs')], { stdio: 'inherit', cwd: root });
console.log(`\n=== every pass: median and spread ===`);
const overRuns = spawnSync(process.execPath, [join(root, 'bench', 'report-runs.mjs')], { stdio: 'inherit', cwd: root });
console.log(`\nall benchmarks: ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exit(failed.length || report.status !== 0 || overRuns.status !== 0 ? 1 : 0);
