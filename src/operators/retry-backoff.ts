import { asyncScheduler, defer, merge, retry, take, tap, throwError, timer } from 'rxjs';
import type { MonoTypeOperatorFunction, Observable, SchedulerLike } from 'rxjs';

/** The shape of an exponential backoff. */
export interface BackoffConfig {
  /** Delay before the first retry, in ms. */
  initialDelayMs: number;
  /** Cap on any delay, in ms (applied before jitter, so jitter never exceeds it). */
  maxDelayMs: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /**
   * Fraction of the delay that is randomised, 0..1. Default 0 (no jitter). With jitter `j` the
   * delay is uniform in `[d * (1 - j), d]`; `1` is "full jitter", `0.5` keeps at least half.
   */
  jitter?: number;
}

/**
 * The delay before retry number `attempt` (1 = the first retry):
 * `min(maxDelayMs, initialDelayMs * factor^(attempt - 1))`, then reduced by up to `jitter` of
 * itself using `random()` (a number in [0, 1), as `Math.random`), rounded to whole ms.
 * Pure: the same arguments give the same delay. Throws a RangeError on a nonsensical config.
 *
 * @example
 * backoffDelay(1, { initialDelayMs: 100, maxDelayMs: 1000 }); // 100
 * backoffDelay(4, { initialDelayMs: 100, maxDelayMs: 1000 }); // 800
 * backoffDelay(9, { initialDelayMs: 100, maxDelayMs: 1000 }); // 1000
 * backoffDelay(1, { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 }, () => 0.5); // 75
 */
export function backoffDelay(attempt: number, config: BackoffConfig, random: () => number = Math.random): number {
  assertBackoffConfig(config);
  if (!(attempt >= 1)) throw new RangeError(`backoff attempt must be >= 1, got ${attempt}`);
  const { initialDelayMs, maxDelayMs, factor = 2, jitter = 0 } = config;
  // 0 * Infinity is NaN: a zero initial delay stays zero however large the attempt.
  const exponential = initialDelayMs === 0 ? 0 : initialDelayMs * Math.pow(factor, attempt - 1);
  const capped = Math.min(maxDelayMs, exponential);
  const r = jitter === 0 ? 0 : Math.min(Math.max(random(), 0), 1);
  return Math.round(capped * (1 - jitter * r));
}

/** Throws a RangeError unless the backoff config makes sense. */
export function assertBackoffConfig(config: BackoffConfig): void {
  const { initialDelayMs, maxDelayMs, factor = 2, jitter = 0 } = config;
  if (!(initialDelayMs >= 0) || !(maxDelayMs >= initialDelayMs)) {
    throw new RangeError(`backoff needs 0 <= initialDelayMs <= maxDelayMs, got ${initialDelayMs}, ${maxDelayMs}`);
  }
  if (!(factor >= 1)) throw new RangeError(`backoff factor must be >= 1, got ${factor}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff jitter must be in [0, 1], got ${jitter}`);
}

