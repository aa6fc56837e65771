/**
 * Snapshot chunks written into one transaction held open across them (src/changes/snapshot-writer.ts),
 * through SyncedData on a real wa-sqlite database: what a watch and a query see, and that every
 * failure ends chunk for chunk as a transaction per chunk would.
 */
import type { SqliteDatabase } from '../../src/storage/index.js';
import type { SyncedData } from '../../src/changes/synced-data.js';
import type { SnapshotChunk } from '../../src/protocol/index.js';
import { testSchema } from '../support/test-schema.js';
import { openTestSyncedData } from '../support/test-synced-data.js';

const columns = Object.keys(testSchema.tables.todos!.columns);
const row = (id: string): Record<string, unknown> => ({ id, title: `title ${id}`, done: 0, score: 0.5, meta: { of: id } });
const chunk = (seq: number, ids: string[], table = 'todos'): SnapshotChunk => ({
  type: 'snapshot_chunk',
  seq,
  table,
  chunk: seq,
  chunks: 9,
  columns,
  rows: ids.map((id) => columns.map((column) => row(id)[column])),
});
const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => `r${String(from + i).padStart(5, '0')}`);

describe('snapshot chunks in a held transaction', () => {
  let db: SqliteDatabase;
  let data: SyncedData;
  let committedTables: string[][];

  beforeEach(async () => {
    ({ db, data } = await openTestSyncedData());
    await data.apply({ type: 'snapshot_begin', lsn: '0/10', chunks: 9, tables: [{ table: 'todos', rows: 900, chunks: 9 }] });
    committedTables = [];
    data.commits$.subscribe((commit) => committedTables.push([...commit.tables]));
  });
  afterEach(() => db.close());

  const storedIds = async () => (await db.all<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id);

  it('commits the chunks once, before snapshot_end is applied, and tells the watches then', async () => {
    for (let i = 0; i < 5; i++) await data.apply(chunk(i + 1, ids(i * 100, 100)));
    expect(committedTables).toEqual([]); // written, not yet committed: nothing to re-read
    await data.apply({ type: 'snapshot_end', lsn: '0/10' });
    expect(committedTables[0]).toEqual(['todos']);
    expect(await storedIds()).toEqual(ids(0, 500));
    expect(data.checkpoint.current).toBe('0/10');
  });

  it('commits every 10,000 rows on the way (or sooner, every 500 ms)', async () => {
    let firstCommitAfter: number | undefined;
    for (let i = 0; i < 12; i++) {
      await data.apply(chunk(i + 1, ids(i * 1000, 1000)));
      if (committedTables.length > 0) firstCommitAfter ??= i + 1;
    }
    expect(firstCommitAfter).toBeLessThanOrEqual(10);
    expect(await storedIds()).toHaveLength(12_000); // the query has the rest committed first
  });

  it('commits at once when another call wants the connection: a query waits for the chunk, then sees it', async () => {
    await data.apply(chunk(1, ids(0, 100)));
    await data.apply(chunk(2, ids(100, 100)));
    // A watch's query (or a local write) during the snapshot: it does not wait for the snapshot's end.
    expect(await storedIds()).toEqual(ids(0, 200));
    expect(committedTables).toEqual([['todos']]);
    // The next chunk opens a new held transaction.
    await data.apply(chunk(3, ids(200, 100)));
    await data.write('insert', 'todos', 'local-1', row('local-1'));
    expect(await storedIds()).toEqual(['local-1', ...ids(0, 300)]);
  });

  it('a refused chunk: the chunks before it are committed alone, its own error is thrown, and its retry goes on', async () => {
    await data.apply(chunk(1, ids(0, 100)));
    await data.apply(chunk(2, ids(100, 100)));
    await expect(data.apply(chunk(3, ['x'], 'no_such_table'))).rejects.toThrow(/no_such_table/);
    expect(await storedIds()).toEqual(ids(0, 200));
    expect(committedTables).toEqual([['todos'], ['todos']]); // one transaction each, as without holding
    // Chunks 1 and 2 were written twice (the held transaction, then alone): their json values went
    // in as they came, not encoded twice (table-codec.ts: arrayToParams copies).
    for (const stored of await db.all<{ id: string; meta: string }>('SELECT id, meta FROM todos')) expect(JSON.parse(stored.meta)).toEqual({ of: stored.id });

    await data.apply(chunk(3, ids(200, 100)));
    await data.apply({ type: 'snapshot_end', lsn: '0/10' });
    expect(await storedIds()).toEqual(ids(0, 300));
  });

  it('a failed commit writes its chunks again, one transaction each, and nothing is lost', async () => {
    const hold = db.holdTransaction.bind(db);
    // The first held transaction's COMMIT fails as SQLite's would: rolled back, an error.
    jest.spyOn(db, 'holdTransaction').mockImplementationOnce(async (onWaiting) => {
      const held = await hold(onWaiting);
      return {
        tx: held.tx,
        get contended() {
          return held.contended;
        },
        commit: async () => {
          await held.rollback();
          throw new Error('disk I/O error');
        },
        rollback: () => held.rollback(),
      };
    });
    await data.apply(chunk(1, ids(0, 100)));
    await data.apply(chunk(2, ids(100, 100)));
    await data.apply({ type: 'snapshot_end', lsn: '0/10' });
    expect(await storedIds()).toEqual(ids(0, 200));
    expect(data.checkpoint.current).toBe('0/10');
    expect(committedTables.slice(0, 2)).toEqual([['todos'], ['todos']]);
  });

  it('a snapshot discarded while held leaves none of its rows', async () => {
    await data.apply(chunk(1, ids(0, 100)));
    await data.resetData();
    expect(await storedIds()).toEqual([]);
    expect(data.checkpoint.current).toBe('0/0');
  });

  it('closing the database commits what is held first', async () => {
    await data.apply(chunk(1, ids(0, 100)));
    await db.close();
    // close() waited for the held transaction: it ended (committed) rather than hang.
    expect(db.closed).toBe(true);
    expect(committedTables).toEqual([['todos']]);
  });
});
