import {
  asyncScheduler,
  BehaviorSubject,
  defer,
  filter,
  first,
  firstValueFrom,
  from,
  ignoreElements,
  interval,
  merge,
  NEVER,
  Observable,
  ReplaySubject,
  share,
  startWith,
  Subject,
  Subscription,
  switchMap,
  tap,
  timeout,
  concatMap,
  map,
  type SchedulerLike,
} from 'rxjs';
import {
  compareLsn,
  decodeServerMessage,
  defineSchema,
  schemaDifferences,
  SyncProtocolError,
  type SchemaDifference,
  maxLsn,
  needsSnapshot,
  PROTOCOL_VERSION,
  tableOf,
  type ClientMessage,
  type Key,
  type Lsn,
  type Row,
  type ServerMessage,
  type SyncSchema,
  type Welcome,
} from './protocol/index.js';
import { applyInOrder, checkpointLsn, heartbeat, retryBackoff, validate } from './operators/index.js';
import { ApplyError, CancelledError, HeartbeatTimeoutError, TimeoutError, toErrorEvent } from './errors.js';
import { initialConnectionState, transition, type ConnectionEvent, type ConnectionState, type ConnectionStatus } from './streams/connection-state.js';
import { EventBus, type SyncEvent, type SyncEventMessage } from './streams/events.js';
import { socketFrames } from './streams/socket.js';
import { SessionGuard } from './streams/session-guard.js';
import { InboundFlow } from './streams/inbound-flow.js';
import { openDatabase, openMetaStore, type MetaStore, type SqliteDatabase } from './storage/index.js';
import { ChangesInterface, type ApplyMessage, type ApplyOutcome } from './changes/changes-interface.js';
import { readState, writeState } from './changes/local-schema.js';
import { OutboxSender } from './changes/outbox-sender.js';
import { resolveOptions, type ResolvedOptions, type SyncClientOptions } from './client-options.js';
import { defaultWebSocket, lsnOf, newChangeId, onlineEvents, tablesReadBy } from './client-helpers.js';

const DATA_TYPES = new Set(['snapshot_begin', 'snapshot_chunk', 'snapshot_end', 'changes', 'push_result', 'session_broken']);

/** Stands in the apply queue for a message that showed the server broke its LSN order. */
interface SessionBroken {
  type: 'session_broken';
  error: Error;
  discardSnapshot: boolean;
}

/**
 * The sync client: wires the socket stream, the operators, the changes system and storage.
 * Decisions live in the parts (the state machine, the operators, ChangesInterface); this class
 * connects them and owns their lifetimes. See design §2 for the pipeline.
 */
export class SyncClient {
  readonly schema: SyncSchema;
  private readonly options: ResolvedOptions;
  private readonly scheduler: SchedulerLike;
  private readonly bus: EventBus;
  private readonly status = new BehaviorSubject<ConnectionStatus>('idle');
  private readonly lsnSubject = new ReplaySubject<Lsn>(1);
  private readonly resume$ = new Subject<void>();
  private state: ConnectionState = initialConnectionState;
  private db: SqliteDatabase | undefined;
  private meta: MetaStore | undefined;
  private changes: ChangesInterface | undefined;
  private id = '';
  private connection: Subscription | undefined;
  private background: Subscription | undefined;
  private connectWaiters: Array<(ok: boolean) => void> = [];
  private sessionSend: ((message: ClientMessage) => void) | undefined;
  private serverHead: Lsn = '0/0';
  private maxPush = Infinity;
  private sender: OutboxSender | undefined;
  private lastDelayMs = 0;
  /** When the server last said anything: an unanswered change only fails against a talking server. */
  /**
   * The send time of the latest ping the server answered: the server handles a connection's
   * messages in order, so it had handled everything this client sent before then. Only that is
   * evidence a push went unanswered (the outbox gives up on a change on it); hearing from the
   * server is not, as a one-way partition lets its messages through while ours are held.
   */
  private answeredUpTo = 0;
  private readonly pingSentAt = new Map<number, number>();
  private sessionId: string | undefined;
  private probeSeq = 0;
  private readonly probes = new Map<number, (ok: boolean) => void>();
  private initializing: Promise<void> | undefined;
  private cleanedUp = false;
  /** Whether some server has welcomed this client before (persisted). */
  private registered = false;

  readonly events$: Observable<SyncEventMessage>;
  readonly status$: Observable<ConnectionStatus> = this.status.asObservable();
  readonly lsn$: Observable<Lsn> = this.lsnSubject.asObservable();

