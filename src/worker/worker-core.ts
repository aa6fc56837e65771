/**
 * The worker side: ONE engine (SyncClient) per database name, shared by every tab attached to it.
 *
 * Each connected port (a SharedWorker's `onconnect` port, a dedicated worker's own scope, or one
 * end of a MessageChannel in the specs) gets its own {@link TabSession}, exposed with comlink as a
 * TabApi (tab-api.ts). A tab attaches to the engine of its database (creating it if it is the first),
 * calls the engine through it, and subscribes to the engine's Observables (each subscription runs
 * here and is stopped from the tab, see observable-bridge.ts). When the last tab detaches, the
 * engine is cleaned up (socket, database, timers).
 *
 * The rules of sharing (documented on RemoteSyncClient):
 * - the first tab's options create the engine; a later tab must bring the same schema (hash) and,
 *   if it names one, the same clientId (else EngineMismatchError, code 'engine_mismatch'); its
 *   other options (heartbeat, reconnect, ...) are ignored; its authToken replaces the engine's;
 * - connect(url) while connected or connecting to that url (or the same list of URLs) joins the
 *   running connection; a URL function (a comlink proxy to the tab's function) always starts a
 *   new one, and outlives its tab as the last URL it answered (url-source.ts);
 * - disconnect() and resetLSN() act on the shared engine; cleanup() detaches one tab.
 *
 * Before it attaches, a tab says its rxsync version (`hello`) and the worker answers with its own
 * (TabHandshake, tab-api.ts): the tab refuses a worker of another version (remote-client.ts), and the
 * worker refuses to attach a tab that said another version.
 */
import { expose, releaseProxy, type Endpoint, type Remote } from 'comlink';
import { filter, firstValueFrom, map, type Observable } from 'rxjs';
import { createSyncClient, type SyncClient } from '../client/sync-client.js';
import type { SyncClientOptions } from '../client/options.js';
import type { ConnectOptions } from '../client/api.js';
import { sameServerUrls, type ServerUrls } from '../client/server-urls.js';
import { CancelledError } from '../errors.js';
import { defineSchema, type SyncSchema } from '../protocol/index.js';
import { EngineMismatchError, WorkerVersionError } from './errors.js';
import { pipeToRemote, type RemoteObserver, type RemoteSubscription } from './observable-bridge.js';
import { watchTab, type TabWatcher } from './tab-coordination.js';
import { TabUrlFunction } from './url-source.js';
import type { AttachResult, EngineOptions, TokenSource, WorkerDebugInfo } from './types.js';
import { VERSION } from '../version.js';
import { wasmLocation } from './wasm-location.js';
import { OpfsBroker } from './opfs-broker.js';
import { tabApi } from './tab-api.js';

export interface WorkerCoreOptions {
  /** Worker-side options merged under every engine's (WebSocketCtor, indexedDB, wasm, ...). */
  defaults?: Partial<SyncClientOptions>;
  /** Default createSyncClient. */
  createClient?: (options: SyncClientOptions) => SyncClient;
  /** How a tab's death is noticed (default: Web Locks, see tab-coordination.ts). */
  watchTab?: TabWatcher;
}

/** Statuses in which a connect() for the same URL(s) joins the running connection. */
const RUNNING = new Set(['connecting', 'handshaking', 'syncing', 'live', 'backoff']);
const WELCOMED = new Set(['syncing', 'live']);
const STOPPED = new Set(['idle', 'disconnected', 'closed']);

/** How long the worker waits for a tab's token function before asking the next tab. */
const TOKEN_WAIT_MS = 5000;

/** One engine and the tabs attached to it. */
class EngineHost {
  readonly tabs = new Set<TabSession>();
  /** What the last connect() was given, while the engine is meant to be connected. */
  private target: ServerUrls | undefined;
  /** The tab's URL function the connection asks, when it was given one. */
  private urlFunction: TabUrlFunction | undefined;
  token: string | undefined;
  /** The attached tabs' token functions: asked in turn before every connect, the string token as the fallback. */
  readonly tokenSources = new Map<TabSession, TokenSource>();

