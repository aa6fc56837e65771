/**
 * The main thread's proxy: a {@link RemoteSyncClient} over one comlink endpoint (a SharedWorker's
 * port, a dedicated Worker, or one end of a MessageChannel in the specs).
 *
 * Why comlink: it handles the request/response plumbing, and `comlink.proxy` gives each Observable
 * subscription its own channel with an explicit release, which is exactly the lifetime a
 * subscription has (see observable-bridge.ts). Errors travel inside the answers (types.ts, Outcome).
 */
import { releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import { filter, share, type Observable, type Subscription } from 'rxjs';
import type { LocalChangeEntry } from '../changes/client-changes.js';
import { CancelledError } from '../errors.js';
import type { Key, Lsn, Row } from '../protocol/index.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import { SYNC_EVENTS, type SyncEvent, type SyncEventMessage } from '../streams/events.js';
import { deserializeError } from './errors.js';
import { fromRemote, type RemoteObserver } from './observable-bridge.js';
import type { EngineOptions, Outcome, RemoteStream, RemoteSyncClient, TabApi, WorkerDebugInfo } from './types.js';

export interface ConnectRemoteOptions {
  /** The tab's id for tab coordination (the worker watches the tab's Web Lock of that id). */
  tabId?: string;
  /** Runs after cleanup() released the endpoint: close the port, terminate the worker, release the tab lock. */
  onClose?: () => void;
  /** Rejects the attach (e.g. the worker script failed to load) instead of waiting forever. */
  failed?: Promise<never>;
}

/** Attaches to the engine of `options.database` behind `endpoint` and returns the proxy. */
export async function connectRemoteClient(endpoint: Endpoint, options: EngineOptions, extra: ConnectRemoteOptions = {}): Promise<RemoteSyncClient> {
  const remote = wrap<TabApi>(endpoint);
  const client = new WorkerSyncClient(remote, extra.onClose);
  const engineOptions: EngineOptions = { ...options, schema: { tables: options.schema.tables } };
  try {
    const attached = unwrap(remote.attach(engineOptions, extra.tabId));
    await (extra.failed ? Promise.race([attached, extra.failed]) : attached);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

async function unwrap<T>(answer: Promise<Outcome<T>>): Promise<T> {
  const outcome = await answer;
  if (outcome.ok) return outcome.value;
  throw deserializeError(outcome.error);
}

class WorkerSyncClient implements RemoteSyncClient {
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly callbacks = new Map<SyncEvent, Map<(data: any) => void, Subscription>>();
  /** One worker subscription to events$ for every on() callback of this tab. */
  private readonly sharedEvents$: Observable<SyncEventMessage>;

  readonly events$: Observable<SyncEventMessage>;
  readonly status$: Observable<ConnectionStatus>;
  readonly lsn$: Observable<Lsn>;

  constructor(
    private readonly remote: Remote<TabApi>,
    private readonly onClose: (() => void) | undefined,
  ) {
    this.events$ = this.stream<SyncEventMessage>('events', []);
    this.status$ = this.stream<ConnectionStatus>('status', []);
    this.lsn$ = this.stream<Lsn>('lsn', []);
    this.sharedEvents$ = this.events$.pipe(share());
  }

  get clientId(): Promise<string> {
    return this.call((r) => r.clientId());
  }
  get currentStatus(): Promise<ConnectionStatus> {
    return this.call((r) => r.currentStatus());
  }
  get currentLsn(): Promise<Lsn> {
    return this.call((r) => r.currentLsn());
  }

  initialize(): Promise<void> {
    return this.call((r) => r.initialize());
  }
  connect(url: string, options?: { timeoutMs?: number }): Promise<boolean> {
    return this.call((r) => r.connect(url, options));
  }
  disconnect(reason?: string): Promise<void> {
    return this.call((r) => r.disconnect(reason));
  }
  resetLSN(): Promise<void> {
    return this.call((r) => r.resetLSN());
  }
  insert(table: string, row: Row): Promise<void> {
    return this.call((r) => r.insert(table, row));
  }
  update(table: string, key: Key, patch: Row): Promise<void> {
    return this.call((r) => r.update(table, key, patch));
  }
  delete(table: string, key: Key): Promise<void> {
    return this.call((r) => r.delete(table, key));
  }
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.call((r) => r.query(sql, params)) as Promise<T[]>;
  }
  watch<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<T[]> {
    return this.stream<T[]>('watch', [sql, params]);
  }
  whenSynced(options?: { timeoutMs?: number }): Promise<void> {
    return this.call((r) => r.whenSynced(options));
  }
  localChanges(filter?: { status?: LocalChangeEntry['status'] }): Promise<LocalChangeEntry[]> {
    return this.call((r) => r.localChanges(filter));
  }
  resumeSync(): Promise<void> {
    return this.call((r) => r.resumeSync());
  }
  setAuthToken(token: string | undefined): Promise<void> {
    return this.call((r) => r.setAuthToken(token));
  }
  debug(): Promise<WorkerDebugInfo> {
    return this.call((r) => r.debug());
  }

  on(event: SyncEvent, callback: (data: any) => void): void {
    if (!SYNC_EVENTS.includes(event)) throw new TypeError(`unknown sync event ${JSON.stringify(event)}; known: ${SYNC_EVENTS.join(', ')}`);
    const forType = this.callbacks.get(event) ?? new Map<(data: any) => void, Subscription>();
    this.callbacks.set(event, forType);
    if (forType.has(callback)) return;
    forType.set(callback, this.sharedEvents$.pipe(filter((e) => e.type === event)).subscribe({
      next: (e) => {
        try {
          callback(e.data);
        } catch (error) {
          console.error(`[rxsync] a '${event}' listener threw:`, error);
        }
      },
      error: () => undefined,
    }));
  }

  off(event: SyncEvent, callback: (data: any) => void): void {
    this.callbacks.get(event)?.get(callback)?.unsubscribe();
    this.callbacks.get(event)?.delete(callback);
  }

  /** Detaches this tab from the engine (which closes with the last tab), then releases the endpoint. */
  async cleanup(): Promise<void> {
    if (this.closed) return this.closing;
    for (const forType of this.callbacks.values()) for (const subscription of forType.values()) subscription.unsubscribe();
    this.callbacks.clear();
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

  private call<T>(body: (remote: Remote<TabApi>) => Promise<Outcome<T>>): Promise<T> {
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
