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
  type ClientMessage,
  type ErrorCode,
  type Hello,
  type Lsn,
  type Push,
  type ServerMessage,
} from '../../protocol/index.js';
import type { JwtVerifier } from '../auth/jwt-verifier.js';
import type { ServerMetrics } from '../ops/metrics.js';
import type { CompiledRules } from '../rules/ast.js';
import { RulesAccess } from '../rules/rules-access.js';
import { UserView } from '../rules/user-view.js';
import type { Caller, Principal, SyncStore, WriteResult } from '../store/store.js';
import { DataPump, type DataSources } from './data-pump.js';
import { authenticateHello } from './hello-auth.js';
import { Heartbeat } from './heartbeat.js';
import { InboundQueue } from './inbound-queue.js';
import { InvalidMessages } from './invalid-messages.js';
import { OutboundBuffer, type SendKind, type SessionOutput, type SessionTransport } from './outbound.js';
import { RateLimit } from './rate-limit.js';
import { chooseSyncMode } from './sync-mode.js';

/**
 * How long a hello waits for this process to read the shared change log up to the client's LSN
 * (another process served it that far) before the client is treated as ahead and reset.
 */
const CATCH_UP_MS = 5000;

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

/** What a session needs from the server that hosts it. */
export interface SessionHost extends DataSources {
  readonly store: SyncStore;
  /** Falsy (or a throw) refuses the client; anything else is the session's principal (an object: its claims too). */
  authenticate?: (token: string | undefined, request: unknown) => unknown | Promise<unknown>;
  /** Verifies hello tokens as JWTs: their claims are what the rules read. */
  verifier?: JwtVerifier;
  /** Per-user rules: each client reads and writes only what they allow. */
  rules?: CompiledRules;
  /** Counts what the session receives and what its pushes did (and, through the DataPump, its live deliveries). */
  readonly metrics: Pick<ServerMetrics, 'messageIn' | 'pushResults' | 'delivered'>;
  /** A session took this client id: the host closes any older session holding it. */
  claimClient(clientId: string, session: SyncSession): void;
  releaseClient(clientId: string, session: SyncSession): void;
  onError?(error: unknown, session: SyncSession): void;
}

/**
 * One client connection, from hello to close. Inbound messages are handled one at a time in
 * arrival order, behind the guards (rate limit, invalid-message count, inbound queue); the data
 * (snapshot, then changes) goes out through the DataPump. The session reaches storage only
 * through the SyncStore interface and the fan-out.
 */
export class SyncSession {
  readonly id = randomUUID();
  clientId: string | undefined;
  /** Who this client is, as `authenticate` said (see Principal); undefined without the hook. */
  principal: Principal;
  private closed = false;
  /** The server is stopping: no more frames are read (see drain). */
  private draining = false;
  private data: DataPump | undefined;
  private readonly outbound: OutboundBuffer;
  private readonly inbound: InboundQueue;
  private readonly rateLimit: RateLimit;
  private readonly invalid: InvalidMessages;
  private readonly heartbeat: Heartbeat;
  private framesReceived = 0;
  /** Under per-user rules: what this client's user may read and write. */
  private view: UserView | undefined;
  private access: RulesAccess | undefined;
  /** Closes the session when its token expires. */
  private expiry: ReturnType<typeof setTimeout> | undefined;
  /** How the pumps send: through `send`, so nothing goes out once the session is closed. */
  private readonly output: SessionOutput;

