/**
 * Shared by the RxDB peer benches (bench/rxdb-initial-sync.ts, bench/rxdb-latency.ts) and their
 * server process (bench/rxdb-server.ts): the RxDB schema equivalent to bench/fixtures.ts's `items`
 * table, the database setup, the forked server, and small helpers.
 *
 * RxDB setup: RxDB's open-core package only. Memory storage (`getRxStorageMemory`) on both sides,
 * `multiInstance: false` (no BroadcastChannel / leader election), `eventReduce: true` (the default),
 * no dev-mode plugin (so no schema/document checks, no dev-mode console banner) and no validation
 * plugin (RxDB then does not check document values against the schema at all).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRxDatabase, type RxCollection, type RxDatabase, type RxJsonSchema } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { TABLE, type benchRow } from './fixtures.js';

/**
 * The pull batch size the RxDB benches use by default. bench/rxdb-initial-sync.ts --sweep on the
 * 2-core bench machine: 2,000–10,000 form a plateau (within noise of each other), 1,000 is 20–35%
 * slower, RxDB's default of 100 ~8x slower (see that file's header).
 */
export const RXDB_BATCH_SIZE = 5000;

export type ItemDoc = ReturnType<typeof benchRow>;
export type ItemsDatabase = RxDatabase<{ [TABLE]: RxCollection<ItemDoc> }>;

/**
 * bench/fixtures.ts's table as an RxDB JSON schema. RxDB requires a maxLength on the primary key
 * (the bench's ids are 12 characters; the latency bench's up to ~10), and has no integer/real split
 * beyond JSON schema's `integer` and `number`.
 */
export const itemsSchema: RxJsonSchema<ItemDoc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 32 },
    title: { type: 'string' },
    body: { type: 'string' },
    n: { type: 'integer' },
    x: { type: 'number' },
    updated_at: { type: 'string' },
  },
  required: ['id', 'title', 'body', 'n', 'x', 'updated_at'],
};

/** `validate`: wrap the storage in RxDB's free ajv validation (checks every written document against the schema). */
export async function createItemsDatabase(name: string, options: { validate?: boolean } = {}): Promise<ItemsDatabase> {
  const db = (await createRxDatabase({
    name,
    storage: options.validate ? wrappedValidateAjvStorage({ storage: getRxStorageMemory() }) : getRxStorageMemory(),
    multiInstance: false,
    eventReduce: true,
  })) as ItemsDatabase;
  await db.addCollections({ [TABLE]: { schema: itemsSchema } });
  return db;
}

/**
 * RxDB's open core prints no premium nag for the memory storage and, without the dev-mode plugin,
 * no dev-mode banner. The one console line it may print is the websocket client's
 * "--- WAS CLIENT GOT ERROR:" (console.log, plugins/replication-websocket/websocket-client.js) when
 * a socket errors, e.g. as a server process is closed under a still-open client. That line has no
 * off switch, so it is filtered here, counted, and reported at the end.
 */
export const silenced: string[] = [];
export function quietRxdb(): void {
  const log = console.log.bind(console);
  let swallowNext = false;
  console.log = (...args: unknown[]) => {
    const first = typeof args[0] === 'string' ? args[0] : '';
    if (first.startsWith('--- WAS CLIENT GOT ERROR')) {
      silenced.push(first);
      swallowNext = true; // the next console.log is that error's message
      return;
    }
    if (swallowNext) {
      swallowNext = false;
      silenced.push(String(args[0]));
      return;
    }
    log(...args);
  };
}

// ---- the server process --------------------------------------------------------------------

export interface RxdbServer {
  url: string;
  seedMs: number;
  rows: number;
  pid: number;
  child: ChildProcess;
  send(message: object): void;
  /** Sends `message` and resolves with the next message of type `replyType`. */
  request<T = any>(message: object, replyType: string, timeoutMs?: number): Promise<T>;
  /** The server process's CPU time so far (ms). */
  cpuMs(): Promise<number>;
  close(): Promise<void>;
}

export function startRxdbServer(rows: number, bench: string): Promise<RxdbServer> {
  const script = fileURLToPath(new URL('./rxdb-server.mjs', import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: run this bench through "node bench/run.mjs ${bench}"`);
  const child = fork(script, [JSON.stringify({ rows })], { stdio: 'inherit' });
  const request = <T>(message: object, replyType: string, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error(`rxdb bench server: no ${replyType} within ${timeoutMs} ms`));
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
    child.once('exit', (code) => reject(new Error(`the RxDB server process exited early (${code})`)));
    const onReady = (message: { type?: string; url: string; seedMs: number; rows: number; pid: number }) => {
      if (message?.type !== 'ready') return;
      child.off('message', onReady);
      child.removeAllListeners('exit');
      resolve({
        url: message.url,
        seedMs: message.seedMs,
        rows: message.rows,
        pid: message.pid,
        child,
        send: (m) => child.send(m),
        request,
        cpuMs: () => request<{ ms: number }>({ type: 'cpu' }, 'cpu').then((r) => r.ms),
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.send({ type: 'close' });
            setTimeout(() => child.kill(), 3000).unref();
          }),
      });
    };
    child.on('message', onReady);
  });
}

/**
 * The other process's clock minus ours, from IPC round trips (NTP style, the quickest of `samples`).
 * Both sides use performance.timeOrigin + performance.now(); on one machine it should be ~0.
 */
export async function clockOffset(ask: () => Promise<number>, samples = 30): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  for (let i = 0; i < samples; i++) {
    const t0 = wallClock();
    const remote = await ask();
    const t1 = wallClock();
    if (t1 - t0 < best.rttMs) best = { offsetMs: remote - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best;
}

// ---- small helpers -------------------------------------------------------------------------

export function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1]?.startsWith('--') || args[i + 1] === undefined ? 'true' : args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

export const now = () => performance.now();
/** Milliseconds since the epoch with sub-ms resolution; comparable across processes on one machine. */
export const wallClock = () => performance.timeOrigin + performance.now();
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
export interface Stats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (as bench/latency-common.ts computes them for rxsync). */
export function stats(values: ArrayLike<number>): Stats {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return { count: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}
export const round2 = (x: number) => Math.round(x * 100) / 100;
export const rate = (rows: number, ms: number) => Math.round(rows / (ms / 1000));
export const fmtRate = (r: number) => `${Math.round(r).toLocaleString('en-US')} rows/s`;
export const fmtMs = (ms: number) => `${ms.toFixed(0)} ms`;

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}
