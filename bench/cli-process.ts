/**
 * `rxsync serve` as a process of its own, for benches that need several sync processes or must
 * kill one (`kill -9`): the real CLI (src/server/cli.ts's main, bundled by bench/run.mjs as
 * cli-entry.mjs), started with `node`, found listening by the line it prints. Every process
 * started here is killed by its PID in stop(), and by stopAllCliProcesses() (also run when the
 * bench process exits, however it exits).
 *
 * CPU time is read from /proc (utime + stime, in clock ticks): a process killed by the bench cannot
 * report its own, and Postgres's backends are not ours to ask.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { benchScript } from './forked-server.js';

export interface CliProcess {
  readonly pid: number;
  /** ws://127.0.0.1:PORT/api/sync */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly httpUrl: string;
  /** Resolves once the process exited (with its code or signal). */
  readonly exited: Promise<number | string>;
  /** GET /healthz: its JSON body (`role`, `ready`, `lsn`, ...), whatever the status. */
  health(): Promise<Health>;
  /** CPU time (user + system) this process used so far, in ms. */
  cpuMs(): number;
  /** SIGKILL (unless it exited already); resolves once it exited. */
  stop(): Promise<void>;
}

/** What the benches read of `/healthz` (src/server/ops/routes.ts). */
export interface Health {
  ok: boolean;
  lsn: string;
  sessions: number;
  role?: 'replicator' | 'follower';
  ready?: boolean;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts `rxsync serve ...args` (give `--port 0`) and resolves once it prints
 * `rxsync server listening: ws://HOST:PORT/api/sync`. Its output is kept (the last 64 KB) for the
 * error when it does not start; stdout is read all along, so its logs never block it.
 */
export async function startCliProcess(bench: string, args: string[], label = 'rxsync serve'): Promise<CliProcess> {
  installExitHook();
  const child = spawn(process.execPath, [benchScript('cli-entry', bench), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65_536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((done) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      done(code ?? signal ?? 'unknown');
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within 30 s:\n${output}`)), 30_000);
    const look = () => {
      const match = /rxsync server listening: ws:\/\/[^:]+:(\d+)\//.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', look);
      resolve(Number(match[1]));
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}) before listening:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    kill(child);
    await exited;
    throw error;
  });
  const httpUrl = `http://127.0.0.1:${port}`;
  return {
    pid: child.pid!,
    url: `ws://127.0.0.1:${port}/api/sync`,
    httpUrl,
    exited,
    async health() {
      const response = await fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
      return (await response.json()) as Health;
    },
    cpuMs: () => processCpuMs(child.pid!),
    async stop() {
      kill(child);
      await exited;
    },
  };
}

/** Kills every process startCliProcess started that is still running, by PID. */
export function stopAllCliProcesses(): void {
  for (const child of running) kill(child);
}

function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid!, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
}

/** A crashed or interrupted bench still kills its sync processes (synchronously, on 'exit'). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', stopAllCliProcesses);
}

let ticksPerSecond: number | undefined;

/** Fields of /proc/PID/stat after the command name (which may hold spaces): [0] is field 3, state. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const ticksToMs = (ticks: number): number => {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return (ticks * 1000) / ticksPerSecond;
};

/** utime + stime of a running process, in ms (0 once it is gone). */
export function processCpuMs(pid: number): number {
  const f = statFields(pid);
  return f ? ticksToMs(Number(f[11]) + Number(f[12])) : 0;
}

/**
 * CPU time of a process and all its children, living and exited, in ms: its own utime + stime, its
 * waited-for children's (cutime + cstime: Postgres's postmaster reaps every backend), and the
 * children still running. The difference of two readings is what the tree used in between, even
 * for backends that started or ended meanwhile.
 */
export function processTreeCpuMs(pid: number): number {
  const own = statFields(pid);
  if (!own) return 0;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    // f[1] is the parent's PID (field 4).
    if (f && Number(f[1]) === pid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticksToMs(ticks);
}

/** The PID of the postmaster listening on `port` (the one whose command line has `-p PORT`), if any. */
export function postmasterPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith('/postgres')) continue;
    const p = argv.indexOf('-p');
    if (p >= 0 && argv[p + 1] === String(port)) return Number(entry);
  }
  return undefined;
}
