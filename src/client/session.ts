import {
  audit,
  filter,
  first,
  ignoreElements,
  map,
  merge,
  NEVER,
  of,
  share,
  switchMap,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
  type Subject,
} from 'rxjs';
import {
  compareLsn,
  defineSchema,
  maxLsn,
  needsSnapshot,
  PROTOCOL_VERSION,
  schemaDifferences,
  SyncProtocolError,
  type ClientChange,
  type ClientMessage,
  type Lsn,
  type SchemaDifference,
  type ServerMessage,
  type SyncSchema,
  type Welcome,
} from '../protocol/index.js';
import { applyInOrder, checkpointLsn } from '../operators/index.js';
import { ApplyError } from '../errors.js';
import type { ApplyMessage, ApplyOutcome, SyncedData } from '../changes/synced-data.js';
import type { OutboxSender, PushTarget } from '../changes/outbox-sender.js';
import type { EventBus } from '../streams/events.js';
import { InboundFlow, type ReadControl } from '../streams/inbound-flow.js';
import { SessionGuard } from '../streams/session-guard.js';
import type { ResolvedOptions } from './options.js';

/** What a session needs from the client it belongs to. */
export interface SessionContext {
  readonly schema: SyncSchema;
  readonly options: ResolvedOptions;
  readonly scheduler: SchedulerLike;
  readonly bus: EventBus;
  readonly data: SyncedData;
  readonly sender: OutboxSender;
  /** Retries the batch a paused sync stopped on. */
  readonly resume$: Subject<void>;
  /** How a long apply queue gives the host a turn (default: a tick of the scheduler). */
  readonly yieldTo?: () => Observable<unknown>;
  clientId(): string;
  authToken(): Promise<string | undefined>;
  emitError(error: unknown, extra?: Record<string, unknown>): void;
  /** The server welcomed this session (after the session took note of it). */
  welcomed(session: SocketSession, welcome: Welcome): void;
  /** The checkpoint reached the server's head as last heard. */
  caughtUp(): void;
}

const DATA_TYPES = new Set(['snapshot_begin', 'snapshot_chunk', 'snapshot_end', 'changes', 'push_result', 'session_broken']);

/** Stands in the apply queue for a message that showed the server broke its LSN order. */
interface SessionBroken {
  type: 'session_broken';
  error: Error;
  discardSnapshot: boolean;
}

/**
 * One WebSocket connection, from its open to its close: everything that lives as long as the
 * socket does is here, and goes with it. It says hello, holds the server to the session's order
 * (SessionGuard), answers pings, applies the data messages in order (one transaction each) and
 * acknowledges them, holds back reading while many wait (InboundFlow), and keeps what the server
 * said of itself (its head LSN, its limits). While welcomed and open, it is where pushes go.
 */
export class SocketSession implements PushTarget {
  private readonly guard = new SessionGuard();
  private readonly flow = new InboundFlow();
  private send: (message: ClientMessage) => void = () => undefined;
  private open = false;
  private welcome: Welcome | undefined;
  /** The server's LSN as last heard (welcome, changes, pongs, push results). */
  serverHead: Lsn = '0/0';
  private pingSeq = 0;
  private readonly pingsSentAt = new Map<number, number>();
  private readonly probes = new Map<number, (answered: boolean) => void>();

  constructor(private readonly ctx: SessionContext) {}

  /** The host's next turn: the context's yieldTo, else a tick of the scheduler (virtual in tests). */
  private readonly hostTurn = (): Observable<unknown> => (this.ctx.yieldTo ?? (() => timer(0, this.ctx.scheduler)))();

  /** Welcomed and still open: pushes may go. */
  get active(): boolean {
    return this.open && this.welcome !== undefined;
  }
  get id(): string | undefined {
    return this.welcome?.sessionId;
  }
  get maxChangesPerPush(): number {
    return this.welcome?.limits.maxChangesPerPush ?? 0;
  }
  /** How long the server waits on a silent client before closing it (once welcomed). */
  get serverHeartbeatTimeoutMs(): number | undefined {
    return this.welcome?.limits.heartbeatTimeoutMs;
  }

  /** The socket opened: say hello. */
  opened(send: (message: ClientMessage) => void, reads: ReadControl | undefined): void {
    this.send = send;
    this.open = true;
    this.flow.attach(reads);
    void this.sayHello().catch((error) => this.ctx.emitError(error));
  }

