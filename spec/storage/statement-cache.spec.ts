import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, SqliteError, type SqliteDatabase } from '../../src/storage/index.js';
import { STATEMENT_CACHE_CAPACITY } from '../../src/storage/statement-cache.js';

// The connection keeps its prepared statements (statement-cache.ts). What a caller must not notice:
// every answer is the one a freshly prepared statement gives, whatever happened in between.
describe('prepared statements kept by the connection', () => {
  let db: SqliteDatabase;
  beforeEach(async () => {
    db = await openDatabase();
    await db.exec("CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL); INSERT INTO todos VALUES ('a', 'first'), ('b', 'second');");
  });
  afterEach(async () => {
    await db.close();
  });

  it('sees the schema as it is now: a column added, a table dropped and made again with other columns', async () => {
    const all = 'SELECT * FROM todos ORDER BY id';
    expect(await db.all(all)).toEqual([
      { id: 'a', title: 'first' },
      { id: 'b', title: 'second' },
    ]);
    await db.exec('ALTER TABLE todos ADD COLUMN done INTEGER NOT NULL DEFAULT 0');
    expect(await db.all(all)).toEqual([
      { id: 'a', title: 'first', done: 0 },
      { id: 'b', title: 'second', done: 0 },
    ]);
    await db.exec('DROP TABLE todos');
    await expect(db.all(all)).rejects.toThrow(/no such table: todos/);
    await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO todos VALUES (7, 'again')");
    expect(await db.all(all)).toEqual([{ id: 7, note: 'again' }]);
  });

  it('a statement that failed runs again normally, with the new parameters', async () => {
    const insert = 'INSERT INTO todos (id, title) VALUES (?, ?)';
    await expect(db.run(insert, ['a', 'taken'])).rejects.toThrow(/UNIQUE constraint failed: todos.id/);
    await expect(db.run(insert, ['c', null])).rejects.toThrow(/NOT NULL constraint failed: todos.title/);
    expect(await db.run(insert, ['c', 'third'])).toEqual({ changes: 1 });
    expect(await db.all('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
  });

  it('a query read only in part (get) keeps no lock: the table can be dropped right after', async () => {
    expect(await db.get('SELECT id FROM todos ORDER BY id')).toEqual({ id: 'a' });
    await expect(db.exec('DROP TABLE todos')).resolves.toBeUndefined();
  });

  it('the same statement run several times at once inside a transaction gives each caller its own rows', async () => {
    const byId = 'SELECT title FROM todos WHERE id = ?';
    const titles = await db.transaction((tx) => Promise.all(['a', 'b', 'a', 'b'].map((id) => tx.get<{ title: string }>(byId, [id]))));
    expect(titles.map((row) => row?.title)).toEqual(['first', 'second', 'first', 'second']);
  });

  it('a rolled back transaction leaves the kept statements usable', async () => {
    const insert = 'INSERT INTO todos (id, title) VALUES (?, ?)';
    await expect(
      db.transaction(async (tx) => {
        await tx.run(insert, ['c', 'third']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await db.run(insert, ['d', 'fourth']);
    expect(await db.all('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }, { id: 'd' }]);
  });

  it('more distinct statements than it keeps: every one still answers right', async () => {
    const count = STATEMENT_CACHE_CAPACITY + 40;
    for (let round = 0; round < 2; round++) {
      for (let n = 0; n < count; n++) {
        expect(await db.get(`SELECT ${n} + ? AS n`, [round])).toEqual({ n: n + round });
      }
    }
  });

  it('still refuses two statements in one run() and an empty one', async () => {
    await expect(db.run("INSERT INTO todos VALUES ('x', 'y'); DELETE FROM todos")).rejects.toThrow(SqliteError);
    await expect(db.run('  -- nothing ')).rejects.toThrow('no SQL statement to run');
    expect(await db.all('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }]);
  });
});

describe('prepared statements of a database in a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-statements-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('closes with statements kept, and the file opens again with every commit in it', async () => {
    const path = join(dir, 'kept.db');
    const first = await openDatabase({ name: path, storage: 'file' });
    await first.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    for (let id = 1; id <= 5; id++) await first.run('INSERT INTO notes VALUES (?, ?)', [id, `note ${id}`]);
    expect(await first.get('SELECT count(*) AS n FROM notes')).toEqual({ n: 5 });
    await first.close();

    const again = await openDatabase({ name: path, storage: 'file' });
    expect(await again.all('SELECT body FROM notes WHERE id > ? ORDER BY id', [3])).toEqual([{ body: 'note 4' }, { body: 'note 5' }]);
    await again.close();
  });
});
