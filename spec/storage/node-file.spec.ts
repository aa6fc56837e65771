import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { openDatabase, SqliteError } from '../../src/storage/index.js';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rxsync-file-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('a named database in Node without IndexedDB is a SQLite file', () => {
  it('keeps what was committed across close and reopen, in an ordinary SQLite file', async () => {
    const file = join(folder, 'todos.db');
    const db = await openDatabase({ name: file });
    expect(db.persistent).toBe(true);
    expect(db.name).toBe(file);
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
    expect(existsSync(`${file}-lock`)).toBe(false);

    const reopened = await openDatabase({ name: file });
    expect(await reopened.all('SELECT id, title, score, typeof(score) AS t FROM todos ORDER BY id')).toEqual([
      { id: 'a', title: 'ONE', score: 1, t: 'real' },
      { id: 'b', title: 'two', score: 2.5, t: 'real' },
    ]);
    await reopened.close();

    // Any SQLite reads it.
    const native = new BetterSqlite(file, { readonly: true });
    expect(native.prepare('SELECT id, title FROM todos ORDER BY id').all()).toEqual([
      { id: 'a', title: 'ONE' },
      { id: 'b', title: 'two' },
    ]);
    native.close();
  });

  it('a transaction that throws after its writes leaves nothing after reopen', async () => {
    const file = join(folder, 'atomic.db');
    const db = await openDatabase({ name: file });
    await db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE lsn (v TEXT); INSERT INTO lsn VALUES ('0/0')");
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO rows (v) VALUES (?)', ['committed']);
      await tx.run('UPDATE lsn SET v = ?', ['0/10']);
    });
    const rows = Array.from({ length: 5000 }, (_, i) => [`row ${i} ${'x'.repeat(100)}`]);
    await expect(
      db.transaction(async (tx) => {
        await tx.runMany('INSERT INTO rows (v) VALUES (?)', rows);
        await tx.run('UPDATE lsn SET v = ?', ['0/20']);
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    await db.close();

    const reopened = await openDatabase({ name: file });
    expect(await reopened.all('SELECT v FROM rows')).toEqual([{ v: 'committed' }]);
    expect(await reopened.get('SELECT v FROM lsn')).toEqual({ v: '0/10' });
    await reopened.close();
  });

  it('temporary tables and big sorts work (they stay in memory)', async () => {
    const db = await openDatabase({ name: join(folder, 'temp.db') });
    await db.exec('CREATE TEMP TABLE scratch (x INTEGER)');
    await db.transaction((tx) =>
      tx.runMany(
        'INSERT INTO scratch VALUES (?)',
        Array.from({ length: 20_000 }, (_, i) => [(i * 7919) % 20_000]),
      ),
    );
    expect(await db.get('SELECT x FROM scratch ORDER BY x DESC LIMIT 1')).toEqual({ x: 19_999 });
    await db.close();
  });

  it('names: a path relative to the working directory; symbolic links lead to the same file', async () => {
    const here = process.cwd();
    process.chdir(folder);
    try {
      mkdirSync('data');
      const db = await openDatabase({ name: './data/todos.db' });
      await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      symlinkSync(join(folder, 'data', 'todos.db'), join(folder, 'alias.db'));
      // The same file under another name is the same database: one lock.
      await expect(openDatabase({ name: 'alias.db' })).rejects.toMatchObject({ code: 5, message: expect.stringMatching(/in use in this process/) });
      await db.close();
      const viaLink = await openDatabase({ name: 'alias.db' });
      expect(await viaLink.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
      await viaLink.close();
    } finally {
      process.chdir(here);
    }
    expect(existsSync(join(folder, 'data', 'todos.db'))).toBe(true);
  });

  it('says clearly when the folder is missing, the path is a folder, or the file is not a database', async () => {
    const missing = join(folder, 'nope', 'todos.db');
    await expect(openDatabase({ name: missing })).rejects.toThrow(`directory ${join(folder, 'nope')} does not exist (create it first)`);
    await expect(openDatabase({ name: folder })).rejects.toThrow(`${folder} is not a file`);
    const text = join(folder, 'notes.txt');
    writeFileSync(text, 'not a database, but long enough to have a header where SQLite looks for one '.repeat(20));
    const error = (await openDatabase({ name: text }).catch((e: unknown) => e)) as SqliteError;
    expect(error).toBeInstanceOf(SqliteError);
    expect(error.message).toMatch(/cannot open database '.*notes\.txt'.*file is not a database/);
    // the failed open let go of the file
    expect(existsSync(`${text}-lock`)).toBe(false);
  });

  it('explicit storage: file, even where an IndexedDB is given', async () => {
    const file = join(folder, 'explicit.db');
    const db = await openDatabase({ name: file, storage: 'file', indexedDB: {} as IDBFactory });
    await db.close();
    expect(existsSync(file)).toBe(true);
  });
});

describe('one process at a time per database file', () => {
  it('refuses a second open in the same process until the first closes', async () => {
    const file = join(folder, 'single.db');
    const db = await openDatabase({ name: file });
    const error = (await openDatabase({ name: file }).catch((e: unknown) => e)) as SqliteError;
    expect(error).toMatchObject({ name: 'SqliteError', code: 5 });
    expect(error.message).toContain(`database file ${file} is in use in this process already`);
    await db.close();
    const second = await openDatabase({ name: file });
    await second.close();
  });

  it('refuses a file another live process holds, naming it; takes over the lock of a dead one', async () => {
    const file = join(folder, 'shared.db');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(`${file}-lock`, JSON.stringify({ pid: sleeper.pid, host: hostname(), tag: 'other', since: 'then' }));
      const error = (await openDatabase({ name: file }).catch((e: unknown) => e)) as SqliteError;
      expect(error).toMatchObject({ code: 5 });
      expect(error.message).toContain(`is in use by process ${sleeper.pid}`);
      expect(error.message).toContain(`delete ${file}-lock`);
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    // Its owner is gone: the lock is stale and taken over.
    const db = await openDatabase({ name: file });
    expect(JSON.parse(readFileSync(`${file}-lock`, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await db.close();
    expect(existsSync(`${file}-lock`)).toBe(false);
  });

  it('refuses a lock from another host (it cannot tell whether its owner lives)', async () => {
    const file = join(folder, 'network.db');
    writeFileSync(`${file}-lock`, JSON.stringify({ pid: 1, host: 'elsewhere', tag: 'x', since: 'then' }));
    await expect(openDatabase({ name: file })).rejects.toThrow(`is in use by process 1 on host elsewhere`);
  });

  it('takes over a lock left by an earlier process with this pid, or an unreadable old one', async () => {
    const file = join(folder, 'reused.db');
    writeFileSync(`${file}-lock`, JSON.stringify({ pid: process.pid, host: hostname(), tag: 'before-restart', since: 'then' }));
    const db = await openDatabase({ name: relative(process.cwd(), file) });
    await db.close();
    writeFileSync(`${file}-lock`, '');
    const { utimesSync } = await import('node:fs');
    utimesSync(`${file}-lock`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const again = await openDatabase({ name: file });
    await again.close();
  });
});
