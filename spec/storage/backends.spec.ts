import { chooseBackend } from '../../src/storage/open.js';
import { openStorage } from '../../src/client/open-storage.js';
import { fakeIndexedDB } from '../support/fake-indexeddb.js';
import { openDatabase, openMetaStore } from '../../src/storage/index.js';

describe('storage backends', () => {
  it('are chosen by one option, the database name deciding when it is absent', () => {
    const indexedDB = fakeIndexedDB();
    expect(chooseBackend({}).kind).toBe('memory');
    expect(chooseBackend({ name: ':memory:' }).kind).toBe('memory');
    expect(chooseBackend({ name: 'todos', indexedDB }).kind).toBe('indexeddb');
    expect(chooseBackend({ name: 'todos', storage: 'memory' }).kind).toBe('memory');
    // In Node without an IndexedDB, a name is a file path.
    expect(chooseBackend({ name: 'todos' }).kind).toBe('file');
    expect(chooseBackend({ name: './data/todos.db', indexedDB, storage: 'file' }).kind).toBe('file');
    expect(chooseBackend({ name: 'todos', storage: 'opfs' }).kind).toBe('opfs');
    expect(() => chooseBackend({ name: 'todos', storage: 'cloud' as never })).toThrow(/unknown storage "cloud"/);
  });

  it('OPFS is refused where there are no sync access handles (anywhere but a browser’s dedicated worker), saying what to use', async () => {
    await expect(openDatabase({ name: 'todos', storage: 'opfs' })).rejects.toThrow(
      /database 'todos' lives in OPFS, which needs a dedicated worker .*use storage: 'indexeddb' here/,
    );
  });

  it('a named database remembers its backend, and refuses to be opened on another', async () => {
    const indexedDB = fakeIndexedDB();
    const first = await openStorage({ database: 'todos', indexedDB });
    await first.db.run('CREATE TABLE t (x)');
    await first.db.run('INSERT INTO t VALUES (1)');
    expect(await first.meta!.get('storage')).toEqual({ backend: 'indexeddb', format: 1 });
    await first.db.close();
    first.meta!.close();

    const inMemory = await openStorage({ database: 'todos', storage: 'memory', indexedDB });
    expect(inMemory.meta).toBeUndefined(); // a memory database keeps no record, and nothing else
    expect(await inMemory.db.all(`SELECT name FROM sqlite_master WHERE name = 't'`)).toEqual([]);
    await inMemory.db.close();
    const again = await openStorage({ database: 'todos', indexedDB });
    expect(await again.db.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
    await again.db.close();
    again.meta!.close();
  });

  it('refuses to open a named database whose record says it lives in another backend', async () => {
    const indexedDB = fakeIndexedDB();
    const meta = await openMetaStore(indexedDB, 'rxsync-meta:todos');
    await meta.set('storage', { backend: 'opfs', format: 1 }); // as a later backend would record it
    meta.close();
    await expect(openStorage({ database: 'todos', indexedDB })).rejects.toThrow("database 'todos' lives in opfs storage, not indexeddb");
  });
});
