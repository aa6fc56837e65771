import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SqliteDatabase.transaction', () => {
  let db: SqliteDatabase;
  beforeEach(async () => {
    db = await openDatabase();
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  });
  afterEach(() => db.close());

  const count = async () => (await db.get<{ n: number }>('SELECT count(*) AS n FROM t'))!.n;

  it('commits and resolves with what fn returns', async () => {
    const result = await db.transaction(async (tx) => {
      await tx.run('INSERT INTO t (v) VALUES (?)', ['a']);
      await tx.run('INSERT INTO t (v) VALUES (?)', ['b']);
      return tx.get<{ n: number }>('SELECT count(*) AS n FROM t');
    });
    expect(result).toEqual({ n: 2 });
    expect(await count()).toBe(2);
  });

  it('rolls back everything when fn throws, and rethrows the same error', async () => {
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (v) VALUES (?)', ['a']);
        await tx.runMany('INSERT INTO t (v) VALUES (?)', [['b'], ['c']]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await count()).toBe(0);
    // the connection is usable (no transaction left open)
    await db.transaction((tx) => tx.run('INSERT INTO t (v) VALUES (?)', ['after']));
    expect(await count()).toBe(1);
  });

  it('rolls back the earlier writes when a statement fails inside', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (id, v) VALUES (1, ?)', ['a']);
        await tx.run('INSERT INTO t (id, v) VALUES (1, ?)', ['duplicate']);
      }),
    ).rejects.toMatchObject({ name: 'SqliteError', code: 19 });
    expect(await count()).toBe(0);
  });

  it('serializes concurrent transactions: the second starts after the first committed', async () => {
    const log: string[] = [];
    const first = db.transaction(async (tx) => {
      log.push('A begin');
      await tx.run('INSERT INTO t (v) VALUES (?)', ['A1']);
      await tick();
      await tx.run('INSERT INTO t (v) VALUES (?)', ['A2']);
      log.push('A end');
    });
    const second = db.transaction(async (tx) => {
      log.push('B begin');
      const seen = await tx.all<{ v: string }>('SELECT v FROM t ORDER BY id');
      log.push(`B sees ${seen.map((row) => row.v).join(',')}`);
      await tx.run('INSERT INTO t (v) VALUES (?)', ['B1']);
      log.push('B end');
    });
    const third = db.transaction(async () => {
      log.push('C begin');
      throw new Error('C fails');
    });
    await Promise.all([first, second, third.catch(() => log.push('C rolled back'))]);
    expect(log).toEqual(['A begin', 'A end', 'B begin', 'B sees A1,A2', 'B end', 'C begin', 'C rolled back']);
    expect((await db.all<{ v: string }>('SELECT v FROM t ORDER BY id')).map((row) => row.v)).toEqual(['A1', 'A2', 'B1']);
  });

  it('a plain call made during a transaction runs after it, never inside it', async () => {
    let outside: Promise<unknown> | undefined;
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (v) VALUES (?)', ['in tx']);
        outside = db.run('INSERT INTO t (v) VALUES (?)', ['outside']);
        await tick();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await outside;
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 'outside' }]);
  });

  it('tx cannot be used once fn has settled', async () => {
    let leaked: { run: (sql: string) => Promise<unknown> } | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.run("INSERT INTO t (v) VALUES ('late')")).rejects.toMatchObject({ code: 21 });
    expect(await count()).toBe(0);
  });

  it('statements started through tx but not awaited still belong to the transaction', async () => {
    await db.transaction(async (tx) => {
      void tx.run('INSERT INTO t (v) VALUES (?)', ['not awaited']);
    });
    expect(await count()).toBe(1);
  });
});
