import { BehaviorSubject, catchError, EMPTY, map, merge, type Observable, type Subscription } from 'rxjs';
import { ZERO_LSN, type Lsn } from '../protocol/index.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import type { SyncEventMessage } from '../streams/events.js';

/**
 * The client's sync state as one value, for a status bar: the connection's phase beside what it
 * means for the data. `SyncClient.syncStatus$` emits it whenever a field changes.
 */
export interface SyncStatus {
  /** The connection's status (what status$ says). */
  phase: ConnectionStatus;
  /** A server welcomed this client and the socket is open (`syncing` or `live`). */
  connected: boolean;
  /**
   * The local tables hold a complete copy of the server's as of some checkpoint: a snapshot was
   * applied (now, or in an earlier run: the stored checkpoint is past 0/0), or the client caught
   * up. False while a snapshot replaces the data, and after resetLSN() until the next one is in.
   */
  hasSynced: boolean;
  /** When (the scheduler's milliseconds) the client was last caught up with the server: it went live, or applied changes while live. Null until then in this run. */
  lastSyncedAt: number | null;
  /** Local writes the server has not answered yet (the outbox's pending and sent entries). */
  pending: number;
  /** While a snapshot is being applied: its rows so far and expected (the server's estimate); null otherwise. */
  download: { rowsDone: number; rowsTotal: number } | null;
}

/** What moves the status: the client's events, its published checkpoint, and the outbox's open count. */
export type SyncStatusInput = SyncEventMessage | { type: 'lsn'; lsn: Lsn } | { type: 'pending'; count: number };

export const initialSyncStatus = (phase: ConnectionStatus): SyncStatus => ({
  phase,
  connected: isConnected(phase),
  hasSynced: false,
  lastSyncedAt: null,
  pending: 0,
  download: null,
});

const isConnected = (phase: ConnectionStatus): boolean => phase === 'syncing' || phase === 'live';

/** The status after `input`: a pure reducer, which answers the very same object when nothing changed. */
export function nextSyncStatus(status: SyncStatus, input: SyncStatusInput): SyncStatus {
  switch (input.type) {
    case 'status_changed': {
      const phase = input.data.status;
      return changed(status, {
        phase,
        connected: isConnected(phase),
        ...(phase === 'live' && { hasSynced: true, lastSyncedAt: input.at }),
        // A snapshot is applied while syncing only: one cut short is started afresh on the next connection.
        ...(phase !== 'syncing' && { download: null }),
      });
    }
    case 'lsn':
      return input.lsn === ZERO_LSN ? status : changed(status, { hasSynced: true });
    case 'lsn_updated':
      return input.data.reset ? changed(status, { hasSynced: false }) : status;
    case 'initial_sync_started':
      return changed(status, { hasSynced: false, download: { rowsDone: 0, rowsTotal: input.data.tables.reduce((n, t) => n + t.rows, 0) } });
    case 'initial_sync_progress':
      return changed(status, { download: { rowsDone: input.data.rowsDone, rowsTotal: input.data.rowsTotal } });
    case 'initial_sync_complete':
      return changed(status, { hasSynced: true, download: null });
    case 'changes_applied':
      return status.phase === 'live' ? changed(status, { lastSyncedAt: input.at }) : status;
    case 'pending':
      return changed(status, { pending: input.count });
    default:
      return status;
  }
}

function changed(status: SyncStatus, patch: Partial<SyncStatus>): SyncStatus {
  const next = { ...status, ...patch };
  const same =
    next.phase === status.phase &&
    next.connected === status.connected &&
    next.hasSynced === status.hasSynced &&
    next.lastSyncedAt === status.lastSyncedAt &&
    next.pending === status.pending &&
    next.download?.rowsDone === status.download?.rowsDone &&
    next.download?.rowsTotal === status.download?.rowsTotal;
  return same ? status : next;
}

/**
 * Owns the current SyncStatus: folds the client's events and checkpoint into it from the start,
 * and the outbox's open count once the database is open (`followOutbox`).
 */
export class SyncStatusTracker {
  private readonly subject: BehaviorSubject<SyncStatus>;
  private readonly subscriptions: Subscription[] = [];
  readonly status$: Observable<SyncStatus>;

  constructor(events$: Observable<SyncEventMessage>, lsn$: Observable<Lsn>, phase: ConnectionStatus) {
    this.subject = new BehaviorSubject(initialSyncStatus(phase));
    this.status$ = this.subject.asObservable();
    this.follow(merge(events$, lsn$.pipe(map((lsn) => ({ type: 'lsn' as const, lsn })))));
  }

  get current(): SyncStatus {
    return this.subject.value;
  }

  /** Follows the outbox's open count. */
  followOutbox(count$: Observable<number>): void {
    this.follow(count$.pipe(map((count) => ({ type: 'pending' as const, count }))));
  }

  complete(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subject.complete();
  }

  private follow(input$: Observable<SyncStatusInput>): void {
    this.subscriptions.push(
      input$.pipe(catchError(() => EMPTY)).subscribe((input) => {
        const next = nextSyncStatus(this.subject.value, input);
        if (next !== this.subject.value && !this.subject.closed) this.subject.next(next);
      }),
    );
  }
}
