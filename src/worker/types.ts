/**
 * The shapes that cross the worker boundary: the serialisable engine options a tab sends, the API
 * the worker exposes to each tab (over comlink), and the main thread's proxy contract.
 *
 * Everything here is type-only, so that the browser entry pulls no engine code into the main
 * thread's bundle.
 */
import type { ResultChanges } from '../live/live-result.js';
import type { SyncStatus } from '../client/sync-status.js';
import type { Observable } from 'rxjs';
import type { SyncClientOptions } from '../client/options.js';
import type { Promisified, SyncClientCalls } from '../client/api.js';
import type { Lsn, SchemaDefinition, SyncSchema } from '../protocol/index.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import type { SyncEvent, SyncEventListener, SyncEventMessage } from '../streams/events.js';
import type { SerializedError } from './errors.js';
import type { ObserverPort } from './observable-bridge.js';

/**
 * The serialisable subset of {@link SyncClientOptions}: what a tab can send to the worker (structured
 * clone). The environment-specific options (WebSocketCtor, indexedDB, scheduler, online$) are the
 * worker's own globals there.
 */
export interface EngineOptions extends Pick<SyncClientOptions, 'database' | 'storage' | 'clientId' | 'heartbeat' | 'reconnect' | 'changes' | 'apply'> {
  /** The schema (a SyncSchema from defineSchema, or its plain definition); checked again in the worker. */
  schema: SyncSchema | SchemaDefinition;
  /** A string here (structured clone); a tab may give a function instead, see {@link WorkerSyncClientOptions.authToken}. */
  authToken?: string;
  /**
   * Where wa-sqlite's `wa-sqlite.wasm` and `wa-sqlite-async.wasm` are: a directory URL (ending in
   * '/') that holds both under these names, or the URL of each file (a bundler's hashed names).
   * Default: where the worker script says. Only the first engine of a worker loads the wasm.
   */
  wasmUrl?: string | WasmFileUrls<string>;
}

/**
 * The URL of each of wa-sqlite's two .wasm files, for a bundler that emits them under names of its
 * own (the Angular CLI: `import url from 'rxsync/browser/wa-sqlite.wasm' with { loader: 'file' }`).
 * A file left out is looked for where the worker script says.
 */
export interface WasmFileUrls<U = string | URL> {
  /** wa-sqlite's sync build: ':memory:' databases. */
  'wa-sqlite.wasm'?: U;
  /** wa-sqlite's Asyncify build: IndexedDB databases. */
  'wa-sqlite-async.wasm'?: U;
}

/** A tab's token function as the worker holds it: a comlink proxy, asked at every hello. */
export type TokenSource = () => Promise<string | undefined>;

/** Options of {@link createWorkerSyncClient} (src/browser.ts). */
export interface WorkerSyncClientOptions extends Omit<EngineOptions, 'wasmUrl' | 'authToken'> {
  /**
   * The token for the server's hello: a string (update it with `setAuthToken`), or a function the
   * worker calls (through this tab) before every connect, so an expired token (close 4403) is
   * replaced by a fresh one without the page doing anything.
   */
  authToken?: string | (() => string | Promise<string>);
  /**
   * The worker script, loaded as a module worker. Default: the worker next to rxsync's browser
   * module (`new URL('./browser/rxsync-worker.js', import.meta.url)`), which Vite and webpack 5
   * emit by themselves; an override for a copy served elsewhere.
   */
  workerUrl?: string | URL;
  /**
   * Starts the worker: for a bundler that bundles only the workers an app's own code starts (the
   * Angular CLI), from a file of the app that imports `rxsync/browser/rxsync-worker.js`:
   * `worker: () => new SharedWorker(new URL('./rxsync.worker', import.meta.url), { type: 'module', name: 'rxsync' })`.
   * A SharedWorker is shared by the tabs, a Worker is this tab's own; `workerUrl` and `shared`
   * are then not used.
   */
  worker?: () => SharedWorker | Worker;
  /**
   * With `worker`: starts this tab's candidate holder of an OPFS database, a dedicated Worker of
   * the same script: `holderWorker: () => new Worker(new URL('./rxsync.worker', import.meta.url), { type: 'module', name: 'rxsync-opfs' })`.
   * Without it, an app's own `worker` keeps its databases in IndexedDB (OPFS needs both workers).
   */
  holderWorker?: () => Worker;
  /**
   * Default true: a SharedWorker where the browser has one, so every tab of the origin shares ONE
   * engine per database (one SQLite connection, one server connection); else a dedicated Worker.
   */
  shared?: boolean;
  /** See {@link EngineOptions.wasmUrl}; URL objects are accepted here. */
  wasmUrl?: string | URL | WasmFileUrls;
}

