import { Observable } from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';
import { compareLsn, type Lsn } from '../protocol/lsn.js';

/**
 * Drops every item whose LSN is at or below the checkpoint, so a batch the client already holds
 * is never applied twice (after a reconnect the server may resend what it had in flight).
 * `getCheckpoint()` is read for each item, so it sees checkpoints saved meanwhile. On top of that,
 * within one subscription an item at or below the highest LSN already let through is dropped as
 * well: a batch resent while its first copy is still queued for apply goes too. Output LSNs thus
 * strictly increase, until the checkpoint itself goes back (a reset), which clears that memory.
 * LSNs are compared as 64-bit numbers (`compareLsn`), never as strings; an item whose LSN is not
 * `X/Y` errors the stream (validate upstream).
 *
 * ```
 * checkpoint 0/9;   a: 0/8   b: 0/9   c: 0/A   d: 0/A (resent)   e: 0/10 (0/10 > 0/A, unlike the strings)
 * source:   -a-b-c-d-e-|
 * dropAlreadyApplied(() => checkpoint, (x) => x.lsn)
 * result:   -----c---e-|
 * ```
 *
 * @example
 * serverBatch$ = changes$.pipe(
 *   dropAlreadyApplied(() => store.lsn, (batch) => batch.lsn, (batch, at) => log.debug('dup', batch.lsn, at)),
 *   applyInOrder(applyBatch, { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 5000 }),
 * );
 *
 * @param getCheckpoint the LSN everything up to which has been applied (`0/0`: nothing yet).
 * @param lsnOf the item's LSN.
 * @param onDropped called for each dropped item with the LSN it was at or below.
 */
export function dropAlreadyApplied<T>(
  getCheckpoint: () => Lsn,
  lsnOf: (item: T) => Lsn,
  onDropped?: (item: T, coveredBy: Lsn) => void,
): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let highestPassed: Lsn | undefined;
      let lastCheckpoint: Lsn | undefined;
      return source.subscribe({
        next(item) {
          if (subscriber.closed) return;
          let pass: boolean;
          try {
            const lsn = lsnOf(item);
            const checkpoint = getCheckpoint();
            // A checkpoint that went back means a reset (resetLSN, or the server's log restarted):
            // what passed before no longer counts.
            if (lastCheckpoint !== undefined && compareLsn(checkpoint, lastCheckpoint) < 0) highestPassed = undefined;
            lastCheckpoint = checkpoint;
            const floor = highestPassed !== undefined && compareLsn(highestPassed, checkpoint) > 0 ? highestPassed : checkpoint;
            pass = compareLsn(lsn, floor) > 0;
            if (pass) highestPassed = lsn;
            else onDropped?.(item, floor);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (pass) subscriber.next(item);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
