/**
 * Which backend a tab's database goes to when the app does not say (src/worker/storage-choice.ts):
 * against a real (fake-indexeddb) IndexedDB holding what rxsync's own storage layer wrote, and a
 * page scope that has, or lacks, what OPFS needs.
 */
import { chooseBrowserStorage, type BrowserEnvironment } from '../../src/worker/storage-choice.js';
import { openStorage } from '../../src/client/open-storage.js';
import { fakeIndexedDB } from '../support/fake-indexeddb.js';

class FakeSharedWorker {}

/** A page scope with SharedWorker, Web Locks and an OPFS that opens (or refuses, when `opfsRefuses`). */
function opfsPage(indexedDB: IDBFactory, opfsRefuses = false): BrowserEnvironment {
  return {
    indexedDB,
    SharedWorker: FakeSharedWorker,
    navigator: {
      locks: {},
      storage: { getDirectory: () => (opfsRefuses ? Promise.reject(new DOMException('denied', 'SecurityError')) : Promise.resolve({})) },
    },
  };
}

describe('where a tab’s database goes when the app does not say', () => {
  it('a new database: OPFS where the page can hold one, else IndexedDB', async () => {
    const indexedDB = fakeIndexedDB();
    expect(await chooseBrowserStorage('todos', undefined, true, opfsPage(indexedDB))).toBe('opfs');
    // shared: false, no SharedWorker, no Web Locks, or an OPFS that refuses (a private window): IndexedDB.
    expect(await chooseBrowserStorage('todos', undefined, false, opfsPage(indexedDB))).toBe('indexeddb');
    expect(await chooseBrowserStorage('todos', undefined, true, { ...opfsPage(indexedDB), SharedWorker: undefined })).toBe('indexeddb');
    expect(
      await chooseBrowserStorage('todos', undefined, true, { ...opfsPage(indexedDB), navigator: { storage: opfsPage(indexedDB).navigator!.storage } }),
    ).toBe('indexeddb');
    expect(await chooseBrowserStorage('todos', undefined, true, opfsPage(indexedDB, true))).toBe('indexeddb');
  });

  it('a database opened before stays in the backend its meta store records', async () => {
    const indexedDB = fakeIndexedDB();
    const before = await openStorage({ database: 'todos', storage: 'indexeddb', indexedDB });
    await before.db.close();
    before.meta!.close();
    expect(await chooseBrowserStorage('todos', undefined, true, opfsPage(indexedDB))).toBe('indexeddb');
    // Another name is new.
    expect(await chooseBrowserStorage('other', undefined, true, opfsPage(indexedDB))).toBe('opfs');
  });

  it('IndexedDB data with no meta store (an older rxsync) stays in IndexedDB', async () => {
    const indexedDB = fakeIndexedDB();
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open('todos');
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    expect(await chooseBrowserStorage('todos', undefined, true, opfsPage(indexedDB))).toBe('indexeddb');
  });

  it('the app’s choice wins; a memory database is the engine’s default', async () => {
    const indexedDB = fakeIndexedDB();
    const before = await openStorage({ database: 'todos', storage: 'indexeddb', indexedDB });
    await before.db.close();
    before.meta!.close();
    // Asked for, OPFS is taken (and the engine refuses to open a database recorded elsewhere).
    expect(await chooseBrowserStorage('todos', 'opfs', true, opfsPage(indexedDB))).toBe('opfs');
    expect(await chooseBrowserStorage('fresh', 'indexeddb', true, opfsPage(indexedDB))).toBe('indexeddb');
    for (const name of [undefined, '', ':memory:']) expect(await chooseBrowserStorage(name, undefined, true, opfsPage(indexedDB))).toBeUndefined();
  });
});