/** The engine's counters, for tests and diagnostics. */
export interface WorkerDebugInfo {
  /** Engines (one per database name) alive in the worker. */
  engines: number;
  /** Tabs attached to any engine of the worker. */
  tabs: number;
  /** Tabs attached to this tab's engine (this one included). */
  engineTabs: number;
  /** Observable subscriptions running in the worker, all tabs together. */
  subscriptions: number;
  /** Observable subscriptions running in the worker for this tab. */
  tabSubscriptions: number;
}

/** What `attach` reports. */
export interface AttachResult {
  /** Tabs attached to the engine, this one included (1: this tab created it). */
  tabs: number;
}

/**
 * The streams a tab can subscribe to; `watchPatches` and `watchChanges` take `[sql, params]`.
 * watch() crosses as `watchPatches`, watchChanges() with its rows as a patch too: the splices of
 * each update, not the whole list (list-patch.ts). `holders` takes `[database]`: the epochs of an
 * OPFS database's holder (opfs-broker.ts), and needs no engine.
 */
export type RemoteStream = 'events' | 'status' | 'syncStatus' | 'lsn' | 'watchPatches' | 'watchChanges' | 'holders';

/**
 * Every call's answer: comlink's own error transfer keeps only name/message/stack, so errors travel
 * as data ({@link SerializedError}, with `code`, `retryable`, `context`) and are rebuilt on the
 * main thread. Doing it in the envelope rather than by replacing comlink's global 'throw' handler
 * leaves comlink untouched for any other use of it in the app.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** The client's calls as the worker answers them: each with an {@link Outcome}. */
export type TabCalls = { [K in keyof SyncClientCalls]: (...args: Parameters<SyncClientCalls[K]>) => Promise<Outcome<Awaited<ReturnType<SyncClientCalls[K]>>>> };

/**
 * The API the worker exposes to each tab (one per port): the client's calls (derived from
 * SyncClientCalls), and what only a tab needs. Every method answers with an {@link Outcome}. Only
 * this object is exposed: the core and the engine are not reachable from a tab.
 */
export interface TabApi extends TabCalls {
  /** `tokenSource`: the tab's token function (a comlink proxy), asked before every connect while the tab is attached. */
  attach(options: EngineOptions, tabId?: string, tokenSource?: TokenSource): Promise<Outcome<AttachResult>>;
  clientId(): Promise<Outcome<string>>;
  currentStatus(): Promise<Outcome<ConnectionStatus>>;
  syncStatus(): Promise<Outcome<SyncStatus>>;
  currentLsn(): Promise<Outcome<Lsn>>;
  /** Detaches this tab; the engine closes with the last tab. */
  cleanup(): Promise<Outcome<void>>;
  setAuthToken(token: string | undefined): Promise<Outcome<void>>;
  /** Starts a subscription in the worker; answers its id (for `unsubscribe`). */
  subscribe(stream: RemoteStream, args: unknown[], observer: ObserverPort): Promise<Outcome<number>>;
  /** Stops a subscription in the worker. Unknown ids (already finished) are ignored. */
  unsubscribe(id: number): Promise<Outcome<void>>;
  debug(): Promise<Outcome<WorkerDebugInfo>>;
  /** OPFS (opfs-broker.ts): this tab's candidate holder of `database`, by its control port (transferred). */
  offerHolder(database: string, control: MessagePort): Promise<Outcome<void>>;
  /** OPFS: a port served by the current holder of `database` (transferred), once there is one. */
  holderPort(database: string): Promise<Outcome<MessagePort>>;
}