  /** The socket closed (or the connection is being torn down). */
  closed(): void {
    this.open = false;
    this.pingsSentAt.clear();
    for (const settle of [...this.probes.values()]) settle(false);
  }

  push(changes: ClientChange[]): void {
    this.guard.pushed(changes.map((change) => change.id));
    this.send({ type: 'push', changes });
  }

  /** Sends a ping; its pong tells the outbox how far the server had read (and the server's head). */
  ping(id = ++this.pingSeq): void {
    this.pingsSentAt.set(id, this.ctx.scheduler.now());
    this.send({ type: 'ping', id });
  }

  /** Pings and waits for the pong (which brings the server's head); false if the socket closed first. */
  probeServerHead(): Promise<boolean> {
    if (!this.active) return Promise.resolve(false);
    const id = ++this.pingSeq;
    return new Promise<boolean>((resolve) => {
      this.probes.set(id, (answered) => {
        this.probes.delete(id);
        resolve(answered);
      });
      this.ping(id);
    });
  }

  private async sayHello(): Promise<void> {
    const token = await this.ctx.authToken();
    const { current: lsn, setHash } = this.ctx.data.checkpoint;
    this.guard.helloSent(lsn);
    this.send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      clientId: this.ctx.clientId(),
      lsn,
      schemaHash: this.ctx.schema.hash,
      ...(token !== undefined && { token }),
      ...(setHash !== undefined && { setHash }),
    });
  }

  /**
   * The session's handling of the socket's (decoded) messages: control messages at once, data
   * messages through the ordered apply queue. Emits once, at the welcome (a healthy connection:
   * the reconnect backoff starts over). Messages the guard refuses are reported and dropped; one
   * that shows the server broke the LSN order becomes a `session_broken` item in the apply queue,
   * which ends the session once everything before it was applied.
   */
  messages(inbound$: Observable<ServerMessage>): Observable<void> {
    const shared$ = inbound$.pipe(
      map((message): ServerMessage | SessionBroken | null => {
        const refusal = this.guard.check(message);
        if (!refusal) return message;
        if (refusal.error) this.ctx.emitError(refusal.error);
        return refusal.endsSession ? { type: 'session_broken', error: refusal.error!, discardSnapshot: refusal.discardSnapshot } : null;
      }),
      filter((message): message is ServerMessage | SessionBroken => message !== null),
      share(),
    );
    const control$ = shared$.pipe(
      tap((message) => this.onControl(message)),
      ignoreElements(),
    );
    const welcome$ = shared$.pipe(first((message): message is Welcome => message.type === 'welcome'));
    const data$ = welcome$.pipe(switchMap((welcome) => this.dataPipeline(shared$, welcome)));
    return merge(control$, data$, welcome$.pipe(map(() => undefined)), NEVER);
  }

  private dataPipeline(shared$: Observable<ServerMessage | SessionBroken>, welcome: Welcome): Observable<never> {
    const { apply } = this.ctx.options;
    const { checkpoint } = this.ctx.data;
    // Where the published checkpoint starts: 0/0 when a snapshot comes (a reset may go back to a
    // lower LSN), else the checkpoint at the welcome.
    const startLsn: Lsn = needsSnapshot(welcome.mode) ? '0/0' : checkpoint.current;
    return shared$.pipe(
      filter((m): m is ApplyMessage | SessionBroken => DATA_TYPES.has(m.type)),
      tap(() => this.flow.queued()),
      applyInOrder((message: ApplyMessage | SessionBroken) => this.apply(message), {
        ...apply,
        scheduler: this.ctx.scheduler,
        resume$: this.ctx.resume$,
        yieldTo: this.hostTurn,
        onRetry: (error, attempt, message) => this.ctx.emitError(error, { retrying: true, attempt, message: message.type, lsn: lsnOf(message) }),
        onFailed: (error, message) => {
          const lsn = lsnOf(message);
          const reason = (error as Error).message;
          this.ctx.emitError(
            new ApplyError(
              lsn ?? this.ctx.data.checkpoint.current,
              `could not apply ${message.type}${lsn ? ` at ${lsn}` : ''}: ${reason}; sync is paused (resumeSync() retries)`,
              { cause: error },
            ),
          );
          this.ctx.bus.emit('sync_paused', { message: message.type, lsn, reason });
        },
      }),
      tap((outcome) => {
        this.flow.done();
        // Everything before the broken message was applied: now end the session (the reconnect follows).
        if ('broken' in outcome) throw outcome.broken;
      }),
      filter((outcome): outcome is Required<Pick<ApplyOutcome, 'lsn'>> & ApplyOutcome => 'lsn' in outcome && outcome.lsn !== undefined),
      checkpointLsn(
        (lsn) => of(checkpoint.publish(lsn)),
        (outcome) => outcome.lsn,
        { initialLsn: startLsn },
      ),
      tap(() => this.checkCaughtUp()),
      (checkpointed$) => this.acks(checkpointed$),
    );
  }

  /**
   * One ack per host turn, of the latest LSN (acks are cumulative), sent once the turn's watches
   * have run: writing to the socket wakes the server, and doing it before the live queries re-read
   * put that wake-up (a third of a millisecond here) in every emission's way.
   */
  private acks(checkpointed$: Observable<ApplyOutcome & { lsn: Lsn }>): Observable<never> {
    return checkpointed$.pipe(
      filter((outcome) => outcome.ack === true),
      audit(this.hostTurn),
      tap((outcome) => this.send({ type: 'ack', lsn: outcome.lsn })),
      ignoreElements(),
    );
  }

  private async apply(message: ApplyMessage | SessionBroken): Promise<ApplyOutcome | { broken: Error }> {
    if (message.type === 'session_broken') {
      // The open snapshot's rows are no snapshot: drop them with the checkpoint (still 0/0 since its begin).
      if (message.discardSnapshot) await this.ctx.data.resetData();
      return { broken: message.error };
    }
    const outcome = await this.ctx.data.apply(message);
    if (message.type === 'snapshot_chunk') this.send({ type: 'snapshot_ack', seq: message.seq });
    if (message.type === 'push_result') this.ctx.sender.answered();
    return outcome;
  }

  private onControl(message: ServerMessage | SessionBroken): void {
    switch (message.type) {
      case 'welcome':
        return this.onWelcome(message);
      case 'ping':
        return this.send({ type: 'pong', ...(message.id !== undefined && { id: message.id }) });
      case 'pong':
        if (message.lsn) this.serverHead = maxLsn(this.serverHead, message.lsn);
        if (message.id !== undefined) {
          const sentAt = this.pingsSentAt.get(message.id);
          if (sentAt !== undefined) this.ctx.sender.pingAnswered(sentAt);
          this.pingsSentAt.delete(message.id);
          this.probes.get(message.id)?.(true);
        }
        return;
      case 'error':
        return this.ctx.emitError(
          Object.assign(new Error(message.message), { code: message.code, retryable: message.retryable, context: { ref: message.ref, fromServer: true } }),
        );
      case 'changes':
        this.serverHead = maxLsn(this.serverHead, message.lsn);
        return;
      case 'push_result':
        for (const result of message.results) if ('lsn' in result && result.lsn) this.serverHead = maxLsn(this.serverHead, result.lsn);
        return;
    }
  }

  private onWelcome(welcome: Welcome): void {
    this.serverHead = welcome.serverLsn;
    this.welcome = welcome;
    if (welcome.reason === 'schema_mismatch') this.reportSchemaMismatch(welcome);
    this.ctx.welcomed(this, welcome);
    this.checkCaughtUp();
  }

  checkCaughtUp(): void {
    if (compareLsn(this.ctx.data.checkpoint.current, this.serverHead) >= 0) this.ctx.caughtUp();
  }

  /**
   * The server's schema differs from ours: say how, once its identifiers were checked (a name that
   * is no plain identifier makes the welcome invalid, reported escaped and cut short). The snapshot
   * follows either way; rows of tables or columns this client does not know will pause sync.
   */
  private reportSchemaMismatch(welcome: Welcome): void {
    let server: { serverHash: string; differences: SchemaDifference[] } | undefined;
    if (welcome.schema) {
      try {
        const theirs = defineSchema(welcome.schema);
        server = { serverHash: theirs.hash, differences: schemaDifferences(this.ctx.schema, theirs) };
      } catch (error) {
        this.ctx.emitError(
          new SyncProtocolError('invalid_message', `the welcome carries a schema that is not valid: ${(error as Error).message.slice(0, 200)}`, {
            ref: 'welcome',
          }),
        );
      }
    }
    this.ctx.bus.emit('schema_mismatch', { clientHash: this.ctx.schema.hash, ...server });
  }
}

/** The LSN a queued message is at, if it has one (for error reports). */
function lsnOf(message: { type: string }): Lsn | undefined {
  return 'lsn' in message ? (message.lsn as Lsn) : undefined;
}
