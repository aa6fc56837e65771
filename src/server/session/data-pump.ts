import { compareLsn, SyncProtocolError, ZERO_LSN, type ChangeRecord, type Lsn } from '../../protocol/index.js';
import type { Fanout } from '../fanout/fanout.js';
import type { LiveSubscription } from '../fanout/live-feed.js';
import type { ServerLimits } from '../limits.js';
import type { ServerMetrics } from '../ops/metrics.js';
import type { UserView } from '../rules/user-view.js';
import type { Caller, SyncStore } from '../store/store.js';
import type { SessionOutput } from './outbound.js';
import { ChunkWindow, LsnWindow } from './send-window.js';
import { changesMessage } from './shared-changes.js';
import { SnapshotPump } from './snapshot-pump.js';
import { transactionLength, wholeTransactionsWithin } from './transaction-runs.js';

/** Where a session's data comes from. */
export interface DataSources {
  readonly store: Pick<SyncStore, 'openSnapshot' | 'currentLsn' | 'oldestResumableLsn' | 'rowsAt'>;
  readonly fanout: Pick<Fanout, 'subscribe' | 'changesSince' | 'onReset' | 'delivered' | 'settled'>;
  readonly limits: ServerLimits;
  /** Told how long each live delivery took. */
  readonly metrics: Pick<ServerMetrics, 'delivered'>;
}

/**
 * A session's data, from hello to close: a snapshot in chunks when the client needs one, then
 * every change after it, pumped only while the client's window and the socket have room, so a
 * slow or silent client costs a bounded amount of memory. A caught-up client gets each commit
 * straight from the live feed; one behind reads from the fan-out when its window opens.
 *
 * Under per-user rules (a UserView), every change passes through the view, exactly once and in
 * log order (its sets follow the log), and the live feed brings only the changes routed to this
 * user. A session idle and caught up with the feed ("in the feed") knows that what the feed
 * handed out without calling it concerned it not: its position moves over those commits without a
 * read, and the client hears of the new position with an empty `changes` when it asks (a ping).
 */
export class DataPump {
  private state: 'starting' | 'snapshot' | 'streaming' = 'starting';
  private snapshot: SnapshotPump | undefined;
  private readonly chunkWindow: ChunkWindow;
  private readonly lsnWindow: LsnWindow;
  /** The LSN the client has everything up to, once this session sent what it has in flight. */
  private sentLsn: Lsn = ZERO_LSN;
  /** The newest LSN this session knows was committed. */
  private head: Lsn;
  private pumping = false;
  /** A transaction larger than one message, being sent in parts: its changes and the next to send. */
  private inParts: { changes: ChangeRecord[]; next: number } | undefined;
  private pumpAgain = false;
  private readonly subscription: LiveSubscription;
  private readonly unsubscribeResets: () => void;
  /** Rules: idle and caught up with the live feed (see the class comment). */
  private inFeed = false;
  /** Rules: changes the view let through and not yet sent, and the LSN the read that brought them ended at. */
  private queue: ChangeRecord[] = [];
  private queueEnd: Lsn | undefined;
  /** The LSN of the last `changes` message sent (where the client's checkpoint will be). */
  private lastMessageLsn: Lsn = ZERO_LSN;
  /** Rules: the client asked where it stands while this session was busy: tell it once caught up. */
  private positionWanted = false;

  constructor(
    private readonly sources: DataSources,
    /** Who the data is for: every read passes it on. */
    private readonly caller: Caller,
    private readonly out: SessionOutput,
    private readonly onError: (error: unknown) => void,
    /** The log no longer reaches back to where this client is (pruned, a TRUNCATE): it must be reset. */
    private readonly onLogGone: () => void,
    /** The user's view under per-user rules; none without rules. */
    private readonly view?: UserView,
  ) {
    this.chunkWindow = new ChunkWindow(sources.limits.snapshotWindow);
    this.lsnWindow = new LsnWindow(sources.limits.changesWindow);
    // Subscribe before reading the head so that no commit falls between the two. (A commit may
    // already be in the head and still on its way from the feed: onCommitted skips what was sent.)
    this.subscription = sources.fanout.subscribe(
      (changes, after, end, reportedAt) => this.onCommitted(changes, after, end, reportedAt),
      view && (() => view.routeKeys()),
    );
    if (view) view.onRoutesChanged = () => this.subscription.reroute();
    this.head = sources.store.currentLsn();
    this.unsubscribeResets = sources.fanout.onReset((lsn) => {
      this.followFeed(); // an idle session under rules is further on than its last read
      if (this.state === 'streaming' && compareLsn(this.sentLsn, lsn) < 0) this.onLogGone();
    });
  }

