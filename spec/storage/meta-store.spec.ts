import { openMetaStore } from '../../src/storage/index.js';
import { fakeIndexedDB } from '../support/fake-indexeddb.js';

describe('openMetaStore', () => {
  it('gets, sets and deletes values', async () => {
    const store = await openMetaStore(fakeIndexedDB(), 'meta');
    expect(await store.get('clientId')).toBeUndefined();
    await store.set('clientId', 'c-123');
    await store.set('lsn', '0/1A');
    await store.set('info', { attempts: 2, tags: ['x'] });
    expect(await store.get<string>('clientId')).toBe('c-123');
    expect(await store.get('info')).toEqual({ attempts: 2, tags: ['x'] });
    await store.delete('lsn');
    expect(await store.get('lsn')).toBeUndefined();
    store.close();
    await expect(store.get('clientId')).rejects.toThrow(/closed/);
  });

  it('survives a reopen with the same factory; other names and factories are separate', async () => {
    const indexedDB = fakeIndexedDB();
    const first = await openMetaStore(indexedDB, 'app-meta');
    await first.set('lsn', '0/FF');
    first.close();

    const again = await openMetaStore(indexedDB, 'app-meta');
    expect(await again.get('lsn')).toBe('0/FF');
    again.close();

    const other = await openMetaStore(indexedDB, 'other-meta');
    expect(await other.get('lsn')).toBeUndefined();
    other.close();
    const otherFactory = await openMetaStore(fakeIndexedDB(), 'app-meta');
    expect(await otherFactory.get('lsn')).toBeUndefined();
    otherFactory.close();
  });

  it('does not block deleting its database', async () => {
    const indexedDB = fakeIndexedDB();
    const store = await openMetaStore(indexedDB, 'to-delete');
    await store.set('k', 1);
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase('to-delete');
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('blocked'));
    });
    const fresh = await openMetaStore(indexedDB, 'to-delete');
    expect(await fresh.get('k')).toBeUndefined();
    fresh.close();
  });
});
