import { Database, type PersistentStorage } from '../database.js';
import { SQLITE_CANTOPEN, SqliteError, withDetailPrefix } from '../errors.js';
import { addFileDatabase, FILE_VFS_NAME } from '../file-vfs.js';
import { lockDatabaseFile } from '../file-lock.js';
import { errnoOf, loadNodeFileSystem, loadNodeHost, loadNodePath, type NodeFileSystem, type NodePath } from '../node-fs.js';
import { isNodeLike } from '../node-wasm.js';
import { loadSqlite, type WasmOptions } from '../wasm.js';
import type { StorageBackend } from '../backend.js';
import { openHandle } from './open-handle.js';

/**
 * The database is the SQLite file at path `name` (relative to the working directory), through
 * wa-sqlite's sync build and the file VFS (file-vfs.ts); one process at a time (file-lock.ts).
 * Node only. `fileSystem` replaces node:fs (for specs that fail a chosen write).
 */
export function fileBackend(fileSystem?: NodeFileSystem): StorageBackend {
  return {
    kind: 'file',
    async open(name: string, wasm: WasmOptions) {
      if (!isNodeLike()) {
        throw new SqliteError(`database '${name}' is a file, and files are for Node: in a browser, use IndexedDB (storage: 'indexeddb')`, SQLITE_CANTOPEN);
      }
      const [fs, path, host] = await Promise.all([fileSystem ?? loadNodeFileSystem(), loadNodePath(), loadNodeHost()]);
      const file = realPath(fs, path, name);
      const release = lockDatabaseFile(fs, file, host.hostname());
      try {
        const sqlite = await loadSqlite('sync', wasm);
        // Under the module's lane, like every call into the module (see memory.ts).
        const { served, handle } = await sqlite.lane!.run(async () => {
          const served = addFileDatabase(sqlite.api, file, fs);
          try {
            return { served, handle: await openHandle(sqlite.api, served.fileName, FILE_VFS_NAME, name) };
          } catch (error) {
            served.remove();
            throw error;
          }
        });
        const storage: PersistentStorage = {
          get failure() {
            return served.failure;
          },
          close: async () => {
            served.remove();
            release();
          },
        };
        const db = new Database(name, sqlite, handle, storage);
        try {
          // TRUNCATE: the commit point is the journal's truncation, not its deletion, which spares
          // a directory fsync at each commit (about twice the commits per second); an empty
          // journal is no hot journal. These are the first reads: a file that is not a database
          // fails here, and a hot journal (a crash in a transaction) is rolled back here.
          await db.exec('PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = FULL');
          await db.get('SELECT count(*) FROM sqlite_master');
        } catch (error) {
          await db.close().catch(() => undefined);
          throw withDetailPrefix(error, `cannot open database '${name}' (${file}): `);
        }
        return db;
      } catch (error) {
        release();
        throw error;
      }
    },
  };
}

/** The absolute path of database file `name`, symbolic links resolved (one file, one lock, whatever it is called). */
function realPath(fs: NodeFileSystem, path: NodePath, name: string): string {
  const absolute = path.resolve(name);
  try {
    const real = fs.realpathSync(absolute);
    if (!fs.statSync(real).isFile()) throw new SqliteError(`cannot open database '${name}': ${real} is not a file`, SQLITE_CANTOPEN);
    return real;
  } catch (error) {
    if (error instanceof SqliteError) throw error;
    if (errnoOf(error) !== 'ENOENT')
      throw new SqliteError(`cannot open database '${name}': ${(error as Error).message}`, SQLITE_CANTOPEN, undefined, { cause: error });
  }
  const directory = path.dirname(absolute);
  let realDirectory: string;
  try {
    realDirectory = fs.realpathSync(directory);
    if (!fs.statSync(realDirectory).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new SqliteError(`cannot create database '${name}': directory ${directory} does not exist (create it first)`, SQLITE_CANTOPEN);
  }
  return path.resolve(realDirectory, path.basename(absolute));
}