export interface RetryBackoffConfig extends BackoffConfig {
  /** Retries in a row before the error passes through. Default Infinity (retry for as long as subscribed). */
  maxAttempts?: number;
  /** Reset the attempt counter once the source emits (a healthy connection). Default true. */
  resetOnSuccess?: boolean;
  /** Whether this error is worth retry number `attempt`; `false` lets it through at once. Default: always. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * Cuts a pending wait short: its first value resubscribes at once (e.g. the browser's `online`
   * event). Subscribed only while waiting, so a value that came before the error does not count.
   */
  skipWait$?: Observable<unknown>;
  /**
   * Failures that make one step of the backoff (e.g. the number of servers tried in turn): the
   * first failure of a round waits the delay of that round's number (1, 2, ...), the other
   * `roundSize - 1` retry at once (on to the next server). Default 1: every failure is a step.
   */
  roundSize?: number;
  /**
   * An error after which the retry goes at once and does not count toward the delay's growth (a
   * server that asked its clients to come back right away). At most one such retry between two
   * values of the source: a source that keeps failing that way backs off as usual.
   */
  retryAtOnce?: (error: unknown) => boolean;
  /** Called when a retry is scheduled, before the wait (e.g. to publish a `backoff` status); `delayMs` is 0 for a retry at once. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Source of jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Scheduler for the waits. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Resubscribes to the source when it errors, after an exponential, capped, jittered delay
 * ({@link backoffDelay}). The attempt counter starts at 1 for the first retry and, by default,
 * goes back to 0 as soon as the source emits: a connection that worked and then failed starts its
 * backoff afresh. After `maxAttempts` retries in a row, or when `shouldRetry` says no, the error
 * passes through. `skipWait$` ends a wait early. Unsubscribing cancels a pending wait.
 *
 * With `roundSize` the delay grows once per round of that many failures: a round's first failure
 * waits, the rest retry at once (a round of servers tried in turn). A `retryAtOnce` error retries
 * without a wait and without counting (at most once between two values, so it cannot spin).
 *
 * ```
 * source (cold):  --#
 * retryBackoff({ initialDelayMs: 10, maxDelayMs: 100, maxAttempts: 2 })
 * subscriptions:  ^-!   12ms ^-!   34ms ^-!     (waits of 10 then 20 ms after each error)
 * result:         36ms #                        (the third error passes through)
 *
 * retryBackoff({ initialDelayMs: 10, maxDelayMs: 100, maxAttempts: 4, roundSize: 2 })
 * subscriptions:  ^-!  12ms ^-!  14ms ^-!  36ms ^-!  38ms ^-!   (waits 10, 0, 20, 0: a step per round of 2)
 * result:         40ms #
 * ```
 *
 * @example
 * const messages$ = connect$.pipe(
 *   retryBackoff({
 *     initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0.5,
 *     shouldRetry: (err) => !(err instanceof CancelledError),
 *     skipWait$: fromEvent(window, 'online'),
 *   }),
 * );
 *
 * @param config the backoff shape plus the retry policy; see {@link RetryBackoffConfig}.
 */
export function retryBackoff<T>(config: RetryBackoffConfig): MonoTypeOperatorFunction<T> {
  assertBackoffConfig(config);
  const {
    maxAttempts = Infinity,
    resetOnSuccess = true,
    roundSize = 1,
    retryAtOnce,
    shouldRetry,
    skipWait$,
    onRetry,
    random = Math.random,
    scheduler = asyncScheduler,
  } = config;
  if (!(maxAttempts >= 0)) throw new RangeError(`maxAttempts must be >= 0, got ${maxAttempts}`);
  if (!(Number.isInteger(roundSize) && roundSize >= 1)) throw new RangeError(`roundSize must be a whole number >= 1, got ${roundSize}`);
  return (source) =>
    defer(() => {
      // Per subscriber: the failures that count toward the delay, and whether the one retry at
      // once since the last value was used.
      let counted = 0;
      let atOnceUsed = false;
      return source.pipe(
        tap(() => {
          atOnceUsed = false;
          if (resetOnSuccess) counted = 0;
        }),
        retry<T>({
          count: maxAttempts,
          resetOnSuccess,
          delay: (error: unknown, attempt: number) => {
            if (shouldRetry && !shouldRetry(error, attempt)) return throwError(() => error);
            let delayMs = 0;
            if (!atOnceUsed && retryAtOnce?.(error)) atOnceUsed = true;
            else if ((++counted - 1) % roundSize === 0) delayMs = backoffDelay(Math.ceil(counted / roundSize), config, random);
            onRetry?.(error, attempt, delayMs);
            const wait = timer(delayMs, scheduler);
            // merge + take(1), not race: a skipWait$ that completes must not end the wait (nor the stream).
            return skipWait$ ? merge(wait, skipWait$).pipe(take(1)) : wait;
          },
        }),
      );
    });
}