  constructor(
    private readonly host: SessionHost,
    private readonly transport: SessionTransport,
    private readonly request: unknown = undefined,
  ) {
    const { limits } = host;
    this.outbound = new OutboundBuffer(transport, limits.maxBufferedBytes, {
      onRoom: () => this.data?.resume(),
      onOverflow: () => this.close(CloseCode.slowConsumer, 'the client is not reading: over maxBufferedBytes of replies unsent'),
    });
    const outbound = this.outbound;
    const isClosed = () => this.closed;
    this.output = {
      send: (message, kind) => this.send(message, kind),
      get hasRoom() {
        return outbound.hasRoom;
      },
      get isClosed() {
        return isClosed();
      },
    };
    this.inbound = new InboundQueue(limits.maxQueuedMessages, transport);
    this.rateLimit = new RateLimit(limits.rateLimitPerSecond, limits.rateLimitBurst);
    this.invalid = new InvalidMessages(limits.maxInvalidMessages);
    this.heartbeat = new Heartbeat(limits.heartbeatIntervalMs, limits.heartbeatTimeoutMs, {
      ping: () => this.send({ type: 'ping' }),
      timeout: () => this.close(CloseCode.heartbeatTimeout, 'heartbeat timeout'),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get stats(): SessionStats {
    const phase = this.data?.phase ?? 'starting';
    return {
      sessionId: this.id,
      clientId: this.clientId,
      phase: this.closed ? 'closed' : phase === 'starting' ? 'awaiting_hello' : phase,
      bufferedBytes: this.outbound.bytes,
      socketBufferedBytes: this.transport.bufferedAmount,
      bufferedReplyBytes: this.outbound.replyBytes,
      changesInFlight: this.data?.changesInFlight ?? 0,
      queuedMessages: this.inbound.size,
      framesReceived: this.framesReceived,
    };
  }

  /** One inbound frame of `bytes` bytes, as the socket delivered it. */
  receive(frame: string, isBinary = false, bytes = Buffer.byteLength(frame)): void {
    if (this.closed || this.draining) return;
    this.framesReceived += 1;
    this.heartbeat.seen();
    const message = this.admit(frame, isBinary);
    this.host.metrics.messageIn(message?.type ?? 'invalid', bytes);
    if (!message) return;
    if (message.type === 'ping') {
      // After the hello, a pong carries the LSN the client will reach: how it knows what "caught up" means now.
      const pong = (lsn?: Lsn) => void this.send({ type: 'pong', ...(message.id !== undefined && { id: message.id }), ...(lsn && { lsn }) });
      if (this.clientId === undefined || !this.data) return pong();
      if (!this.view) return pong(this.host.store.currentLsn());
      this.data.position().then(pong, (error) => this.onHandlerError(error, 'ping'));
      return;
    }
    if (message.type === 'pong') return;
    this.enqueue(message);
  }

  /** The frame's message, or undefined when it is refused (rate limit, binary, malformed): the client is told. */
  private admit(frame: string, isBinary: boolean): ClientMessage | undefined {
    const admitted = this.rateLimit.admit();
    if (admitted !== 'accept') return void this.onRateLimited(admitted);
    if (isBinary) return void this.reject(new SyncProtocolError('malformed_frame', 'binary frames are not part of the protocol'));
    const decoded = decodeClientMessage(frame);
    if (!decoded.ok) return void this.reject(decoded.error);
    return decoded.value;
  }

  private enqueue(message: ClientMessage): void {
    this.inbound.add(
      () =>
        this.handle(message)
          .then(() => this.invalid.reset())
          .catch((error) => this.onHandlerError(error, message.type)),
      () => !this.closed,
    );
  }

  /** Closes the session and its socket. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.inbound.resume();
    this.transport.close(code, reason);
  }

  /**
   * Ends the session for a server that is stopping: frames not read yet stay unread (the client
   * sends them again to the server it reconnects to), the messages already read are handled (a
   * push is applied and answered with its push_result), then the socket closes with `code`.
   */
  async drain(code: number, reason: string): Promise<void> {
    this.draining = true;
    await this.inbound.idle();
    this.close(code, reason);
  }

  /** Releases everything the session holds; called when the socket closed on its own. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.heartbeat.stop();
    clearTimeout(this.expiry);
    this.data?.close();
    if (this.clientId) this.host.releaseClient(this.clientId, this);
  }

  private async handle(message: ClientMessage): Promise<void> {
    // A push that arrived before the socket closed is still applied: the write is durable sooner,
    // and the client's resend will be answered `duplicate`.
    if (this.closed && message.type !== 'push') return;
    if (message.type === 'hello') return this.onHello(message);
    if (this.clientId === undefined) {
      throw new SyncProtocolError('hello_required', `${message.type} before hello: send hello first`);
    }
    switch (message.type) {
      case 'ack':
        return this.data!.ack(message.lsn);
      case 'snapshot_ack':
        return this.data!.snapshotAck(message.seq);
      case 'push':
        return this.onPush(message);
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    if (this.data && this.data.phase !== 'starting') throw new SyncProtocolError('duplicate_hello', 'hello was already accepted on this connection');
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.sendError('unsupported_protocol', `protocol ${hello.protocol} is not supported; this server speaks ${PROTOCOL_VERSION}`, 'hello');
      return this.close(CloseCode.protocolViolation, 'unsupported protocol');
    }
    const auth = await authenticateHello(this.host, hello.token, this.request);
    if (!auth.ok) {
      // A token that merely expired is worth a new one: the client fetches it and comes back at once.
      this.sendError('unauthorized', auth.expired ? 'the token expired: fetch a new one and reconnect' : 'authentication failed', 'hello');
      return this.close(auth.expired ? CloseCode.tokenExpired : CloseCode.unauthorized, auth.expired ? 'token expired' : 'unauthorized');
    }
    this.principal = auth.principal;
    if (auth.endsAt !== undefined) this.closeAt(auth.endsAt);
    if (this.closed) return;
    const { store, limits } = this.host;
    const clientKnown = await store.registerClient(hello.clientId);
    if (this.closed) return;
    // Another process over the same database may have brought this client further than this one
    // has read the shared log yet: it waits to catch up rather than resetting the client.
    if (compareLsn(hello.lsn, store.currentLsn()) > 0) await store.catchUpTo(hello.lsn, CATCH_UP_MS);
    if (this.closed) return;
    this.clientId = hello.clientId;
    this.host.claimClient(hello.clientId, this);
    if (this.host.rules) {
      this.view = new UserView(this.host.rules, store.schema, auth.claims, hello.clientId);
      this.access = new RulesAccess(this.host.rules, store.schema, auth.claims);
    }
    this.data?.close(); // a hello whose snapshot failed to open, now tried again
    const data = (this.data = new DataPump(
      this.host,
      this.caller,
      this.output,
      (error) => {
        this.onHandlerError(error, 'changes');
        // A view that failed mid-change (a store read refused) cannot tell what it applied: a new
        // session loads the sets afresh at the client's checkpoint.
        if (this.view) this.close(CloseCode.internalError, 'the server failed to send this client its changes: reconnect');
      },
      () => this.close(CloseCode.resyncRequired, "the change log no longer reaches back to this client's position: reconnect for a fresh snapshot"),
      this.view,
    ));
    const { mode, reason } = chooseSyncMode({
      clientLsn: hello.lsn,
      clientSchemaHash: hello.schemaHash,
      schemaHash: store.schema.hash,
      serverLsn: data.headLsn,
      oldestResumableLsn: store.oldestResumableLsn(),
      ...(this.view && { clientSetHash: hello.setHash, setHash: this.view.setHash }),
    });
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      sessionId: this.id,
      serverLsn: data.headLsn,
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
    try {
      await (needsSnapshot(mode) ? data.startSnapshot() : data.startStreaming(hello.lsn));
    } catch (error) {
      if (!this.view) throw error;
      // The user's sets could not be read (see the DataPump's error handler above): start afresh.
      this.onHandlerError(error, 'hello');
      this.close(CloseCode.internalError, 'the server failed to start this client on its rows: reconnect');
    }
  }

  /** The session ends when its token does; the client comes back with a new one (CloseCode.tokenExpired). */
  private closeAt(expiresAt: number): void {
    // setTimeout holds at most 2^31-1 ms; a longer token is re-checked then.
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 0x7fffffff);
    this.expiry = setTimeout(() => {
      if (Date.now() >= expiresAt) this.close(CloseCode.tokenExpired, 'token expired');
      else this.closeAt(expiresAt);
    }, delay);
    this.expiry.unref?.();
  }

  /** Who this session's store and fan-out calls are made for. */
  private get caller(): Caller {
    return { principal: this.principal, ...(this.access && { access: this.access }) };
  }

  private async onPush(push: Push): Promise<void> {
    const { store, limits } = this.host;
    if (push.changes.length > limits.maxChangesPerPush) {
      throw new SyncProtocolError('too_many_changes', `a push may carry at most ${limits.maxChangesPerPush} changes, got ${push.changes.length}`);
    }
    // Every change is checked before any is written: one bad change refuses the whole push.
    push.changes.forEach((change) => checkClientChange(store.schema, change));
    const results = await store.applyClientWrites(this.clientId!, push.changes, this.caller);
    this.host.metrics.pushResults(results);
    this.send({ type: 'push_result', results: this.view ? results.map((result, i) => this.withoutForeignRow(result, push.changes[i].table)) : results });
  }

  /** A rejection shows the server's row only when it is in the client's set: never a row it may not read. */
  private withoutForeignRow(result: WriteResult, table: string): WriteResult {
    if (result.status !== 'rejected' || result.serverRow === null || this.view!.mayRead(table, result.serverRow)) return result;
    return { ...result, serverRow: null };
  }

  private onRateLimited(admitted: 'drop' | 'warn' | 'close'): void {
    if (admitted === 'close') return this.close(CloseCode.rateLimited, 'rate limit exceeded');
    if (admitted === 'drop') return;
    const { message, retryAfterMs } = this.rateLimit.warning();
    this.send({ type: 'error', code: 'rate_limited', message, retryable: true, retryAfterMs });
  }

  private reject(error: SyncProtocolError, ref?: string): void {
    this.sendError(error.code, error.message, ref ?? (error.context.ref as string | undefined));
    if (this.invalid.count()) this.close(CloseCode.protocolViolation, 'too many invalid messages');
  }

  private onHandlerError(error: unknown, ref: string): void {
    if (error instanceof SyncProtocolError) return this.reject(error, ref);
    this.host.onError?.(error, this);
    this.sendError('internal', 'the server failed to handle this message; try again', ref);
  }

  private sendError(code: ErrorCode, message: string, ref?: string): void {
    this.send({ type: 'error', code, message, retryable: RETRYABLE_CODES.has(code), ...(ref && { ref }) });
  }

  /** Every frame goes out here; see OutboundBuffer for why data waits and replies cannot. */
  private send(message: ServerMessage, kind: SendKind = 'reply'): number {
    if (this.closed) return 0;
    return this.outbound.send(message, kind);
  }
}
