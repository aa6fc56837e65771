import { asyncScheduler, catchError, concat, concatMap, defer, EMPTY, finalize, ignoreElements, last, NEVER, retry, switchMap, take, tap, timer } from 'rxjs';
import type { Observable, ObservableInput, OperatorFunction, SchedulerLike } from 'rxjs';
import { assertBackoffConfig, backoffDelay } from './retry-backoff.js';

export interface ApplyInOrderConfig<T> {
  /** Tries per item, the first one included, before the stream pauses on it. At least 1. */
  maxAttempts: number;
  /** Backoff before the second try, in ms. */
  initialDelayMs: number;
  /** Cap on the backoff, in ms. */
  maxDelayMs: number;
  /** Backoff growth per failed try. Default 2. */
  factor?: number;
  /** Scheduler for the backoff waits. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Called when try number `attempt` failed and another is scheduled. */
  onRetry?: (error: unknown, attempt: number, item: T) => void;
  /** Called when the last try failed: the stream is now paused on `item`. */
  onFailed?: (error: unknown, item: T) => void;
  /**
   * While paused, each value retries the failed item with a fresh round of `maxAttempts`.
   * Subscribed only while paused, so use a hot signal (a Subject): a replaying source would
   * resume at once. Without it (or once it completes) a paused stream stays paused until
   * unsubscribed; resubscribing from the checkpoint is then the way on.
   */
  resume$?: Observable<unknown>;
  /**
   * Applies that resolve without real I/O (an in-memory database) chain through microtasks, and a
   * long queue of them would never give the host's timers and I/O a turn. After applying for this
   * long without the queue running dry, the next apply first waits for `yieldTo()`.
   * Default: never (the operator does not yield by itself).
   */
  yieldAfterMs?: number;
  /**
   * What waiting for the host's turn is: completes once the host's timers and I/O had one. Default
   * one tick of `scheduler` (`timer(0)`; in Node that is at least 1 ms, so a host that has a
   * cheaper turn, such as `setImmediate`, passes it here).
   */
  yieldTo?: () => Observable<unknown>;
}

/**
 * Applies items one at a time, in arrival order (`concatMap` semantics), and emits each apply's
 * result. Item n+1 is never applied before item n succeeded. A failed apply is retried after an
 * exponential backoff ({@link backoffDelay}); when `maxAttempts` tries have failed, the item is
 * NOT skipped (the next item would build on a hole): `onFailed` is called and the stream pauses.
 * While paused it keeps receiving items and holds them, in order, behind the failed one; a value
 * from `resume$` retries the failed item and, once it succeeds, the held items follow.
 *
 * `apply` may return a Promise or an Observable; its result is the last value it emits before
 * completing (completing with no value counts as a failure, as with `lastValueFrom`). An apply
 * that throws synchronously is a failed try too. A source error or completion behaves as in
 * `concatMap`: an error goes through at once (held items are dropped: they were never applied,
 * and resume starts from the checkpoint); completion waits until every held item is applied.
 * Unsubscribing cancels a pending wait and an apply Observable in flight (a Promise cannot be
 * cancelled; its outcome is ignored).
 *
 * ```
 * source:   -a-b|            each try takes 2 ms; a's first two tries fail
 * applyInOrder(apply, { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 100 })
 * tries:    a at 1, a at 13 (waited 10), a at 35 (waited 20), then b at 37
 * result:   37ms A-(B|)      (completion waits for the held b)
 * ```
 *
 * @example
 * const resume$ = new Subject<void>();
 * const applied$ = batches$.pipe(
 *   applyInOrder((batch) => db.transaction((tx) => writeBatch(tx, batch)), {
 *     maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 5_000, resume$,
 *     onFailed: (err, batch) => events.error(new ApplyError(batch.lsn, String(err), { cause: err })),
 *   }),
 * );
 * // later, e.g. from a "retry now" button:
 * resume$.next();
 *
 * @param apply applies one item; its Promise/Observable failing means "not applied, retry me".
 * With `yieldAfterMs`, a long run of applies pauses for one scheduler tick every `yieldAfterMs`
 * (see {@link ApplyInOrderConfig.yieldAfterMs}); order and results are the same.
 *
 * @param config attempts, backoff, yielding and hooks; see {@link ApplyInOrderConfig}.
 */
export function applyInOrder<T, R>(apply: (item: T) => ObservableInput<R>, config: ApplyInOrderConfig<T>): OperatorFunction<T, R> {
  const { maxAttempts, scheduler = asyncScheduler, onRetry, onFailed, resume$, yieldAfterMs = Infinity } = config;
  const yieldTo = config.yieldTo ?? (() => timer(0, scheduler));
  const backoff = { initialDelayMs: config.initialDelayMs, maxDelayMs: config.maxDelayMs, factor: config.factor };
  assertBackoffConfig(backoff);
  if (!(maxAttempts >= 1)) throw new RangeError(`maxAttempts must be >= 1, got ${maxAttempts}`);
  if (!(yieldAfterMs >= 0)) throw new RangeError(`yieldAfterMs must be >= 0, got ${yieldAfterMs}`);

  const applyWithRetry = (item: T): Observable<R> =>
    defer(() => apply(item)).pipe(
      last(),
      retry({
        count: maxAttempts - 1,
        delay: (error: unknown, attempt: number) => {
          onRetry?.(error, attempt, item);
          return timer(backoffDelay(attempt, backoff), scheduler);
        },
      }),
      catchError((error: unknown) => {
        onFailed?.(error, item);
        // Paused: concatMap holds every later item until this inner completes. A resume$ that
        // completes must not complete the inner (that would skip the item), hence NEVER after it.
        return concat(resume$ ?? EMPTY, NEVER).pipe(
          take(1),
          switchMap(() => applyWithRetry(item)),
        );
      }),
    );

  if (yieldAfterMs === Infinity) return concatMap(applyWithRetry);
  return (source) =>
    defer(() => {
      // A slice is a run of applies with the queue never empty: it starts when an item arrives
      // to an empty queue (the host had a turn since), and again after each yield.
      let queued = 0;
      let sliceStart = 0;
      const breather = defer(() =>
        scheduler.now() - sliceStart >= yieldAfterMs
          ? yieldTo().pipe(
              last(undefined, undefined),
              tap(() => (sliceStart = scheduler.now())),
              ignoreElements(),
            )
          : EMPTY,
      );
      return source.pipe(
        tap(() => {
          if (queued++ === 0) sliceStart = scheduler.now();
        }),
        concatMap((item) => concat(breather, applyWithRetry(item)).pipe(finalize(() => queued--))),
      );
    });
}
