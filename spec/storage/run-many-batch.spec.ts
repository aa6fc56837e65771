import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';

/**
 * runMany's `batch`: groups of rows through one multi-row statement must leave the database, the
 * change count and the errors exactly as the one-row statement does row by row.
 */
const ONE =
  'INSERT INTO items (id, n, score, note) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n, score = excluded.score, note = excluded.note';
const tuples = (k: number) => Array(k).fill('(?, ?, ?, ?)').join(', ');
const batchOf = (rows: number) => ({
  rows,
  sql: `INSERT INTO items (id, n, score, note) VALUES ${tuples(rows)} ON CONFLICT (id) DO UPDATE SET n = excluded.n, score = excluded.score, note = excluded.note`,
});
const DDL = "CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, score REAL, note TEXT CHECK (note IS NULL OR note <> 'bad'))";

async function freshDb(): Promise<SqliteDatabase> {
  const db = await openDatabase();
  await db.exec(DDL);
  return db;
}

const contents = (db: SqliteDatabase) => db.all('SELECT id, n, score, typeof(score) AS kind, note FROM items ORDER BY id');

describe('SqliteDatabase.runMany with a batch statement', () => {
  const opened: SqliteDatabase[] = [];
  const open = async () => {
    const db = await freshDb();
    opened.push(db);
    return db;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
  });

  /** Runs `rows` through runMany both ways, each in a fresh database, and returns both outcomes. */
  interface Outcome {
    result: { changes?: number; error?: string; code?: number };
    rows: Record<string, unknown>[];
  }
  async function bothWays(rows: unknown[][], batchRows: number): Promise<{ alone: Outcome; batched: Outcome }> {
    const outcome = async (options: object): Promise<Outcome> => {
      const db = await open();
      const result = await db.transaction((tx) => tx.runMany(ONE, rows, { realColumns: [2], ...options })).catch((e: Error) => e);
      return { result: result instanceof Error ? { error: result.message, code: (result as { code?: number }).code } : result, rows: await contents(db) };
    };
    return { alone: await outcome({}), batched: await outcome({ batch: batchOf(batchRows) }) };
  }

  it('writes the same rows, counts the same changes, for any number of rows', async () => {
    for (const count of [0, 1, 6, 7, 20, 23]) {
      const rows = Array.from({ length: count }, (_, i) => [`id-${String(i).padStart(3, '0')}`, i * 3, i, i % 4 === 0 ? null : `note ${i}`]);
      const { alone, batched } = await bothWays(rows, 7);
      expect(batched).toEqual(alone);
      expect(alone.result).toEqual({ changes: count });
    }
  });

  it('binds realColumns as REAL in every row of a group (2 stays 2.0)', async () => {
    const db = await open();
    const rows = Array.from({ length: 8 }, (_, i) => [`r${i}`, i, 2, null]);
    await db.runMany(ONE, rows, { realColumns: [2], batch: batchOf(4) });
    expect(await db.all('SELECT DISTINCT typeof(score) AS kind FROM items')).toEqual([{ kind: 'real' }]);
  });

  it('applies a key repeated within one group in row order, as row by row', async () => {
    const rows = [
      ['a', 1, 1.5, 'first'],
      ['b', 2, 2.5, null],
      ['a', 3, 3.5, 'second'],
      ['c', 4, 4.5, null],
      ['a', 5, 5.5, 'third'],
      ['b', 6, 6.5, 'again'],
    ];
    const { alone, batched } = await bothWays(rows, 3);
    expect(batched).toEqual(alone);
    expect(batched.rows.find((r) => r.id === 'a')).toMatchObject({ n: 5, note: 'third' });
  });

  it('fails on the bad row of a group with its own error, the rows before it written as row by row', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i, i, i === 9 ? 'bad' : null]);
    const db = await open();
    const error = (await db.runMany(ONE, rows, { realColumns: [2], batch: batchOf(4) }).then(
      () => new Error('runMany succeeded'),
      (e: unknown) => e,
    )) as Error & { code: number; sql: string };
    expect(error).toMatchObject({ name: 'SqliteError', code: 19, sql: ONE });
    expect(error.message).toMatch(/row 9: CHECK constraint failed/);
    // Outside a transaction each row by itself is committed as it runs: rows 0-8 are there.
    expect((await contents(db)).map((r) => r.id)).toEqual(rows.slice(0, 9).map((r) => r[0]));

    // Inside one, the transaction rolls back and leaves nothing, as without batching.
    const { alone, batched } = await bothWays(rows, 4);
    expect(batched).toEqual(alone);
    expect(batched.rows).toEqual([]);
    expect(batched.result.error).toMatch(/row 9: CHECK constraint failed/);
  });

  it('reports a value that cannot be bound, and a row of the wrong length, on the row, as row by row', async () => {
    for (const bad of [
      ['k5', 5, 5, { not: 'bindable' }],
      ['k5', 5, 5],
    ]) {
      const rows: unknown[][] = Array.from({ length: 8 }, (_, i) => [`k${i}`, i, i, null]);
      rows[5] = bad;
      const { alone, batched } = await bothWays(rows, 4);
      expect(batched).toEqual(alone);
      expect(batched.result.error).toMatch(/: row 5: /);
    }
  });

  it('refuses a batch statement whose parameters are not its rows times the row', async () => {
    const db = await open();
    const rows = Array.from({ length: 8 }, (_, i) => [`k${i}`, i, i, null]);
    await expect(db.runMany(ONE, rows, { batch: { sql: batchOf(3).sql, rows: 4 } })).rejects.toMatchObject({ code: 21 });
    expect(await contents(db)).toEqual([]);
  });
});
