/**
 * Snapshot chunks that queued up behind each other, applied as one (session.ts merges them with
 * mergeSnapshotChunks): one commit where all are good, and where one is refused, the same outcome
 * chunk for chunk as applying them one at a time. On a real wa-sqlite database. (A failed commit:
 * snapshot-writer.spec.ts.)
 */
import type { SqliteDatabase } from '../../src/storage/index.js';
import { mergeSnapshotChunks, type SnapshotChunks, type SyncedData } from '../../src/changes/synced-data.js';
import type { SyncEventMessage } from '../../src/streams/events.js';
import type { SnapshotChunk } from '../../src/protocol/index.js';
import { testSchema } from '../support/test-schema.js';
import { openTestSyncedData } from '../support/test-synced-data.js';

// In the schema's own column order (defineSchema sorts them), as the server sends them: the rows'
// arrays are then bound as they are, the fast path.
const columns = Object.keys(testSchema.tables.todos!.columns);
const row = (id: string): Record<string, unknown> => ({ id, title: `title ${id}`, done: 0, score: 0.5, meta: { of: id, list: [1, 'two'] } });
const chunk = (seq: number, ids: string[], table = 'todos'): SnapshotChunk => ({
  type: 'snapshot_chunk',
  seq,
  table,
  chunk: seq,
  chunks: 3,
  columns,
  rows: ids.map((id) => columns.map((column) => row(id)[column])),
});

describe('merged snapshot chunks', () => {
  let db: SqliteDatabase;
  let data: SyncedData;
  let events: SyncEventMessage[];
  let commits = 0;

  beforeEach(async () => {
    ({ db, data, events } = await openTestSyncedData());
    await data.apply({ type: 'snapshot_begin', lsn: '0/10', chunks: 3, tables: [{ table: 'todos', rows: 6, chunks: 3 }] });
    commits = 0;
    data.commits$.subscribe(() => commits++);
    events.length = 0;
  });
  afterEach(() => db.close());

  const progress = () => events.filter((event) => event.type === 'initial_sync_progress').map((event) => (event.data as { rowsDone: number }).rowsDone);
  const stored = () => db.all<{ id: string; meta: string }>('SELECT id, meta FROM todos ORDER BY id');

  it('merge only snapshot chunks, within a bound on their rows', () => {
    const one = chunk(1, ['a']);
    const two = chunk(2, ['b']);
    const merged = mergeSnapshotChunks(one, two) as SnapshotChunks;
    expect(merged).toEqual({ type: 'snapshot_chunks', chunks: [one, two] });
    expect(mergeSnapshotChunks<{ type: string }>(merged, chunk(3, ['c']))).toEqual({ type: 'snapshot_chunks', chunks: [one, two, chunk(3, ['c'])] });
    expect(mergeSnapshotChunks<{ type: string }>(one, { type: 'snapshot_end' })).toBeUndefined();
    expect(mergeSnapshotChunks<{ type: string }>({ type: 'changes' }, one)).toBeUndefined();
    const big = (seq: number) =>
      chunk(
        seq,
        Array.from({ length: 6000 }, (_, i) => `r${seq}-${i}`),
      );
    expect(mergeSnapshotChunks(big(1), big(2))).toBeUndefined(); // 12,000 rows: over the bound
  });

  it('apply their rows in one transaction, with a progress event per chunk', async () => {
    await data.apply({ type: 'snapshot_chunks', chunks: [chunk(1, ['a', 'b']), chunk(2, ['c', 'd']), chunk(3, ['e', 'f'])] });
    expect((await stored()).map((row) => row.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(commits).toBe(1);
    expect(progress()).toEqual([2, 4, 6]);
  });

  it('where one is refused, commit those before it and fail with its error; a retry goes on from it, json values encoded once', async () => {
    const group: SnapshotChunks = { type: 'snapshot_chunks', chunks: [chunk(1, ['a', 'b']), chunk(2, ['c'], 'no_such_table'), chunk(3, ['e'])] };
    await expect(data.apply(group)).rejects.toThrow(/no_such_table/);
    expect((await stored()).map((row) => row.id)).toEqual(['a', 'b']);
    expect(progress()).toEqual([2]);
    expect(group.committed).toBe(1);
    expect(commits).toBe(1);

    // The refused chunk comes right (as a retry after resumeSync would find it, were it transient).
    group.chunks[1] = chunk(2, ['c', 'd']);
    await data.apply(group);
    const rows = await stored();
    expect(rows.map((row) => row.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Chunk 1 was in the failed transaction and the one after it: its json went in as it came.
    for (const row of rows) expect(JSON.parse(row.meta)).toEqual({ of: row.id, list: [1, 'two'] });
    expect(progress()).toEqual([2, 4, 5]);
    expect(commits).toBe(2);
  });
});
