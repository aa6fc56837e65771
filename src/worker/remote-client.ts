/**
 * The main thread's proxy: a {@link RemoteSyncClient} over one comlink endpoint (a SharedWorker's
 * port, a dedicated Worker, or one end of a MessageChannel in the specs).
 *
 * Why comlink: it handles the request/response plumbing, and `comlink.proxy` gives each Observable
 * subscription its own channel with an explicit release, which is exactly the lifetime a
 * subscription has (see observable-bridge.ts). Errors travel inside the answers (types.ts, Outcome).
 *
 * Before attaching, the proxy says its rxsync version (`hello`) and refuses a worker that answers
 * another one, or none (a worker older than the handshake): a {@link WorkerVersionError}.
 */
import type { ResultChanges } from '../live/live-result.js';
import { applyListPatch, type ListPatch } from '../live/list-patch.js';
import type { PatchedChanges } from '../live/live-query.js';
import type { SyncStatus } from '../client/sync-status.js';
import { proxy, releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import { defer, scan, share, type Observable } from 'rxjs';
import { SYNC_CLIENT_CALLS, type ConnectOptions, type Promisified, type SyncClientCalls } from '../client/api.js';
import type { ServerUrls } from '../client/server-urls.js';
import { CancelledError } from '../errors.js';
import type { Lsn } from '../protocol/index.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import { EventListeners, type SyncEvent, type SyncEventMessage } from '../streams/events.js';
import { deserializeError, WorkerVersionError } from './errors.js';
import { fromRemote, type RemoteObserver } from './observable-bridge.js';
import type { EngineOptions, Outcome, RemoteStream, RemoteSyncClient, TabApi, WorkerDebugInfo, WorkerSyncClientOptions } from './types.js';
import type { TabHandshake } from './worker-core.js';
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

/** Attaches to the engine of `options.database` behind `endpoint` and returns the proxy. */
export async function connectRemoteClient(
  endpoint: Endpoint,
  options: EngineOptions | (Omit<EngineOptions, 'authToken'> & Pick<WorkerSyncClientOptions, 'authToken'>),
  extra: ConnectRemoteOptions = {},
): Promise<RemoteSyncClient> {
  const remote = wrap<TabApi & TabHandshake>(endpoint);
  const client = new WorkerSyncClient(remote, extra.onClose);
  const { authToken, ...rest } = options;
  const engineOptions: EngineOptions = { ...rest, schema: { tables: options.schema.tables }, ...(typeof authToken === 'string' && { authToken }) };
  const orFailed = <T>(answer: Promise<T>): Promise<T> => (extra.failed ? Promise.race([answer, extra.failed]) : answer);
  try {
    await orFailed(checkVersion(remote, extra.workerUrl));
    // A function cannot be cloned into the worker: it goes as a comlink proxy, called from there.
    const tokenSource = typeof authToken === 'function' ? proxy(async () => authToken()) : undefined;
    await orFailed(unwrap(remote.attach(engineOptions, extra.tabId, tokenSource)));
  } catch (error) {
    await client.close();
    throw error;
  }
  return withCalls(client);
}

/** The handshake: the worker must be this page's version of rxsync. */
async function checkVersion(remote: Remote<TabHandshake>, workerUrl: string | undefined): Promise<void> {
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

async function unwrap<T>(answer: Promise<Outcome<T>>): Promise<T> {
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
    (calls as Record<string, unknown>)[name] = (...args: unknown[]) =>
      client.call((remote) => (remote[name] as unknown as (...a: unknown[]) => Promise<Outcome<unknown>>)(...args));
  }
  return Object.assign(client, calls);
}

class WorkerSyncClient implements Omit<RemoteSyncClient, GeneratedCall> {
  private closed = false;
  private closing: Promise<void> | undefined;
  /** One worker subscription to events$ for every on() callback of this tab. */
  private readonly listeners: EventListeners;

  readonly events$: Observable<SyncEventMessage>;
  readonly status$: Observable<ConnectionStatus>;
  readonly lsn$: Observable<Lsn>;
  readonly syncStatus$: Observable<SyncStatus>;

  constructor(
    private readonly remote: Remote<TabApi>,
    private readonly onClose: (() => void) | undefined,
  ) {
    this.events$ = this.stream<SyncEventMessage>('events', []);
    this.status$ = this.stream<ConnectionStatus>('status', []);
    this.syncStatus$ = this.stream<SyncStatus>('syncStatus', []);
    this.lsn$ = this.stream<Lsn>('lsn', []);
    this.listeners = new EventListeners(this.events$.pipe(share()));
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
    const target = typeof url === 'function' ? proxy(async () => url()) : url;
    return this.call((r) => r.connect(target, options));
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
      await unwrap(this.remote.cleanup());
    } finally {
      await this.close();
    }
  }

  /** @internal Releases the endpoint without asking the worker first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      try {
        this.remote[releaseProxy]();
      } catch {
        // already released
      }
      this.onClose?.();
    })();
    return this.closing;
  }

  /** @internal One call to the worker, its Outcome unwrapped. */
  call<T>(body: (remote: Remote<TabApi>) => Promise<Outcome<T>>): Promise<T> {
    if (this.closed) return Promise.reject(new CancelledError('this client was cleaned up'));
    return unwrap(body(this.remote));
  }

  private stream<T>(stream: RemoteStream, args: unknown[]): Observable<T> {
    return fromRemote<T>(
      (observer) => this.call((r) => r.subscribe(stream, args, observer as RemoteObserver<unknown>)),
      (id) => (this.closed ? Promise.resolve() : this.call((r) => r.unsubscribe(id))),
    );
  }
}
