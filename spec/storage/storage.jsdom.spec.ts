/** @jest-environment ./spec/support/jsdom-environment.cjs */
import { openDatabase, openMetaStore } from '../../src/storage/index.js';
import { fakeIndexedDB } from '../support/fake-indexeddb.js';

describe('storage in jsdom', () => {
  it('runs in a browser-like global scope', () => {
    expect(typeof window).toBe('object');
    expect((navigator as Navigator & { locks?: unknown }).locks).toBeUndefined();
  });

  it('opens an in-memory database', async () => {
    const db = await openDatabase();
    await db.exec('CREATE TABLE t (x)');
    await db.runMany('INSERT INTO t VALUES (?)', [[1], [2], [3]]);
    expect(await db.get('SELECT sum(x) AS s FROM t')).toEqual({ s: 6 });
    await db.close();
  });

  it('persists in fake-indexeddb across reopen', async () => {
    const indexedDB = fakeIndexedDB();
    const db = await openDatabase({ name: 'jsdom-db', indexedDB });
    await db.exec('CREATE TABLE t (x TEXT)');
    await db.transaction((tx) => tx.run('INSERT INTO t VALUES (?)', ['kept']));
    await db.close();
    const reopened = await openDatabase({ name: 'jsdom-db', indexedDB });
    expect(await reopened.all('SELECT x FROM t')).toEqual([{ x: 'kept' }]);
    await reopened.close();
    expect((navigator as Navigator & { locks?: unknown }).locks).toBeUndefined();
  });

  it('keeps meta values in fake-indexeddb', async () => {
    const indexedDB = fakeIndexedDB();
    const store = await openMetaStore(indexedDB, 'meta');
    await store.set('clientId', 'abc');
    store.close();
    const again = await openMetaStore(indexedDB, 'meta');
    expect(await again.get('clientId')).toBe('abc');
    again.close();
  });
});
