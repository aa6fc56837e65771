import {
  CONNECTION_EVENT_TYPES,
  CONNECTION_STATUSES,
  initialConnectionState,
  transition,
  type ConnectionEvent,
  type ConnectionEventType,
  type ConnectionState,
  type ConnectionStatus,
} from '../../src/streams/connection-state.js';

const url = 'ws://127.0.0.1:1/api/sync';
const other = 'ws://elsewhere/api/sync';

/** One representative state per status (attempt 2 where there is one, to see it carried). */
const S: { [K in ConnectionStatus]: Extract<ConnectionState, { status: K }> } = {
  idle: { status: 'idle' },
  connecting: { status: 'connecting', url, attempt: 2 },
  handshaking: { status: 'handshaking', url, attempt: 2 },
  syncing: { status: 'syncing', url, mode: 'catchup' },
  live: { status: 'live', url },
  backoff: { status: 'backoff', url, attempt: 2, delayMs: 2000, cause: 'socket_closed' },
  disconnected: { status: 'disconnected', reason: 'earlier' },
  closed: { status: 'closed' },
};

/** One representative event per type. */
const E: { [K in ConnectionEventType]: Extract<ConnectionEvent, { type: K }> } = {
  connect: { type: 'connect' },
  dial: { type: 'dial', url: other },
  socket_open: { type: 'socket_open' },
  welcome: { type: 'welcome', mode: 'catchup' },
  caught_up: { type: 'caught_up' },
  connection_lost: { type: 'connection_lost', cause: 'heartbeat_timeout', attempt: 3, delayMs: 4000 },
  retry: { type: 'retry' },
  disconnect: { type: 'disconnect', reason: 'user' },
  cleanup: { type: 'cleanup' },
};

const SAME = 'same' as const;
const lost: ConnectionState = { status: 'backoff', url, attempt: 3, delayMs: 4000, cause: 'heartbeat_timeout' };
const disconnected: ConnectionState = { status: 'disconnected', reason: 'user' };
const closed: ConnectionState = { status: 'closed' };

/**
 * Every state x event pair with the state it leads to (SAME: ignored, the very same object). A
 * record of records, so a status or event type added to the machine without a row here does not
 * compile.
 */
const TABLE: { [S in ConnectionStatus]: { [E in ConnectionEventType]: ConnectionState | typeof SAME } } = {
  idle: {
    connect: { status: 'connecting', attempt: 0 }, // the URL comes with the try's dial
    dial: SAME,
    socket_open: SAME,
    welcome: SAME,
    caught_up: SAME,
    connection_lost: SAME,
    retry: SAME,
    disconnect: disconnected,
    cleanup: closed,
  },
  connecting: {
    dial: { status: 'connecting', url: other, attempt: 2 }, // this try's URL (a list's next, a function's answer)
    socket_open: { status: 'handshaking', url, attempt: 2 },
    connection_lost: lost,
    connect: SAME,
    welcome: SAME,
    caught_up: SAME,
    retry: SAME,
    disconnect: disconnected,
    cleanup: closed,
  },
  handshaking: {
    welcome: { status: 'syncing', url, mode: 'catchup' }, // welcomed: a healthy connection, no attempt any more
    connection_lost: lost,
    connect: SAME,
    dial: SAME,
    socket_open: SAME,
    caught_up: SAME,
    retry: SAME,
    disconnect: disconnected,
    cleanup: closed,
  },
  syncing: {
    caught_up: { status: 'live', url },
    connection_lost: lost,
    connect: SAME,
    dial: SAME,
    socket_open: SAME,
    welcome: SAME,
    retry: SAME,
    disconnect: disconnected,
    cleanup: closed,
  },
  live: {
    connection_lost: lost,
    connect: SAME,
    dial: SAME,
    socket_open: SAME,
    welcome: SAME,
    caught_up: SAME,
    retry: SAME,
    disconnect: disconnected,
    cleanup: closed,
  },
  backoff: {
    retry: { status: 'connecting', attempt: 2 }, // the timer, or the browser's online event; the next try dials its URL
    connect: { status: 'connecting', attempt: 2 },
    dial: SAME,
    // the failed socket may report its close after its error: one failure, one attempt
    connection_lost: SAME,
    socket_open: SAME,
    welcome: SAME,
    caught_up: SAME,
    disconnect: disconnected,
    cleanup: closed,
  },
  disconnected: {
    connect: { status: 'connecting', attempt: 0 },
    dial: SAME,
    socket_open: SAME,
    welcome: SAME,
    caught_up: SAME,
    connection_lost: SAME,
    retry: SAME,
    disconnect: SAME,
    cleanup: closed,
  },
  closed: { connect: SAME, dial: SAME, socket_open: SAME, welcome: SAME, caught_up: SAME, connection_lost: SAME, retry: SAME, disconnect: SAME, cleanup: SAME },
};

