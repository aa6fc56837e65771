/**
 * Type tests: `npm run typecheck` checks this file (a wrong type, or a `@ts-expect-error` with no
 * error under it, fails it); jest only sees that the checks exist. The calls are in functions that
 * never run: they are here for the compiler.
 */
import type { Observable } from 'rxjs';
import { expectTypeOf } from 'expect-type';
import {
  defineSchema,
  onSyncEvent,
  offSyncEvent,
  type InsertRowOf,
  type Key,
  type KeyOf,
  type LocalChangeEntry,
  type Lsn,
  type ResetReason,
  type RowOf,
  type SchemaDifference,
  type StoredRowOf,
  type SyncClient,
  type SyncEvent,
  type SyncEventMap,
  type SyncEventMessage,
  type SyncMode,
  type SyncSchema,
  type SyncStatus,
  type TableName,
  type ConnectionStatus,
  type SyncErrorEvent,
} from '../../src/index.js';
import type { RemoteSyncClient } from '../../src/browser.js';

const schema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer', score: 'real', meta: 'json' } },
    counters: { primaryKey: 'n', columns: { n: 'integer', label: 'text' } },
  },
});
type Schema = typeof schema;

/** The issue's examples, and their correct forms: each `@ts-expect-error` must have an error under it. */
function issueExamples(client: SyncClient<Schema>): void {
  // @ts-expect-error initial_sync_progress has no rowsDoneTypo
  client.on('initial_sync_progress', (p) => p.rowsDoneTypo);
  client.on('initial_sync_progress', (p) => p.rowsDone);
  // @ts-expect-error no table todoz
  void client.insert('todoz', { titel: 42 });
  // @ts-expect-error no table todoz
  void client.insert('todoz', { id: 'a' });
  // @ts-expect-error no column titel (and no key)
  void client.insert('todos', { titel: 42 });
  void client.insert('todos', { id: 'a', title: 'write the spec' });
}

function events(client: SyncClient<Schema>, remote: RemoteSyncClient<Schema>): void {
  client.on('connected', (e) => expectTypeOf(e).toEqualTypeOf<SyncEventMap['connected']>());
  client.off('connected', (e) => expectTypeOf(e.url).toEqualTypeOf<string>());
  // @ts-expect-error not an event
  client.on('conected', () => undefined);
  // @ts-expect-error a callback for another payload
  client.on('changes_applied', (e: { rowsDone: number }) => e.rowsDone);
  client.on('disconnected', (e) => {
    expectTypeOf(e.attempt).toEqualTypeOf<number | undefined>();
    if (e.attempt !== undefined) expectTypeOf(e.retryInMs).toEqualTypeOf<number>(); // a lost connection
  });
  // An untyped callback still fits every event (code written before the map).
  const legacy = (data: any) => data;
  client.on('error', legacy);
  const anyEvent: SyncEvent = 'error' as SyncEvent;
  client.on(anyEvent, (data) => expectTypeOf(data).toEqualTypeOf<SyncEventMap[SyncEvent]>());

  client.events$.subscribe((event) => {
    expectTypeOf(event).toEqualTypeOf<SyncEventMessage>();
    expectTypeOf(event.at).toEqualTypeOf<number>();
    if (event.type === 'initial_sync_progress') expectTypeOf(event.data.rowsTotal).toEqualTypeOf<number>();
    if (event.type === 'error') expectTypeOf(event.data).toEqualTypeOf<SyncErrorEvent>();
    // @ts-expect-error data is not narrowed without checking type
    void event.data.rowsDone;
  });

  // The callback facade and the worker proxy: the same signatures.
  // @ts-expect-error initial_sync_progress has no rowsDoneTypo
  onSyncEvent('initial_sync_progress', (p) => p.rowsDoneTypo);
  onSyncEvent('schema_mismatch', (m) => expectTypeOf(m.differences).toEqualTypeOf<SchemaDifference[] | undefined>());
  offSyncEvent('lsn_updated', (e) => expectTypeOf(e.lsn).toEqualTypeOf<Lsn>());
  // @ts-expect-error initial_sync_progress has no rowsDoneTypo
  remote.on('initial_sync_progress', (p) => p.rowsDoneTypo);
  remote.off('client_change_failed', (entry) => expectTypeOf(entry).toEqualTypeOf<LocalChangeEntry>());
  expectTypeOf(remote.events$).toEqualTypeOf<Observable<SyncEventMessage>>();
}

function rows(client: SyncClient<Schema>, remote: RemoteSyncClient<Schema>): void {
  void client.insert('todos', { id: 'a', title: null, done: 1, score: 0.5, meta: { tags: ['x'] } });
  void client.insert('counters', { n: 1 });
  // @ts-expect-error the key is an integer
  void client.insert('counters', { n: '1' });
  // @ts-expect-error the key is not optional
  void client.insert('counters', { label: 'x' });
  // @ts-expect-error title is text
  void client.insert('todos', { id: 'a', title: 42 });
  void client.update('todos', 'a', { done: 0 });
  // @ts-expect-error done is an integer
  void client.update('todos', 'a', { done: 'yes' });
  // @ts-expect-error the key of todos is text
  void client.update('todos', 1, { done: 0 });
  // @ts-expect-error no column label in todos
  void client.update('todos', 'a', { label: 'x' });
  void client.delete('counters', 7);
  // @ts-expect-error the key of counters is an integer
  void client.delete('counters', '7');

  // The worker proxy types its rows the same way.
  void remote.insert('todos', { id: 'a' });
  // @ts-expect-error no column titel
  void remote.insert('todos', { id: 'a', titel: 'x' });
  // @ts-expect-error the key of counters is an integer
  void remote.delete('counters', 'x');

  // query and watch take the row type from the caller.
  expectTypeOf(client.query<{ n: number }>('SELECT count(*) AS n FROM todos')).toEqualTypeOf<Promise<{ n: number }[]>>();
  expectTypeOf(client.watch<StoredRowOf<Schema, 'todos'>>('SELECT * FROM todos')).toEqualTypeOf<Observable<StoredRowOf<Schema, 'todos'>[]>>();
  expectTypeOf(remote.watch('SELECT 1')).toEqualTypeOf<Observable<Record<string, unknown>[]>>();
  expectTypeOf(remote.query<{ id: string }>('SELECT id FROM todos')).toEqualTypeOf<Promise<{ id: string }[]>>();
}

