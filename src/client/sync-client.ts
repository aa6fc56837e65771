import { asyncScheduler, catchError, defer, EMPTY, filter, from, startWith, Subject, switchMap, type Observable, type SchedulerLike } from 'rxjs';
import {
  tableOf,
  type ChangeOp,
  type InsertRowOf,
  type Key,
  type KeyOf,
  type Lsn,
  type PatchOf,
  type Row,
  type SyncSchema,
  type TableName,
  type Welcome,
} from '../protocol/index.js';
import { CancelledError, toErrorEvent } from '../errors.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import { EventBus, type SyncEvent, type SyncEventListener, type SyncEventMessage } from '../streams/events.js';
import { hostTurn } from '../streams/host-turn.js';
import { defaultWebSocket, onlineEvents } from '../streams/socket.js';
import type { MetaStore, SqliteDatabase } from '../storage/index.js';
import { Checkpoint } from '../changes/checkpoint.js';
import { newChangeId } from '../changes/change-id.js';
import { OutboxSender } from '../changes/outbox-sender.js';
import type { LocalChangeEntry } from '../changes/outbox.js';
import { SyncedData } from '../changes/synced-data.js';
import type { ConnectOptions, SyncClientCalls } from './api.js';
import { Connection } from './connection.js';
import { ClientIdentity } from './identity.js';
import { openStorage } from './open-storage.js';
import { whenSynced } from './when-synced.js';
import { resolveOptions, type ResolvedOptions, type SyncClientOptions } from './options.js';
import { SocketSession } from './session.js';
import type { ServerUrls } from './server-urls.js';
import { watchQuery, watchQueryChangePatches, watchQueryChanges, watchQueryPatches, type PatchedChanges } from '../live/live-query.js';
import type { ListPatch } from '../live/list-patch.js';
import type { ResultChanges } from '../live/live-result.js';
import { SyncStatusTracker, type SyncStatus } from './sync-status.js';

/** The parts that exist once the database is open. */
interface Parts {
  db: SqliteDatabase;
  meta: MetaStore | undefined;
  data: SyncedData;
  sender: OutboxSender;
}

/**
 * The sync client: a facade that wires the parts and owns their lifetimes. The synced data
 * (SyncedData: the tables, the outbox, the Checkpoint), the OutboxSender, and the Connection (a
 * SocketSession per socket) do the work; this class opens and closes them and answers the API.
 *
 * `S` is the schema's type: a schema defined in code types the rows of insert/update/delete (see
 * RowOf); the wide SyncSchema (a schema read at run time) takes any table and row.
 */
export class SyncClient<S extends SyncSchema = SyncSchema> implements SyncClientCalls<S> {
  readonly schema: S;
  /** Every event, as `{ type, data, at }`; checking `type` narrows `data` (SyncEventMap). */
  readonly events$: Observable<SyncEventMessage>;
  readonly status$: Observable<ConnectionStatus>;
  readonly lsn$: Observable<Lsn>;
  /** The sync state as one value (phase, connected, hasSynced, lastSyncedAt, pending, download); emits on every change, the current value first. */
  readonly syncStatus$: Observable<SyncStatus>;
  private readonly syncStatusTracker: SyncStatusTracker;
  private readonly options: ResolvedOptions;
  private readonly scheduler: SchedulerLike;
  private readonly bus: EventBus;
  private readonly checkpoint: Checkpoint;
  private readonly connection: Connection;
  private readonly resume$ = new Subject<void>();
  private initializing: Promise<void> | undefined;
  private parts: Parts | undefined;
  private readonly identity = new ClientIdentity();
  private cleanedUp = false;

  constructor(private readonly config: SyncClientOptions<S>) {
    this.schema = config.schema;
    this.options = resolveOptions(config);
    this.scheduler = config.scheduler ?? asyncScheduler;
    this.bus = new EventBus(() => this.scheduler.now());
    this.checkpoint = new Checkpoint(this.bus, this.scheduler, (error, lsn) => this.emitError(error, { lsnMirror: lsn }));
    this.connection = new Connection({
      options: this.options,
      scheduler: this.scheduler,
      bus: this.bus,
      online$: config.online$ ?? onlineEvents(),
      random: config.random ?? Math.random,
      newSession: () => this.newSession(),
      emitError: (error) => this.emitError(error),
    });
    this.events$ = this.bus.events$;
    this.status$ = this.connection.status$;
    this.lsn$ = this.checkpoint.lsn$;
    this.syncStatusTracker = new SyncStatusTracker(this.events$, this.lsn$, this.connection.currentStatus);
    this.syncStatus$ = this.syncStatusTracker.status$;
  }

  get clientId(): string {
    return this.identity.id;
  }
  get currentLsn(): Lsn {
    return this.checkpoint.current;
  }
  get currentStatus(): ConnectionStatus {
    return this.connection.currentStatus;
  }
  /** The current value of syncStatus$. */
  get syncStatus(): SyncStatus {
    return this.syncStatusTracker.current;
  }

