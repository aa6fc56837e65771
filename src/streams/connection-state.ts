import type { SyncMode } from '../protocol/messages.js';
import { backoffDelay, type BackoffConfig } from '../operators/retry-backoff.js';

/**
 * The connection lifecycle as an explicit state machine: pure data in, pure data out. The shell
 * (the connection stream) owns the socket and the timers, feeds what happened in as events, and
 * acts on the state it gets back (open a socket in `connecting`, start the retry timer in
 * `backoff`, close everything in `disconnected`/`closed`).
 *
 * ```
 *  idle --connect--> connecting --socket_open--> handshaking --welcome(initial|catchup|reset)--> syncing
 *                        ^                            |  welcome(live)                              | caught_up
 *                        |                            +-------------------> live <------------------+
 *     retry_timer|online |                                                   |
 *                     backoff <--- socket_error | socket_closed | heartbeat_timeout (from any of the four)
 *  any --disconnect--> disconnected --connect--> connecting          any --cleanup--> closed (terminal)
 * ```
 */

/** How a `syncing` connection catches up: a fresh snapshot, changes since our LSN, or a reset. */
export type SyncingMode = Exclude<SyncMode, 'live'>;

/** What took a connection down. */
export type FailureCause = 'socket_error' | 'socket_closed' | 'heartbeat_timeout';

export type ConnectionState =
  /** Never asked to connect. */
  | { status: 'idle' }
  /** Opening the socket. `attempt` counts failed tries since the last healthy (welcomed) connection. */
  | { status: 'connecting'; url: string; attempt: number }
  /** The socket is open; the hello went out, the welcome has not come yet. */
  | { status: 'handshaking'; url: string; attempt: number }
  /**
   * Welcomed; catching up (initial snapshot, changes since our LSN, or a reset) before going live.
   * A welcome is a healthy connection: `attempt` is back to 0, as the reconnect backoff is.
   */
  | { status: 'syncing'; url: string; attempt: number; mode: SyncingMode }
  /** Caught up and streaming. A healthy connection: the attempt counter is back to 0. */
  | { status: 'live'; url: string }
  /** Waiting `delayMs` before reconnect number `attempt` (1 = the first after a failure). */
  | { status: 'backoff'; url: string; attempt: number; delayMs: number; cause: FailureCause }
  /** Disconnected on purpose by the user; only `connect` (or `cleanup`) leaves it. */
  | { status: 'disconnected'; reason?: string }
  /** Cleaned up. Terminal. */
  | { status: 'closed' };

/** The public `status$` value. */
export type ConnectionStatus = ConnectionState['status'];

export type ConnectionEvent =
  | { type: 'connect'; url: string }
  | { type: 'socket_open' }
  | { type: 'welcome'; mode: SyncMode }
  | { type: 'caught_up' }
  | { type: 'socket_error'; error?: unknown }
  | { type: 'socket_closed'; code?: number; reason?: string }
  | { type: 'heartbeat_timeout' }
  | { type: 'retry_timer' }
  | { type: 'online' }
  | { type: 'disconnect'; reason?: string }
  | { type: 'cleanup' };

export type ConnectionEventType = ConnectionEvent['type'];

// Records keyed by the unions: adding a status or an event type without listing it here is a
// compile error, so these lists (and the table-driven spec built on them) stay complete.
const statusSet: Record<ConnectionStatus, true> = {
  idle: true, connecting: true, handshaking: true, syncing: true, live: true, backoff: true, disconnected: true, closed: true,
};
const eventTypeSet: Record<ConnectionEventType, true> = {
  connect: true, socket_open: true, welcome: true, caught_up: true, socket_error: true, socket_closed: true,
  heartbeat_timeout: true, retry_timer: true, online: true, disconnect: true, cleanup: true,
};
export const CONNECTION_STATUSES = Object.keys(statusSet) as readonly ConnectionStatus[];
export const CONNECTION_EVENT_TYPES = Object.keys(eventTypeSet) as readonly ConnectionEventType[];

export const initialConnectionState: ConnectionState = { status: 'idle' };

/** How long to wait before reconnect number `attempt`. */
export interface ReconnectPolicy {
  delayMs(attempt: number): number;
}

/** Defaults of the reconnect backoff (without jitter, so the default policy stays deterministic). */
export const DEFAULT_RECONNECT_BACKOFF: Readonly<Required<BackoffConfig>> = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0,
};

/** A policy from a backoff config; pass `random` only if the config has jitter. */
export function reconnectPolicy(config: BackoffConfig = DEFAULT_RECONNECT_BACKOFF, random: () => number = Math.random): ReconnectPolicy {
  return { delayMs: (attempt) => backoffDelay(attempt, config, random) };
}

const defaultPolicy = reconnectPolicy();

/** True while messages can flow both ways: welcomed (`syncing`) or `live`. */
export const isSessionOpen = (state: ConnectionState): boolean => state.status === 'syncing' || state.status === 'live';

/**
 * The next state. Pure; an event that means nothing in a state returns that very state object
 * (`===`), so a shell can skip work when nothing changed. Rules:
 * - `disconnect` from anywhere but `closed` goes to `disconnected`; from there only `connect` and
 *   `cleanup` lead out, so a late socket or timer event never reconnects it.
 * - `cleanup` from anywhere goes to `closed`, which nothing leaves.
 * - a socket error/close or heartbeat timeout in `connecting`/`handshaking`/`syncing`/`live` goes
 *   to `backoff` with `attempt + 1` (`live` counts from 0) and the policy's delay for it.
 * - in `backoff`, `retry_timer` and `online` (skip the wait) go to `connecting`; so does `connect`,
 *   which also takes the new URL. `connect` while already connecting or connected is ignored (to
 *   switch URLs, `disconnect` first).
 *
 * @param policy the reconnect delays (default: 500 ms doubling to 30 s, no jitter).
 */
