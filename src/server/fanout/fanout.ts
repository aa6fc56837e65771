import { performance } from 'node:perf_hooks';
import type { ChangeRecord, Lsn } from '../../protocol/index.js';
import type { RoutePlan } from '../rules/route-plan.js';
import type { Caller, SyncStore } from '../store/store.js';
import { LiveFeed, type LiveListener, type LiveSubscription } from './live-feed.js';
import { RecentChanges } from './recent-changes.js';

/**
 * The store's changes as the sessions receive them, one per server: it subscribes to the store
 * once for every session. A session that is caught up gets each commit live (batched per
 * event-loop turn by LiveFeed); one that is behind reads them back, from the newest changes kept
 * in memory (RecentChanges) when they reach back far enough, else from the store.
 */
export class Fanout {
  private readonly live: LiveFeed;
  private readonly recent = new RecentChanges();
  /** The LSN of the last commit the store reported: where the next commit's changes start. */
  private lastLsn: Lsn;
  private readonly unsubscribeStore: () => void;
  private readonly resetListeners = new Set<(oldestResumableLsn: Lsn) => void>();
  private readonly unsubscribeResets: () => void;

  constructor(
    private readonly store: SyncStore,
    onError: (error: unknown) => void,
    /** With per-user rules: how live changes are routed to the sessions they concern. */
    plan?: RoutePlan,
  ) {
    this.lastLsn = store.currentLsn();
    this.live = new LiveFeed(onError, this.lastLsn, plan);
    this.unsubscribeStore = store.subscribe((changes) => this.onCommit(changes));
    // Told after the live feed handed out the commits before it: a session that followed them
    // is past the reset, and only one that is truly behind has to start over.
    this.unsubscribeResets = store.subscribeResets((lsn) => {
      void this.live.settled().then(() => {
        for (const listener of [...this.resetListeners]) listener(lsn);
      });
    });
  }

  /** Told when the store's log stops reaching back as far as it did (see SyncStore.subscribeResets). */
  onReset(listener: (oldestResumableLsn: Lsn) => void): () => void {
    this.resetListeners.add(listener);
    return () => void this.resetListeners.delete(listener);
  }

  /**
   * Every committed change from now on, in LSN order, in batches of one or more commits; with
   * `routes` (a session under per-user rules), only the changes its route keys name (LiveFeed).
   */
  subscribe(listener: LiveListener, routes?: () => Iterable<string>): LiveSubscription {
    return this.live.subscribe(listener, routes);
  }

  /** Resolves once the commits reported so far have been handed to the sessions. */
  settled(): Promise<void> {
    return this.live.settled();
  }

  /** The last LSN the live feed handed out. */
  get delivered(): Lsn {
    return this.live.delivered;
  }

  /**
   * Committed changes with LSN > `lsn`, in LSN order, at most `limit` of them, as
   * `SyncStore.changesSince`; for `caller`, as live changes are.
   */
  changesSince(lsn: Lsn, limit: number, caller: Caller): Promise<ChangeRecord[]> {
    const recent = this.recent.since(lsn, limit);
    return recent ? Promise.resolve(recent) : this.store.changesSince(lsn, limit, caller);
  }

  close(): void {
    this.unsubscribeStore();
    this.unsubscribeResets();
    this.resetListeners.clear();
    this.live.close();
  }

  private onCommit(changes: ChangeRecord[]): void {
    if (changes.length === 0) return;
    // The start of the delivery time the sessions measure (rxsync_fanout_delivery_seconds).
    const reportedAt = performance.now();
    this.recent.append(changes, this.lastLsn);
    this.lastLsn = changes[changes.length - 1].lsn;
    this.live.publish(changes, reportedAt);
  }
}
