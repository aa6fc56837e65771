import { initialSyncStatus, nextSyncStatus, type SyncStatus, type SyncStatusInput } from '../../src/client/sync-status.js';
import type { SyncEvent, SyncEventMap, SyncEventMessage } from '../../src/streams/events.js';

const event = <E extends SyncEvent>(type: E, data: SyncEventMap[E], at = 1000) => ({ type, data, at }) as SyncEventMessage;
const status = (patch: Partial<SyncStatus> = {}): SyncStatus => ({ ...initialSyncStatus('idle'), ...patch });
const progress = (rowsDone: number, rowsTotal: number) => event('initial_sync_progress', { table: 't', tables: [], rowsDone, rowsTotal });

/** [what, status before, input, status after ('same': the very same object)]. */
const CASES: Array<[string, SyncStatus, SyncStatusInput, SyncStatus | 'same']> = [
  ['connecting: not connected', status(), event('status_changed', { status: 'connecting' }), status({ phase: 'connecting' })],
  [
    'welcomed: connected while syncing',
    status({ phase: 'handshaking' }),
    event('status_changed', { status: 'syncing' }),
    status({ phase: 'syncing', connected: true }),
  ],
  [
    'caught up: live, synced, at that time',
    status({ phase: 'syncing', connected: true }),
    event('status_changed', { status: 'live' }, 5000),
    status({ phase: 'live', connected: true, hasSynced: true, lastSyncedAt: 5000 }),
  ],
  [
    'a lost connection ends a download',
    status({ phase: 'syncing', connected: true, download: { rowsDone: 5, rowsTotal: 10 } }),
    event('status_changed', { status: 'backoff', attempt: 1 }),
    status({ phase: 'backoff' }),
  ],
  [
    'a snapshot starts: a download of the rows the server announced, not synced meanwhile',
    status({ phase: 'syncing', connected: true, hasSynced: true }),
    event('initial_sync_started', {
      lsn: '0/9',
      tables: [
        { table: 'a', rows: 3, chunks: 1 },
        { table: 'b', rows: 4, chunks: 1 },
      ],
    }),
    status({ phase: 'syncing', connected: true, download: { rowsDone: 0, rowsTotal: 7 } }),
  ],
  ['progress', status({ download: { rowsDone: 0, rowsTotal: 7 } }), progress(3, 7), status({ download: { rowsDone: 3, rowsTotal: 7 } })],
  ['the same progress again: the same status', status({ download: { rowsDone: 3, rowsTotal: 7 } }), progress(3, 7), 'same'],
  [
    'the snapshot is in',
    status({ download: { rowsDone: 7, rowsTotal: 7 } }),
    event('initial_sync_complete', { lsn: '0/9', rows: 7 }),
    status({ hasSynced: true }),
  ],
  ['a stored checkpoint past 0/0: synced before', status(), { type: 'lsn', lsn: '0/5' }, status({ hasSynced: true })],
  ['a checkpoint at 0/0 says nothing', status(), { type: 'lsn', lsn: '0/0' }, 'same'],
  ['resetLSN(): not synced', status({ hasSynced: true }), event('lsn_updated', { lsn: '0/0', reset: true }), status()],
  ['a checkpoint published', status({ hasSynced: true }), event('lsn_updated', { lsn: '0/7' }), 'same'],
  [
    'changes applied while live: synced then',
    status({ phase: 'live', lastSyncedAt: 1 }),
    event('changes_applied', { lsn: '0/8', count: 1, tables: [] }, 7000),
    status({ phase: 'live', lastSyncedAt: 7000 }),
  ],
  ['changes applied while catching up: not yet', status({ phase: 'syncing' }), event('changes_applied', { lsn: '0/8', count: 1, tables: [] }), 'same'],
  ['the outbox count', status(), { type: 'pending', count: 3 }, status({ pending: 3 })],
  ['the same outbox count', status({ pending: 3 }), { type: 'pending', count: 3 }, 'same'],
  ['other events', status(), event('client_change_sent', { ids: ['a'], count: 1 }), 'same'],
  [
    'closed',
    status({ phase: 'live', connected: true, hasSynced: true }),
    event('status_changed', { status: 'closed' }),
    status({ phase: 'closed', hasSynced: true }),
  ],
];

describe('nextSyncStatus', () => {
  it.each(CASES)('%s', (_, before, input, after) => {
    const next = nextSyncStatus(before, input);
    if (after === 'same') expect(next).toBe(before);
    else expect(next).toEqual(after);
  });

  it('starts from the connection status, with nothing known yet', () => {
    expect(initialSyncStatus('idle')).toEqual({ phase: 'idle', connected: false, hasSynced: false, lastSyncedAt: null, pending: 0, download: null });
  });
});
