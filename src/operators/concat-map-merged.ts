import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';

/**
 * `concatMap`, except that what queues up behind a busy inner is merged before it is projected:
 * when the inner in flight completes, the items that arrived meanwhile are folded left to right
 * with `merge` for as long as it returns a merged item, and the result is projected once. An item
 * that arrives while nothing is in flight is projected at once, alone: merging only happens under
 * a backlog, so it adds no latency. `project` is told how many source items it stands for.
 *
 * What it is for: the client applies each server message in a transaction of its own, and a commit
 * costs a persistent VFS far more than the rows do; snapshot chunks waiting behind each other can
 * share one transaction (session.ts).
 *
 * Errors and completion as in `concatMap`: a source error goes through at once (queued items are
 * dropped), completion waits for the queue; unsubscribing unsubscribes the inner in flight.
 *
 * ```
 * source:   -a-b-c-d|        each inner takes 3 frames; merge joins any two letters
 * result:   ----A---(BCD)-|  a alone (nothing queued), then b, c and d merged into one item
 * ```
 */
export function concatMapMerged<T, R>(
  project: (item: T, count: number) => ObservableInput<R>,
  merge: (into: T, next: T) => T | undefined,
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const queue: T[] = [];
      let busy = false;
      let sourceDone = false;
      let draining = false;
      let inner: Subscription | undefined;

      // A loop, not recursion: an inner that completes synchronously frees the way for the next.
      const drain = () => {
        if (draining) return;
        draining = true;
        try {
          while (!busy && queue.length > 0 && !subscriber.closed) {
            let item = queue.shift() as T;
            let count = 1;
            while (queue.length > 0) {
              const merged = merge(item, queue[0] as T);
              if (merged === undefined) break;
              item = merged;
              queue.shift();
              count++;
            }
            busy = true;
            inner = from(project(item, count)).subscribe({
              next: (value) => subscriber.next(value),
              error: (error: unknown) => subscriber.error(error),
              complete: () => {
                busy = false;
                inner = undefined;
                drain();
              },
            });
          }
          if (!busy && sourceDone && queue.length === 0) subscriber.complete();
        } finally {
          draining = false;
        }
      };

      const upstream = source.subscribe({
        next: (item) => {
          queue.push(item);
          drain();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          drain();
        },
      });
      return () => {
        upstream.unsubscribe();
        inner?.unsubscribe();
      };
    });
}
