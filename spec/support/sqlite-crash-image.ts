/**
 * The crash image of a client's IndexedDB, readable by a fresh client under the same database
 * name. The SQLite file's blocks carry its path, and the path carries a per-factory tag (see
 * fileNameFor in src/storage/idb-vfs.ts: fake factories in one process must not share locks), so
 * the copy's blocks are moved to the file name the copy's factory gives the same database.
 */
import { fileNameFor } from '../../src/storage/idb-vfs.js';
import type { FaultyIndexedDB } from './faulty-indexeddb.js';

export function prepareSqliteImage(idb: FaultyIndexedDB, database: string): ReturnType<FaultyIndexedDB['prepareImage']> {
  const from = `/${fileNameFor(idb.factory, database)}`;
  return idb.prepareImage(({ database: name, store, copy }, value) => {
    if (name !== database || store !== 'blocks' || typeof value?.path !== 'string' || !value.path.startsWith(from)) return value;
    return { ...value, path: `/${fileNameFor(copy.factory, database)}${value.path.slice(from.length)}` };
  });
}