  /** `starting` until the snapshot or the changes begin. */
  get phase(): 'starting' | 'snapshot' | 'streaming' {
    return this.state;
  }

  /** The newest LSN this session knows was committed: the store's head when it started. */
  get headLsn(): Lsn {
    return this.head;
  }

  /** `changes` messages sent and not yet acknowledged. */
  get changesInFlight(): number {
    return this.lsnWindow.pending;
  }

  async startSnapshot(): Promise<void> {
    const { store, limits } = this.sources;
    const reader = await store.openSnapshot({ chunkRows: limits.snapshotChunkRows }, this.caller);
    if (this.out.isClosed) return reader.close();
    try {
      // The sets as of the snapshot's LSN: the changes after it are judged by them.
      await this.view?.load(this.rowsAt, reader.lsn);
    } catch (error) {
      reader.close();
      throw error;
    }
    if (this.out.isClosed) return reader.close();
    this.snapshot = new SnapshotPump(reader, this.chunkWindow, this.out, limits, this.view?.setHash);
    this.state = 'snapshot';
    return this.pump();
  }

  /** Sends every change after `lsn`, the client's position. */
  async startStreaming(lsn: Lsn): Promise<void> {
    // The sets as of the client's position: what its rows were chosen by.
    await this.view?.load(this.rowsAt, lsn);
    if (this.out.isClosed) return;
    this.sentLsn = lsn;
    this.lastMessageLsn = lsn;
    this.state = 'streaming';
    return this.pump();
  }

  /**
   * Where the client will stand once it applied what was sent: what a pong tells it. Under rules,
   * a session caught up with the feed first sends an empty `changes` at its position when that is
   * past the last message (commits the client cannot see moved it); a busy one does so once it is
   * caught up, and the pong names the head it will reach. Commits made before the ping but still
   * on their way through the feed are waited for: they are part of "now".
   */
  async position(): Promise<Lsn> {
    if (!this.view || this.state !== 'streaming') return this.sources.store.currentLsn();
    await this.sources.fanout.settled();
    if (this.out.isClosed || this.state !== 'streaming') return this.sources.store.currentLsn();
    this.followFeed();
    if (!this.inFeed) {
      this.positionWanted = true;
      return this.sources.store.currentLsn();
    }
    this.sendPosition();
    return this.sentLsn;
  }

  async ack(lsn: Lsn): Promise<void> {
    this.followFeed();
    if (!this.lsnWindow.ack(lsn, this.sentLsn)) {
      throw new SyncProtocolError('invalid_lsn', `ack ${lsn} is beyond the last LSN sent (${this.sentLsn})`);
    }
    // Caught up: the window opening releases nothing, so no read (but a position the window held back).
    if (this.state === 'streaming' && !this.pumping && compareLsn(this.sentLsn, this.sources.store.currentLsn()) >= 0) {
      if (this.positionWanted && this.inFeed) this.sendPosition();
      return;
    }
    return this.pump();
  }

  async snapshotAck(seq: number): Promise<void> {
    if (!this.chunkWindow.ack(seq)) {
      throw new SyncProtocolError('invalid_ack', `snapshot_ack ${seq} is beyond the last chunk sent (${this.chunkWindow.lastSent})`);
    }
    return this.pump();
  }

  /** The socket drained: send what was waiting for room. */
  resume(): void {
    if (this.out.isClosed || this.state === 'starting') return;
    void this.pump().catch(this.onError);
  }

  close(): void {
    this.subscription.close();
    this.unsubscribeResets();
    this.snapshot?.close();
  }

  private readonly rowsAt = (lsn: Lsn, reads: Parameters<SyncStore['rowsAt']>[1]) => this.sources.store.rowsAt(lsn, reads);

  /** Rules: in the feed, the position moves over what the feed handed out without calling this session. */
  private followFeed(): void {
    if (!this.inFeed || this.pumping) return;
    const delivered = this.sources.fanout.delivered;
    if (compareLsn(this.sentLsn, delivered) < 0) this.sentLsn = delivered;
  }

