import { concat, concatMap, defer, EMPTY, ignoreElements, of } from 'rxjs';
import type { MonoTypeOperatorFunction, ObservableInput } from 'rxjs';
import { compareLsn, ZERO_LSN, type Lsn } from '../protocol/lsn.js';

export interface CheckpointLsnOptions<T> {
  /** The checkpoint already saved, read at subscribe time. Default `0/0`. */
  initialLsn?: Lsn | (() => Lsn);
  /** Called for an item that is not emitted because its LSN is not past the saved one. */
  onSkipped?: (item: T, saved: Lsn) => void;
}

/**
 * Saves the LSN of each (applied) item with `save`, one save at a time and in arrival order, and
 * emits the item only once its save has completed. The checkpoint never moves backwards: an item
 * whose LSN is not greater than the last saved one (64-bit compare) is not saved and not emitted
 * (`onSkipped` hears of it), so the output's LSNs strictly increase and whatever follows (`lsn$`,
 * acks) never goes back. A failed save errors the stream, without emitting its item.
 *
 * `save` may return a Promise or an Observable; completion means "saved" (values are ignored).
 *
 * ```
 * a: 0/5   b: 0/3   c: 0/A;   each save takes 2 ms
 * source:  -a-b-c-|
 * checkpointLsn(save, (x) => x.lsn)
 * saves:   -^-!-^-!            (0/5 from 1 to 3, 0/A from 5 to 7; 0/3 is skipped)
 * result:  ---a---(c|)
 * ```
 *
 * @example
 * const checkpointed$ = applied$.pipe(
 *   checkpointLsn((lsn) => idbStore.setLsn(lsn), (batch) => batch.lsn, { initialLsn: () => idbStore.lsn }),
 *   tap((batch) => { lsn$.next(batch.lsn); send({ type: 'ack', lsn: batch.lsn }); }),
 * );
 *
 * @param save persists one LSN; the next save starts only after it completed.
 * @param lsnOf the item's LSN (`X/Y`).
 * @param options the starting checkpoint and a hook for skipped items.
 */
export function checkpointLsn<T>(
  save: (lsn: Lsn) => ObservableInput<unknown>,
  lsnOf: (item: T) => Lsn,
  options: CheckpointLsnOptions<T> = {},
): MonoTypeOperatorFunction<T> {
  const { initialLsn = ZERO_LSN, onSkipped } = options;
  return (source) =>
    defer(() => {
      let saved = typeof initialLsn === 'function' ? initialLsn() : initialLsn;
      return source.pipe(
        concatMap((item) => {
          const lsn = lsnOf(item);
          if (compareLsn(lsn, saved) <= 0) {
            onSkipped?.(item, saved);
            return EMPTY;
          }
          return concat(
            defer(() => save(lsn)).pipe(ignoreElements()),
            defer(() => {
              saved = lsn;
              return of(item);
            }),
          );
        }),
      );
    });
}
