/**
 * A bench's server in a process of its own (forked, IPC on), so that the server's work and the
 * client's are not measured on one event loop. The server script takes its config as JSON in
 * argv[2], reports { type: 'ready', ... } once it listens, answers requests by message type, and
 * exits on { type: 'close' }.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** bench/run.mjs bundles the server scripts next to the bench: `name`.mjs beside this bundle. */
export function benchScript(name: string, bench: string): string {
  const script = fileURLToPath(new URL(`./${name}.mjs`, import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: run this bench through "node bench/run.mjs ${bench}"`);
  return script;
}

/**
 * Sends `message` (none: only waits) to a forked process and resolves with its next message of
 * type `replyType`; `label` names the process in the timeout error.
 */
export function ask<T>(child: ChildProcess, message: object | undefined, replyType: string, timeoutMs: number, label: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`${label}: no ${replyType} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (reply: { type?: string }) => {
      if (reply?.type !== replyType) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reply as T);
    };
    child.on('message', onMessage);
    if (message) child.send(message);
  });
}

/** The server's 'ready' message (less its type), and the means to talk to it. */
export type ForkedServer<Ready extends { type: 'ready' }> = Omit<Ready, 'type'> & {
  child: ChildProcess;
  send(message: object): void;
  /** Sends `message` and resolves with the next message of type `replyType`. */
  request<T = any>(message: object, replyType: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
};

export interface ForkOptions {
  /** Names the server in errors: "the <label> exited early", "<label>: no <reply> within ...". */
  label: string;
  execArgv?: string[];
  /** Kill the process if it has not exited this long after { type: 'close' } (default: wait for it). */
  killAfterMs?: number;
}

export function startForkedServer<Ready extends { type: 'ready' }>(script: string, config: object, options: ForkOptions): Promise<ForkedServer<Ready>> {
  const child = fork(script, [JSON.stringify(config)], { stdio: 'inherit', execArgv: options.execArgv ?? process.execArgv });
  const request = <T>(message: object, replyType: string, timeoutMs = 120_000): Promise<T> => ask<T>(child, message, replyType, timeoutMs, options.label);
  const close = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.send({ type: 'close' });
      if (options.killAfterMs !== undefined) setTimeout(() => child.kill(), options.killAfterMs).unref();
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${options.label} exited early (${code})`)));
    const onReady = (message: Ready) => {
      if (message?.type !== 'ready') return;
      child.removeAllListeners('exit');
      child.off('message', onReady);
      const { type: _type, ...ready } = message;
      resolve({ ...ready, child, send: (m: object) => child.send(m), request, close });
    };
    child.on('message', onReady);
  });
}