  /** Rules: an empty `changes` at the position, when the client's checkpoint is behind it and there is room. */
  private sendPosition(): void {
    if (this.inParts || this.queueEnd !== undefined || compareLsn(this.sentLsn, this.lastMessageLsn) <= 0) return;
    if (!this.lsnWindow.hasRoom || !this.out.hasRoom) {
      this.positionWanted = true;
      return;
    }
    this.positionWanted = false;
    this.sendChanges([], this.sentLsn);
  }

  /** Sends whatever the windows allow: snapshot chunks first, then changes. Never runs twice at once. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.followFeed();
    this.pumping = true;
    this.inFeed = false;
    try {
      do {
        this.pumpAgain = false;
        if (this.state === 'snapshot') await this.pumpSnapshot();
        if (this.state === 'streaming') await this.pumpChanges();
      } while (this.pumpAgain && !this.out.isClosed);
    } finally {
      this.pumping = false;
    }
  }

  private async pumpSnapshot(): Promise<void> {
    const lsn = await this.snapshot!.pump();
    if (lsn === undefined) return;
    this.snapshot = undefined;
    this.sentLsn = lsn;
    this.lastMessageLsn = lsn; // snapshot_end took the client there
    this.state = 'streaming';
  }

  private async pumpChanges(): Promise<void> {
    const { limits, store } = this.sources;
    // Reading on from an LSN the log no longer covers would skip what was pruned or truncated.
    if (compareLsn(this.sentLsn, store.oldestResumableLsn()) < 0) return this.onLogGone();
    while (!this.out.isClosed && this.lsnWindow.hasRoom && this.out.hasRoom) {
      if (this.inParts) {
        this.sendPart();
        continue;
      }
      const read = await this.read();
      if (this.out.isClosed) return;
      if (!read) {
        if (this.view) this.caughtUp();
        return;
      }
      const { changes, end } = read;
      if (changes.length === 0) {
        // Under rules: commits that held nothing for this client.
        if (compareLsn(end, this.sentLsn) > 0) this.sentLsn = end;
        continue;
      }
      if (changes.length <= limits.changesPerMessage) {
        this.sendChanges(changes, end);
        continue;
      }
      // The read was rounded up to whole transactions: send the whole ones that fit, or the first
      // one in parts when it alone is larger than a message.
      const fits = wholeTransactionsWithin(changes, limits.changesPerMessage);
      if (fits > 0) this.sendChanges(changes.slice(0, fits), changes[fits - 1].lsn);
      else this.inParts = { changes: changes.slice(0, transactionLength(changes)), next: 0 };
      this.putBack(changes.slice(fits > 0 ? fits : transactionLength(changes)), end);
    }
  }

  /**
   * The next changes to send and the LSN they take the client to, or undefined when caught up.
   * Without rules, straight from the log (what is not sent is read again). Under rules, through
   * the view, once: what is not sent waits in the queue.
   */
  private async read(): Promise<{ changes: ChangeRecord[]; end: Lsn } | undefined> {
    const { fanout, limits } = this.sources;
    if (this.queueEnd !== undefined) {
      const queued = { changes: this.queue, end: this.queueEnd };
      this.queue = [];
      this.queueEnd = undefined;
      return queued;
    }
    const changes = await fanout.changesSince(this.sentLsn, limits.changesPerMessage, this.caller);
    if (changes.length === 0) return undefined;
    const end = changes[changes.length - 1].lsn;
    if (!this.view || this.out.isClosed) return { changes, end };
    return { changes: await this.view.filter(changes, this.rowsAt), end };
  }

  /** Under rules, the part of a read not sent yet goes back in the queue (the view saw it already). */
  private putBack(changes: ChangeRecord[], end: Lsn): void {
    if (!this.view) return;
    this.queue = changes;
    this.queueEnd = end;
  }

  /** Rules: the pump read everything there is: in the feed from here, and the position told if asked. */
  private caughtUp(): void {
    if (this.inParts || this.queueEnd !== undefined) return;
    this.inFeed = true;
    if (this.positionWanted) this.sendPosition();
  }

