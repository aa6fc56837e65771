import { compareSqlValues } from '../../src/live/row-order.js';
import { openDatabase } from '../../src/storage/index.js';

// The order a folded result keeps must be SQLite's: checked against SQLite itself.
describe('compareSqlValues', () => {
  it("sorts NULLs, numbers, text (by code point: 😀 after U+FFFD) and blobs as SQLite's ORDER BY does", async () => {
    const values: unknown[] = [
      'b',
      null,
      2.5,
      '\u{1F600}',
      -3,
      '\uFFFD',
      'B',
      '',
      'é',
      new Uint8Array([1, 2]),
      10,
      'a\u0001',
      'ab',
      new Uint8Array([1]),
      2,
      'a',
      0.1,
    ];
    const db = await openDatabase();
    try {
      await db.exec('CREATE TABLE v (i INTEGER PRIMARY KEY, x)');
      await db.runMany(
        'INSERT INTO v (i, x) VALUES (?, ?)',
        values.map((value, i) => [i, value]),
      );
      const bySqlite = (await db.all<{ i: number }>('SELECT i FROM v ORDER BY x, i')).map((row) => row.i);
      const byUs = values.map((_, i) => i).sort((a, b) => compareSqlValues(values[a], values[b]) || a - b);
      expect(byUs).toEqual(bySqlite);
    } finally {
      await db.close();
    }
  });
});
