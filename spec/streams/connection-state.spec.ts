import {
  CONNECTION_EVENT_TYPES,
  CONNECTION_STATUSES,
  DEFAULT_RECONNECT_BACKOFF,
  initialConnectionState,
  isSessionOpen,
  reconnectPolicy,
  transition,
  type ConnectionEvent,
  type ConnectionEventType,
  type ConnectionState,
  type ConnectionStatus,
} from '../../src/streams/connection-state.js';

const url = 'ws://127.0.0.1:1/api/sync';
const other = 'ws://elsewhere/api/sync';
/** Deterministic delays: attempt n waits n seconds. */
const policy = { delayMs: (attempt: number) => attempt * 1000 };

/** One representative state per status (attempt 2 where there is one, to see it carried or reset). */
const S: { [K in ConnectionStatus]: Extract<ConnectionState, { status: K }> } = {
  idle: { status: 'idle' },
  connecting: { status: 'connecting', url, attempt: 2 },
  handshaking: { status: 'handshaking', url, attempt: 2 },
  syncing: { status: 'syncing', url, attempt: 2, mode: 'catchup' },
  live: { status: 'live', url },
  backoff: { status: 'backoff', url, attempt: 2, delayMs: 2000, cause: 'socket_error' },
  disconnected: { status: 'disconnected', reason: 'earlier' },
  closed: { status: 'closed' },
};

/** One representative event per type. */
const E: { [K in ConnectionEventType]: Extract<ConnectionEvent, { type: K }> } = {
  connect: { type: 'connect', url: other },
  socket_open: { type: 'socket_open' },
  welcome: { type: 'welcome', mode: 'catchup' },
  caught_up: { type: 'caught_up' },
  socket_error: { type: 'socket_error', error: new Error('ECONNREFUSED') },
  socket_closed: { type: 'socket_closed', code: 1006 },
  heartbeat_timeout: { type: 'heartbeat_timeout' },
  retry_timer: { type: 'retry_timer' },
  online: { type: 'online' },
  disconnect: { type: 'disconnect', reason: 'user' },
  cleanup: { type: 'cleanup' },
};

const SAME = 'same' as const;
const backoff = (attempt: number, cause: 'socket_error' | 'socket_closed' | 'heartbeat_timeout'): ConnectionState => ({
  status: 'backoff', url, attempt, delayMs: attempt * 1000, cause,
});
const disconnected: ConnectionState = { status: 'disconnected', reason: 'user' };
const closed: ConnectionState = { status: 'closed' };

