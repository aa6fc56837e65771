import type { SchedulerLike } from 'rxjs';
import type { StorageBackendKind } from '../storage/index.js';
import type { IndexedDbFactory } from '../storage/backend.js';
import type { SyncSchema } from '../protocol/index.js';

/** `S`: the schema's type (see defineSchema), which types the client's rows. */
export interface SyncClientOptions<S extends SyncSchema = SyncSchema> {
  /** The same schema the server uses. */
  schema: S;
  /**
   * ':memory:' (default) keeps nothing. Another name persists: in IndexedDB under that name where
   * there is one (browsers, workers, the `indexedDB` option); in Node without one, in the SQLite
   * file at that path (relative to the working directory, its folder must exist), which one
   * process at a time may open (`storage: 'file'` asks for it anywhere). See docs/node-persistence.md.
   */
  database?: string;
  /**
   * Where the database lives: 'memory' (the default for ':memory:'), 'indexeddb' (the default for
   * a name where IndexedDB exists), 'opfs' (the origin private file system: only in a dedicated
   * worker that holds it alone, which `createWorkerSyncClient` arranges, and chooses by itself where
   * it can) or 'file' (the default for a name in Node without IndexedDB: the name is a file path). A named IndexedDB database remembers its backend (in its small
   * IndexedDB store): opening it with another one is refused rather than starting an empty
   * database beside the data.
   */
  storage?: StorageBackendKind;
  /** Default globalThis.indexedDB; inject fake-indexeddb in Node. */
  indexedDB?: IndexedDbFactory;
  /** Default the global WebSocket, else the `ws` package (Node). */
  WebSocketCtor?: typeof WebSocket;
  /** Default: generated once and persisted (IndexedDB when there is one, else the database). */
  clientId?: string;
  authToken?: string | (() => string | Promise<string>);
  /**
   * The client pings every `intervalMs` (default 15 s) and takes a connection on which it heard
   * nothing for `timeoutMs` as dead. Without `timeoutMs`, that is the server's own
   * (`welcome.limits.heartbeatTimeoutMs`, as the protocol advises), 45 s before the welcome.
   */
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; factor?: number; jitter?: number };
  changes?: {
    /** Changes per push. Default 100. */
    batchSize?: number;
    /** Sends of a change without an answer before it is marked failed. Default 10. */
    maxAttempts?: number;
    /** A sent change with no answer after this long is sent again. Default 10 s. */
    ackTimeoutMs?: number;
    /** The outbox is reported stalled when it has entries and nothing moved for this long. Default 3 × ackTimeoutMs. */
    stallAfterMs?: number;
    /** Settled entries kept in local_changes. Default 1000. */
    keepSettled?: number;
  };
  /**
   * Server batches: tries before sync pauses on a batch that will not apply; and how long handling
   * server messages (decoding them, applying them) may run without a break (`yieldAfterMs`,
   * default 25) before it lets the host's timers and I/O run, so that a flood of messages never
   * starves the event loop (the heartbeat included).
   */
  apply?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number; yieldAfterMs?: number };
  /** wa-sqlite's wasm, where it cannot be found by itself. */
  wasm?: { wasmBinary?: Uint8Array | ArrayBuffer; locateFile?: (file: string) => string };
  /** For tests: virtual time. Default asyncScheduler. */
  scheduler?: SchedulerLike;
  /** For tests: the randomness of the reconnect jitter and of the order a URL list is tried in. Default Math.random. */
  random?: () => number;
  /** Fires to skip a reconnect wait. Default: the browser's `online` event, where there is one. */
  online$?: import('rxjs').Observable<unknown>;
}

export interface ResolvedOptions {
  /** `timeoutFromServer`: no timeoutMs was given, so the server's applies once it welcomed us. */
  heartbeat: { intervalMs: number; timeoutMs: number; timeoutFromServer: boolean };
  reconnect: { initialDelayMs: number; maxDelayMs: number; factor: number; jitter: number };
  changes: { batchSize: number; maxAttempts: number; ackTimeoutMs: number; stallAfterMs: number; keepSettled: number };
  apply: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number; yieldAfterMs: number };
}

export function resolveOptions(options: SyncClientOptions): ResolvedOptions {
  const ackTimeoutMs = options.changes?.ackTimeoutMs ?? 10_000;
  return {
    heartbeat: { intervalMs: 15_000, timeoutMs: 45_000, ...options.heartbeat, timeoutFromServer: options.heartbeat?.timeoutMs === undefined },
    reconnect: { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 0.3, ...options.reconnect },
    changes: { batchSize: 100, maxAttempts: 10, ackTimeoutMs, stallAfterMs: 3 * ackTimeoutMs, keepSettled: 1000, ...options.changes },
    apply: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 5_000, yieldAfterMs: 25, ...options.apply },
  };
}
