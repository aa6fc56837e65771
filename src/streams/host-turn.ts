import { Observable } from 'rxjs';

/**
 * Completes once the host had a turn (its due timers, its pending I/O), as soon as it can:
 * `setImmediate` in Node (a zero-delay timer waits at least 1 ms there, which cost a tenth of an
 * initial sync's speed), a MessageChannel message in a browser or worker, a zero-delay timer
 * elsewhere. Used by the client to let a long apply queue breathe (applyInOrder's `yieldTo`).
 */
export function hostTurn(): Observable<void> {
  return new Observable<void>((subscriber) => {
    const done = () => {
      subscriber.next();
      subscriber.complete();
    };
    const host = globalThis as {
      setImmediate?: (fn: () => void) => unknown;
      clearImmediate?: (handle: unknown) => void;
      MessageChannel?: typeof MessageChannel;
    };
    if (typeof host.setImmediate === 'function') {
      const handle = host.setImmediate(done);
      return () => host.clearImmediate?.(handle);
    }
    if (typeof host.MessageChannel === 'function') {
      const channel = new host.MessageChannel();
      channel.port1.onmessage = done;
      channel.port2.postMessage(undefined);
      return () => channel.port1.close();
    }
    const handle = setTimeout(done, 0);
    return () => clearTimeout(handle);
  });
}
