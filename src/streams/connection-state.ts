import type { SyncMode } from '../protocol/messages.js';

/**
 * The connection's status as a small pure reducer: what happened in, the status out. It decides
 * nothing about timing: the reconnect operator (`retryBackoff`) owns the attempt count and the
 * delay, and tells them in `connection_lost`; the status only records them for `status$`.
 *
 * ```
 *  idle --connect--> connecting --socket_open--> handshaking --welcome(initial|catchup|reset)--> syncing
 *                     ^  | dial                       |  welcome(live)                              | caught_up
 *               retry |  +-> connecting(url)          +-------------------> live <------------------+
 *                     backoff <--- connection_lost (from connecting, handshaking, syncing, live)
 *  any --disconnect--> disconnected --connect--> connecting          any --cleanup--> closed (terminal)
 * ```
 *
 * Each try learns its URL when it dials (`dial`: a list's next URL, or a URL function's answer),
 * so `connecting` may not know it yet; from `handshaking` on it is the URL of the open socket.
 */

/** How a `syncing` connection catches up: a fresh snapshot, changes since our LSN, or a reset. */
export type SyncingMode = Exclude<SyncMode, 'live'>;

/** What took a connection down. */
export type FailureCause = 'socket_closed' | 'heartbeat_timeout';

export type ConnectionState =
  /** Never asked to connect. */
  | { status: 'idle' }
  /**
   * Opening the socket; `attempt` is the reconnect attempt it is (0: not a reconnect); `url` once
   * this try dialed (a URL function may still be answering).
   */
  | { status: 'connecting'; url?: string; attempt: number }
  /** The socket is open; the hello went out, the welcome has not come yet. */
  | { status: 'handshaking'; url: string; attempt: number }
  /** Welcomed (a healthy connection); catching up (initial snapshot, changes since our LSN, or a reset) before going live. */
  | { status: 'syncing'; url: string; mode: SyncingMode }
  /** Caught up and streaming. */
  | { status: 'live'; url: string }
  /**
   * Waiting `delayMs` before reconnect number `attempt` (counted since the last welcome); `url`
   * is the one that failed, if the try got as far as dialing.
   */
  | { status: 'backoff'; url?: string; attempt: number; delayMs: number; cause: FailureCause }
  /** Disconnected on purpose by the user; only `connect` (or `cleanup`) leaves it. */
  | { status: 'disconnected'; reason?: string }
  /** Cleaned up. Terminal. */
  | { status: 'closed' };

/** The public `status$` value. */
export type ConnectionStatus = ConnectionState['status'];

export type ConnectionEvent =
  | { type: 'connect' }
  /** This try's URL is known (a list's next one, or a URL function's answer): its socket is opening. */
  | { type: 'dial'; url: string }
  | { type: 'socket_open' }
  | { type: 'welcome'; mode: SyncMode }
  | { type: 'caught_up' }
  /** The socket closed or went silent; the reconnect operator will try again after `delayMs`. */
  | { type: 'connection_lost'; cause: FailureCause; attempt: number; delayMs: number }
  /** The wait is over (its timer, or the browser's `online` event): a new socket opens. */
  | { type: 'retry' }
  | { type: 'disconnect'; reason?: string }
  | { type: 'cleanup' };

export type ConnectionEventType = ConnectionEvent['type'];

// Records keyed by the unions: adding a status or an event type without listing it here is a
// compile error, so these lists (and the table-driven spec built on them) stay complete.
const statusSet: Record<ConnectionStatus, true> = {
  idle: true,
  connecting: true,
  handshaking: true,
  syncing: true,
  live: true,
  backoff: true,
  disconnected: true,
  closed: true,
};
const eventTypeSet: Record<ConnectionEventType, true> = {
  connect: true,
  dial: true,
  socket_open: true,
  welcome: true,
  caught_up: true,
  connection_lost: true,
  retry: true,
  disconnect: true,
  cleanup: true,
};
export const CONNECTION_STATUSES = Object.keys(statusSet) as readonly ConnectionStatus[];
export const CONNECTION_EVENT_TYPES = Object.keys(eventTypeSet) as readonly ConnectionEventType[];

export const initialConnectionState: ConnectionState = { status: 'idle' };

type StateOf<S extends ConnectionStatus> = Extract<ConnectionState, { status: S }>;
type EventOf<E extends ConnectionEventType> = Extract<ConnectionEvent, { type: E }>;
type Transitions<S extends ConnectionStatus> = { [E in ConnectionEventType]?: (state: StateOf<S>, event: EventOf<E>) => ConnectionState };

const disconnect = (_: unknown, event: EventOf<'disconnect'>): ConnectionState =>
  event.reason === undefined ? { status: 'disconnected' } : { status: 'disconnected', reason: event.reason };
const cleanup = (): ConnectionState => ({ status: 'closed' });
const connectionLost = (state: { url?: string }, event: EventOf<'connection_lost'>): ConnectionState => ({
  status: 'backoff',
  ...(state.url !== undefined && { url: state.url }),
  attempt: event.attempt,
  delayMs: event.delayMs,
  cause: event.cause,
});

/**
 * Every transition there is; an event a status does not list leaves that very state object
 * (`===`), so a late socket or timer event never undoes an explicit disconnect, and `connect`
 * while connecting or connected is ignored (to switch URLs, disconnect first). A `socket_open`
 * before any `dial` is ignored too: no socket opens before its URL is known.
 */
const TRANSITIONS: { [S in ConnectionStatus]: Transitions<S> } = {
  idle: { connect: () => ({ status: 'connecting', attempt: 0 }), disconnect, cleanup },
  connecting: {
    dial: (s, e) => ({ status: 'connecting', url: e.url, attempt: s.attempt }),
    socket_open: (s) => (s.url === undefined ? s : { status: 'handshaking', url: s.url, attempt: s.attempt }),
    connection_lost: connectionLost,
    disconnect,
    cleanup,
  },
  handshaking: {
    welcome: (s, e) => (e.mode === 'live' ? { status: 'live', url: s.url } : { status: 'syncing', url: s.url, mode: e.mode }),
    connection_lost: connectionLost,
    disconnect,
    cleanup,
  },
  syncing: { caught_up: (s) => ({ status: 'live', url: s.url }), connection_lost: connectionLost, disconnect, cleanup },
  live: { connection_lost: connectionLost, disconnect, cleanup },
  backoff: {
    retry: (s) => ({ status: 'connecting', attempt: s.attempt }),
    connect: (s) => ({ status: 'connecting', attempt: s.attempt }),
    disconnect,
    cleanup,
  },
  disconnected: { connect: () => ({ status: 'connecting', attempt: 0 }), cleanup },
  closed: {},
};

/** The next state: pure; an event that means nothing in a state returns that very state. */
export function transition(state: ConnectionState, event: ConnectionEvent): ConnectionState {
  const next = (TRANSITIONS[state.status] as Record<string, ((s: ConnectionState, e: ConnectionEvent) => ConnectionState) | undefined>)[event.type];
  return next ? next(state, event) : state;
}