/**
 * The main thread's proxy: SyncClient's public contract, asynchronous where the SyncClient is
 * synchronous, because every answer comes from the worker. Its calls are SyncClientCalls, each
 * answering with a Promise; its streams are the client's.
 *
 * - `clientId`, `currentStatus`, `currentLsn` are getters that return a Promise (`await client.clientId`).
 *   `clientId` initializes the engine first (SyncClient's is '' before that).
 * - `disconnect()` and `resumeSync()` return a Promise (resolved once the worker did it); calling
 *   them without awaiting is fine.
 * - Shared engine: the engine and its connection are shared by every tab attached to the same
 *   database. `connect(url)` while connected (or connecting) to that url (or that same list of
 *   URLs) is a no-op that resolves true once welcomed; another url reconnects the shared engine. A
 *   URL function stays in this tab (the worker asks it through comlink before every try, and it
 *   always starts a new connection); once this tab is gone, the connection keeps to the last URL
 *   it answered. `disconnect()` disconnects the
 *   shared connection (every tab's status$ goes to 'disconnected'). `resetLSN()` resets the shared
 *   database. `cleanup()` detaches this tab only: its subscriptions stop in the worker, and the
 *   engine (connection, database) closes when the last tab detaches.
 * - Arguments and results cross by structured clone: rows, params and event data are plain values;
 *   `real(x)` wrappers (storage/binding.ts) do not survive it, pass plain numbers.
 * - `S`, the schema's type, types the rows of insert/update/delete as on SyncClient (see RowOf);
 *   the wide default takes any table and row.
 */
export interface RemoteSyncClient<S extends SyncSchema = SyncSchema> extends Promisified<SyncClientCalls<S>> {
  readonly clientId: Promise<string>;
  readonly currentStatus: Promise<ConnectionStatus>;
  readonly currentLsn: Promise<Lsn>;
  /** As SyncClient.watch: the rows now, and again when they change. `T` is the row type the caller expects (not checked). */
  watch<T = Record<string, unknown>>(sql: string, params?: unknown[]): Observable<T[]>;
  /** As SyncClient.watchChanges: the rows with what was added, removed and changed at each update. */
  watchChanges<T = Record<string, unknown>>(sql: string, params?: unknown[]): Observable<ResultChanges<T>>;
  cleanup(): Promise<void>;
  /** Every event, as `{ type, data, at }`; checking `type` narrows `data` (SyncEventMap). */
  readonly events$: Observable<SyncEventMessage>;
  readonly status$: Observable<ConnectionStatus>;
  /** As SyncClient.syncStatus$: phase, connected, hasSynced, lastSyncedAt, pending, download. */
  readonly syncStatus$: Observable<SyncStatus>;
  /** The SyncStatus now. */
  readonly syncStatus: Promise<SyncStatus>;
  readonly lsn$: Observable<Lsn>;
  /** Calls `callback` with the data of every `event` (SyncEventMap says what each carries). */
  on<E extends SyncEvent>(event: E, callback: SyncEventListener<E>): void;
  off<E extends SyncEvent>(event: E, callback: SyncEventListener<E>): void;
  /** Replaces the token sent in the next hello (the engine's, so every tab's). */
  setAuthToken(token: string | undefined): Promise<void>;
  /** Counters of the worker (engines, tabs, subscriptions), for tests and diagnostics. */
  debug(): Promise<WorkerDebugInfo>;
}