  /** Opens the database and loads the client id and the LSN. Idempotent. */
  initialize(): Promise<void> {
    this.initializing ??= this.open();
    return this.initializing;
  }

  private async open(): Promise<void> {
    const { db, meta } = await openStorage(this.config);
    const now = () => this.scheduler.now();
    const data = new SyncedData(db, this.checkpoint, this.schema, this.bus, this.options.changes, () => this.identity.id, now, newChangeId);
    await data.initialize(meta);
    await this.identity.load(db, meta, this.config.clientId);
    const sender = new OutboxSender(
      data,
      this.bus,
      () => this.connection.session,
      () => this.connection.currentStatus,
      this.options.changes,
      this.scheduler,
      (error) => this.emitError(error),
    );
    this.parts = { db, meta, data, sender };
    this.syncStatusTracker.followOutbox(
      data.tablesChanged$.pipe(
        filter((changed) => changed.has('local_changes')),
        startWith(null),
        switchMap(() => from(data.outbox.openCount()).pipe(catchError(() => EMPTY))), // a failed count waits for the next change
      ),
    );
    if (!this.cleanedUp) sender.start();
  }

  private newSession(): SocketSession {
    const { data, sender } = this.parts!;
    const { authToken } = this.config;
    return new SocketSession({
      schema: this.schema,
      options: this.options,
      scheduler: this.scheduler,
      bus: this.bus,
      data,
      sender,
      resume$: this.resume$,
      // With the host's own scheduler the host's cheapest turn; an injected (virtual) one keeps its ticks.
      yieldTo: this.config.scheduler ? undefined : hostTurn,
      clientId: () => this.identity.id,
      authToken: async () => (typeof authToken === 'function' ? await authToken() : authToken),
      emitError: (error, extra) => this.emitError(error, extra),
      welcomed: (session, welcome) => this.onWelcome(session, welcome),
      caughtUp: () => this.connection.caughtUp(),
    });
  }

  private onWelcome(session: SocketSession, welcome: Welcome): void {
    this.connection.sessionWelcomed(session, welcome.mode);
    const { forgotten, saved } = this.identity.welcomed(this.parts!.db, welcome);
    if (forgotten) this.bus.emit('client_reidentified', { clientId: this.identity.id, lsn: this.checkpoint.current, mode: welcome.mode });
    saved.catch((error) => this.emitError(error));
    this.bus.emit('connected', {
      mode: welcome.mode,
      reason: welcome.reason,
      serverLsn: welcome.serverLsn,
      sessionId: welcome.sessionId,
      url: this.connection.url!, // a welcome comes on an open socket, whose URL the connection knows
    });
    this.parts!.sender.connected().catch((error) => this.emitError(error));
  }

  /**
   * Connects and keeps the connection up (reconnecting with backoff) until disconnect() or
   * cleanup(). Resolves true once the server's welcome arrived; false if disconnected first, the
   * server refused this client for good, or `timeoutMs` passed (it keeps trying in the background).
   *
   * `url` is one URL; or a list of equivalent servers, tried one after the other (in a random
   * order unless `urlOrder: 'listed'`), moving on to the next when one cannot be reached or
   * closes: a round's first failure waits the backoff delay, the rest of the round goes at once,
   * and the delay grows once per round; or a function asked for the URL before every try (a throw
   * or rejection fails that try like an unreachable server). A server that closes with 1012
   * (restarting) or 4403 (token expired) is left at once, without a wait (once per welcome).
   */
  async connect(url: ServerUrls, options: ConnectOptions = {}): Promise<boolean> {
    if (this.cleanedUp) throw new CancelledError('this client was cleaned up');
    await this.initialize();
    const WebSocketCtor = this.config.WebSocketCtor ?? (await defaultWebSocket());
    // cleanup() may have run meanwhile: a connection started now would outlive it.
    if (this.cleanedUp) return false;
    return this.connection.connect(url, WebSocketCtor, options);
  }

  /** Closes the connection and cancels any pending reconnect. A later connect() starts afresh. */
  disconnect(reason = 'disconnected by the application'): void {
    this.connection.disconnect(reason);
  }

