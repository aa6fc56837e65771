import { BehaviorSubject, defer, from, of, switchMap, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { decodeServerMessage, type ServerMessage, type SyncMode } from '../protocol/index.js';
import { heartbeat, retryBackoff, validate } from '../operators/index.js';
import { HeartbeatTimeoutError } from '../errors.js';
import { initialConnectionState, transition, type ConnectionEvent, type ConnectionState, type ConnectionStatus } from '../streams/connection-state.js';
import type { EventBus } from '../streams/events.js';
import { socketFrames } from '../streams/socket.js';
import type { ResolvedOptions } from './options.js';
import type { SocketSession } from './session.js';
import { UrlRotation, type ServerUrls } from './server-urls.js';
import type { ConnectOptions } from './api.js';

export interface ConnectionDeps {
  readonly options: ResolvedOptions;
  readonly scheduler: SchedulerLike;
  readonly bus: EventBus;
  /** Fires to skip a reconnect wait (the browser's `online` event). */
  readonly online$: Observable<unknown>;
  /** Randomness for the reconnect jitter and the order of a URL list (Math.random). */
  readonly random: () => number;
  /** A session for a new socket. */
  newSession(): SocketSession;
  emitError(error: unknown): void;
}

/**
 * The connection to the server, kept up until `disconnect()` or `close()`: a socket per try (each
 * with its SocketSession, to the URL the UrlRotation gives: a list's next one, or a URL function's
 * answer), the heartbeat, the reconnect with backoff (counted since the last welcome, growing once
 * per round of the URLs), and the status (`status$`, a pure reducer fed with what happened). It
 * owns the current session: `session` is the welcomed one, while it is open.
 */
export class Connection {
  private state: ConnectionState = initialConnectionState;
  private readonly status = new BehaviorSubject<ConnectionStatus>('idle');
  private subscription: Subscription | undefined;
  private waiters: Array<(welcomed: boolean) => void> = [];
  private welcomed: SocketSession | undefined;
  private connectedTo: { target: ServerUrls; options: ConnectOptions } | undefined;
  readonly status$: Observable<ConnectionStatus> = this.status.asObservable();

  constructor(private readonly deps: ConnectionDeps) {}

  get currentStatus(): ConnectionStatus {
    return this.status.value;
  }
  /** The URL it is connected or connecting to (or that last failed, in backoff), if known. */
  get url(): string | undefined {
    return 'url' in this.state ? this.state.url : undefined;
  }
  /** What the running connect() was given, until disconnect() or close(). */
  get target(): { target: ServerUrls; options: ConnectOptions } | undefined {
    return this.connectedTo;
  }
  /** The welcomed session, while its socket is open. */
  get session(): SocketSession | undefined {
    return this.welcomed?.active ? this.welcomed : undefined;
  }

  /**
   * Connects to `target` (after closing any earlier connection) and keeps trying until disconnect()
   * or close(). Resolves true once a server welcomed this client; false if it was disconnected
   * first, the server refused it for good, or `timeoutMs` passed (it keeps trying in the background).
   * Throws a TypeError for a target that names no URL (an empty list).
   */
  connect(target: ServerUrls, WebSocketCtor: typeof WebSocket, options: ConnectOptions = {}): Promise<boolean> {
    const urls = new UrlRotation(target, options.urlOrder, this.deps.random);
    const { timeoutMs } = options;
    this.stop();
    this.connectedTo = { target, options };
    // A connect() while connected (another URL, or after resetLSN) starts over from disconnected.
    if (!['idle', 'disconnected', 'backoff'].includes(this.state.status)) this.dispatch({ type: 'disconnect', reason: 'reconnecting' });
    this.settle(false);
    const welcomed = new Promise<boolean>((resolve) => this.waiters.push(resolve));
    this.dispatch({ type: 'connect' });
    this.subscription = this.sockets(urls, WebSocketCtor).subscribe({
      error: (error) => {
        // Only a refusal reaches here (retryBackoff retries everything else): stop for good.
        this.deps.emitError(error);
        this.dispatch({ type: 'disconnect', reason: (error as Error).message });
        this.connectedTo = undefined;
        this.settle(false);
      },
    });
    if (timeoutMs === undefined) return welcomed;
    let timer: Subscription | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = this.deps.scheduler.schedule(() => resolve(false), timeoutMs)));
    return Promise.race([welcomed, timedOut]).finally(() => timer?.unsubscribe());
  }

  /** Closes the socket and cancels any pending reconnect. A later connect() starts afresh. */
  disconnect(reason: string): void {
    this.stop();
    this.connectedTo = undefined;
    if (this.state.status !== 'disconnected' && this.state.status !== 'idle' && this.state.status !== 'closed') {
      this.dispatch({ type: 'disconnect', reason });
      this.deps.bus.emit('disconnected', { reason });
    }
    this.settle(false);
  }

  /** For good: the status goes to `closed`. */
  close(): void {
    this.stop();
    this.connectedTo = undefined;
    this.settle(false);
    this.dispatch({ type: 'cleanup' });
    this.status.complete();
  }

  /** A session was welcomed: it is now the one pushes go to. */
  sessionWelcomed(session: SocketSession, mode: SyncMode): void {
    this.welcomed = session;
    this.dispatch({ type: 'welcome', mode });
    this.settle(true);
  }

  caughtUp(): void {
    this.dispatch({ type: 'caught_up' });
  }

  /**
   * Emits once per welcomed session (a healthy connection: the reconnect backoff starts over).
   * Each try dials the rotation's next URL; a URL function that fails fails that try like an
   * unreachable server. A round of the URLs is one step of the backoff, and a close that asks
   * for it (AT_ONCE_CLOSE_CODES: 1012, 4403) retries at once.
   */
  private sockets(urls: UrlRotation, WebSocketCtor: typeof WebSocket): Observable<void> {
    const { reconnect } = this.deps.options;
    return defer(() => {
      if (this.state.status === 'backoff') this.dispatch({ type: 'retry' });
      const url = urls.next();
      return typeof url === 'string' ? of(url) : from(url);
    }).pipe(
      switchMap((url) => {
        this.dispatch({ type: 'dial', url });
        return this.socket(url, WebSocketCtor);
      }),
      retryBackoff({
        ...reconnect,
        scheduler: this.deps.scheduler,
        random: this.deps.random,
        skipWait$: this.deps.online$,
        roundSize: urls.roundSize,
        shouldRetry: (error) => !(error as { context?: { fatal?: boolean } }).context?.fatal,
        retryAtOnce: (error) => (error as { context?: { atOnce?: boolean } }).context?.atOnce === true,
        onRetry: (error, attempt, delayMs) => {
          const url = this.url;
          this.welcomed?.closed();
          this.welcomed = undefined;
          this.dispatch({ type: 'connection_lost', cause: error instanceof HeartbeatTimeoutError ? 'heartbeat_timeout' : 'socket_closed', attempt, delayMs });
          this.deps.bus.emit('disconnected', { reason: (error as Error).message, attempt, retryInMs: delayMs, ...(url !== undefined && { url }) });
        },
      }),
    );
  }

  /** One try: the socket to `url`, its heartbeat, its session's handling of the messages. */
  private socket(url: string, WebSocketCtor: typeof WebSocket): Observable<void> {
    const { heartbeat: beat } = this.deps.options;
    return defer(() => {
      const session = this.deps.newSession();
      const frames$ = socketFrames(url, WebSocketCtor, {
        onOpen: (send, reads) => {
          this.dispatch({ type: 'socket_open' });
          session.opened(send, reads);
        },
        onClose: () => session.closed(),
      });
      return frames$.pipe(
        validate(decodeServerMessage, (error) => this.deps.emitError(error)),
        heartbeat<ServerMessage>({
          intervalMs: beat.intervalMs,
          timeoutMs: () => (beat.timeoutFromServer && session.serverHeartbeatTimeoutMs) || beat.timeoutMs,
          sendPing: () => session.ping(),
          isPong: (message) => message.type === 'pong',
          passPongs: true, // a pong carries the server's head LSN (whenSynced needs it)
          scheduler: this.deps.scheduler,
        }),
        (inbound$) => session.messages(inbound$),
      );
    });
  }

  private stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.welcomed?.closed();
    this.welcomed = undefined;
  }

  private settle(welcomed: boolean): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((resolve) => resolve(welcomed));
  }

  private dispatch(event: ConnectionEvent): void {
    const next = transition(this.state, event);
    if (next === this.state) return;
    this.state = next;
    if (this.status.value !== next.status && !this.status.closed) {
      this.status.next(next.status);
      this.deps.bus.emit('status_changed', { status: next.status, ...('attempt' in next && { attempt: next.attempt }) });
    }
  }
}
