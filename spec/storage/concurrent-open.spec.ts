import { openDatabase } from '../../src/storage/index.js';

describe('several in-memory databases in one process', () => {
  it('opened at the same time, stay separate, with interleaved transactions', async () => {
    const [a, b, c] = await Promise.all([openDatabase(), openDatabase(), openDatabase()]);
    try {
      await Promise.all([a, b, c].map((db) => db.exec('CREATE TABLE t (x INTEGER)')));
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        for (const [n, db] of [a, b, c].entries()) {
          writes.push(
            db.transaction(async (tx) => {
              await tx.run('INSERT INTO t VALUES (?)', [i * 10 + n]);
              await tx.run('INSERT INTO t VALUES (?)', [-(i * 10 + n)]);
            }),
          );
        }
      }
      await Promise.all(writes);
      for (const [n, db] of [a, b, c].entries()) {
        expect(await db.all('SELECT count(*) AS rows, sum(x > 0 AND x % 10 = ?) AS mine FROM t', [n])).toEqual([{ rows: 20, mine: n === 0 ? 9 : 10 }]);
      }
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
