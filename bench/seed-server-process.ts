/**
 * The benches' side of bench/seed-server.ts (the rxsync reference server, forked): start it on a
 * database, with `rows` seeded rows, and talk to its write drivers over IPC.
 */
import type { ServerLimits } from '../src/server/limits.js';
import { benchScript, startForkedServer, type ForkedServer } from './forked-server.js';

/** What bench/seed-server.ts reports once it listens. */
interface SeedServerReady {
  type: 'ready';
  url: string;
  /** 0-ish when the database already held the rows. */
  seedMs: number;
  rows: number;
  lsn: string;
  pid: number;
}

export type BenchServer = ForkedServer<SeedServerReady>;

/**
 * `limits` are laid over the seed server's own bench limits (no heartbeat or rate limit in the
 * way). `rows` defaults to 0, an empty table, as the live benches want.
 */
export function startBenchServer(
  bench: string,
  config: { database: string; rows?: number; limits?: Partial<ServerLimits>; postgres?: { connectionString: string; slot: string } },
  execArgv: string[] = process.execArgv,
): Promise<BenchServer> {
  return startForkedServer<SeedServerReady>(benchScript('seed-server', bench), { rows: 0, ...config }, { label: 'bench server', execArgv });
}