export function transition(state: ConnectionState, event: ConnectionEvent, policy: ReconnectPolicy = defaultPolicy): ConnectionState {
  switch (state.status) {
    case 'idle':
      return fromIdleOrDisconnected(state, event);
    case 'connecting':
      return fromConnecting(state, event, policy);
    case 'handshaking':
      return fromHandshaking(state, event, policy);
    case 'syncing':
      return fromSyncing(state, event, policy);
    case 'live':
      return fromLive(state, event, policy);
    case 'backoff':
      return fromBackoff(state, event);
    case 'disconnected':
      return fromIdleOrDisconnected(state, event);
    case 'closed':
      return fromClosed(state, event);
    default:
      return unreachable(state);
  }
}

type StateOf<S extends ConnectionStatus> = Extract<ConnectionState, { status: S }>;

function fromIdleOrDisconnected(state: StateOf<'idle' | 'disconnected'>, event: ConnectionEvent): ConnectionState {
  switch (event.type) {
    case 'connect':
      return { status: 'connecting', url: event.url, attempt: 0 };
    case 'disconnect':
      return state.status === 'idle' ? disconnected(event) : state;
    case 'cleanup':
      return closed;
    case 'socket_open':
    case 'welcome':
    case 'caught_up':
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
    case 'retry_timer':
    case 'online':
      return state;
    default:
      return unreachable(event);
  }
}

function fromConnecting(state: StateOf<'connecting'>, event: ConnectionEvent, policy: ReconnectPolicy): ConnectionState {
  switch (event.type) {
    case 'socket_open':
      return { status: 'handshaking', url: state.url, attempt: state.attempt };
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
      return backoff(state.url, state.attempt, event.type, policy);
    case 'disconnect':
      return disconnected(event);
    case 'cleanup':
      return closed;
    case 'connect':
    case 'welcome':
    case 'caught_up':
    case 'retry_timer':
    case 'online':
      return state;
    default:
      return unreachable(event);
  }
}

function fromHandshaking(state: StateOf<'handshaking'>, event: ConnectionEvent, policy: ReconnectPolicy): ConnectionState {
  switch (event.type) {
    case 'welcome':
      return event.mode === 'live'
        ? { status: 'live', url: state.url }
        : { status: 'syncing', url: state.url, attempt: 0, mode: event.mode };
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
      return backoff(state.url, state.attempt, event.type, policy);
    case 'disconnect':
      return disconnected(event);
    case 'cleanup':
      return closed;
    case 'connect':
    case 'socket_open':
    case 'caught_up':
    case 'retry_timer':
    case 'online':
      return state;
    default:
      return unreachable(event);
  }
}

function fromSyncing(state: StateOf<'syncing'>, event: ConnectionEvent, policy: ReconnectPolicy): ConnectionState {
  switch (event.type) {
    case 'caught_up':
      return { status: 'live', url: state.url };
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
      return backoff(state.url, state.attempt, event.type, policy);
    case 'disconnect':
      return disconnected(event);
    case 'cleanup':
      return closed;
    case 'connect':
    case 'socket_open':
    case 'welcome':
    case 'retry_timer':
    case 'online':
      return state;
    default:
      return unreachable(event);
  }
}

function fromLive(state: StateOf<'live'>, event: ConnectionEvent, policy: ReconnectPolicy): ConnectionState {
  switch (event.type) {
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
      return backoff(state.url, 0, event.type, policy);
    case 'disconnect':
      return disconnected(event);
    case 'cleanup':
      return closed;
    case 'connect':
    case 'socket_open':
    case 'welcome':
    case 'caught_up':
    case 'retry_timer':
    case 'online':
      return state;
    default:
      return unreachable(event);
  }
}

function fromBackoff(state: StateOf<'backoff'>, event: ConnectionEvent): ConnectionState {
  switch (event.type) {
    case 'retry_timer':
    case 'online':
      return { status: 'connecting', url: state.url, attempt: state.attempt };
    case 'connect':
      return { status: 'connecting', url: event.url, attempt: state.attempt };
    case 'disconnect':
      return disconnected(event);
    case 'cleanup':
      return closed;
    // The failed socket may still report its error and then its close: one failure, one attempt.
    case 'socket_open':
    case 'welcome':
    case 'caught_up':
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
      return state;
    default:
      return unreachable(event);
  }
}

function fromClosed(state: StateOf<'closed'>, event: ConnectionEvent): ConnectionState {
  switch (event.type) {
    case 'connect':
    case 'socket_open':
    case 'welcome':
    case 'caught_up':
    case 'socket_error':
    case 'socket_closed':
    case 'heartbeat_timeout':
    case 'retry_timer':
    case 'online':
    case 'disconnect':
    case 'cleanup':
      return state;
    default:
      return unreachable(event);
  }
}

const closed: ConnectionState = { status: 'closed' };

function disconnected(event: { reason?: string }): ConnectionState {
  return event.reason === undefined ? { status: 'disconnected' } : { status: 'disconnected', reason: event.reason };
}

function backoff(url: string, failedAttempts: number, cause: FailureCause, policy: ReconnectPolicy): ConnectionState {
  const attempt = failedAttempts + 1;
  return { status: 'backoff', url, attempt, delayMs: policy.delayMs(attempt), cause };
}

function unreachable(value: never): never {
  throw new Error(`unhandled connection state or event: ${JSON.stringify(value)}`);
}