describe('connection status', () => {
  it('lists every status and event type', () => {
    expect(CONNECTION_STATUSES).toHaveLength(8);
    expect(CONNECTION_EVENT_TYPES).toHaveLength(9);
  });

  describe.each(CONNECTION_STATUSES)('from %s', (status) => {
    it.each(CONNECTION_EVENT_TYPES.map((event) => [event, TABLE[status][event]] as const))('on %s', (event, expected) => {
      const state = S[status];
      const next = transition(state, E[event]);
      if (expected === SAME) expect(next).toBe(state);
      else expect(next).toEqual(expected);
    });
  });

  it('welcome picks the syncing mode, or goes straight to live', () => {
    const h = S.handshaking;
    expect(transition(h, { type: 'welcome', mode: 'initial' })).toEqual({ status: 'syncing', url, mode: 'initial' });
    expect(transition(h, { type: 'welcome', mode: 'reset' })).toEqual({ status: 'syncing', url, mode: 'reset' });
    expect(transition(h, { type: 'welcome', mode: 'live' })).toEqual({ status: 'live', url });
  });

  it('disconnect without a reason leaves none', () => {
    expect(transition(S.live, { type: 'disconnect' })).toEqual({ status: 'disconnected' });
  });

  it('records the attempts and delays the reconnect operator tells it', () => {
    const events: ConnectionEvent[] = [
      { type: 'connect' },
      { type: 'dial', url },
      { type: 'connection_lost', cause: 'socket_closed', attempt: 1, delayMs: 500 },
      { type: 'retry' },
      { type: 'dial', url },
      { type: 'socket_open' },
      { type: 'connection_lost', cause: 'socket_closed', attempt: 2, delayMs: 1000 },
      { type: 'retry' },
      { type: 'dial', url },
      { type: 'socket_open' },
      { type: 'welcome', mode: 'catchup' },
      { type: 'caught_up' },
      { type: 'connection_lost', cause: 'heartbeat_timeout', attempt: 1, delayMs: 500 },
    ];
    const trail = events.reduce<ConnectionState[]>((states, event) => [...states, transition(states.at(-1)!, event)], [initialConnectionState]);
    expect(trail.map((s) => `${s.status}${'attempt' in s ? `#${s.attempt}` : ''}`)).toEqual([
      'idle',
      'connecting#0',
      'connecting#0',
      'backoff#1',
      'connecting#1',
      'connecting#1',
      'handshaking#1',
      'backoff#2',
      'connecting#2',
      'connecting#2',
      'handshaking#2',
      'syncing',
      'live',
      'backoff#1',
    ]);
  });

  it('each try carries the URL it dialed: a list moves on, the failed one stays in backoff', () => {
    const events: ConnectionEvent[] = [
      { type: 'connect' },
      { type: 'dial', url },
      { type: 'connection_lost', cause: 'socket_closed', attempt: 1, delayMs: 0 },
      { type: 'retry' },
      { type: 'dial', url: other },
      { type: 'socket_open' },
      { type: 'welcome', mode: 'live' },
    ];
    const trail = events.reduce<ConnectionState[]>((states, event) => [...states, transition(states.at(-1)!, event)], [initialConnectionState]);
    expect(trail.slice(1)).toEqual([
      { status: 'connecting', attempt: 0 },
      { status: 'connecting', url, attempt: 0 },
      { status: 'backoff', url, attempt: 1, delayMs: 0, cause: 'socket_closed' },
      { status: 'connecting', attempt: 1 },
      { status: 'connecting', url: other, attempt: 1 },
      { status: 'handshaking', url: other, attempt: 1 },
      { status: 'live', url: other },
    ]);
  });

  it('a try whose URL function failed before dialing backs off without a URL; no socket opens without one', () => {
    const undialed: ConnectionState = { status: 'connecting', attempt: 0 };
    expect(transition(undialed, { type: 'socket_open' })).toBe(undialed);
    expect(transition(undialed, { type: 'connection_lost', cause: 'socket_closed', attempt: 1, delayMs: 20 })).toEqual({
      status: 'backoff',
      attempt: 1,
      delayMs: 20,
      cause: 'socket_closed',
    });
  });

  it('a late socket or timer event never undoes an explicit disconnect', () => {
    let state = transition(S.backoff, { type: 'disconnect', reason: 'user' });
    for (const event of Object.values(E).filter((e) => e.type !== 'connect' && e.type !== 'cleanup')) state = transition(state, event);
    expect(state).toEqual({ status: 'disconnected', reason: 'user' });
  });
});
