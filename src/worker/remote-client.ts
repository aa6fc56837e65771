/**
 * The main thread's proxy: a {@link RemoteSyncClient} over one comlink endpoint (a SharedWorker's
 * port, a dedicated Worker, or one end of a MessageChannel in the specs), or over the endpoints of
 * an engine that moves between workers (an OPFS database's holder, see opfs-broker.ts).
 *
 * Why comlink: it handles the request/response plumbing, and each Observable subscription gets its
 * own channel with an explicit release, which is exactly the lifetime a subscription has (see
 * observable-bridge.ts). Errors travel inside the answers (types.ts, Outcome).
 *
 * Before attaching, the proxy says its rxsync version (`hello`) and refuses a worker that answers
 * another one, or none (a worker older than the handshake): a {@link WorkerVersionError}.
 */
import type { ResultChanges } from '../live/live-result.js';
import { applyListPatch, type ListPatch } from '../live/list-patch.js';
import type { PatchedChanges } from '../live/live-query.js';
import type { SyncStatus } from '../client/sync-status.js';
import { proxy, releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import { BehaviorSubject, defer, filter, from, isObservable, of, scan, share, switchMap, type Observable } from 'rxjs';
import { SYNC_CLIENT_CALLS, type ConnectOptions, type Promisified, type SyncClientCalls } from '../client/api.js';
import type { ServerUrls } from '../client/server-urls.js';
import { CancelledError } from '../errors.js';
import type { Lsn } from '../protocol/index.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import { EventListeners, type SyncEvent, type SyncEventMessage } from '../streams/events.js';
import { deserializeError, WorkerVersionError } from './errors.js';
import { fromRemote } from './observable-bridge.js';
import type { EngineOptions, Outcome, RemoteStream, RemoteSyncClient, TabApi, WorkerDebugInfo, WorkerSyncClientOptions } from './types.js';
import type { TabHandshake } from './tab-api.js';
import { VERSION } from '../version.js';

export interface ConnectRemoteOptions {
  /** The tab's id for tab coordination (the worker watches the tab's Web Lock of that id). */
  tabId?: string;
  /** Runs after cleanup() released the endpoint: close the port, terminate the worker, release the tab lock. */
  onClose?: () => void;
  /** Rejects the attach (e.g. the worker script failed to load) instead of waiting forever. */
  failed?: Promise<never>;
  /** The worker script's URL, for errors (the worker's own answer names it too, when it answers). */
  workerUrl?: string;
}

/**
 * Attaches to the engine of `options.database` behind `endpoint` and returns the proxy.
 *
 * `endpoint` may also be a stream of endpoints: an engine that moves (an OPFS database, whose
 * holder is one tab's worker: when that tab closes, another tab's worker takes over). The proxy
 * attaches at each new endpoint, calls connect() there again if this tab had connected, and
 * moves to it: its subscriptions subscribe again there (a watch's first update is the whole list,
 * so its rows stay right), and the calls that had no answer from the engine that went away are
 * made again on the new one (the writes among them were either committed before it went, and are
 * then written again with the same values, or rolled back with its unfinished transaction).
 */
export async function connectRemoteClient(
  endpoint: Endpoint | Observable<Endpoint>,
  options: EngineOptions | (Omit<EngineOptions, 'authToken'> & Pick<WorkerSyncClientOptions, 'authToken'>),
  extra: ConnectRemoteOptions = {},
): Promise<RemoteSyncClient> {
  const endpoints$ = isObservable(endpoint) ? endpoint : of(endpoint);
  const client = new WorkerSyncClient(extra.onClose);
  const { authToken, ...rest } = options;
  const engineOptions: EngineOptions = { ...rest, schema: { tables: options.schema.tables }, ...(typeof authToken === 'string' && { authToken }) };
  const orFailed = <T>(answer: Promise<T>): Promise<T> => (extra.failed ? Promise.race([answer, extra.failed]) : answer);
  const attachAt = async (at: Endpoint): Promise<Remote<TabApi & TabHandshake>> => {
    const remote = wrap<TabApi & TabHandshake>(at);
    try {
      await orFailed(checkVersion(remote, extra.workerUrl));
      // A function cannot be cloned into the worker: it goes as a comlink proxy, called from there.
      const tokenSource = typeof authToken === 'function' ? proxy(async () => authToken()) : undefined;
      await orFailed(unwrap(remote.attach(engineOptions, extra.tabId, tokenSource)));
      client.reconnectAt(remote);
      return remote;
    } catch (error) {
      release(remote);
      throw error;
    }
  };
  const attached = new Promise<void>((resolve, reject) => {
    let first = true;
    const subscription = endpoints$
      .pipe(
        switchMap((at) =>
          from(
            attachAt(at).then(
              (remote) => ({ remote }),
              (error: unknown) => ({ error }),
            ),
          ),
        ),
      )
      .subscribe((answer) => {
        if ('remote' in answer) {
          first = false;
          client.useRemote(answer.remote);
          resolve();
        } else if (first) {
          reject(answer.error);
        } else {
          // The engine moved and this tab could not attach to it: the calls waiting fail with why.
          client.failPending(answer.error);
        }
      });
    client.onClosed(() => subscription.unsubscribe());
  });
  try {
    await attached;
  } catch (error) {
    await client.close();
    throw error;
  }
  return withCalls(client);
}

function release(remote: Remote<unknown>): void {
  try {
    remote[releaseProxy]();
  } catch {
    // already released
  }
}

/** The handshake: the worker must be this page's version of rxsync. */
export async function checkVersion(remote: Remote<TabHandshake>, workerUrl: string | undefined): Promise<void> {
  let answer: Outcome<{ version: string; url: string }>;
  try {
    answer = await remote.hello(VERSION);
  } catch {
    // comlink could not call hello: the worker predates the handshake.
    answer = { ok: true, value: { version: '', url: '' } };
  }
  if (!answer.ok) throw deserializeError(answer.error);
  const { version, url } = answer.value;
  if (version === VERSION) return;
  const where = url || workerUrl || '(URL unknown)';
  const is = version ? `is version ${version}` : 'answers no version (it is older than the version check)';
  throw new WorkerVersionError(
    `the rxsync worker at ${where} ${is}, this page's rxsync is ${VERSION}: a stale copy? Remove your copied worker ` +
      '(leave workerUrl out and a bundler such as Vite or webpack emits the right one) or update it and its .wasm files from ' +
      "rxsync's dist/browser/. A SharedWorker of the old version also lives on while a tab that started it is open: close those tabs.",
    { workerVersion: version || undefined, pageVersion: VERSION, url: where },
  );
}

export async function unwrap<T>(answer: Promise<Outcome<T>>): Promise<T> {
  const outcome = await answer;
  if (outcome.ok) return outcome.value;
  throw deserializeError(outcome.error);
}

/** The calls written out below; every other call of SYNC_CLIENT_CALLS is generated (withCalls). */
type GeneratedCall = Exclude<(typeof SYNC_CLIENT_CALLS)[number], 'query' | 'connect'>;

/** Adds the client's calls to the proxy: each goes to the worker as it is, its Outcome unwrapped. */
function withCalls(client: WorkerSyncClient): RemoteSyncClient {
  const calls = {} as Promisified<Pick<SyncClientCalls, GeneratedCall>>;
  for (const name of SYNC_CLIENT_CALLS) {
    if (name === 'query' || name === 'connect') continue;
    (calls as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (name === 'disconnect') client.forgetConnection();
      return client.call((remote) => (remote[name] as unknown as (...a: unknown[]) => Promise<Outcome<unknown>>)(...args));
    };
  }
  return Object.assign(client, calls);
}

/** A call waiting for the engine's answer: made again if the engine moves first. */
interface PendingCall {
  run(remote: Remote<TabApi>): void;
  fail(error: unknown): void;
}

class WorkerSyncClient implements Omit<RemoteSyncClient, GeneratedCall> {
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly closedCallbacks: (() => void)[] = [];
  /** One worker subscription to events$ for every on() callback of this tab. */
  private readonly listeners: EventListeners;
  /** The engine's endpoint this tab is attached to now (undefined until the first attach). */
  private readonly remote$ = new BehaviorSubject<Remote<TabApi> | undefined>(undefined);
  private readonly pending = new Set<PendingCall>();
  /** What this tab's last connect() asked for, until it disconnects: asked again where the engine moves. */
  private connection: { url: ServerUrls; options: ConnectOptions | undefined } | undefined;

  readonly events$: Observable<SyncEventMessage>;
  readonly status$: Observable<ConnectionStatus>;
  readonly lsn$: Observable<Lsn>;
  readonly syncStatus$: Observable<SyncStatus>;

  constructor(private readonly onClose: (() => void) | undefined) {
    this.events$ = this.stream<SyncEventMessage>('events', []);
    this.status$ = this.stream<ConnectionStatus>('status', []);
    this.syncStatus$ = this.stream<SyncStatus>('syncStatus', []);
    this.lsn$ = this.stream<Lsn>('lsn', []);
    this.listeners = new EventListeners(this.events$.pipe(share()));
  }

  /** @internal The engine is at `remote` from now on: the calls still waiting are made there. */
  useRemote(remote: Remote<TabApi>): void {
    const previous = this.remote$.value;
    this.remote$.next(remote);
    if (previous) {
      release(previous);
      for (const call of this.pending) call.run(remote);
    }
  }

  /** @internal Attached at `remote`, after a move: connects there as this tab had connected before. */
  reconnectAt(remote: Remote<TabApi>): void {
    if (!this.remote$.value || !this.connection) return;
    const { url, options } = this.connection;
    const target = typeof url === 'function' ? proxy(async () => url()) : url;
    void remote.connect(target, options).catch(() => undefined);
  }

  /** @internal This tab disconnected: an engine that moves stays disconnected. */
  forgetConnection(): void {
    this.connection = undefined;
  }

  /** @internal The engine moved and could not be reached: every call waiting for it fails with `error`. */
  failPending(error: unknown): void {
    for (const call of [...this.pending]) call.fail(error);
  }

  /** @internal */
  onClosed(callback: () => void): void {
    if (this.closed) callback();
    else this.closedCallbacks.push(callback);
  }

  get clientId(): Promise<string> {
    return this.call((r) => r.clientId());
  }
  get currentStatus(): Promise<ConnectionStatus> {
    return this.call((r) => r.currentStatus());
  }
  get syncStatus(): Promise<SyncStatus> {
    return this.call((r) => r.syncStatus());
  }
  get currentLsn(): Promise<Lsn> {
    return this.call((r) => r.currentLsn());
  }

  /** A URL function cannot be cloned into the worker: it goes as a comlink proxy, asked from there before every try. */
  connect(url: ServerUrls, options?: ConnectOptions): Promise<boolean> {
    this.connection = { url, options };
    // A new proxy at each try: the one sent to an engine that went away went with it.
    return this.call((r) => r.connect(typeof url === 'function' ? proxy(async () => url()) : url, options));
  }
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.call((r) => r.query(sql, params)) as Promise<T[]>;
  }
  watch<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<T[]> {
    // The worker sends how the list changed; the tab keeps its copy (each subscription its own).
    return defer(() => this.stream<ListPatch<T>>('watchPatches', [sql, params]).pipe(scan(applyListPatch<T>, [] as T[])));
  }
  watchChanges<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<ResultChanges<T>> {
    // The rows come as splices, as watch()'s do; what changed comes as it is.
    return this.stream<PatchedChanges<T>>('watchChanges', [sql, params]).pipe(
      scan((previous: ResultChanges<T>, { patch, added, removed, changed }) => ({ rows: applyListPatch(previous.rows, patch), added, removed, changed }), {
        rows: [],
        added: [],
        removed: [],
        changed: [],
      }),
    );
  }
  setAuthToken(token: string | undefined): Promise<void> {
    return this.call((r) => r.setAuthToken(token));
  }
  debug(): Promise<WorkerDebugInfo> {
    return this.call((r) => r.debug());
  }

  on(event: SyncEvent, callback: (data: any) => void): void {
    this.listeners.on(event, callback);
  }
  off(event: SyncEvent, callback: (data: any) => void): void {
    this.listeners.off(event, callback);
  }

  /** Detaches this tab from the engine (which closes with the last tab), then releases the endpoint. */
  async cleanup(): Promise<void> {
    if (this.closed) return this.closing;
    this.listeners.clear();
    try {
      await this.call((r) => r.cleanup());
    } finally {
      await this.close();
    }
  }

  /** @internal Releases the endpoint without asking the worker first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      const remote = this.remote$.value;
      if (remote) release(remote);
      this.failPending(new CancelledError('this client was cleaned up'));
      for (const callback of this.closedCallbacks.splice(0)) callback();
      this.onClose?.();
    })();
    return this.closing;
  }

  /** @internal One call to the engine, its Outcome unwrapped; made again where the engine moves before answering. */
  call<T>(body: (remote: Remote<TabApi>) => Promise<Outcome<T>>): Promise<T> {
    if (this.closed) return Promise.reject(new CancelledError('this client was cleaned up'));
    return new Promise<T>((resolve, reject) => {
      const call: PendingCall = {
        run: (remote) => {
          unwrap(body(remote)).then(
            (value) => {
              this.pending.delete(call);
              resolve(value);
            },
            (error: unknown) => {
              this.pending.delete(call);
              reject(error);
            },
          );
        },
        fail: (error) => {
          this.pending.delete(call);
          reject(error);
        },
      };
      this.pending.add(call);
      const remote = this.remote$.value;
      if (remote) call.run(remote);
    });
  }

  /**
   * A stream of the engine, subscribed to where the engine is: subscribed again where it moves (its
   * subscription at the engine that went away went with it).
   */
  private stream<T>(stream: RemoteStream, args: unknown[]): Observable<T> {
    return this.remote$.pipe(
      filter((remote): remote is Remote<TabApi> => remote !== undefined),
      switchMap((remote) =>
        fromRemote<T>(
          (observer) => (this.closed ? Promise.reject(new CancelledError('this client was cleaned up')) : unwrap(remote.subscribe(stream, args, observer))),
          (id) => (this.closed ? Promise.resolve() : unwrap(remote.unsubscribe(id))),
        ),
      ),
    );
  }
}
