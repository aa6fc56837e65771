import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';

/** SqliteDatabase.holdTransaction: one transaction open across calls, on a real wa-sqlite connection. */
describe('SqliteDatabase.holdTransaction', () => {
  let db: SqliteDatabase;
  beforeEach(async () => {
    db = await openDatabase();
    await db.exec('CREATE TABLE t (v INTEGER)');
  });
  afterEach(() => db.close());

  it('keeps other calls waiting until it commits, and tells the holder when one starts to', async () => {
    let waiting = 0;
    const held = await db.holdTransaction(() => waiting++);
    await held.tx.run('INSERT INTO t VALUES (1)');
    await held.tx.run('INSERT INTO t VALUES (2)');
    expect(held.contended).toBe(false);
    let read: unknown;
    const reading = db.all('SELECT v FROM t').then((rows) => (read = rows));
    expect(waiting).toBe(1);
    expect(held.contended).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(read).toBeUndefined();
    await held.commit();
    await reading;
    expect(read).toEqual([{ v: 1 }, { v: 2 }]);
    await expect(held.tx.run('INSERT INTO t VALUES (3)')).rejects.toThrow(/transaction is over/);
  });

  it('rolls back, and the connection is free again', async () => {
    const held = await db.holdTransaction(() => undefined);
    await held.tx.run('INSERT INTO t VALUES (1)');
    await held.rollback();
    expect(await db.all('SELECT v FROM t')).toEqual([]);
    await db.transaction((tx) => tx.run('INSERT INTO t VALUES (2)')); // BEGIN works: no transaction left open
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 2 }]);
  });

  it('a COMMIT that fails rolls back and rejects; the connection is free again', async () => {
    await db.exec('PRAGMA foreign_keys = ON');
    await db.exec('CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)');
    const held = await db.holdTransaction(() => undefined);
    await held.tx.run('INSERT INTO t VALUES (1)');
    await held.tx.run('INSERT INTO c VALUES (42)'); // checked at COMMIT: there is no p 42
    await expect(held.commit()).rejects.toMatchObject({ code: 19 });
    expect(await db.all('SELECT v FROM t')).toEqual([]);
    await db.run('INSERT INTO t VALUES (2)');
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 2 }]);
  });

  it('close() asks the holder to let go, and closes once it has', async () => {
    const holder: { held?: Awaited<ReturnType<SqliteDatabase['holdTransaction']>> } = {};
    const held = (holder.held = await db.holdTransaction(() => void holder.held?.commit()));
    await held.tx.run('INSERT INTO t VALUES (1)');
    await db.close();
    expect(db.closed).toBe(true);
  });
});
