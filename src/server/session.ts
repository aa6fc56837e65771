import { randomUUID } from 'node:crypto';
import {
  CloseCode,
  PROTOCOL_VERSION,
  RETRYABLE_CODES,
  SyncProtocolError,
  checkClientChange,
  compareLsn,
  decodeClientMessage,
  needsSnapshot,
  schemaDefinition,
  type ChangeRecord,
  type ClientMessage,
  type ErrorCode,
  type Hello,
  type Lsn,
  type Push,
  type ServerMessage,
} from '../protocol/index.js';
import type { Fanout } from './fanout/fanout.js';
import type { ServerLimits } from './limits.js';
import { TokenBucket } from './rate-limiter.js';
import { InboundQueue } from './inbound-queue.js';
import { ChunkWindow, LsnWindow } from './send-window.js';
import type { SnapshotReader, SyncStore } from './store/store.js';
import { chooseSyncMode } from './sync-mode.js';

/** What a session needs from the socket: the server's transport adapts a `ws` WebSocket to it. */
export interface SessionTransport {
  /**
   * Queues one frame and returns its size in bytes (0 if the socket is no longer open, and then
   * `written` never runs). `written` runs once the frame's bytes have left the process (handed
   * to the OS), or the socket failed: until then they are memory this session holds.
   */
  send(message: ServerMessage, written: () => void): number;
  close(code: number, reason: string): void;
  /** Bytes the socket itself still holds unsent (`ws` bufferedAmount): a check on the session's own count. */
  readonly bufferedAmount: number;
  /** Stops reading inbound frames (TCP backpressure on the client) until `resume()`. */
  pause(): void;
  resume(): void;
}

/** What a session holds for its client right now: what a `sessionStats()` row shows. */
export interface SessionStats {
  sessionId: string;
  clientId: string | undefined;
  phase: 'awaiting_hello' | 'snapshot' | 'streaming' | 'closed';
  /** Bytes of frames sent to the socket and not yet handed to the OS: data and replies. */
  bufferedBytes: number;
  /** The same seen from the socket (`ws` bufferedAmount). */
  socketBufferedBytes: number;
  /** The part of `bufferedBytes` that is answers (`push_result`, `pong`, `error`, `ping`), not data. */
  bufferedReplyBytes: number;
  /** `changes` messages sent and not yet acknowledged. */
  changesInFlight: number;
  /** Inbound messages accepted and not yet handled. */
  queuedMessages: number;
  /** Inbound frames received on this connection, of any kind (dropped ones included). */
  framesReceived: number;
}

/** Data (snapshot chunks, changes) waits for room; replies answer the client and cannot wait. */
type SendKind = 'data' | 'reply';

/** What a session needs from the server that hosts it. */
export interface SessionHost {
  readonly store: SyncStore;
  /** The store's changes, live or read back (see Fanout). */
  readonly fanout: Pick<Fanout, 'subscribe' | 'changesSince'>;
  readonly limits: ServerLimits;
  /** Falsy (or a throw) refuses the client. */
  authenticate?: (token: string | undefined, request: unknown) => unknown | Promise<unknown>;
  /** A session took this client id: the host closes any older session holding it. */
  claimClient(clientId: string, session: SyncSession): void;
  releaseClient(clientId: string, session: SyncSession): void;
  onError?(error: unknown, session: SyncSession): void;
}

/** A commit's `changes` message, by the commit's records array (see sendChanges). */
const sharedChangesMessages = new WeakMap<ChangeRecord[], ServerMessage>();

type Phase = 'awaiting_hello' | 'snapshot' | 'streaming' | 'closed';

/**
 * One client connection, from hello to close. Inbound messages are handled one at a time in
 * arrival order; outbound data (snapshot chunks, then changes) is pumped from the store only while
 * the client's window has room, so a slow or silent client costs a bounded amount of memory.
 * The session reaches storage only through the SyncStore interface.
 */
