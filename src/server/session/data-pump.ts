import { compareLsn, SyncProtocolError, ZERO_LSN, type ChangeRecord, type Lsn, type ServerMessage } from '../../protocol/index.js';
import type { Fanout } from '../fanout/fanout.js';
import type { ServerLimits } from '../limits.js';
import type { Caller, SyncStore } from '../store/store.js';
import type { SessionOutput } from './outbound.js';
import { ChunkWindow, LsnWindow } from './send-window.js';
import { SnapshotPump } from './snapshot-pump.js';

/** Where a session's data comes from. */
export interface DataSources {
  readonly store: Pick<SyncStore, 'openSnapshot' | 'currentLsn' | 'oldestResumableLsn'>;
  readonly fanout: Pick<Fanout, 'subscribe' | 'changesSince' | 'onReset'>;
  readonly limits: ServerLimits;
}

/** A commit's `changes` message, by the commit's records array (see sendChanges). */
const sharedChangesMessages = new WeakMap<ChangeRecord[], ServerMessage>();

/**
 * A session's data, from hello to close: a snapshot in chunks when the client needs one, then
 * every change after it, pumped only while the client's window and the socket have room, so a
 * slow or silent client costs a bounded amount of memory. A caught-up client gets each commit
 * straight from the live feed; one behind reads from the fan-out when its window opens.
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
  private readonly unsubscribe: () => void;
  private readonly unsubscribeResets: () => void;

  constructor(
    private readonly sources: DataSources,
    /** Who the data is for: every read passes it on. */
    private readonly caller: Caller,
    private readonly out: SessionOutput,
    private readonly onError: (error: unknown) => void,
    /** The log no longer reaches back to where this client is (pruned, a TRUNCATE): it must be reset. */
    private readonly onLogGone: () => void,
  ) {
    this.chunkWindow = new ChunkWindow(sources.limits.snapshotWindow);
    this.lsnWindow = new LsnWindow(sources.limits.changesWindow);
    // Subscribe before reading the head so that no commit falls between the two. (A commit may
    // already be in the head and still on its way from the feed: onCommitted skips what was sent.)
    this.unsubscribe = sources.fanout.subscribe((changes) => this.onCommitted(changes), caller);
    this.head = sources.store.currentLsn();
    this.unsubscribeResets = sources.fanout.onReset((lsn) => {
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
    this.snapshot = new SnapshotPump(reader, this.chunkWindow, this.out, limits.snapshotChunkRows);
    this.state = 'snapshot';
    return this.pump();
  }

  /** Sends every change after `lsn`, the client's position. */
  startStreaming(lsn: Lsn): Promise<void> {
    this.sentLsn = lsn;
    this.state = 'streaming';
    return this.pump();
  }

  async ack(lsn: Lsn): Promise<void> {
    if (!this.lsnWindow.ack(lsn, this.sentLsn)) {
      throw new SyncProtocolError('invalid_lsn', `ack ${lsn} is beyond the last LSN sent (${this.sentLsn})`);
    }
    // Caught up: the window opening releases nothing, so no read.
    if (this.state === 'streaming' && !this.pumping && compareLsn(this.sentLsn, this.sources.store.currentLsn()) >= 0) return;
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
    this.unsubscribe();
    this.unsubscribeResets();
    this.snapshot?.close();
  }

  /** Sends whatever the windows allow: snapshot chunks first, then changes. Never runs twice at once. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
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
    this.state = 'streaming';
  }

  private async pumpChanges(): Promise<void> {
    const { fanout, limits, store } = this.sources;
    // Reading on from an LSN the log no longer covers would skip what was pruned or truncated.
    if (compareLsn(this.sentLsn, store.oldestResumableLsn()) < 0) return this.onLogGone();
    while (!this.out.isClosed && this.lsnWindow.hasRoom && this.out.hasRoom) {
      if (this.inParts) {
        this.sendPart();
        continue;
      }
      const changes = await fanout.changesSince(this.sentLsn, limits.changesPerMessage, this.caller);
      if (this.out.isClosed || changes.length === 0) return;
      if (changes.length <= limits.changesPerMessage) {
        this.sendChanges(changes);
        continue;
      }
      // The read was rounded up to whole transactions: send the whole ones that fit, or the first
      // one in parts when it alone is larger than a message.
      const fits = wholeTransactionsWithin(changes, limits.changesPerMessage);
      if (fits > 0) this.sendChanges(changes.slice(0, fits));
      else this.inParts = { changes: changes.slice(0, transactionLength(changes)), next: 0 };
    }
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
  }

  private sendChanges(changes: ChangeRecord[]): void {
    const lsn = changes[changes.length - 1].lsn;
    // One message object per commit, shared by every session the live path sends it to, so the
    // transport encodes it once for all of them.
    let message = sharedChangesMessages.get(changes);
    if (!message) sharedChangesMessages.set(changes, (message = { type: 'changes', lsn, changes }));
    this.out.send(message, 'data');
    this.lsnWindow.sent(lsn);
    this.sentLsn = lsn;
  }

  /**
   * Live path: a commit's changes go straight out when this session had sent everything before
   * them and has room (in the window and in the socket's buffer); otherwise they stay in the log,
   * and the pump reads them back when the client acks or the socket drains. So a client that
   * stops reading costs at most `maxBufferedBytes` (plus one message), however much is written.
   */
  private onCommitted(committed: ChangeRecord[]): void {
    if (this.out.isClosed || committed.length === 0) return;
    const previousHead = this.head;
    const lsn = committed[committed.length - 1].lsn;
    if (compareLsn(lsn, previousHead) > 0) this.head = lsn;
    let changes = committed;
    if (this.state === 'streaming' && compareLsn(changes[0].lsn, this.sentLsn) <= 0) {
      // The pump already read some of these (they committed before this session subscribed, or
      // before the feed's turn came): send only what is new.
      changes = changes.filter((change) => compareLsn(change.lsn, this.sentLsn) > 0);
      if (changes.length === 0) return;
    }
    const caughtUp = this.state === 'streaming' && !this.pumping && compareLsn(this.sentLsn, previousHead) === 0;
    if (caughtUp && this.lsnWindow.hasRoom && this.out.hasRoom && changes.length <= this.sources.limits.changesPerMessage) {
      this.sendChanges(changes);
    } else {
      void this.pump().catch(this.onError);
    }
  }
}

/** How many changes at the start of `changes` (in LSN order) belong to its first transaction. */
function transactionLength(changes: readonly ChangeRecord[]): number {
  let n = 1;
  while (n < changes.length && changes[n].lsn === changes[0].lsn) n++;
  return n;
}

/** How many of the first changes make whole transactions and at most `limit` changes (0: the first transaction alone is larger). */
function wholeTransactionsWithin(changes: readonly ChangeRecord[], limit: number): number {
  let end = 0;
  for (let i = 1; i <= Math.min(limit, changes.length); i++) {
    if (i === changes.length || changes[i].lsn !== changes[i - 1].lsn) end = i;
  }
  return end;
}