  constructor(private readonly config: SyncClientOptions) {
    this.schema = config.schema;
    this.options = resolveOptions(config);
    this.scheduler = config.scheduler ?? asyncScheduler;
    this.bus = new EventBus(() => this.scheduler.now());
    this.events$ = this.bus.events$;
  }

  get clientId(): string {
    return this.id;
  }
  get currentLsn(): Lsn {
    return this.changes?.lsn ?? '0/0';
  }
  get currentStatus(): ConnectionStatus {
    return this.status.value;
  }

  /** Opens the database and loads the client id and the LSN. Idempotent. */
  initialize(): Promise<void> {
    this.initializing ??= this.open();
    return this.initializing;
  }

  private async open(): Promise<void> {
    const factory = this.config.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    const name = this.config.database ?? ':memory:';
    this.db = await openDatabase({ name, indexedDB: factory, ...this.config.wasm });
    // ':memory:' keeps nothing, its client id included: each such client is a new client.
    if (name !== ':memory:' && factory && typeof (globalThis as { IDBRequest?: unknown }).IDBRequest === 'function') {
      this.meta = await openMetaStore(factory, `rxsync-meta:${name}`);
    }
    this.changes = new ChangesInterface(this.db, this.schema, this.bus, this.options.changes, () => this.id, () => this.scheduler.now(), newChangeId);
    await this.changes.initialize();
    this.id = this.config.clientId ?? (await this.loadClientId());
    this.registered = (await readState(this.db, 'registered')) === '1';
    // SQLite's checkpoint wins over the IndexedDB mirror (invariant 2); bring the mirror in line.
    if (this.meta && (await this.meta.get('lsn')) !== this.changes.lsn) await this.meta.set('lsn', this.changes.lsn);
    this.lsnSubject.next(this.changes.lsn);
    this.sender = new OutboxSender(
      this.changes,
      this.bus,
      {
        send: () => this.sessionSend,
        maxPerPush: () => this.maxPush,
        answeredUpTo: () => this.answeredUpTo,
        status: () => this.status.value,
      },
      this.options.changes,
      () => this.scheduler.now(),
      (error) => this.emitError(error),
    );
    if (this.cleanedUp) return;
    this.background = merge(
      interval(Math.max(50, Math.floor(this.options.changes.ackTimeoutMs / 2)), this.scheduler).pipe(
        tap(() => this.requestFlush()),
        concatMap(() => from(this.sender!.checkStall())),
      ),
    ).subscribe({ error: (error) => this.emitError(error) });
  }

  private async loadClientId(): Promise<string> {
    const stored = (await this.meta?.get<string>('clientId')) ?? (await readState(this.db!, 'client_id'));
    const id = stored ?? newChangeId();
    await writeState(this.db!, 'client_id', id);
    await this.meta?.set('clientId', id);
    return id;
  }

