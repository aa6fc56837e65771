import type { ChangeRecord } from '../../protocol/index.js';

/**
 * The store's commits, handed to the sessions once per event-loop turn instead of once per commit.
 * Commits that land in the same turn (pushes read in one poll phase, a writer catching up) reach
 * every session as one `changes` message, encoded once: with many sessions the server's cost is
 * per frame (a socket write each), so when it falls behind, its frames get fewer and fuller
 * instead of queueing. When it keeps up, a commit waits only for the end of the current turn.
 */
export class LiveFeed {
  private readonly listeners = new Set<(changes: ChangeRecord[]) => void>();
  private pending: ChangeRecord[] = [];
  private scheduled = false;

  /** `onListenerError`: a listener threw (the others still get the batch). */
  constructor(private readonly onListenerError: (error: unknown) => void) {}

  /** Every committed change from now on, in LSN order, in batches of one or more commits. */
  subscribe(listener: (changes: ChangeRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.pending = [];
  }

  /** One commit's changes, as the store reported them. */
  publish(changes: readonly ChangeRecord[]): void {
    for (const change of changes) this.pending.push(change);
    if (this.scheduled) return;
    this.scheduled = true;
    endOfTurn(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    for (const listener of [...this.listeners]) {
      try {
        listener(batch);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

/** After this turn's I/O (setImmediate); where that is missing (jsdom), a zero timeout. */
const endOfTurn: (flush: () => void) => void = typeof setImmediate === 'function' ? (flush) => setImmediate(flush) : (flush) => setTimeout(flush, 0);
