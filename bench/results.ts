/**
 * bench/results.json: one file holding the latest figures of every benchmark, section by section,
 * so `npm run bench` can print one table and draw one chart from it, and docs/benchmarks.md can
 * quote it. Each bench records its own section; a section is shallow-merged, so two benches may
 * add fields to the same one (the RxDB run adds `rxdbRowsPerSec` to `initialSync`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/results.json, found from the repo root whether this runs from source or from the bundle cache. */
export function resultsPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench/results.ts: no package.json above this file');
    dir = parent;
  }
  return join(dir, 'bench', 'results.json');
}

export type Results = Record<string, Record<string, unknown>>;

export function readResults(): Results {
  const path = resultsPath();
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Results) : {};
}

/** Merges `data` into `section` of bench/results.json and stamps the machine it was measured on. */
export function recordResults(section: string, data: Record<string, unknown>): void {
  const results = readResults();
  results[section] = { ...(results[section] ?? {}), ...data, measuredAt: new Date().toISOString() };
  results.machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
  writeFileSync(resultsPath(), `${JSON.stringify(results, null, 2)}\n`);
}
