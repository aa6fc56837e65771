import { Database } from '../database.js';
import { withDetailPrefix } from '../errors.js';
import { registerOpfsVfs } from '../opfs-vfs.js';
import { loadSqlite, type WasmOptions } from '../wasm.js';
import type { StorageBackend } from '../backend.js';
import { openHandle } from './open-handle.js';

/**
 * The sync build with an OPFS pool VFS (opfs-vfs.ts): the database lives in the origin private
 * file system, in a directory of its own. Dedicated workers only; one worker at a time.
 */
export const opfsBackend: StorageBackend = {
  kind: 'opfs',
  async open(name: string, wasm: WasmOptions) {
    const sqlite = await loadSqlite('sync', wasm);
    const vfs = await sqlite.lane!.run(() => registerOpfsVfs(sqlite.api, name));
    let db: Database;
    try {
      const handle = await sqlite.lane!.run(() => openHandle(sqlite.api, vfs.fileName, vfs.vfsName, name));
      db = new Database(name, sqlite, handle, vfs);
    } catch (error) {
      await vfs.close().catch(() => undefined);
      throw error;
    }
    try {
      // TRUNCATE: the pool keeps the journal's file associated between transactions, where DELETE
      // would rewrite its header at every commit. The first read also rolls back a hot journal
      // (a holder that died in a transaction).
      await db.exec('PRAGMA journal_mode = TRUNCATE');
      await db.get('SELECT count(*) FROM sqlite_master');
    } catch (error) {
      await db.close().catch(() => undefined);
      throw withDetailPrefix(error, `cannot open database '${name}' in OPFS: `);
    }
    return db;
  },
};
