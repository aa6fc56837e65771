import { filter, Subject, type Observable, type Subscription } from 'rxjs';
import type { AppliedOutcome, LocalChangeEntry, RejectedOutcome } from '../changes/outbox.js';
import type { SyncErrorEvent } from '../errors.js';
import type { Lsn, ResetReason, SchemaDifference, SnapshotBegin, SyncMode } from '../protocol/index.js';
import type { ConnectionStatus } from './connection-state.js';

/** Every event a SyncClient emits. `on(name, cb)` and `events$` see the same stream. */
export const SYNC_EVENTS = [
  'status_changed',
  'connected',
  'disconnected',
  'changes_received',
  'changes_applied',
  'client_change_sent',
  'client_change_applied',
  'client_change_rejected',
  'client_change_failed',
  'client_reidentified',
  'lsn_updated',
  'initial_sync_started',
  'initial_sync_progress',
  'initial_sync_complete',
  'outbox_stalled',
  'sync_paused',
  'schema_mismatch',
  'error',
] as const;
export type SyncEvent = (typeof SYNC_EVENTS)[number];

/** One table's part of a snapshot, as `initial_sync_progress` reports it. */
export interface TableSyncProgress {
  table: string;
  rowsDone: number;
  rowsTotal: number;
  chunksDone: number;
  chunksTotal: number;
}

/**
 * `initial_sync_progress`: after each snapshot chunk is written, the totals so far (`rowsTotal` is
 * the server's estimate, raised if exceeded). The chunks share a transaction, committed every
 * 10,000 rows or 500 ms (snapshot-writer.ts): queries and watches see the rows from that commit on.
 */
export interface InitialSyncProgress {
  /** The table of the chunk just applied. */
  table: string;
  tables: TableSyncProgress[];
  rowsDone: number;
  rowsTotal: number;
}

/**
 * `schema_mismatch`: the server's welcome said our schema hash is not its own (a reset follows).
 * `serverHash` and `differences` (sorted by table, then column; named from this client's side:
 * `table_only_ours` is a table the server lacks) are there when the welcome carried the server's
 * schema and it was valid.
 */
export interface SchemaMismatch {
  clientHash: string;
  serverHash?: string;
  differences?: SchemaDifference[];
}

/**
 * What each event carries (`data` on events$, the callback's argument for `on`). One place for
 * every payload: the emitting code is checked against it, and listeners are typed by it.
 */
export interface SyncEventMap {
  /** The connection's status moved (see ConnectionStatus); `attempt` while reconnecting. */
  status_changed: { status: ConnectionStatus; attempt?: number };
  /** A server welcomed this client (at `url`): how it will catch up (`mode`), and why a reset (`reason`). */
  connected: { mode: SyncMode; reason?: ResetReason; serverLsn: Lsn; sessionId: string; url: string };
  /**
   * The connection went: on purpose (`disconnect()`: only `reason`), or lost, and reconnect
   * number `attempt` follows in `retryInMs` (`url`: the server it lost, once it had dialed one).
   * Checking `attempt !== undefined` tells them apart.
   */
  disconnected:
    { reason: string; attempt?: undefined; retryInMs?: undefined; url?: undefined } | { reason: string; attempt: number; retryInMs: number; url?: string };
  /** A changes message arrived (before it is applied). */
  changes_received: { lsn: Lsn; count: number };
  /** A changes message was applied and the checkpoint moved to `lsn`. */
  changes_applied: { lsn: Lsn; count: number; tables: string[] };
  /** A push went out with these local changes. */
  client_change_sent: { ids: string[]; count: number };
  /** The server applied one of this client's changes (its answer, or its echo on the stream). */
  client_change_applied: AppliedOutcome;
  /** The server refused one of this client's changes; it was undone locally. */
  client_change_rejected: RejectedOutcome;
  /** A change went unanswered `maxAttempts` times; the outbox gave up on it. */
  client_change_failed: LocalChangeEntry;
  /** The server no longer knew this client: it registered again (its outbox kept). */
  client_reidentified: { clientId: string; lsn: Lsn; mode: SyncMode };
  /** The checkpoint was published (`reset`: resetLSN() set it back to 0/0). */
  lsn_updated: { lsn: Lsn; reset?: boolean };
  /** A snapshot begins: what it holds, table by table (estimates). */
  initial_sync_started: { lsn: Lsn; tables: SnapshotBegin['tables'] };
  initial_sync_progress: InitialSyncProgress;
  /** The snapshot was applied; the checkpoint is `lsn`. */
  initial_sync_complete: { lsn: Lsn; rows: number };
  /** The outbox has `open` entries and nothing moved for `sinceMs`. */
  outbox_stalled: { open: number; sinceMs: number; status: ConnectionStatus };
  /** A server message would not apply after every retry: sync waits for resumeSync(). */
  sync_paused: { message: string; lsn: Lsn | undefined; reason: string };
  schema_mismatch: SchemaMismatch;
  error: SyncErrorEvent;
}

