/**
 * A seed server on a database file kept in the bench cache between runs: seeding a large table
 * takes longer than the bench that reads it (1M rows: 20-40 s).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { resultsPath } from './results.js';
import { startBenchServer, type BenchServer } from './seed-server-process.js';

export const benchCacheDir = join(dirname(resultsPath()), '..', 'node_modules', '.cache', 'rxsync-bench');

/**
 * node_modules/.cache/rxsync-bench/<name>-<rows>.db, reused when a previous seed completed. A
 * `.ok` marker is written once a seed has completed; a file without one is deleted and seeded again.
 */
export async function cachedSeedServer(name: string, rows: number, bench: string): Promise<BenchServer> {
  mkdirSync(benchCacheDir, { recursive: true });
  const database = join(benchCacheDir, `${name}-${rows}.db`);
  const marker = `${database}.ok`;
  if (!existsSync(marker)) for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(database + suffix, { force: true });
  const server = await startBenchServer(bench, { database, rows });
  if (server.rows !== rows) {
    await server.close();
    rmSync(marker, { force: true });
    throw new Error(`the server holds ${server.rows} rows, expected ${rows} (cache file ${database} removed on the next run)`);
  }
  writeFileSync(marker, `${rows}\n`);
  return server;
}
