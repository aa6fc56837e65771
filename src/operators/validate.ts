import { Observable } from 'rxjs';
import type { OperatorFunction } from 'rxjs';

/** What a decode function returns: the value, or why the input is not one. */
export type DecodeResult<T, E> = { ok: true; value: T } | { ok: false; error: E };

/**
 * Decodes every raw frame with `decode`. A valid frame emits its decoded value; an invalid one is
 * reported to `onInvalid(error, frame)` and dropped, and the stream goes on: bad input never
 * errors the stream. `decode` is expected not to throw (the protocol's decoders do not); if it or
 * `onInvalid` throws anyway, that is a bug and the error goes downstream.
 *
 * ```
 * source:   --a--x--b--|        (x does not decode)
 * validate(decode, onInvalid)
 * result:   --A-----B--|        onInvalid(error(x), x) called at frame 5
 * ```
 *
 * @example
 * const inbound$ = frames$.pipe(
 *   validate(decodeServerMessage, (error) => events.emit('error', toErrorEvent(error))),
 * );
 *
 * @param decode turns one frame into `{ ok: true, value }` or `{ ok: false, error }`.
 * @param onInvalid called once per dropped frame, with the decode error and the frame itself.
 */
export function validate<T, E>(decode: (frame: unknown) => DecodeResult<T, E>, onInvalid: (error: E, frame: unknown) => void): OperatorFunction<unknown, T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next(frame) {
          // A synchronous source keeps emitting until subscribe() returns, even after an error.
          if (subscriber.closed) return;
          let result: DecodeResult<T, E>;
          try {
            result = decode(frame);
            if (!result.ok) onInvalid(result.error, frame);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (result.ok) subscriber.next(result.value);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