// The map and SYNC_EVENTS name the same events: one missing on either side is a compile error.
type WithoutPayload = Exclude<SyncEvent, keyof SyncEventMap>;
type NotAnEvent = Exclude<keyof SyncEventMap, SyncEvent>;
const everyEventMapped: [WithoutPayload | NotAnEvent] extends [never] ? true : never = true;
void everyEventMapped;

/** One event on `events$`: a union over the event types, so that checking `type` narrows `data`. */
export type SyncEventMessage<E extends SyncEvent = SyncEvent> = {
  [K in E]: {
    type: K;
    data: SyncEventMap[K];
    /** Milliseconds since the epoch, from the client's scheduler. */
    at: number;
  };
}[E];

/** A callback for the event `E`. */
export type SyncEventListener<E extends SyncEvent> = (data: SyncEventMap[E]) => void;

/**
 * Callbacks on an event stream, by event type: `on` subscribes a callback to one type (once,
 * however often it is added), `off` unsubscribes exactly that callback. A callback that throws is
 * reported on the console and breaks neither the stream nor the other callbacks. The client and
 * the worker proxy both keep theirs here.
 */
export class EventListeners {
  private readonly callbacks = new Map<SyncEvent, Map<SyncEventListener<never>, Subscription>>();

  constructor(private readonly events$: Observable<SyncEventMessage>) {}

  on<E extends SyncEvent>(type: E, callback: SyncEventListener<E>): void {
    if (!SYNC_EVENTS.includes(type)) throw new TypeError(`unknown sync event ${JSON.stringify(type)}; known: ${SYNC_EVENTS.join(', ')}`);
    const forType = this.callbacks.get(type) ?? new Map<SyncEventListener<never>, Subscription>();
    this.callbacks.set(type, forType);
    if (forType.has(callback)) return;
    forType.set(
      callback,
      this.events$.pipe(filter((event) => event.type === type)).subscribe({
        next: (event) => {
          try {
            callback(event.data as SyncEventMap[E]); // the filter above keeps type E only
          } catch (error) {
            console.error(`[rxsync] a '${type}' listener threw:`, error);
          }
        },
        error: () => undefined,
      }),
    );
  }

  off<E extends SyncEvent>(type: E, callback: SyncEventListener<E>): void {
    this.callbacks.get(type)?.get(callback)?.unsubscribe();
    this.callbacks.get(type)?.delete(callback);
  }

  /** Unsubscribes every callback. */
  clear(): void {
    for (const forType of this.callbacks.values()) for (const subscription of forType.values()) subscription.unsubscribe();
    this.callbacks.clear();
  }
}

/** The client's event stream, with its callbacks (`on`/`off`). */
export class EventBus {
  private readonly subject = new Subject<SyncEventMessage>();
  readonly events$: Observable<SyncEventMessage> = this.subject.asObservable();
  private readonly listeners = new EventListeners(this.events$);

  constructor(private readonly now: () => number) {}

  emit<E extends SyncEvent>(type: E, data: SyncEventMap[E]): void {
    // TypeScript cannot tie `type` and `data` together through E: the signature above does.
    this.subject.next({ type, data, at: this.now() } as SyncEventMessage);
  }

  on<E extends SyncEvent>(type: E, callback: SyncEventListener<E>): void {
    this.listeners.on(type, callback);
  }

  off<E extends SyncEvent>(type: E, callback: SyncEventListener<E>): void {
    this.listeners.off(type, callback);
  }

  complete(): void {
    this.listeners.clear();
    this.subject.complete();
  }
}
