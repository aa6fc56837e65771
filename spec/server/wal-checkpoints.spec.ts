import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { WalCheckpointer } from '../../src/server/store/sqlite/wal-checkpointer.js';
import { contractSchema as schema } from './store-contract.js';
import { until } from '../support/until.js';

/**
 * A file store's WAL is checkpointed by a worker thread, not inside a commit (where it cost the
 * latency bench's slowest writes 4-9 ms): in WAL mode only a checkpoint writes to the database file,
 * and the store's own connection checkpoints only past 10,000 pages, so a database file that grows
 * while the WAL is far below that was written by the worker.
 */
describe("a file store's WAL checkpoints", () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-wal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const freshFile = () => join(dir, `store-${++files}.db`);

  it('reach the database file in the background, and the store reopens with every row after close', async () => {
    const database = freshFile();
    const store = createSqliteStore({ schema, database });
    expect(await store.query('PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 10_000 }]);
    const emptySize = statSync(database).size;
    const body = 'x'.repeat(2000);
    for (let i = 0; i < 300; i++) await store.write({ op: 'insert', table: 'todos', row: { id: `t${i}`, title: body } });
    // About 150 pages of rows in the WAL, far below the store's own threshold: the worker copies them.
    await until(() => statSync(database).size > emptySize + 300 * 2000 || undefined, 5000, 'the database file to hold the rows');
    await store.close();

    const reopened = createSqliteStore({ schema, database });
    try {
      expect(await reopened.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 300 }]);
    } finally {
      await reopened.close();
    }
  });

  it('says so when its worker cannot open the database, and leaves checkpoints to the connection past the fallback', async () => {
    const database = freshFile();
    const db = new Database(database);
    db.pragma('journal_mode = WAL');
    unlinkSync(database); // the connection keeps its file; the worker finds none to open
    const errors: Error[] = [];
    const checkpointer = new WalCheckpointer(db, { intervalMs: 50, fallbackPages: 5000, onError: (error) => errors.push(error) });
    try {
      await until(() => errors[0], 5000, 'the error');
      expect(errors[0].message).toMatch(/^the WAL checkpointer stopped \(.+\); the store's connection checkpoints past 5000 pages from now on$/);
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(5000);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });
});