  constructor(
    readonly name: string,
    readonly schema: SyncSchema,
    readonly clientIdOption: string | undefined,
    readonly client: SyncClient,
  ) {}

  /**
   * The token for the next hello: from the first attached tab whose token function answers (a tab
   * that died without detaching never answers, so each gets a few seconds), else the string token.
   */
  async nextToken(): Promise<string | undefined> {
    for (const source of [...this.tokenSources.values()]) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const token = await Promise.race([source(), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), TOKEN_WAIT_MS)))]);
        if (token !== undefined) return token;
      } catch {
        // That tab's function failed: ask the next one.
      } finally {
        clearTimeout(timer);
      }
    }
    return this.token;
  }

  /** `from`: the tab asking; a URL function is that tab's (a comlink proxy), released with it. */
  async connect(target: ServerUrls, options: ConnectOptions, from: TabSession): Promise<boolean> {
    const status = this.client.currentStatus;
    if (this.target !== undefined && sameServerUrls(this.target, target) && RUNNING.has(status)) {
      if (WELCOMED.has(status)) return true;
      return this.nextWelcome(options.timeoutMs);
    }
    this.forgetTarget();
    const urlFunction = typeof target === 'function' ? new TabUrlFunction(target as Remote<() => string>, from) : undefined;
    this.target = target;
    this.urlFunction = urlFunction;
    return this.client.connect(urlFunction?.ask ?? target, options);
  }

  /** The engine was disconnected on purpose: a later connect() starts afresh. */
  forgetTarget(): void {
    this.target = undefined;
    this.urlFunction?.release();
    this.urlFunction = undefined;
  }

  /** A tab detached: its URL function, if the connection uses it, can no longer be asked. */
  tabGone(session: TabSession): void {
    if (this.urlFunction?.owner === session) this.urlFunction.release();
  }

  /** True once the running connection is welcomed; false if it stops first (or on timeout). */
  private nextWelcome(timeoutMs: number | undefined): Promise<boolean> {
    const settled = firstValueFrom(
      this.client.status$.pipe(
        filter((status) => WELCOMED.has(status) || STOPPED.has(status)),
        map((status) => WELCOMED.has(status)),
      ),
      { defaultValue: false },
    );
    if (timeoutMs === undefined) return settled;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([settled, timedOut]).finally(() => clearTimeout(timer));
  }
}

export class WorkerCore {
  private readonly engines = new Map<string, EngineHost>();
  /** Engines still closing, by name: a new engine for that database waits for the old one. */
  private readonly closing = new Map<string, Promise<void>>();
  private readonly sessions = new Set<TabSession>();
  private readonly createClient: (options: SyncClientOptions) => SyncClient;
  readonly watchTab: TabWatcher;
  /** For OPFS databases, whose engines live in a tab's dedicated worker: see opfs-broker.ts. */
  readonly broker = new OpfsBroker();

  constructor(private readonly options: WorkerCoreOptions = {}) {
    this.createClient = options.createClient ?? createSyncClient;
    this.watchTab = options.watchTab ?? ((tabId, onGone) => watchTab(tabId, onGone));
  }

  /**
   * Serves one tab on `endpoint` (a MessagePort, or a dedicated worker's scope). The tab's session
   * ends with its cleanup(), with comlink's release of its proxy, with the port's `close` event
   * where the browser has one, or when tab coordination sees the tab gone.
   */
  serve(endpoint: Endpoint): TabSession {
    const session = new TabSession(this);
    this.sessions.add(session);
    expose(tabApi(session, this), endpoint);
    const port = endpoint as Endpoint & { addEventListener(type: 'close', listener: () => void): void };
    if (typeof MessagePort === 'function' && endpoint instanceof MessagePort) port.addEventListener('close', () => void session.detach());
    return session;
  }

