import { asyncScheduler, interval, Observable } from 'rxjs';
import type { MonoTypeOperatorFunction, SchedulerLike } from 'rxjs';
import { HeartbeatTimeoutError } from '../errors.js';

export interface HeartbeatConfig<T> {
  /** Time between pings, in ms. The first ping goes `intervalMs` after subscribing. */
  intervalMs: number;
  /**
   * Silence, in ms, after which the connection is presumed dead. A function is read at every
   * check, so the timeout can change while the connection lives (when the peer says how long it
   * waits itself, say): a longer one takes effect at the pending check, a shorter one at the next
   * ping at the latest.
   */
  timeoutMs: number | (() => number);
  /** Sends one ping (e.g. `socket.send('{"type":"ping"}')`). A throw errors the stream. */
  sendPing: () => void;
  /** Whether an inbound message is a pong. */
  isPong: (message: T) => boolean;
  /**
   * Whether pongs go downstream too. Default false: a pong only proves liveness, which this
   * operator has already taken from it, so the rest of the pipeline never sees them.
   */
  passPongs?: boolean;
  /** Scheduler for the ping interval and the timeout. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Keeps a live connection honest. Applied to its inbound message stream, it calls `sendPing`
 * every `intervalMs`, and errors with a {@link HeartbeatTimeoutError} when no message at all has
 * arrived for `timeoutMs` (since subscribing or since the last message). Every inbound message
 * counts as a sign of life, not only pongs, so a busy connection is never timed out for want of a
 * pong. Messages pass through, except pongs (see `passPongs`). Its timers stop on unsubscribe,
 * completion and error. One check is scheduled at a time, however many messages arrive.
 *
 * ```
 * intervalMs 40, timeoutMs 100
 * source:      --a 62ms b----------            (b at 65, then silence)
 * heartbeat({ intervalMs: 40, timeoutMs: 100, sendPing, isPong })
 * sendPing():  at 40, 80, 120, 160
 * result:      --a 62ms b 99ms #               (HeartbeatTimeoutError at 165)
 * ```
 *
 * @example
 * const inbound$ = messages$.pipe(
 *   heartbeat({ intervalMs: 15_000, timeoutMs: 45_000,
 *     sendPing: () => send({ type: 'ping' }), isPong: (m) => m.type === 'pong' }),
 *   retryBackoff({ initialDelayMs: 500, maxDelayMs: 30_000 }),
 * );
 *
 * @param config intervals, the ping sender and the pong test; see {@link HeartbeatConfig}.
 */
export function heartbeat<T>(config: HeartbeatConfig<T>): MonoTypeOperatorFunction<T> {
  const { intervalMs, sendPing, isPong, passPongs = false, scheduler = asyncScheduler } = config;
  const timeoutOf = typeof config.timeoutMs === 'function' ? config.timeoutMs : () => config.timeoutMs as number;
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
  if (!(timeoutOf() > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutOf()}`);
  return (source) =>
    new Observable<T>((subscriber) => {
      let lastSeen = scheduler.now();

      // One pending check at a time: it fires when the silence could first reach timeoutMs and, if
      // a message came meanwhile, reschedules itself for the remaining time.
      subscriber.add(
        scheduler.schedule(function () {
          const silentFor = scheduler.now() - lastSeen;
          const timeoutMs = timeoutOf();
          if (silentFor >= timeoutMs) {
            subscriber.error(new HeartbeatTimeoutError(timeoutMs, { context: { intervalMs } }));
          } else {
            this.schedule(undefined, timeoutMs - silentFor);
          }
        }, timeoutOf()),
      );

      subscriber.add(
        interval(intervalMs, scheduler).subscribe(() => {
          // A timeout that shrank since the pending check was scheduled is caught here, at the latest.
          const timeoutMs = timeoutOf();
          if (scheduler.now() - lastSeen >= timeoutMs) {
            subscriber.error(new HeartbeatTimeoutError(timeoutMs, { context: { intervalMs } }));
            return;
          }
          try {
            sendPing();
          } catch (err) {
            subscriber.error(err);
          }
        }),
      );

      subscriber.add(
        source.subscribe({
          next(message) {
            if (subscriber.closed) return;
            lastSeen = scheduler.now();
            let pong: boolean;
            try {
              pong = isPong(message);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            if (!pong || passPongs) subscriber.next(message);
          },
          error: (err) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
    });
}