  /**
   * The next part of a transaction too large for one message. Parts before the last are not
   * checkpoints (the client stages them and acks nothing), so only the socket's room paces them;
   * the last goes out as a `changes` message of its own, counted in the window and acked.
   */
  private sendPart(): void {
    const parts = this.inParts!;
    const size = this.sources.limits.changesPerMessage;
    const changes = parts.changes.slice(parts.next, parts.next + size);
    const offset = parts.next;
    parts.next += changes.length;
    const lsn = changes[0].lsn;
    if (parts.next < parts.changes.length) {
      this.out.send({ type: 'changes', lsn, changes, partial: true, offset }, 'data');
      return;
    }
    this.inParts = undefined;
    this.out.send({ type: 'changes', lsn, changes, offset }, 'data');
    this.lsnWindow.sent(lsn);
    this.sentLsn = lsn;
    this.lastMessageLsn = lsn;
  }

  /** One `changes` message taking the client to `lsn` (its last change's LSN, or past it under rules). */
  private sendChanges(changes: ChangeRecord[], lsn: Lsn): void {
    // Shared by every session sending the same records, so the transport encodes it once for all.
    this.out.send(changesMessage(changes, lsn), 'data');
    this.lsnWindow.sent(lsn);
    this.sentLsn = lsn;
    this.lastMessageLsn = lsn;
  }

  /**
   * Live path: a commit's changes go straight out when this session had sent everything before
   * them and has room (in the window and in the socket's buffer); otherwise they stay in the log,
   * and the pump reads them back when the client acks or the socket drains. So a client that
   * stops reading costs at most `maxBufferedBytes` (plus one message), however much is written.
   */
  private onCommitted(committed: ChangeRecord[], after: Lsn, end: Lsn, reportedAt: number): void {
    if (this.out.isClosed || committed.length === 0) return;
    const previousHead = this.head;
    if (compareLsn(end, previousHead) > 0) this.head = end;
    if (this.view) return this.onRoutedCommit(committed, after, end, reportedAt);
    let changes = committed;
    if (this.state === 'streaming' && compareLsn(changes[0].lsn, this.sentLsn) <= 0) {
      // The pump already sent all of these: on a busy server the usual case, as the client's ack
      // of its last message came in before the feed's turn and started the pump, which read them.
      if (compareLsn(end, this.sentLsn) <= 0) return;
      // Or some of them (they committed before this session subscribed, or before the pump's
      // read): send only what is new.
      changes = changes.filter((change) => compareLsn(change.lsn, this.sentLsn) > 0);
    }
    const caughtUp = this.state === 'streaming' && !this.pumping && compareLsn(this.sentLsn, previousHead) === 0;
    if (caughtUp && this.lsnWindow.hasRoom && this.out.hasRoom && changes.length <= this.sources.limits.changesPerMessage) {
      this.sendChanges(changes, end);
      this.sources.metrics.delivered(reportedAt);
    } else {
      void this.pump().catch(this.onError);
    }
  }

  /**
   * Live path under rules: the changes of a batch routed to this user. In the feed, with room, and
   * when none of them moves the user's sets (those read rows, so they go through the pump), they
   * are judged and sent at once; anything else is left to the pump, which reads the log.
   */
  private onRoutedCommit(routed: ChangeRecord[], after: Lsn, end: Lsn, reportedAt: number): void {
    const view = this.view!;
    if (this.inFeed && !this.pumping && compareLsn(this.sentLsn, after) < 0) this.sentLsn = after;
    // The routed array as it is when all of it is new (it may be the batch itself, shared by every session).
    const changes = compareLsn(routed[0].lsn, this.sentLsn) > 0 ? routed : routed.filter((change) => compareLsn(change.lsn, this.sentLsn) > 0);
    const ready = this.state === 'streaming' && this.inFeed && !this.pumping && this.lsnWindow.hasRoom && this.out.hasRoom;
    if (!ready || changes.some((change) => view.movesSets(change.table))) {
      if (changes.length === 0 && this.inFeed) return; // nothing new for it: still in the feed
      // This batch is delivered but not judged: the pump must read it, not jump over it.
      this.inFeed = false;
      void this.pump().catch(this.onError);
      return;
    }
    const visible = view.filter(changes, this.rowsAt) as ChangeRecord[];
    if (visible.length === 0) {
      if (compareLsn(end, this.sentLsn) > 0) this.sentLsn = end;
      return;
    }
    if (visible.length > this.sources.limits.changesPerMessage) {
      // Too many for one message: the pump sends them.
      this.queue = visible;
      this.queueEnd = end;
      this.inFeed = false;
      void this.pump().catch(this.onError);
      return;
    }
    this.sendChanges(visible, end);
    this.sources.metrics.delivered(reportedAt);
  }
}