/** A schema read at run time is wide: any table, any row, as before. */
function wide(client: SyncClient, fromJson: SyncSchema, remote: RemoteSyncClient): void {
  void client.insert('anything', { whatever: 1 });
  void client.update('anything', 3, { x: null });
  void client.delete('anything', 'k');
  void remote.insert('anything', { whatever: 1 });
  expectTypeOf<TableName<typeof fromJson>>().toEqualTypeOf<string>();
  expectTypeOf<KeyOf<SyncSchema, string>>().toEqualTypeOf<Key>();
  expectTypeOf(defineSchema(JSON.parse('{}'))).toEqualTypeOf<SyncSchema>();
  expectTypeOf(defineSchema({} as unknown)).toEqualTypeOf<SyncSchema>();
}

describe('types', () => {
  it('derives the row types from the schema', () => {
    expect(schema.tableNames).toEqual(['counters', 'todos']);
    expectTypeOf<TableName<Schema>>().toEqualTypeOf<'todos' | 'counters'>();
    expectTypeOf<RowOf<Schema, 'todos'>>().toEqualTypeOf<{ id: string; title: string | null; done: number | null; score: number | null; meta: unknown }>();
    expectTypeOf<RowOf<Schema, 'counters'>>().toEqualTypeOf<{ n: number; label: string | null }>();
    expectTypeOf<InsertRowOf<Schema, 'counters'>>().toEqualTypeOf<{ n: number; label?: string | null }>();
    expectTypeOf<KeyOf<Schema, 'todos'>>().toEqualTypeOf<string>();
    expectTypeOf<KeyOf<Schema, 'counters'>>().toEqualTypeOf<number>();
    expectTypeOf<StoredRowOf<Schema, 'todos'>>().toEqualTypeOf<{
      id: string;
      title: string | null;
      done: number | null;
      score: number | null;
      meta: string | null;
    }>();
  });

  it('keeps the row types of a schema that declares indexes', () => {
    const indexed = defineSchema({
      tables: { items: { primaryKey: 'id', columns: { id: 'text', n: 'integer', list: 'text' }, indexes: ['n', ['list', 'n']] } },
    });
    expect(indexed.tables.items.indexes).toEqual(['n', ['list', 'n']]);
    expectTypeOf<TableName<typeof indexed>>().toEqualTypeOf<'items'>();
    expectTypeOf<RowOf<typeof indexed, 'items'>>().toEqualTypeOf<{ id: string; n: number | null; list: string | null }>();
  });

  it('types each event payload exactly', () => {
    expectTypeOf<SyncEventMap['connected']>().toEqualTypeOf<{ mode: SyncMode; reason?: ResetReason; serverLsn: Lsn; sessionId: string; url: string }>();
    expectTypeOf<SyncEventMap['initial_sync_progress']['tables'][number]>().toEqualTypeOf<{
      table: string;
      rowsDone: number;
      rowsTotal: number;
      chunksDone: number;
      chunksTotal: number;
    }>();
    expectTypeOf<SyncEventMap['initial_sync_complete']>().toEqualTypeOf<{ lsn: Lsn; rows: number }>();
    expectTypeOf<SyncEventMap['status_changed']>().toEqualTypeOf<{ status: ConnectionStatus; attempt?: number }>();
    expectTypeOf<SyncEventMap['schema_mismatch']>().toEqualTypeOf<{ clientHash: string; serverHash?: string; differences?: SchemaDifference[] }>();
    expectTypeOf<Extract<SyncEventMessage, { type: 'changes_applied' }>['data']>().toEqualTypeOf<{ lsn: Lsn; count: number; tables: string[] }>();
  });

  it('gives the sync status as an Observable and a getter', () => {
    expectTypeOf<SyncClient<Schema>['syncStatus$']>().toEqualTypeOf<Observable<SyncStatus>>();
    expectTypeOf<SyncClient['syncStatus']>().toEqualTypeOf<SyncStatus>();
    expectTypeOf<SyncStatus>().toEqualTypeOf<{
      phase: ConnectionStatus;
      connected: boolean;
      hasSynced: boolean;
      lastSyncedAt: number | null;
      pending: number;
      download: { rowsDone: number; rowsTotal: number } | null;
    }>();
  });

  it('keeps a typed client usable where an untyped one is expected', () => {
    expectTypeOf<SyncClient<Schema>>().toExtend<SyncClient>();
    expectTypeOf<RemoteSyncClient<Schema>>().toExtend<RemoteSyncClient>();
    expect([issueExamples, events, rows, wide]).toHaveLength(4); // compiled, never run
  });
});