/** Every state x event pair, with the state it leads to (SAME: ignored, the very same object). */
const TABLE: Array<[ConnectionStatus, ConnectionEventType, ConnectionState | typeof SAME]> = [
  ['idle', 'connect', { status: 'connecting', url: other, attempt: 0 }],
  ['idle', 'socket_open', SAME],
  ['idle', 'welcome', SAME],
  ['idle', 'caught_up', SAME],
  ['idle', 'socket_error', SAME],
  ['idle', 'socket_closed', SAME],
  ['idle', 'heartbeat_timeout', SAME],
  ['idle', 'retry_timer', SAME],
  ['idle', 'online', SAME],
  ['idle', 'disconnect', disconnected],
  ['idle', 'cleanup', closed],

  ['connecting', 'connect', SAME],
  ['connecting', 'socket_open', { status: 'handshaking', url, attempt: 2 }],
  ['connecting', 'welcome', SAME],
  ['connecting', 'caught_up', SAME],
  ['connecting', 'socket_error', backoff(3, 'socket_error')],
  ['connecting', 'socket_closed', backoff(3, 'socket_closed')],
  ['connecting', 'heartbeat_timeout', backoff(3, 'heartbeat_timeout')],
  ['connecting', 'retry_timer', SAME],
  ['connecting', 'online', SAME],
  ['connecting', 'disconnect', disconnected],
  ['connecting', 'cleanup', closed],

  ['handshaking', 'connect', SAME],
  ['handshaking', 'socket_open', SAME],
  ['handshaking', 'welcome', { status: 'syncing', url, attempt: 0, mode: 'catchup' }], // welcomed: healthy
  ['handshaking', 'caught_up', SAME],
  ['handshaking', 'socket_error', backoff(3, 'socket_error')],
  ['handshaking', 'socket_closed', backoff(3, 'socket_closed')],
  ['handshaking', 'heartbeat_timeout', backoff(3, 'heartbeat_timeout')],
  ['handshaking', 'retry_timer', SAME],
  ['handshaking', 'online', SAME],
  ['handshaking', 'disconnect', disconnected],
  ['handshaking', 'cleanup', closed],

  ['syncing', 'connect', SAME],
  ['syncing', 'socket_open', SAME],
  ['syncing', 'welcome', SAME],
  ['syncing', 'caught_up', { status: 'live', url }],
  // (the representative syncing state carries attempt 2 to show it is counted on from there;
  // a syncing state reached by a welcome carries 0)
  ['syncing', 'socket_error', backoff(3, 'socket_error')],
  ['syncing', 'socket_closed', backoff(3, 'socket_closed')],
  ['syncing', 'heartbeat_timeout', backoff(3, 'heartbeat_timeout')],
  ['syncing', 'retry_timer', SAME],
  ['syncing', 'online', SAME],
  ['syncing', 'disconnect', disconnected],
  ['syncing', 'cleanup', closed],

  // live is healthy: its failures count from attempt 0 again
  ['live', 'connect', SAME],
  ['live', 'socket_open', SAME],
  ['live', 'welcome', SAME],
  ['live', 'caught_up', SAME],
  ['live', 'socket_error', backoff(1, 'socket_error')],
  ['live', 'socket_closed', backoff(1, 'socket_closed')],
  ['live', 'heartbeat_timeout', backoff(1, 'heartbeat_timeout')],
  ['live', 'retry_timer', SAME],
  ['live', 'online', SAME],
  ['live', 'disconnect', disconnected],
  ['live', 'cleanup', closed],

  ['backoff', 'connect', { status: 'connecting', url: other, attempt: 2 }],
  ['backoff', 'socket_open', SAME],
  ['backoff', 'welcome', SAME],
  ['backoff', 'caught_up', SAME],
  ['backoff', 'socket_error', SAME], // the failed socket's error and close are one failure
  ['backoff', 'socket_closed', SAME],
  ['backoff', 'heartbeat_timeout', SAME],
  ['backoff', 'retry_timer', { status: 'connecting', url, attempt: 2 }],
  ['backoff', 'online', { status: 'connecting', url, attempt: 2 }], // skip the wait
  ['backoff', 'disconnect', disconnected],
  ['backoff', 'cleanup', closed],

  // an explicit disconnect: only connect and cleanup leave it; late socket/timer events never do
  ['disconnected', 'connect', { status: 'connecting', url: other, attempt: 0 }],
  ['disconnected', 'socket_open', SAME],
  ['disconnected', 'welcome', SAME],
  ['disconnected', 'caught_up', SAME],
  ['disconnected', 'socket_error', SAME],
  ['disconnected', 'socket_closed', SAME],
  ['disconnected', 'heartbeat_timeout', SAME],
  ['disconnected', 'retry_timer', SAME],
  ['disconnected', 'online', SAME],
  ['disconnected', 'disconnect', SAME],
  ['disconnected', 'cleanup', closed],

  // terminal
  ['closed', 'connect', SAME],
  ['closed', 'socket_open', SAME],
  ['closed', 'welcome', SAME],
  ['closed', 'caught_up', SAME],
  ['closed', 'socket_error', SAME],
  ['closed', 'socket_closed', SAME],
  ['closed', 'heartbeat_timeout', SAME],
  ['closed', 'retry_timer', SAME],
  ['closed', 'online', SAME],
  ['closed', 'disconnect', SAME],
  ['closed', 'cleanup', SAME],
];

