import { Observable } from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';
import { BufferOverflowError } from '../errors.js';

export interface BufferWhileDisconnectedOptions {
  /**
   * Most messages held at once. One more while disconnected errors the stream with a
   * `BufferOverflowError` (nothing is dropped silently: the caller decides, e.g. resubscribe and
   * resend from its durable outbox). Default Infinity.
   */
  maxBuffered?: number;
}

/**
 * Lets outbound messages through while `connected$` last said `true` and holds them, in order,
 * while it said `false` (or has said nothing yet: the start counts as disconnected). On `true` the
 * held messages are emitted in order before any newer one. If the connection drops again during a
 * flush (say, a send inside the subscriber triggers a disconnect), the rest stays held.
 *
 * Completion of the source waits until the buffer is flushed; a source error, an error of
 * `connected$` or an overflow errors at once. Unsubscribing drops the buffer (the durable copy is
 * the caller's outbox, not this operator).
 *
 * ```
 * connected$: f-----t------f-----t----
 * source:     --a-b-----c---d-e------|
 * bufferWhileDisconnected(connected$)
 * result:     ------(ab)c--------(de)|
 * ```
 *
 * @example
 * const sent$ = outbound$.pipe(bufferWhileDisconnected(status$.pipe(map(isSessionOpen))));
 * sent$.subscribe((message) => socket.send(JSON.stringify(message)));
 *
 * @param connected$ the connection's state; `true` means messages can be sent now.
 * @param options `maxBuffered`, see {@link BufferWhileDisconnectedOptions}.
 */
export function bufferWhileDisconnected<T>(
  connected$: Observable<boolean>,
  options: BufferWhileDisconnectedOptions = {},
): MonoTypeOperatorFunction<T> {
  const { maxBuffered = Infinity } = options;
  if (!(maxBuffered >= 0)) throw new RangeError(`maxBuffered must be >= 0, got ${maxBuffered}`);
  return (source) =>
    new Observable<T>((subscriber) => {
      const buffer: T[] = [];
      let connected = false;
      let sourceDone = false;
      let flushing = false;

      const flush = () => {
        // Re-entrant calls (a next() below leads to another flush) leave the work to this loop.
        if (flushing) return;
        flushing = true;
        while (connected && buffer.length > 0 && !subscriber.closed) subscriber.next(buffer.shift()!);
        flushing = false;
        if (sourceDone && buffer.length === 0) subscriber.complete();
      };

      const connection = connected$.subscribe({
        next(value) {
          connected = value;
          if (connected) flush();
        },
        error: (err) => subscriber.error(err),
      });

      const upstream = source.subscribe({
        next(message) {
          if (subscriber.closed) return;
          if (connected && buffer.length === 0 && !flushing) {
            subscriber.next(message);
          } else if (buffer.length >= maxBuffered) {
            subscriber.error(new BufferOverflowError(maxBuffered));
          } else {
            buffer.push(message);
            // Connected but mid-flush: the running loop will pick it up.
          }
        },
        error: (err) => subscriber.error(err),
        complete() {
          sourceDone = true;
          if (buffer.length === 0) subscriber.complete();
        },
      });

      return () => {
        buffer.length = 0;
        connection.unsubscribe();
        upstream.unsubscribe();
      };
    });
}
