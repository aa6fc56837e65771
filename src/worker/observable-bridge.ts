/**
 * Observables across the worker boundary, on comlink.
 *
 * Main thread ({@link fromRemote}): subscribing exposes an observer object on a MessageChannel of
 * its own and asks the worker to subscribe with the other end (an {@link ObserverPort}, which the
 * worker wraps); unsubscribing asks the worker to stop that subscription and closes the tab's end.
 * The channel is made here rather than by `comlink.proxy` so that the tab can close its end itself:
 * a worker that died (an OPFS holder whose tab closed) never releases it.
 *
 * Worker ({@link pipeToRemote}): subscribes to the engine's Observable and forwards next / error /
 * complete to the remote observer. Whenever the subscription ends (unsubscribed, errored, completed,
 * or the tab detached) the observer's proxy is released, which closes both ends of its channel: a
 * finished subscription leaves no port open on either side.
 *
 * Each subscription's values travel over its own port, so they arrive in order, and an error or
 * completion arrives after the values before it. Errors travel as {@link SerializedError}.
 */
import { Observable, type Subscription } from 'rxjs';
import { expose, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import { deserializeError, serializeError, type SerializedError } from './errors.js';

/** What the worker calls back on the main thread. */
export interface RemoteObserver<T> {
  next(value: T): void;
  error(error: SerializedError): void;
  complete(): void;
}

/** The worker's end of a subscription's channel, transferred with the subscribe call. */
export type ObserverPort = MessagePort;

// ---- main thread ---------------------------------------------------------------------------

/**
 * A cold Observable whose every subscription runs in the worker. `start` sends the observer and
 * resolves to the subscription's id in the worker; `stop` ends it there. A failing `start` errors
 * the Observable.
 */
export function fromRemote<T>(start: (observer: ObserverPort) => Promise<number>, stop: (id: number) => Promise<unknown>): Observable<T> {
  return new Observable<T>((subscriber) => {
    let open = true;
    const channel = new MessageChannel();
    expose(
      {
        next: (value: T) => {
          if (open) subscriber.next(value);
        },
        error: (error: SerializedError) => {
          if (!open) return;
          open = false;
          subscriber.error(deserializeError(error));
        },
        complete: () => {
          if (!open) return;
          open = false;
          subscriber.complete();
        },
      } satisfies RemoteObserver<T>,
      channel.port1,
    );
    const id = start(transfer(channel.port2, [channel.port2]));
    id.catch((error: unknown) => {
      if (!open) return;
      open = false;
      subscriber.error(error);
    });
    return () => {
      const wasOpen = open;
      open = false;
      // Finished on the worker's side already (it released the observer): nothing to stop.
      if (wasOpen) void id.then((value) => stop(value)).catch(() => undefined);
      channel.port1.close();
    };
  });
}

// ---- worker --------------------------------------------------------------------------------

/** A worker-side subscription feeding a remote observer. */
export interface RemoteSubscription {
  /** Stops the source and releases the observer (idempotent). */
  stop(): void;
  readonly closed: boolean;
}

/**
 * Subscribes to `source$` and forwards to `observer` (a comlink remote). `onEnd` runs once, when the
 * subscription ends for any reason, after which the observer's proxy is released.
 */
export function pipeToRemote<T>(source$: Observable<T>, observerOrPort: Remote<RemoteObserver<T>> | ObserverPort, onEnd: () => void): RemoteSubscription {
  const observer = isPort(observerOrPort) ? wrap<RemoteObserver<T>>(observerOrPort) : observerOrPort;
  let closed = false;
  let subscription: Subscription | undefined;
  let endedEarly = false;
  // A call whose value cannot be cloned rejects (DataCloneError): report it as the stream's error.
  const send = (call: () => Promise<unknown>) => {
    let pending: Promise<unknown>;
    try {
      pending = call();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.catch((error: unknown) => {
      if (closed) return;
      void Promise.resolve(observer.error(serializeError(error))).catch(() => undefined);
      end();
    });
  };
  const end = () => {
    if (closed) return;
    closed = true;
    if (subscription) subscription.unsubscribe();
    else endedEarly = true;
    onEnd();
    // Sent after any error/complete above on the same port, so the main thread sees those first.
    try {
      observer[releaseProxy]();
    } catch {
      // already released
    }
  };
  subscription = source$.subscribe({
    next: (value) => {
      if (!closed) send(() => (observer as unknown as Remote<RemoteObserver<unknown>>).next(value) as Promise<unknown>);
    },
    error: (error: unknown) => {
      if (closed) return;
      send(() => observer.error(serializeError(error)) as Promise<unknown>);
      end();
    },
    complete: () => {
      if (closed) return;
      send(() => observer.complete() as Promise<unknown>);
      end();
    },
  });
  // The source finished synchronously, before `subscription` was assigned.
  if (endedEarly) subscription.unsubscribe();
  return {
    stop: end,
    get closed() {
      return closed;
    },
  };
}

/** A tab's {@link ObserverPort}, as opposed to a comlink proxy (a function, to comlink's wrap). */
export function isPort(value: unknown): value is MessagePort {
  return typeof MessagePort === 'function' && value instanceof MessagePort;
}
