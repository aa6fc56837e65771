import { spawn, type ChildProcess } from 'node:child_process';
import { bundleEntry } from './bundle-entry.js';

const cliBundle = () => bundleEntry('server-process-entry.ts', 'rxsync-cli');

/** A sync server running as a process of its own (`rxsync serve ...`). */
export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  /** ws://127.0.0.1:PORT/api/sync */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly httpUrl: string;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once it exited. */
  readonly exited: Promise<number | string>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL unless it exited already; resolves once it did. */
  stop(): Promise<void>;
}

const running = new Set<ServerProcess>();

/**
 * Starts `rxsync serve` with `args` (add `--port 0` for a free port), in `cwd` when given (where a
 * relative database path lands), and resolves once it prints
 * the address it listens on. Stop it with stop() (stopAllServerProcesses in afterAll stops any
 * left): it is killed by PID.
 */
export async function startServerProcess(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<ServerProcess> {
  const cli = await cliBundle();
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`rxsync serve did not start within 20 s:\n${output}`)), 20_000);
    const look = () => {
      const match = /rxsync server listening: ws:\/\/[^:]+:(\d+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', look);
        done(Number(match[1]));
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`rxsync serve exited (${code}) before listening:\n${output}`));
    });
  });
  const server: ServerProcess = {
    pid: child.pid!,
    port,
    url: `ws://127.0.0.1:${port}/api/sync`,
    httpUrl: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGCONT'); // a stopped process must run to die
        process.kill(child.pid!, 'SIGKILL');
      }
      await exited;
      running.delete(server);
    },
  };
  running.add(server);
  void exited.then(() => running.delete(server));
  return server;
}

/** Kills every server process still running (for afterAll). */
export async function stopAllServerProcesses(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/** GETs `path` from a server process: status and parsed JSON body (or text). */
export async function getJson(server: { httpUrl: string }, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.httpUrl}${path}`, { signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body };
}
