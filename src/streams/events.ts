import { filter, Subject, type Observable, type Subscription } from 'rxjs';

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

export interface SyncEventMessage<T = any> {
  type: SyncEvent;
  data: T;
  /** Milliseconds since the epoch, from the client's scheduler. */
  at: number;
}

/**
 * Callbacks on an event stream, by event type: `on` subscribes a callback to one type (once,
 * however often it is added), `off` unsubscribes exactly that callback. A callback that throws is
 * reported on the console and breaks neither the stream nor the other callbacks. The client and
 * the worker proxy both keep theirs here.
 */
export class EventListeners {
  private readonly callbacks = new Map<SyncEvent, Map<(data: any) => void, Subscription>>();

  constructor(private readonly events$: Observable<SyncEventMessage>) {}

  on(type: SyncEvent, callback: (data: any) => void): void {
    if (!SYNC_EVENTS.includes(type)) throw new TypeError(`unknown sync event ${JSON.stringify(type)}; known: ${SYNC_EVENTS.join(', ')}`);
    const forType = this.callbacks.get(type) ?? new Map<(data: any) => void, Subscription>();
    this.callbacks.set(type, forType);
    if (forType.has(callback)) return;
    forType.set(
      callback,
      this.events$.pipe(filter((event) => event.type === type)).subscribe({
        next: (event) => {
          try {
            callback(event.data);
          } catch (error) {
            console.error(`[rxsync] a '${type}' listener threw:`, error);
          }
        },
        error: () => undefined,
      }),
    );
  }

  off(type: SyncEvent, callback: (data: any) => void): void {
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

  emit<T>(type: SyncEvent, data: T): void {
    this.subject.next({ type, data, at: this.now() });
  }

  on(type: SyncEvent, callback: (data: any) => void): void {
    this.listeners.on(type, callback);
  }

  off(type: SyncEvent, callback: (data: any) => void): void {
    this.listeners.off(type, callback);
  }

  complete(): void {
    this.listeners.clear();
    this.subject.complete();
  }
}
