import { performance } from 'node:perf_hooks';
import type { ChangeRecord, Lsn } from '../../protocol/index.js';
import { endOfTurn } from '../end-of-turn.js';
import type { RoutePlan } from '../rules/route-plan.js';

/**
 * A session's live delivery: `changes` are the batch's changes it may care about (all of them
 * unless it subscribed with route keys), in LSN order; `after` is where the previous batch ended
 * and `end` the batch's last LSN, so a routed session knows it missed nothing in between.
 * `reportedAt` (performance.now()) is when the store reported the batch's first commit: how long
 * delivery took is measured from it.
 */
export type LiveListener = (changes: ChangeRecord[], after: Lsn, end: Lsn, reportedAt: number) => void;

/** A live subscription; `reroute()` after the keys it routes by changed. */
export interface LiveSubscription {
  reroute(): void;
  close(): void;
}

interface Subscriber {
  readonly listener: LiveListener;
  readonly routes: (() => Iterable<string>) | undefined;
  keys: Set<string>;
  closed: boolean;
}

/**
 * The store's commits, handed to the sessions once per event-loop turn instead of once per commit.
 * Commits that land in the same turn (pushes read in one poll phase, a writer catching up) reach
 * every session as one `changes` message, encoded once: with many sessions the server's cost is
 * per frame (a socket write each), so when it falls behind, its frames get fewer and fuller
 * instead of queueing. When it keeps up, a commit waits only for the end of the current turn.
 *
 * With per-user rules, sessions subscribe with route keys (see RoutePlan) and a batch goes only to
 * the sessions its changes' keys name, with just those changes: a change that concerns one user of
 * a thousand costs one index lookup per key, not a thousand rule evaluations.
 */
export class LiveFeed {
  private readonly everyone = new Set<Subscriber>();
  private readonly index = new Map<string, Set<Subscriber>>();
  private pending: ChangeRecord[] = [];
  /** When the first of the pending commits was reported. */
  private pendingSince = 0;
  private scheduled = false;
  private flushed: Array<() => void> = [];
  private deliveredUpTo: Lsn;

  /** `onListenerError`: a listener threw (the others still get the batch). */
  constructor(
    private readonly onListenerError: (error: unknown) => void,
    startLsn: Lsn,
    private readonly plan?: RoutePlan,
  ) {
    this.deliveredUpTo = startLsn;
  }

  /** The last LSN handed to the sessions: a routed session idle since then missed nothing before it. */
  get delivered(): Lsn {
    return this.deliveredUpTo;
  }

  /**
   * Every committed change from now on, in LSN order, in batches of one or more commits; with
   * `routes` (and a route plan), only the batches and changes its keys name.
   */
  subscribe(listener: LiveListener, routes?: () => Iterable<string>): LiveSubscription {
    const subscriber: Subscriber = { listener, routes: this.plan ? routes : undefined, keys: new Set(), closed: false };
    if (!subscriber.routes) this.everyone.add(subscriber);
    else this.file(subscriber, new Set(subscriber.routes()));
    return {
      reroute: () => {
        if (subscriber.routes && !subscriber.closed) this.file(subscriber, new Set(subscriber.routes()));
      },
      close: () => {
        subscriber.closed = true;
        this.everyone.delete(subscriber);
        this.file(subscriber, new Set());
      },
    };
  }

  close(): void {
    for (const resolve of this.flushed) resolve();
    this.flushed = [];
    this.everyone.clear();
    this.index.clear();
    this.pending = [];
  }

  /** Resolves once every commit published so until now has been handed out. */
  settled(): Promise<void> {
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.flushed.push(resolve));
  }

  /** One commit's changes, as the store reported them at `reportedAt`. */
  publish(changes: readonly ChangeRecord[], reportedAt = performance.now()): void {
    if (this.pending.length === 0) this.pendingSince = reportedAt;
    for (const change of changes) this.pending.push(change);
    if (this.scheduled) return;
    this.scheduled = true;
    endOfTurn(() => this.flush());
  }

  /** Moves a subscriber to the index entries of its new keys. */
  private file(subscriber: Subscriber, keys: Set<string>): void {
    for (const key of subscriber.keys) {
      if (keys.has(key)) continue;
      const entry = this.index.get(key);
      entry?.delete(subscriber);
      if (entry?.size === 0) this.index.delete(key);
    }
    for (const key of keys) {
      if (subscriber.keys.has(key)) continue;
      let entry = this.index.get(key);
      if (!entry) this.index.set(key, (entry = new Set()));
      entry.add(subscriber);
    }
    subscriber.keys = keys;
  }

  private flush(): void {
    this.scheduled = false;
    const waiting = this.flushed;
    this.flushed = [];
    try {
      this.deliverPending();
    } finally {
      for (const resolve of waiting) resolve();
    }
  }

  private deliverPending(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const after = this.deliveredUpTo;
    const end = batch[batch.length - 1].lsn;
    this.deliveredUpTo = end;
    const reportedAt = this.pendingSince;
    for (const subscriber of [...this.everyone]) this.deliver(subscriber, batch, after, end, reportedAt);
    if (this.index.size === 0) return;
    for (const [subscriber, changes] of this.route(batch)) this.deliver(subscriber, changes, after, end, reportedAt);
  }

  /**
   * The routed subscribers a batch concerns, each with its changes (in order, each once). One that
   * all of the batch concerns gets the batch's own array: a change every session sees (a table
   * read whole) then makes one shared message, encoded once, as without rules.
   */
  private route(batch: ChangeRecord[]): Map<Subscriber, ChangeRecord[]> {
    const targets = new Map<Subscriber, ChangeRecord[]>();
    for (const change of batch) {
      for (const key of this.plan!.keysOf(change)) {
        for (const subscriber of this.index.get(key) ?? []) {
          const changes = targets.get(subscriber);
          if (!changes) targets.set(subscriber, [change]);
          else if (changes[changes.length - 1] !== change) changes.push(change);
        }
      }
    }
    for (const [subscriber, changes] of targets) if (changes.length === batch.length) targets.set(subscriber, batch);
    return targets;
  }

  private deliver(subscriber: Subscriber, changes: ChangeRecord[], after: Lsn, end: Lsn, reportedAt: number): void {
    try {
      subscriber.listener(changes, after, end, reportedAt);
    } catch (error) {
      this.onListenerError(error);
    }
  }
}
