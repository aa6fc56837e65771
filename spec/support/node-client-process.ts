import { spawn, type ChildProcess } from 'node:child_process';
import { bundleEntry } from './bundle-entry.js';
import { until } from './until.js';

const entryBundle = () => bundleEntry('node-client-entry.mjs', 'node-client');

/** A sync client (or a bare database) in a process of its own; see node-client-entry.mjs. */
export interface NodeClientProcess {
  readonly pid: number;
  /** Calls `method` in the child; rejects with the child's error (message, code). */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** The client's events so far, in order. */
  readonly events: Array<{ type: string; data: any }>;
  /** The last transaction the write loop reported committed (0 before the first). */
  readonly committed: number;
  /** Everything it printed. */
  output(): string;
  /** SIGKILL: the process dies wherever it is, mid-transaction included; resolves once it has. */
  kill(): Promise<void>;
  /** Cleans the client up and waits for the process to exit. */
  exit(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Starts a child process; stop it with kill() or exit() (stopNodeClientProcesses in afterEach stops any left). */
export async function startNodeClientProcess(): Promise<NodeClientProcess> {
  const child = spawn(process.execPath, [await entryBundle()], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  running.add(child);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  void exited.then(() => running.delete(child));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const events: Array<{ type: string; data: any }> = [];
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  let committed = 0;
  let ready = false;
  let nextId = 0;
  child.on('message', (message: any) => {
    if (message.ready) ready = true;
    else if (message.event) events.push({ type: message.event, data: message.data });
    else if (message.committed !== undefined) committed = message.committed;
    else {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(Object.assign(new Error(message.error.message), message.error));
      else waiter?.resolve(message.result);
    }
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`the client process exited:\n${output}`));
    pending.clear();
  });
  await until(() => ready || child.exitCode !== null, 20_000, 'the client process to start');
  if (!ready) throw new Error(`the client process did not start:\n${output}`);
  return {
    pid: child.pid!,
    call: (method, ...args) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        child.send({ id, method, args });
      }),
    events,
    get committed() {
      return committed;
    },
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async exit() {
      if (child.connected) child.send({ id: ++nextId, method: 'exit', args: [] });
      await exited;
    },
  };
}

/** Kills every client process still running (by PID). */
export async function stopNodeClientProcesses(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGKILL');
      return exited;
    }),
  );
}
