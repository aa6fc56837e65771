import type { ChangeRecord } from '../protocol/index.js';
import type { SyncStore } from './store/store.js';

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
  private readonly unsubscribeStore: () => void;

  constructor(
    store: SyncStore,
    // setImmediate: after this turn's I/O; where it is missing (jsdom), a zero timeout.
    private readonly schedule: (flush: () => void) => void = typeof setImmediate === 'function' ? (flush) => setImmediate(flush) : (flush) => setTimeout(flush, 0),
    private readonly onListenerError: (error: unknown) => void = () => undefined,
  ) {
    this.unsubscribeStore = store.subscribe((changes) => this.onCommit(changes));
  }

  /** Every committed change from now on, in LSN order, in batches of one or more commits. */
  subscribe(listener: (changes: ChangeRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribeStore();
    this.listeners.clear();
    this.pending = [];
  }

  private onCommit(changes: ChangeRecord[]): void {
    for (const change of changes) this.pending.push(change);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.flush());
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
