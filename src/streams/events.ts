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
 * The client's event stream, and the callback style on top of it: `on` subscribes a callback to
 * one event type, `off` unsubscribes exactly that callback.
 */
export class EventBus {
  private readonly subject = new Subject<SyncEventMessage>();
  private readonly callbacks = new Map<string, Map<(data: any) => void, Subscription>>();
  readonly events$: Observable<SyncEventMessage> = this.subject.asObservable();

  constructor(private readonly now: () => number) {}

  emit<T>(type: SyncEvent, data: T): void {
    this.subject.next({ type, data, at: this.now() });
  }

  of<T = any>(type: SyncEvent): Observable<SyncEventMessage<T>> {
    return this.events$.pipe(filter((event) => event.type === type));
  }

  on(type: SyncEvent, callback: (data: any) => void): void {
    if (!SYNC_EVENTS.includes(type)) throw new TypeError(`unknown sync event ${JSON.stringify(type)}; known: ${SYNC_EVENTS.join(', ')}`);
    const forType = this.callbacks.get(type) ?? new Map();
    this.callbacks.set(type, forType);
    if (forType.has(callback)) return;
    forType.set(callback, this.of(type).subscribe((event) => {
      try {
        callback(event.data);
      } catch (error) {
        // A throwing listener must not break the engine or the other listeners.
        console.error(`[rxsync] a '${type}' listener threw:`, error);
      }
    }));
  }

  off(type: SyncEvent, callback: (data: any) => void): void {
    this.callbacks.get(type)?.get(callback)?.unsubscribe();
    this.callbacks.get(type)?.delete(callback);
  }

  complete(): void {
    for (const forType of this.callbacks.values()) for (const subscription of forType.values()) subscription.unsubscribe();
    this.callbacks.clear();
    this.subject.complete();
  }
}