  /** Counters for tests and diagnostics (see WorkerDebugInfo). */
  debugInfo(session?: TabSession): WorkerDebugInfo {
    let tabs = 0;
    for (const host of this.engines.values()) tabs += host.tabs.size;
    let subscriptions = 0;
    for (const s of this.sessions) subscriptions += s.subscriptionCount;
    return {
      engines: this.engines.size,
      tabs,
      engineTabs: session?.engineTabs ?? 0,
      subscriptions,
      tabSubscriptions: session?.subscriptionCount ?? 0,
    };
  }

  /** Detaches every tab (closing every engine). For tests and worker shutdown. */
  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((session) => session.detach()));
    await Promise.all([...this.closing.values()]);
  }

  /** @internal */
  async attachTo(session: TabSession, options: EngineOptions, tokenSource?: TokenSource): Promise<EngineHost> {
    const schema = defineSchema({ tables: options.schema.tables });
    const name = options.database ?? ':memory:';
    await this.closing.get(name)?.catch(() => undefined);
    let host = this.engines.get(name);
    if (host) {
      if (host.schema.hash !== schema.hash) {
        throw new EngineMismatchError(`database '${name}' is open in this worker with another schema (hash ${host.schema.hash}, this tab's ${schema.hash})`, {
          database: name,
        });
      }
      if (options.clientId !== undefined && options.clientId !== (host.clientIdOption ?? host.client.clientId)) {
        throw new EngineMismatchError(`database '${name}' is open in this worker with another clientId`, { database: name });
      }
    } else {
      const { defaults = {} } = this.options;
      const wasm = wasmLocation(options.wasmUrl, defaults.wasm);
      const created: EngineHost = new EngineHost(
        name,
        schema,
        options.clientId,
        this.createClient({
          ...defaults,
          schema,
          database: name,
          ...(options.storage && { storage: options.storage }),
          ...(options.clientId !== undefined && { clientId: options.clientId }),
          ...(options.heartbeat && { heartbeat: options.heartbeat }),
          ...(options.reconnect && { reconnect: options.reconnect }),
          ...(options.changes && { changes: options.changes }),
          ...(options.apply && { apply: options.apply }),
          ...(wasm && { wasm }),
          // Read at every hello, so a tab's token function, or a later tab's (or setAuthToken's)
          // token, is used at the next connect.
          authToken: (() => created.nextToken()) as () => Promise<string>,
        }),
      );
      host = created;
      this.engines.set(name, host);
    }
    if (options.authToken !== undefined) host.token = options.authToken;
    if (tokenSource) host.tokenSources.set(session, tokenSource);
    host.tabs.add(session);
    return host;
  }

  /** @internal */
  async detachFrom(host: EngineHost, session: TabSession): Promise<void> {
    host.tabs.delete(session);
    const source = host.tokenSources.get(session);
    host.tokenSources.delete(session);
    (source as Partial<Remote<TokenSource>> | undefined)?.[releaseProxy]?.();
    host.tabGone(session);
    this.sessions.delete(session);
    if (host.tabs.size > 0 || this.engines.get(host.name) !== host) return;
    this.engines.delete(host.name);
    const closing = host.client.cleanup().finally(() => {
      if (this.closing.get(host.name) === closing) this.closing.delete(host.name);
    });
    this.closing.set(host.name, closing);
    await closing;
  }

  /** @internal */
  forget(session: TabSession): void {
    this.sessions.delete(session);
  }
}

/** One tab's view of the worker: its engine, its subscriptions. */
export class TabSession {
  private host: EngineHost | undefined;
  private attaching: Promise<EngineHost> | undefined;
  private detached = false;
  private detaching: Promise<void> | undefined;
  private stopWatching: (() => void) | undefined;
  private readonly subscriptions = new Map<number, RemoteSubscription>();
  private nextId = 1;
  /** The rxsync version the tab said in its hello (a tab that says none is not checked). */
  private tabVersion: string | undefined;