export class SyncSession {
  readonly id = randomUUID();
  clientId: string | undefined;
  private phase: Phase = 'awaiting_hello';
  private readonly inbound: InboundQueue;
  private sentLsn: Lsn = '0/0';
  private headLsn: Lsn = '0/0';
  private snapshot: SnapshotReader | undefined;
  private snapshotProgress = new Map<string, { sent: number; chunks: number }>();
  private readonly chunkWindow: ChunkWindow;
  private readonly lsnWindow: LsnWindow;
  private pumping = false;
  private pumpAgain = false;
  private unsubscribe: (() => void) | undefined;
  private lastSeen = performance.now();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly bucket: TokenBucket;
  private droppedInRow = 0;
  private lastRateErrorAt = -Infinity;
  private invalidInRow = 0;
  /** Bytes handed to the transport and not yet written out, by kind (see `send`). */
  private readonly unwritten = { data: 0, reply: 0 };
  private framesReceived = 0;

  constructor(
    private readonly host: SessionHost,
    private readonly transport: SessionTransport,
    private readonly request: unknown = undefined,
  ) {
    const { limits } = host;
    this.chunkWindow = new ChunkWindow(limits.snapshotWindow);
    this.lsnWindow = new LsnWindow(limits.changesWindow);
    this.bucket = new TokenBucket(limits.rateLimitPerSecond, limits.rateLimitBurst);
    this.inbound = new InboundQueue(limits.maxQueuedMessages, transport);
    this.heartbeat = setInterval(() => this.onHeartbeatTick(), limits.heartbeatIntervalMs);
    this.heartbeat.unref?.();
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  get stats(): SessionStats {
    return {
      sessionId: this.id,
      clientId: this.clientId,
      phase: this.phase,
      bufferedBytes: this.bufferedBytes,
      socketBufferedBytes: this.transport.bufferedAmount,
      bufferedReplyBytes: this.unwritten.reply,
      changesInFlight: this.lsnWindow.pending,
      queuedMessages: this.inbound.size,
      framesReceived: this.framesReceived,
    };
  }

  private get bufferedBytes(): number {
    return this.unwritten.data + this.unwritten.reply;
  }

  /** Room for one more data message: the socket holds less than `maxBufferedBytes` unsent. */
  private get hasSendRoom(): boolean {
    return this.bufferedBytes < this.host.limits.maxBufferedBytes;
  }

  /** One inbound frame, as the socket delivered it. */
  receive(frame: string, isBinary = false): void {
    if (this.phase === 'closed') return;
    this.framesReceived += 1;
    this.lastSeen = performance.now();
    if (!this.bucket.tryTake()) return this.onRateLimited();
    this.droppedInRow = 0;
    if (isBinary) return this.reject(new SyncProtocolError('malformed_frame', 'binary frames are not part of the protocol'));
    const decoded = decodeClientMessage(frame);
    if (!decoded.ok) return this.reject(decoded.error);
    const message = decoded.value;
    if (message.type === 'ping') {
      // After the hello, a pong carries the head LSN: how a client knows what "caught up" means now.
      const lsn = this.clientId === undefined ? undefined : this.host.store.currentLsn();
      return this.send({ type: 'pong', ...(message.id !== undefined && { id: message.id }), ...(lsn && { lsn }) });
    }
    if (message.type === 'pong') return;
    this.enqueue(message);
  }

  private enqueue(message: ClientMessage): void {
    this.inbound.add(
      () =>
        this.handle(message)
          .then(() => { this.invalidInRow = 0; })
          .catch((error) => this.onHandlerError(error, message.type)),
      () => !this.isClosed,
    );
  }

  /** Closes the session and its socket. */
  close(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.dispose();
    this.inbound.resume();
    this.transport.close(code, reason);
  }

  /** Releases everything the session holds; called when the socket closed on its own. */
  dispose(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    this.snapshot?.close();
    if (this.clientId) this.host.releaseClient(this.clientId, this);
  }

  private async handle(message: ClientMessage): Promise<void> {
    // A push that arrived before the socket closed is still applied: the write is durable sooner,
    // and the client's resend will be answered `duplicate`.
    if (this.phase === 'closed' && message.type !== 'push') return;
    if (message.type === 'hello') return this.onHello(message);
    if (this.clientId === undefined) {
      throw new SyncProtocolError('hello_required', `${message.type} before hello: send hello first`);
    }
    switch (message.type) {
      case 'ack':
        if (!this.lsnWindow.ack(message.lsn, this.sentLsn)) {
          throw new SyncProtocolError('invalid_lsn', `ack ${message.lsn} is beyond the last LSN sent (${this.sentLsn})`);
        }
        // Caught up: the window opening releases nothing, so no store read (with 1,000 live
        // sessions, one per ack was most of the server's time).
        if (this.phase === 'streaming' && !this.pumping && compareLsn(this.sentLsn, this.host.store.currentLsn()) >= 0) return;
        return this.pump();
      case 'snapshot_ack':
        if (!this.chunkWindow.ack(message.seq)) {
          throw new SyncProtocolError('invalid_ack', `snapshot_ack ${message.seq} is beyond the last chunk sent (${this.chunkWindow.lastSent})`);
        }
        return this.pump();
      case 'push':
        return this.onPush(message);
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    if (this.phase !== 'awaiting_hello') throw new SyncProtocolError('duplicate_hello', 'hello was already accepted on this connection');
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.sendError('unsupported_protocol', `protocol ${hello.protocol} is not supported; this server speaks ${PROTOCOL_VERSION}`, 'hello');
      return this.close(CloseCode.protocolViolation, 'unsupported protocol');
    }
    if (this.host.authenticate && !(await this.isAuthenticated(hello.token))) {
      this.sendError('unauthorized', 'authentication failed', 'hello');
      return this.close(CloseCode.unauthorized, 'unauthorized');
    }
    if (this.isClosed) return;
    const { store, limits } = this.host;
    const clientKnown = await store.registerClient(hello.clientId);
    if (this.isClosed) return;
    this.clientId = hello.clientId;
    this.host.claimClient(hello.clientId, this);
    // Subscribe before reading the head so that no commit falls between the two. (A commit may
    // already be in the head and still on its way from the feed: onCommitted skips what was sent.)
    this.unsubscribe = this.host.fanout.subscribe((changes) => this.onCommitted(changes));
    this.headLsn = store.currentLsn();
    const { mode, reason } = chooseSyncMode({
      clientLsn: hello.lsn,
      clientSchemaHash: hello.schemaHash,
      schemaHash: store.schema.hash,
      serverLsn: this.headLsn,
      oldestResumableLsn: store.oldestResumableLsn(),
    });
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      sessionId: this.id,
      serverLsn: this.headLsn,
      mode,
      clientKnown,
      limits: {
        maxMessageBytes: limits.maxMessageBytes,
        maxChangesPerPush: limits.maxChangesPerPush,
        snapshotWindow: limits.snapshotWindow,
        changesWindow: limits.changesWindow,
        heartbeatIntervalMs: limits.heartbeatIntervalMs,
        heartbeatTimeoutMs: limits.heartbeatTimeoutMs,
      },
      ...(reason && { reason }),
      ...(reason === 'schema_mismatch' && { schema: schemaDefinition(store.schema) }),
    });
    if (needsSnapshot(mode)) return this.startSnapshot();
    this.sentLsn = hello.lsn;
    this.phase = 'streaming';
    return this.pump();
  }

  private async isAuthenticated(token: string | undefined): Promise<boolean> {
    try {
      return Boolean(await this.host.authenticate!(token, this.request));
    } catch {
      return false;
    }
  }

  private async startSnapshot(): Promise<void> {
    const { store, limits } = this.host;
    const reader = await store.openSnapshot({ chunkRows: limits.snapshotChunkRows });
    if (this.isClosed) return reader.close();
    this.snapshot = reader;
    const tables = reader.tables.map(({ table, rows }) => ({ table, rows, chunks: Math.ceil(rows / limits.snapshotChunkRows) }));
    for (const { table, chunks } of tables) this.snapshotProgress.set(table, { sent: 0, chunks });
    this.send({ type: 'snapshot_begin', lsn: reader.lsn, chunks: tables.reduce((n, t) => n + t.chunks, 0), tables });
    this.phase = 'snapshot';
    return this.pump();
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
        if (this.phase === 'snapshot') await this.pumpSnapshot();
        if (this.phase === 'streaming') await this.pumpChanges();
      } while (this.pumpAgain && !this.isClosed);
    } finally {
      this.pumping = false;
    }
  }

  private async pumpSnapshot(): Promise<void> {
    const reader = this.snapshot!;
    while (this.phase === 'snapshot' && this.chunkWindow.hasRoom && this.hasSendRoom) {
      const chunk = await reader.nextChunk();
      if (this.isClosed) return;
      if (!chunk) {
        reader.close();
        this.snapshot = undefined;
        this.send({ type: 'snapshot_end', lsn: reader.lsn }, 'data');
        this.sentLsn = reader.lsn;
        this.phase = 'streaming';
        return;
      }
      const progress = this.snapshotProgress.get(chunk.table)!;
      progress.sent += 1;
      // Rows added while the snapshot is read can make a table one chunk longer than announced.
      progress.chunks = Math.max(progress.chunks, progress.sent);
      this.send({
        type: 'snapshot_chunk',
        seq: this.chunkWindow.next(),
        table: chunk.table,
        chunk: progress.sent,
        chunks: progress.chunks,
        columns: [...chunk.columns],
        rows: chunk.rows,
      }, 'data');
    }
  }

  private async pumpChanges(): Promise<void> {
    const { fanout, limits } = this.host;
    while (this.phase === 'streaming' && this.lsnWindow.hasRoom && this.hasSendRoom) {
      const changes = await fanout.changesSince(this.sentLsn, limits.changesPerMessage);
      if (this.isClosed || changes.length === 0) return;
      this.sendChanges(changes);
    }
  }

  private sendChanges(changes: ChangeRecord[]): void {
    const lsn = changes[changes.length - 1].lsn;
    // One message object per commit, shared by every session the live path sends it to, so the
    // transport encodes it once (with 1,000 sessions, JSON.stringify per session was a large
    // share of the server's time).
    let message = sharedChangesMessages.get(changes);
    if (!message) sharedChangesMessages.set(changes, (message = { type: 'changes', lsn, changes }));
    this.send(message, 'data');
    this.lsnWindow.sent(lsn);
    this.sentLsn = lsn;
  }

  /**
   * Live path: a commit's changes go straight out when this session had sent everything before
   * them and has room (in the window and in the socket's buffer); otherwise they stay in the log,
   * and the pump reads them from the store when the client acks or the socket drains. So a client
   * that stops reading costs at most `maxBufferedBytes` (plus one message), however much is written.
   */
  private onCommitted(committed: ChangeRecord[]): void {
    if (this.isClosed || committed.length === 0) return;
    const previousHead = this.headLsn;
    const lsn = committed[committed.length - 1].lsn;
    if (compareLsn(lsn, previousHead) > 0) this.headLsn = lsn;
    let changes = committed;
    if (this.phase === 'streaming' && compareLsn(changes[0].lsn, this.sentLsn) <= 0) {
      // The pump already read some of these from the store (they committed before this session
      // subscribed, or before the feed's turn came): send only what is new.
      changes = changes.filter((change) => compareLsn(change.lsn, this.sentLsn) > 0);
      if (changes.length === 0) return;
    }
    const caughtUp = this.phase === 'streaming' && !this.pumping && compareLsn(this.sentLsn, previousHead) === 0;
    if (caughtUp && this.lsnWindow.hasRoom && this.hasSendRoom && changes.length <= this.host.limits.changesPerMessage) {
      this.sendChanges(changes);
    } else {
      void this.pump().catch((error) => this.onHandlerError(error, 'changes'));
    }
  }

  private async onPush(push: Push): Promise<void> {
    const { store, limits } = this.host;
    if (push.changes.length > limits.maxChangesPerPush) {
      throw new SyncProtocolError('too_many_changes', `a push may carry at most ${limits.maxChangesPerPush} changes, got ${push.changes.length}`);
    }
    // Every change is checked before any is written: one bad change refuses the whole push.
    push.changes.forEach((change) => checkClientChange(store.schema, change));
    const results = await store.applyClientWrites(this.clientId!, push.changes);
    this.send({ type: 'push_result', results });
  }

  private onHeartbeatTick(): void {
    if (performance.now() - this.lastSeen > this.host.limits.heartbeatTimeoutMs) {
      return this.close(CloseCode.heartbeatTimeout, 'heartbeat timeout');
    }
    this.send({ type: 'ping' });
  }

  private onRateLimited(): void {
    this.droppedInRow += 1;
    if (this.droppedInRow > this.host.limits.rateLimitBurst) return this.close(CloseCode.rateLimited, 'rate limit exceeded');
    const now = performance.now();
    if (now - this.lastRateErrorAt < 1000) return;
    this.lastRateErrorAt = now;
    this.send({
      type: 'error',
      code: 'rate_limited',
      message: `more than ${this.host.limits.rateLimitPerSecond} messages per second: message dropped`,
      retryable: true,
      retryAfterMs: Math.max(1, this.bucket.msUntilNextToken()),
    });
  }

  private reject(error: SyncProtocolError, ref?: string): void {
    this.sendError(error.code, error.message, ref ?? (error.context.ref as string | undefined));
    this.invalidInRow += 1;
    if (this.invalidInRow >= this.host.limits.maxInvalidMessages) this.close(CloseCode.protocolViolation, 'too many invalid messages');
  }

  private onHandlerError(error: unknown, ref: string): void {
    if (error instanceof SyncProtocolError) return this.reject(error, ref);
    this.host.onError?.(error, this);
    this.sendError('internal', 'the server failed to handle this message; try again', ref);
  }

  private sendError(code: ErrorCode, message: string, ref?: string): void {
    this.send({ type: 'error', code, message, retryable: RETRYABLE_CODES.has(code), ...(ref && { ref }) });
  }

  /**
   * Every frame goes out here, counted until the socket has written it. Data waits for room (the
   * pumps check `hasSendRoom`), and when the buffer drains below the limit the pump starts again.
   * Replies cannot wait: a client whose unread replies exceed `maxBufferedBytes` is not reading
   * what it asks for, and is closed with 4413 rather than allowed to grow the server's memory.
   */
  private send(message: ServerMessage, kind: SendKind = 'reply'): void {
    if (this.phase === 'closed') return;
    const { maxBufferedBytes } = this.host.limits;
    const bytes = this.transport.send(message, () => {
      const before = this.bufferedBytes;
      this.unwritten[kind] -= bytes;
      if (before >= maxBufferedBytes && this.hasSendRoom && (this.phase === 'snapshot' || this.phase === 'streaming')) {
        void this.pump().catch((error) => this.onHandlerError(error, 'changes'));
      }
    });
    this.unwritten[kind] += bytes;
    if (kind === 'reply' && this.unwritten.reply > maxBufferedBytes) {
      this.close(CloseCode.slowConsumer, 'the client is not reading: over maxBufferedBytes of replies unsent');
    }
  }
}