  /**
   * Connects and keeps the connection up (reconnecting with backoff) until disconnect() or
   * cleanup(). Resolves true once the server's welcome arrived; false if disconnected first, the
   * server refused this client for good, or `timeoutMs` passed (it keeps trying in the background).
   */
  async connect(url: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (this.cleanedUp) throw new CancelledError('this client was cleaned up');
    await this.initialize();
    // cleanup() may have run while the database opened: a connection started now would outlive it.
    if (this.cleanedUp) return false;
    this.stopConnection();
    // A connect() while connected (another URL, or after resetLSN) starts over from disconnected.
    if (!['idle', 'disconnected', 'backoff'].includes(this.state.status)) this.dispatch({ type: 'disconnect', reason: 'reconnecting' });
    this.settleConnect(false);
    const WebSocketCtor = this.config.WebSocketCtor ?? (await defaultWebSocket());
    if (this.cleanedUp) return false;
    const welcomed = new Promise<boolean>((resolve) => this.connectWaiters.push(resolve));
    this.dispatch({ type: 'connect', url });
    this.connection = this.connection$(url, WebSocketCtor).subscribe({
      error: (error) => {
        // Only a refusal reaches here (retryBackoff retries everything else): stop for good.
        this.emitError(error);
        this.dispatch({ type: 'disconnect', reason: (error as Error).message });
        this.settleConnect(false);
      },
    });
    if (options.timeoutMs === undefined) return welcomed;
    let timer: Subscription | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = this.scheduler.schedule(() => resolve(false), options.timeoutMs)));
    return Promise.race([welcomed, timedOut]).finally(() => timer?.unsubscribe());
  }

  /** Closes the connection and cancels any pending reconnect. A later connect() starts afresh. */
  disconnect(reason = 'disconnected by the application'): void {
    this.stopConnection();
    if (this.state.status !== 'disconnected' && this.state.status !== 'idle' && this.state.status !== 'closed') {
      this.dispatch({ type: 'disconnect', reason });
      this.bus.emit('disconnected', { reason });
    }
    this.settleConnect(false);
  }

  /** Closes the socket, the database and every subscription. The client cannot be used after. */
  async cleanup(): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.stopConnection();
    this.settleConnect(false);
    this.dispatch({ type: 'cleanup' });
    // An initialize() still running would start the background timer after us: let it finish first.
    await this.initializing?.catch(() => undefined);
    this.background?.unsubscribe();
    this.changes?.complete();
    this.meta?.close();
    await this.db?.close();
    this.bus.complete();
    this.status.complete();
    this.lsnSubject.complete();
    this.resume$.complete();
  }

  /** Drops the synced data and the LSN, then syncs afresh (a new snapshot) if connected. Local pending writes are kept. */
  async resetLSN(): Promise<void> {
    await this.initialize();
    const url = 'url' in this.state ? this.state.url : undefined;
    this.stopConnection();
    if (url) this.dispatch({ type: 'disconnect', reason: 'resetLSN' });
    await this.changes!.resetData();
    await this.meta?.set('lsn', '0/0');
    this.lsnSubject.next('0/0');
    this.bus.emit('lsn_updated', { lsn: '0/0', reset: true });
    if (url) void this.connect(url);
  }

  async insert(table: string, row: Row): Promise<void> {
    const key = row[tableOf(this.schema, table).primaryKey] as Key;
    await this.write('insert', table, key, row);
  }
  async update(table: string, key: Key, patch: Row): Promise<void> {
    await this.write('update', table, key, patch);
  }
  async delete(table: string, key: Key): Promise<void> {
    await this.write('delete', table, key, null);
  }

  private async write(op: 'insert' | 'update' | 'delete', table: string, key: Key, row: Row | null): Promise<void> {
    await this.initialize();
    await this.changes!.write(op, table, key, row);
    this.requestFlush();
  }

  /** Runs SQL on the local database. Meant for reads: writes made here bypass the outbox and never sync. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.initialize();
    return this.db!.all<T>(sql, params);
  }

  /** The query's rows now, and again after every commit that touches a table it reads. */
  watch<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Observable<T[]> {
    const tables = tablesReadBy(sql, [...this.schema.tableNames, 'local_changes']);
    return defer(() => from(this.initialize())).pipe(
      switchMap(() =>
        this.changes!.tablesChanged$.pipe(
          filter((changed) => tables.some((table) => changed.has(table))),
          startWith(null),
          switchMap(() => from(this.db!.all<T>(sql, params))),
        ),
      ),
    );
  }

  /**
   * Resolves when the outbox is empty and the local LSN has reached the server's LSN as of the
   * call: the server is asked for its head (a ping; its pong carries the LSN) on the connection
   * in use, and asked again on the next connection if this one drops first.
   */
  async whenSynced(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.initialize();
    let probedSession: string | undefined;
    const check = async (): Promise<boolean> => {
      const session = this.sessionId;
      if (!session || !this.sessionSend) return false;
      if (probedSession !== session) {
        if (!(await this.probeServerHead())) return false;
        probedSession = session;
      }
      return this.isSynced();
    };
    const check$ = merge(this.changes!.tablesChanged$, this.lsnSubject, this.status).pipe(
      startWith(null),
      concatMap(() => from(check())),
      first((synced) => synced),
      map(() => undefined),
    );
    const bounded$ = options.timeoutMs === undefined
      ? check$
      : check$.pipe(timeout({ first: options.timeoutMs, scheduler: this.scheduler, with: () => { throw new TimeoutError('whenSynced', options.timeoutMs!); } }));
    return firstValueFrom(bounded$);
  }

  /** Pings the server and waits for its pong (which updates serverHead); false if the socket closed first. */
  private probeServerHead(): Promise<boolean> {
    const send = this.sessionSend;
    if (!send) return Promise.resolve(false);
    const id = ++this.probeSeq;
    return new Promise<boolean>((resolve) => {
      this.probes.set(id, (ok) => {
        this.probes.delete(id);
        resolve(ok);
      });
      this.sendPing(send, id);
    });
  }

  /** Sends a ping whose pong will tell how far the server has read (`answeredUpTo`). */
  private sendPing(send: (message: ClientMessage) => void, id = ++this.probeSeq): void {
    this.pingSentAt.set(id, this.scheduler.now());
    send({ type: 'ping', id });
  }

  private failProbes(): void {
    this.pingSentAt.clear();
    for (const settle of [...this.probes.values()]) settle(false);
  }

  private async isSynced(): Promise<boolean> {
    return this.sessionSend !== undefined && (await this.changes!.outbox.openCount()) === 0 && compareLsn(this.changes!.lsn, this.serverHead) >= 0;
  }

  on(event: SyncEvent, callback: (data: any) => void): void {
    this.bus.on(event, callback);
  }
  off(event: SyncEvent, callback: (data: any) => void): void {
    this.bus.off(event, callback);
  }

  /** Local changes (the outbox and its history), for inspection and UIs. */
  async localChanges(filter?: { status?: 'pending' | 'sent' | 'applied' | 'rejected' | 'failed' }) {
    await this.initialize();
    return this.changes!.outbox.entries(filter);
  }

  /** Retries a server batch that sync paused on (after its apply failed maxAttempts times). */
  resumeSync(): void {
    this.resume$.next();
  }

  // ---- the connection ----------------------------------------------------------------------

  /** Emits once per welcomed session (a healthy connection: the reconnect backoff starts over). */
  private connection$(url: string, WebSocketCtor: typeof WebSocket): Observable<void> {
    const { heartbeat: beat, reconnect } = this.options;
    const online$ = this.config.online$ ?? onlineEvents();
    return defer(() => {
      if (this.state.status === 'backoff') this.dispatch({ type: 'retry_timer' });
      let send: (message: ClientMessage) => void = () => undefined;
      const guard = new SessionGuard();
      const flow = new InboundFlow();
      // This socket's sender: the session fields are only cleared by the close of the socket that set them
      // (an old socket's close event can arrive after a new session started). Its pushes are noted,
      // so that only answers to them are taken.
      const mine = (message: ClientMessage): void => {
        if (message.type === 'push') guard.pushed(message.changes.map((change) => change.id));
        send(message);
      };
      const frames$ = socketFrames(url, WebSocketCtor, {
        onOpen: (socketSend, reads) => {
          send = socketSend;
          flow.attach(reads);
          this.dispatch({ type: 'socket_open' });
          void this.sendHello(socketSend, guard);
        },
        onClose: () => {
          if (this.sessionSend !== mine) return;
          this.sessionSend = undefined;
          this.sessionId = undefined;
          this.failProbes();
        },
      });
      return frames$.pipe(
        validate(decodeServerMessage, (error) => {
          this.emitError(error);
        }),
        heartbeat<ServerMessage>({
          intervalMs: beat.intervalMs,
          timeoutMs: beat.timeoutMs,
          sendPing: () => this.sendPing(send),
          isPong: (message) => message.type === 'pong',
          passPongs: true, // a pong carries the server's head LSN (whenSynced needs it)
          scheduler: this.scheduler,
        }),
        (inbound$) => this.session(inbound$, mine, guard, flow),
      );
    }).pipe(
      retryBackoff({
        ...reconnect,
        scheduler: this.scheduler,
        skipWait$: online$,
        shouldRetry: (error) => !(error as { context?: { fatal?: boolean } }).context?.fatal,
        onRetry: (error, attempt, delayMs) => {
          this.sessionSend = undefined;
          this.sessionId = undefined;
          this.failProbes();
          this.lastDelayMs = delayMs;
          this.dispatch(error instanceof HeartbeatTimeoutError ? { type: 'heartbeat_timeout' } : { type: 'socket_closed' });
          this.bus.emit('disconnected', { reason: (error as Error).message, attempt, retryInMs: delayMs });
        },
      }),
    );
  }

  private async sendHello(send: (message: ClientMessage) => void, guard: SessionGuard): Promise<void> {
    const { authToken } = this.config;
    const token = typeof authToken === 'function' ? await authToken() : authToken;
    const lsn = this.changes!.lsn;
    guard.helloSent(lsn);
    send({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: this.id, lsn, schemaHash: this.schema.hash, ...(token !== undefined && { token }) });
  }

  /**
   * One socket's messages: control messages at once, data messages through the ordered apply queue.
   * Emits once, at the welcome. Messages the guard refuses are reported and dropped; one that
   * shows the server broke the LSN order becomes a `session_broken` item in the apply queue, which
   * ends the session once everything before it was applied.
   */
  private session(inbound$: Observable<ServerMessage>, send: (message: ClientMessage) => void, guard: SessionGuard, flow: InboundFlow): Observable<void> {
    const shared$ = inbound$.pipe(
      map((message): ServerMessage | SessionBroken | null => {
        const refusal = guard.check(message);
        if (!refusal) return message;
        if (refusal.error) this.emitError(refusal.error);
        return refusal.endsSession ? { type: 'session_broken', error: refusal.error!, discardSnapshot: refusal.discardSnapshot } : null;
      }),
      filter((message): message is ServerMessage | SessionBroken => message !== null),
      share(),
    );
    const control$ = shared$.pipe(tap((message) => this.onControl(message, send)), ignoreElements());
    const welcome$ = shared$.pipe(first((message): message is Welcome => message.type === 'welcome'));
    const data$ = welcome$.pipe(switchMap((welcome) => this.dataPipeline(shared$, welcome, send, flow)));
    return merge(control$, data$, welcome$.pipe(map(() => undefined)), NEVER);
  }

  private dataPipeline(shared$: Observable<ServerMessage | SessionBroken>, welcome: Welcome, send: (message: ClientMessage) => void, flow: InboundFlow): Observable<never> {
    const fresh = needsSnapshot(welcome.mode);
    // Changes at or below the checkpoint (the overlap after a reconnect) are dropped inside the
    // apply transaction, the one place where the checkpoint cannot move underneath.
    return shared$.pipe(
      filter((m): m is ApplyMessage | SessionBroken => DATA_TYPES.has(m.type)),
      tap(() => flow.queued()),
      applyInOrder((message: ApplyMessage | SessionBroken) => this.applyMessage(message, send), {
        ...this.options.apply,
        scheduler: this.scheduler,
        resume$: this.resume$,
        onRetry: (error, attempt, message) => this.emitError(error, { retrying: true, attempt, message: message.type, lsn: lsnOf(message) }),
        onFailed: (error, message) => {
          const lsn = lsnOf(message);
          this.emitError(new ApplyError(lsn ?? this.changes!.lsn, `could not apply ${message.type}${lsn ? ` at ${lsn}` : ''}: ${(error as Error).message}; sync is paused (resumeSync() retries)`, { cause: error }));
          this.bus.emit('sync_paused', { message: message.type, lsn, reason: (error as Error).message });
        },
      }),
      tap((outcome) => {
        flow.done();
        // Everything before the broken message was applied: now end the session (retryBackoff reconnects).
        if ('broken' in outcome) throw outcome.broken;
      }),
      filter((outcome): outcome is Required<Pick<ApplyOutcome, 'lsn'>> & ApplyOutcome => 'lsn' in outcome && outcome.lsn !== undefined),
      // The IndexedDB copy is only a mirror (SQLite's LSN wins on start): a failed write of it is
      // reported, and sync goes on.
      checkpointLsn((lsn) => from(this.meta ? this.meta.set('lsn', lsn).catch((error) => this.emitError(error, { lsnMirror: lsn })) : Promise.resolve()), (outcome) => outcome.lsn, { initialLsn: fresh ? '0/0' : this.changes!.lsn }),
      tap((outcome) => {
        this.lsnSubject.next(outcome.lsn);
        this.bus.emit('lsn_updated', { lsn: outcome.lsn });
        if (outcome.ack) send({ type: 'ack', lsn: outcome.lsn });
        this.checkCaughtUp();
      }),
      ignoreElements(),
    );
  }

  private async applyMessage(message: ApplyMessage | SessionBroken, send: (message: ClientMessage) => void): Promise<ApplyOutcome | { broken: Error }> {
    if (message.type === 'session_broken') {
      // The open snapshot's rows are no snapshot: drop them with the checkpoint (still 0/0 since its begin).
      if (message.discardSnapshot) await this.changes!.resetData();
      return { broken: message.error };
    }
    const outcome = await this.changes!.apply(message);
    if (message.type === 'snapshot_chunk') send({ type: 'snapshot_ack', seq: message.seq });
    if (message.type === 'push_result') {
      this.sender!.answered();
    }
    return outcome;
  }

  private onControl(message: ServerMessage | SessionBroken, send: (message: ClientMessage) => void): void {
    switch (message.type) {
      case 'welcome':
        return this.onWelcome(message, send);
      case 'ping':
        return send({ type: 'pong', ...(message.id !== undefined && { id: message.id }) });
      case 'pong':
        if (message.lsn) this.serverHead = maxLsn(this.serverHead, message.lsn);
        if (message.id !== undefined) {
          const sentAt = this.pingSentAt.get(message.id);
          if (sentAt !== undefined) this.answeredUpTo = Math.max(this.answeredUpTo, sentAt);
          this.pingSentAt.delete(message.id);
          this.probes.get(message.id)?.(true);
        }
        return;
      case 'error':
        return this.emitError(Object.assign(new Error(message.message), { code: message.code, retryable: message.retryable, context: { ref: message.ref, fromServer: true } }));
      case 'changes':
        this.serverHead = maxLsn(this.serverHead, message.lsn);
        return;
      case 'push_result':
        for (const result of message.results) if ('lsn' in result && result.lsn) this.serverHead = maxLsn(this.serverHead, result.lsn);
        return;
    }
  }

  private onWelcome(welcome: Welcome, send: (message: ClientMessage) => void): void {
    this.serverHead = welcome.serverLsn;
    this.maxPush = welcome.limits.maxChangesPerPush;
    // The session first, then the state: whoever reacts to the status change (whenSynced) needs it.
    this.sessionSend = send;
    this.sessionId = welcome.sessionId;
    this.dispatch({ type: 'welcome', mode: welcome.mode });
    const lsn = this.changes!.lsn;
    if (!welcome.clientKnown && this.registered) {
      // The server lost track of this client (a new or restored server): hello registered it again;
      // the outbox is kept and goes out below, and the mode (usually reset) re-syncs the data.
      this.bus.emit('client_reidentified', { clientId: this.id, lsn, mode: welcome.mode });
    }
    if (!this.registered) {
      this.registered = true;
      void writeState(this.db!, 'registered', '1').catch((error) => this.emitError(error));
    }
    if (welcome.reason === 'schema_mismatch') this.reportSchemaMismatch(welcome);
    this.bus.emit('connected', { mode: welcome.mode, reason: welcome.reason, serverLsn: welcome.serverLsn, sessionId: welcome.sessionId });
    this.settleConnect(true);
    // Answers to pushes of an earlier connection will never come: send those changes again now.
    void this.changes!.outbox.requeueSent().then(() => this.requestFlush(), (error) => this.emitError(error));
    this.checkCaughtUp();
  }

  /**
   * The server's schema differs from ours: say how, once its identifiers were checked (a name that
   * is no plain identifier makes the welcome invalid, reported escaped and cut short). The snapshot follows
   * either way; rows of tables or columns this client does not know will pause sync.
   */
  private reportSchemaMismatch(welcome: Welcome): void {
    let server: { serverHash: string; differences: SchemaDifference[] } | undefined;
    if (welcome.schema) {
      try {
        const theirs = defineSchema(welcome.schema);
        server = { serverHash: theirs.hash, differences: schemaDifferences(this.schema, theirs) };
      } catch (error) {
        this.emitError(new SyncProtocolError('invalid_message', `the welcome carries a schema that is not valid: ${(error as Error).message.slice(0, 200)}`, { ref: 'welcome' }));
      }
    }
    this.bus.emit('schema_mismatch', { clientHash: this.schema.hash, ...server });
  }

  private checkCaughtUp(): void {
    if (this.state.status === 'syncing' && compareLsn(this.changes!.lsn, this.serverHead) >= 0) this.dispatch({ type: 'caught_up' });
  }

  private stopConnection(): void {
    this.connection?.unsubscribe();
    this.connection = undefined;
    this.sessionSend = undefined;
    this.sessionId = undefined;
    this.failProbes();
  }

  private settleConnect(ok: boolean): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    waiters.forEach((resolve) => resolve(ok));
  }

  private dispatch(event: ConnectionEvent): void {
    const next = transition(this.state, event, { delayMs: () => this.lastDelayMs });
    if (next === this.state) return;
    this.state = next;
    if (this.status.value !== next.status && !this.status.closed) {
      this.status.next(next.status);
      this.bus.emit('status_changed', { status: next.status, ...('attempt' in next && { attempt: next.attempt }) });
    }
  }

  private requestFlush(): void {
    if (!this.cleanedUp) this.sender?.request();
  }

  private emitError(error: unknown, extra: Record<string, unknown> = {}): void {
    const event = toErrorEvent(error);
    this.bus.emit('error', { ...event, context: { ...event.context, ...extra } });
  }
}

export function createSyncClient(options: SyncClientOptions): SyncClient {
  return new SyncClient(options);
}