  /** Closes the socket, the database and every subscription. The client cannot be used after. */
  async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.connection.close();
    // An initialize() still running would start the outbox timer after us: let it finish first.
    await this.initializing?.catch(() => undefined);
    this.parts?.sender.stop();
    this.syncStatusTracker.complete();
    await this.checkpoint.flush();
    this.checkpoint.complete();
    this.parts?.data.complete();
    this.parts?.meta?.close();
    await this.parts?.db.close();
    this.bus.complete();
    this.resume$.complete();
  }

  /** Drops the synced data and the LSN, then syncs afresh (a new snapshot) if connected. Local pending writes are kept. */
  async resetLSN(): Promise<void> {
    await this.initialize();
    const connected = this.connection.target;
    if (connected) this.connection.disconnect('resetLSN');
    await this.parts!.data.resetData();
    this.checkpoint.publish('0/0', { reset: true });
    if (connected) void this.connect(connected.target, { urlOrder: connected.options.urlOrder });
  }

  /**
   * Writes a row locally (with its outbox entry, in one transaction) and syncs it. A row whose
   * key already exists is overwritten, like an upsert (not refused as SQL's INSERT would): the
   * columns given replace the stored ones and those left out become NULL, locally at once and on
   * the server (whose default conflict policy, lastWriteWins, does the same). Use `update` to
   * change some columns only.
   */
  insert<T extends TableName<S>>(table: T, row: InsertRowOf<S, T>): Promise<void> {
    const whole = row as Row;
    return this.write('insert', table, whole[tableOf(this.schema, table).primaryKey] as Key, whole);
  }
  /** Changes the columns in `patch` of the row with `key`; rejects (invalid_value) if there is no such row locally. */
  update<T extends TableName<S>>(table: T, key: KeyOf<S, T>, patch: PatchOf<S, T>): Promise<void> {
    return this.write('update', table, key as Key, patch as Row);
  }
  /** Deletes the row with `key` (there may be none). */
  delete<T extends TableName<S>>(table: T, key: KeyOf<S, T>): Promise<void> {
    return this.write('delete', table, key as Key, null);
  }

  private async write(op: ChangeOp, table: string, key: Key, row: Row | null): Promise<void> {
    await this.initialize();
    await this.parts!.data.write(op, table, key, row);
    if (!this.cleanedUp) this.parts!.sender.request();
  }

  /** Runs SQL on the local database. Meant for reads: writes made here bypass the outbox and never sync. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.initialize();
    return this.parts!.db.all<T>(sql, params);
  }

  /**
   * The query's rows now, and again after every commit that touches a table it reads, when they
   * differ from the rows it emitted last (a commit that changed nothing the query returns emits
   * nothing). `T` is the row type the caller expects (not checked).
   */
  watch<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<T[]> {
    return defer(() => from(this.initialize())).pipe(switchMap(() => watchQuery<T>(this.parts!.db, this.parts!.data.commits$, this.schema, sql, params)));
  }

  /**
   * @internal watch() as a worker sends it to a tab: each update as the splices that turn the tab's
   * list into the new one, or the whole list (list-patch.ts).
   */
  watchPatches<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<ListPatch<T>> {
    return defer(() => from(this.initialize())).pipe(
      switchMap(() => watchQueryPatches<T>(this.parts!.db, this.parts!.data.commits$, this.schema, sql, params)),
    );
  }

  /** @internal watchChanges() as a worker sends it to a tab: the rows as splices, with what changed. */
  watchChangePatches<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<PatchedChanges<T>> {
    return defer(() => from(this.initialize())).pipe(
      switchMap(() => watchQueryChangePatches<T>(this.parts!.db, this.parts!.data.commits$, this.schema, sql, params)),
    );
  }

  /**
   * As watch(), with what changed at each update: `{ rows, added, removed, changed }` (the first
   * update adds every row), for lists that render only what changed (virtualized lists). Takes a
   * query of one synced table: `SELECT * (or columns) FROM <table> [WHERE ...] [ORDER BY columns]
   * [LIMIT n]`; any other fails with an error saying so.
   */
  watchChanges<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<ResultChanges<T>> {
    return defer(() => from(this.initialize())).pipe(
      switchMap(() => watchQueryChanges<T>(this.parts!.db, this.parts!.data.commits$, this.schema, sql, params)),
    );
  }

  /**
   * Resolves when the outbox is empty and the local LSN has reached the server's LSN as of the
   * call (see whenSynced in when-synced.ts); rejects with a TimeoutError after `timeoutMs`.
   */
  async whenSynced(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.initialize();
    return whenSynced({ data: this.parts!.data, connection: this.connection, scheduler: this.scheduler }, options.timeoutMs);
  }

  /** Calls `callback` with the data of every `event` (SyncEventMap says what each carries). Adding the same callback twice adds it once. */
  on<E extends SyncEvent>(event: E, callback: SyncEventListener<E>): void {
    this.bus.on(event, callback);
  }
  /** Stops calling `callback` for `event`. */
  off<E extends SyncEvent>(event: E, callback: SyncEventListener<E>): void {
    this.bus.off(event, callback);
  }

  /** Local changes (the outbox and its history), for inspection and UIs. */
  async localChanges(filter?: { status?: LocalChangeEntry['status'] }): Promise<LocalChangeEntry[]> {
    await this.initialize();
    return this.parts!.data.outbox.entries(filter);
  }

  /** Retries a server batch that sync paused on (after its apply failed maxAttempts times). */
  resumeSync(): void {
    this.resume$.next();
  }

  private emitError(error: unknown, extra: Record<string, unknown> = {}): void {
    const event = toErrorEvent(error);
    this.bus.emit('error', { ...event, context: { ...event.context, ...extra } });
  }
}

/** A client of `options.schema`; with a schema defined in code, its rows are typed (SyncClient<typeof schema>). */
export function createSyncClient<S extends SyncSchema>(options: SyncClientOptions<S>): SyncClient<S> {
  return new SyncClient(options);
}
