import { openDatabase, SqliteError } from '../../src/storage/index.js';
import { fakeIndexedDB } from '../support/fake-indexeddb.js';

describe('persistent databases (IDBBatchAtomicVFS over an injected IndexedDB)', () => {
  it('keeps what was written across close and reopen with the same factory', async () => {
    const indexedDB = fakeIndexedDB();
    const db = await openDatabase({ name: 'todos', indexedDB });
    expect(db.persistent).toBe(true);
    expect(db.name).toBe('todos');
    await db.exec('CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT, score REAL)');
    await db.transaction((tx) =>
      tx.runMany(
        'INSERT INTO todos VALUES (?, ?, ?)',
        [
          ['a', 'one', 1],
          ['b', 'two', 2.5],
        ],
        { realColumns: [2] },
      ),
    );
    await db.run('UPDATE todos SET title = ? WHERE id = ?', ['ONE', 'a']);
    await db.close();

    const reopened = await openDatabase({ name: 'todos', indexedDB });
    expect(await reopened.all('SELECT id, title, score, typeof(score) AS t FROM todos ORDER BY id')).toEqual([
      { id: 'a', title: 'ONE', score: 1, t: 'real' },
      { id: 'b', title: 'two', score: 2.5, t: 'real' },
    ]);
    await reopened.close();

    // another factory is another IndexedDB: nothing there
    const elsewhere = await openDatabase({ name: 'todos', indexedDB: fakeIndexedDB() });
    expect(await elsewhere.all("SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([]);
    await elsewhere.close();
  });

  it('a transaction that throws after its writes leaves nothing after reopen', async () => {
    const indexedDB = fakeIndexedDB();
    const db = await openDatabase({ name: 'atomic', indexedDB });
    await db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE lsn (v TEXT); INSERT INTO lsn VALUES ('0/0')");
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO rows (v) VALUES (?)', ['committed']);
      await tx.run('UPDATE lsn SET v = ?', ['0/10']);
    });
    const rows = Array.from({ length: 500 }, (_, i) => [`row ${i}`]);
    await expect(
      db.transaction(async (tx) => {
        await tx.runMany('INSERT INTO rows (v) VALUES (?)', rows);
        await tx.run('UPDATE lsn SET v = ?', ['0/20']);
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    await db.close();

    const reopened = await openDatabase({ name: 'atomic', indexedDB });
    expect(await reopened.all('SELECT v FROM rows')).toEqual([{ v: 'committed' }]);
    expect(await reopened.get('SELECT v FROM lsn')).toEqual({ v: '0/10' });
    await reopened.close();
  });

  it('two named databases coexist, open at the same time', async () => {
    const indexedDB = fakeIndexedDB();
    const [a, b] = await Promise.all([openDatabase({ name: 'a', indexedDB }), openDatabase({ name: 'b', indexedDB })]);
    await Promise.all([a.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)'), b.exec('CREATE TABLE t (x); INSERT INTO t VALUES (2)')]);
    await Promise.all([
      a.transaction((tx) => tx.runMany('INSERT INTO t VALUES (?)', [[10], [11]])),
      b.transaction((tx) => tx.run('INSERT INTO t VALUES (?)', [20])),
    ]);
    expect(await a.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 10 }, { x: 11 }]);
    expect(await b.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 2 }, { x: 20 }]);
    await Promise.all([a.close(), b.close()]);

    const again = await openDatabase({ name: 'b', indexedDB });
    expect(await again.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 2 }, { x: 20 }]);
    await again.close();
  });

  it('two clients (two factories) use the same database name at the same time, with overlapping transactions', async () => {
    const [one, two] = await Promise.all([
      openDatabase({ name: 'client', indexedDB: fakeIndexedDB() }),
      openDatabase({ name: 'client', indexedDB: fakeIndexedDB() }),
    ]);
    await Promise.all([one.exec('CREATE TABLE t (x)'), two.exec('CREATE TABLE t (x)')]);
    const slowWrite = (db: typeof one, value: number) =>
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (?)', [value]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await tx.run('INSERT INTO t VALUES (?)', [value + 1]);
      });
    await Promise.all([slowWrite(one, 10), slowWrite(two, 20)]);
    expect(await one.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 10 }, { x: 11 }]);
    expect(await two.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 20 }, { x: 21 }]);
    await Promise.all([one.close(), two.close()]);
  });

  it('stores each database in the IndexedDB database of its name, whatever the name', async () => {
    const indexedDB = fakeIndexedDB();
    const name = `app/${'long '.repeat(30)}?#é`;
    const db = await openDatabase({ name, indexedDB });
    await db.exec("CREATE TABLE t (x); INSERT INTO t VALUES ('x')");
    await db.close();
    expect((await indexedDB.databases()).map((info) => info.name)).toEqual([name]);
    const reopened = await openDatabase({ name, indexedDB });
    expect(await reopened.all('SELECT x FROM t')).toEqual([{ x: 'x' }]);
    await reopened.close();
  });

  it('refuses a second connection to the same database in the process until the first closes', async () => {
    const indexedDB = fakeIndexedDB();
    const db = await openDatabase({ name: 'single', indexedDB });
    await expect(openDatabase({ name: 'single', indexedDB })).rejects.toMatchObject({ name: 'SqliteError', code: 5 });
    await db.close();
    const second = await openDatabase({ name: 'single', indexedDB });
    await second.close();
  });

  it('says clearly when there is no IndexedDB', async () => {
    const error = await openDatabase({ name: 'nowhere', storage: 'indexeddb' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqliteError);
    expect((error as SqliteError).message).toMatch(/globalThis\.indexedDB is missing/);
  });

  it('installs nothing global: no indexedDB, no navigator.locks', async () => {
    const db = await openDatabase({ name: 'globals', indexedDB: fakeIndexedDB() });
    await db.exec('CREATE TABLE t (x)');
    expect('indexedDB' in globalThis).toBe(false);
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined();
    await db.close();
  });
});
