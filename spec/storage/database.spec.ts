import { openDatabase, real, SqliteError, type SqliteDatabase } from '../../src/storage/index.js';

describe('openDatabase(:memory:)', () => {
  let db: SqliteDatabase;
  beforeEach(async () => {
    db = await openDatabase();
  });
  afterEach(async () => {
    await db.close();
  });

  it('defaults to an in-memory database', () => {
    expect(db.name).toBe(':memory:');
    expect(db.persistent).toBe(false);
    expect(db.closed).toBe(false);
  });

  it('exec runs scripts; run reports changes; all and get return rows as objects', async () => {
    await db.exec(`
      CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT, done INTEGER);
      INSERT INTO todos VALUES ('a', 'first', 0);
    `);
    expect(await db.run('INSERT INTO todos VALUES (?, ?, ?)', ['b', 'second', 1])).toEqual({ changes: 1 });
    expect(await db.run('UPDATE todos SET done = ?', [1])).toEqual({ changes: 2 });
    expect(await db.run('CREATE INDEX todos_done ON todos(done)')).toEqual({ changes: 0 });
    expect(await db.all('SELECT id, title, done FROM todos ORDER BY id')).toEqual([
      { id: 'a', title: 'first', done: 1 },
      { id: 'b', title: 'second', done: 1 },
    ]);
    expect(await db.get<{ n: number }>('SELECT count(*) AS n FROM todos WHERE id > ?', ['a'])).toEqual({ n: 1 });
    expect(await db.get('SELECT * FROM todos WHERE id = ?', ['zzz'])).toBeUndefined();
  });

  it('binds and reads every supported JS type', async () => {
    await db.exec('CREATE TABLE v (x)');
    const blob = new Uint8Array([1, 2, 3, 255]);
    const values: unknown[] = ['text', 42, -7, 2 ** 40, 9007199254740993n, 1.25, true, false, null, undefined, blob];
    await db.runMany(
      'INSERT INTO v VALUES (?)',
      values.map((value) => [value]),
    );
    const rows = await db.all<{ x: unknown; t: string }>('SELECT x, typeof(x) AS t FROM v ORDER BY rowid');
    expect(rows).toEqual([
      { x: 'text', t: 'text' },
      { x: 42, t: 'integer' },
      { x: -7, t: 'integer' },
      { x: 2 ** 40, t: 'integer' },
      { x: 9007199254740993n, t: 'integer' },
      { x: 1.25, t: 'real' },
      { x: 1, t: 'integer' },
      { x: 0, t: 'integer' },
      { x: null, t: 'null' },
      { x: null, t: 'null' },
      { x: blob, t: 'blob' },
    ]);
  });

  it('keeps REAL real: real(2) and realColumns bind 2.0, a plain 2 binds INTEGER', async () => {
    await db.exec('CREATE TABLE m (x)'); // no column affinity: the bound type is what gets stored
    await db.run('INSERT INTO m VALUES (?)', [2]);
    await db.run('INSERT INTO m VALUES (?)', [real(2)]);
    await db.runMany('INSERT INTO m VALUES (?)', [[3], [4.5]], { realColumns: [0] });
    await db.run('INSERT INTO m VALUES (?)', [2.5]);
    expect(await db.all('SELECT x, typeof(x) AS t FROM m ORDER BY rowid')).toEqual([
      { x: 2, t: 'integer' },
      { x: 2, t: 'real' },
      { x: 3, t: 'real' },
      { x: 4.5, t: 'real' },
      { x: 2.5, t: 'real' },
    ]);
  });

  it('refuses values it cannot bind, a wrong parameter count, and two statements in run()', async () => {
    await db.exec('CREATE TABLE t (a, b)');
    await expect(db.run('INSERT INTO t VALUES (?, ?)', [1, { an: 'object' }])).rejects.toMatchObject({
      name: 'SqliteError',
      code: 20,
      detail: 'cannot bind a value of type Object at parameter 2',
    });
    await expect(db.run('INSERT INTO t VALUES (?, ?)', [1])).rejects.toMatchObject({ code: 21 });
    await expect(db.run('INSERT INTO t VALUES (1, 2); INSERT INTO t VALUES (3, 4)')).rejects.toMatchObject({
      code: 21,
      detail: 'more than one statement: use exec() for scripts',
    });
    await expect(db.run('INSERT INTO t VALUES (?, ?)', [2n ** 64n, 1])).rejects.toMatchObject({ code: 25 });
    expect(await db.all('SELECT * FROM t')).toEqual([]);
  });

  it('surfaces SQLite errors as SqliteError with the result code and the SQL', async () => {
    await db.exec('CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)');
    await db.run('INSERT INTO u (name) VALUES (?)', ['ann']);
    const error = await db.run('INSERT INTO u (name) VALUES (?)', ['ann']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqliteError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'SqliteError',
      code: 19,
      codeName: 'SQLITE_CONSTRAINT',
      sql: 'INSERT INTO u (name) VALUES (?)',
    });
    expect((error as SqliteError).message).toMatch(/^SQLITE_CONSTRAINT: UNIQUE constraint failed: u\.name/);

    const longSql = `SELECT * FROM no_such_table WHERE ${'x = 1 AND '.repeat(40)} 1`;
    const syntax = (await db.all(longSql).catch((e: unknown) => e)) as SqliteError;
    expect(syntax.code).toBe(1);
    expect(syntax.detail).toMatch(/no such table: no_such_table/);
    expect(syntax.sql).toBe(longSql.slice(0, 200));
  });

  it('rejects calls after close; close is idempotent', async () => {
    await db.close();
    await db.close();
    expect(db.closed).toBe(true);
    await expect(db.all('SELECT 1')).rejects.toMatchObject({ name: 'SqliteError', code: 21 });
    await expect(db.transaction(async () => 1)).rejects.toMatchObject({ code: 21 });
  });

  it('two in-memory databases are independent', async () => {
    const other = await openDatabase({ name: ':memory:' });
    await db.exec('CREATE TABLE only_here (x)');
    expect(await other.all("SELECT name FROM sqlite_master WHERE name = 'only_here'")).toEqual([]);
    await other.close();
  });
});
