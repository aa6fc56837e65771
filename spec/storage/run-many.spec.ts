import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';

describe('SqliteDatabase.runMany', () => {
  let db: SqliteDatabase;
  beforeEach(async () => {
    db = await openDatabase();
    await db.exec('CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER, score REAL, note TEXT)');
  });
  afterEach(() => db.close());

  it('inserts 10,000 rows with one prepared statement', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => [`id-${i}`, i, i / 4, i % 3 === 0 ? null : `note ${i}`]);
    const result = await db.transaction((tx) => tx.runMany('INSERT INTO items VALUES (?, ?, ?, ?)', rows));
    expect(result).toEqual({ changes: 10_000 });
    expect(await db.get('SELECT count(*) AS n, sum(n) AS total FROM items')).toEqual({ n: 10_000, total: (9_999 * 10_000) / 2 });
    expect(await db.get('SELECT * FROM items WHERE id = ?', ['id-4321'])).toEqual({
      id: 'id-4321',
      n: 4321,
      score: 4321 / 4,
      note: 'note 4321',
    });
  });

  it('counts changes of an upsert and accepts no rows', async () => {
    const upsert = 'INSERT INTO items (id, n) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n';
    await db.runMany(upsert, [
      ['a', 1],
      ['b', 2],
    ]);
    expect(
      await db.runMany(upsert, [
        ['a', 10],
        ['c', 3],
      ]),
    ).toEqual({ changes: 2 });
    expect(await db.runMany(upsert, [])).toEqual({ changes: 0 });
    expect(await db.all('SELECT id, n FROM items ORDER BY id')).toEqual([
      { id: 'a', n: 10 },
      { id: 'b', n: 2 },
      { id: 'c', n: 3 },
    ]);
  });

  it('names the failing row, and inside a transaction leaves nothing', async () => {
    const rows = [
      ['x', 1],
      ['y', 2],
      ['x', 3],
    ];
    const error = await db.transaction((tx) => tx.runMany('INSERT INTO items (id, n) VALUES (?, ?)', rows)).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SqliteError', code: 19, sql: 'INSERT INTO items (id, n) VALUES (?, ?)' });
    expect((error as Error).message).toMatch(/row 2: UNIQUE constraint failed/);
    expect(await db.all('SELECT * FROM items')).toEqual([]);
  });

  it('checks realColumns against the statement', async () => {
    await expect(db.runMany('INSERT INTO items (id, n) VALUES (?, ?)', [['a', 1]], { realColumns: [2] })).rejects.toMatchObject({
      code: 21,
    });
  });
});