  constructor(private readonly core: WorkerCore) {}

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }
  get engineTabs(): number {
    return this.host?.tabs.size ?? 0;
  }

  async attach(options: EngineOptions, tabId?: string, tokenSource?: TokenSource): Promise<AttachResult> {
    if (this.detached) throw new CancelledError('this tab was cleaned up');
    if (this.attaching) throw new Error('this tab is already attached');
    if (this.tabVersion !== undefined && this.tabVersion !== VERSION) {
      throw new WorkerVersionError(`this rxsync worker is version ${VERSION}, the tab's rxsync is ${this.tabVersion}`, {
        workerVersion: VERSION,
        pageVersion: this.tabVersion,
      });
    }
    this.attaching = this.core.attachTo(this, options, tokenSource);
    let host: EngineHost;
    try {
      host = await this.attaching;
    } catch (error) {
      this.attaching = undefined;
      throw error;
    }
    this.host = host;
    if (this.detached) {
      // Detached while attaching: let go of the engine at once.
      await this.core.detachFrom(host, this);
      throw new CancelledError('this tab was cleaned up');
    }
    if (tabId) this.stopWatching = this.core.watchTab(tabId, () => void this.detach());
    return { tabs: host.tabs.size };
  }

  /** Stops this tab's subscriptions and detaches it from its engine (closing it if it was the last). Idempotent. */
  detach(): Promise<void> {
    this.detaching ??= (async () => {
      this.detached = true;
      this.stopWatching?.();
      for (const subscription of [...this.subscriptions.values()]) subscription.stop();
      this.subscriptions.clear();
      const host = this.host ?? (await this.attaching?.catch(() => undefined));
      this.host = undefined;
      if (host) await this.core.detachFrom(host, this);
      else this.core.forget(this);
    })();
    return this.detaching;
  }

  /** This tab's engine: throws once the tab is cleaned up, or before it attached. */
  engine(): SyncClient {
    if (this.detached) throw new CancelledError('this tab was cleaned up');
    if (!this.host) throw new Error('not attached: call attach() first');
    return this.host.client;
  }

  /** The rxsync version the tab said in its hello, checked when it attaches. */
  setTabVersion(version: string): void {
    this.tabVersion = version;
  }

  /** connect() from this tab: joins the engine's running connection to the same URL(s), else starts one. */
  connect(url: ServerUrls, options: ConnectOptions): Promise<boolean> {
    try {
      this.engine();
    } catch (error) {
      // A URL function came as a comlink proxy (its own channel): close it, it will never be asked.
      if (typeof url === 'function') (url as Partial<Remote<() => string>>)[releaseProxy]?.();
      throw error;
    }
    return this.host!.connect(url, options, this);
  }

  /** disconnect() from this tab: the shared engine disconnects, and a later connect() starts afresh. */
  disconnect(reason?: string): void {
    this.engine().disconnect(reason);
    this.host!.forgetTarget();
  }

  /** The token of the engine's next hello (every tab's), unless a tab's token function answers first. */
  setAuthToken(token: string | undefined): void {
    this.engine();
    this.host!.token = token;
  }

  /** Sends `source$` to the tab's observer until either side stops it; answers the subscription's id. */
  pipe(source$: Observable<unknown>, observer: Remote<RemoteObserver<unknown>>): number {
    const id = this.nextId++;
    const subscription = pipeToRemote(source$, observer, () => this.subscriptions.delete(id));
    if (!subscription.closed) this.subscriptions.set(id, subscription);
    return id;
  }

  /** Stops one of this tab's subscriptions; an unknown id (already finished) is ignored. */
  unsubscribe(id: number): void {
    this.subscriptions.get(id)?.stop();
  }
}