describe('connection state machine', () => {
  it('the table covers every state x event pair exactly once', () => {
    const pairs = TABLE.map(([s, e]) => `${s} ${e}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    const all = CONNECTION_STATUSES.flatMap((s) => CONNECTION_EVENT_TYPES.map((e) => `${s} ${e}`));
    expect(new Set(pairs)).toEqual(new Set(all));
    expect(all).toHaveLength(8 * 11);
  });

  describe.each(CONNECTION_STATUSES)('from %s', (status) => {
    it.each(TABLE.filter(([s]) => s === status).map(([, e, next]) => [e, next] as const))('on %s', (event, expected) => {
      const state = S[status];
      const next = transition(state, E[event], policy);
      if (expected === SAME) expect(next).toBe(state);
      else expect(next).toEqual(expected);
    });
  });

  it('welcome picks the syncing mode, or goes straight to live', () => {
    const h = S.handshaking;
    expect(transition(h, { type: 'welcome', mode: 'initial' }, policy)).toEqual({ status: 'syncing', url, attempt: 0, mode: 'initial' });
    expect(transition(h, { type: 'welcome', mode: 'reset' }, policy)).toEqual({ status: 'syncing', url, attempt: 0, mode: 'reset' });
    expect(transition(h, { type: 'welcome', mode: 'live' }, policy)).toEqual({ status: 'live', url });
  });

  it('disconnect without a reason leaves none', () => {
    expect(transition(S.live, { type: 'disconnect' }, policy)).toEqual({ status: 'disconnected' });
  });

  it('counts failed attempts across reconnects and resets them once welcomed', () => {
    const run = (events: ConnectionEvent[], from: ConnectionState = initialConnectionState) =>
      events.reduce<ConnectionState[]>((trail, event) => [...trail, transition(trail[trail.length - 1]!, event, policy)], [from]);
    const trail = run([
      { type: 'connect', url },
      { type: 'socket_error' },
      { type: 'socket_closed' }, // same failure, no second attempt
      { type: 'retry_timer' },
      { type: 'socket_open' },
      { type: 'socket_closed' },
      { type: 'online' },
      { type: 'socket_open' },
      { type: 'welcome', mode: 'catchup' },
      { type: 'caught_up' },
      { type: 'heartbeat_timeout' },
      { type: 'retry_timer' },
      { type: 'socket_open' },
      { type: 'welcome', mode: 'catchup' },
      { type: 'socket_closed' }, // welcomed but never live: still a healthy connection
    ]);
    expect(trail.map((s) => `${s.status}${'attempt' in s ? `#${s.attempt}` : ''}`)).toEqual([
      'idle', 'connecting#0', 'backoff#1', 'backoff#1', 'connecting#1', 'handshaking#1', 'backoff#2',
      'connecting#2', 'handshaking#2', 'syncing#0', 'live', 'backoff#1', 'connecting#1', 'handshaking#1', 'syncing#0', 'backoff#1',
    ]);
    expect(trail.filter((s) => s.status === 'backoff').map((s) => (s as { delayMs: number }).delayMs)).toEqual([1000, 1000, 2000, 1000, 1000]);
  });

  it('a late socket or timer event never undoes an explicit disconnect', () => {
    let state = transition(S.backoff, { type: 'disconnect', reason: 'user' }, policy);
    for (const type of ['retry_timer', 'online', 'socket_open', 'socket_error', 'socket_closed', 'heartbeat_timeout', 'caught_up'] as const) {
      state = transition(state, { type } as ConnectionEvent, policy);
    }
    state = transition(state, { type: 'welcome', mode: 'live' }, policy);
    expect(state).toEqual({ status: 'disconnected', reason: 'user' });
  });

  it('uses the default reconnect backoff without a policy, and a jittered one with', () => {
    expect(DEFAULT_RECONNECT_BACKOFF).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 0 });
    expect(transition(S.connecting, E.socket_error)).toMatchObject({ status: 'backoff', attempt: 3, delayMs: 2000 });
    expect(transition({ ...S.connecting, attempt: 50 }, E.socket_error)).toMatchObject({ delayMs: 30_000 });
    const jittered = reconnectPolicy({ initialDelayMs: 1000, maxDelayMs: 10_000, jitter: 0.5 }, () => 0.5);
    expect(transition(S.live, E.socket_closed, jittered)).toMatchObject({ attempt: 1, delayMs: 750 });
  });

  it('isSessionOpen is true exactly while welcomed', () => {
    expect(CONNECTION_STATUSES.filter((s) => isSessionOpen(S[s]))).toEqual(['syncing', 'live']);
  });
});
