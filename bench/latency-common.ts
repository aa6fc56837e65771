/**
 * Shared by the live benches (bench/latency.ts, bench/fanout.ts): forks bench/seed-server.mjs (the reference server in
 * its own process) and talks to its write drivers over IPC. Not a bench itself (run.mjs would
 * find nothing to measure in it).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerLimits } from '../src/server/limits.js';

/** Wall-clock ms with sub-ms resolution, comparable between processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** No heartbeat and no rate limit gets in the way of a benchmark (as in initial-sync). */
export const BENCH_LIMITS: Partial<ServerLimits> = {
  rateLimitPerSecond: 1e6,
  rateLimitBurst: 1e6,
  heartbeatIntervalMs: 600_000,
  heartbeatTimeoutMs: 1_200_000,
};

export interface BenchServer {
  url: string;
  lsn: string;
  pid: number;
  child: ChildProcess;
  send(message: object): void;
  /** Sends `message` and resolves with the next message of type `replyType`. */
  request<T = any>(message: object, replyType: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export function benchScript(name: string, bench: string): string {
  const script = fileURLToPath(new URL(`./${name}.mjs`, import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: run this bench through "node bench/run.mjs ${bench}"`);
  return script;
}

export function startBenchServer(
  bench: string,
  config: { database: string; rows?: number; limits?: Partial<ServerLimits> },
  execArgv: string[] = process.execArgv,
): Promise<BenchServer> {
  const child = fork(benchScript('seed-server', bench), [JSON.stringify({ rows: 0, ...config, limits: { ...BENCH_LIMITS, ...config.limits } })], {
    stdio: 'inherit',
    execArgv,
  });
  const request = <T>(message: object, replyType: string, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error(`bench server: no ${replyType} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (reply: { type?: string }) => {
        if (reply?.type !== replyType) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(reply as T);
      };
      child.on('message', onMessage);
      child.send(message);
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the bench server exited early (${code})`)));
    const onReady = (message: { type: string; url: string; lsn: string; pid: number }) => {
      if (message.type !== 'ready') return;
      child.removeAllListeners('exit');
      child.off('message', onReady);
      resolve({
        url: message.url,
        lsn: message.lsn,
        pid: message.pid,
        child,
        send: (m) => child.send(m),
        request,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.send({ type: 'close' });
          }),
      });
    };
    child.on('message', onReady);
  });
}

/**
 * The other process's clock minus ours, from IPC round trips (NTP style, the quickest of `samples`
 * round trips). Both use performance.timeOrigin + performance.now(); on one machine the offset is
 * expected to be ~0, and this checks it.
 */
export async function clockOffset(ask: () => Promise<number>, samples = 30): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  for (let i = 0; i < samples; i++) {
    const t0 = wallNow();
    const remote = await ask();
    const t1 = wallNow();
    if (t1 - t0 < best.rttMs) best = { offsetMs: remote - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface Stats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(values: ArrayLike<number>): Stats {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length,
  };
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}

export function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1]?.startsWith('--') || args[i + 1] === undefined ? 'true' : args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}
