import { Database } from '../database.js';
import { loadSqlite, type WasmOptions } from '../wasm.js';
import type { StorageBackend } from '../backend.js';
import { openHandle } from './open-handle.js';

/** wa-sqlite's sync build with its default in-memory VFS: nothing persists, each open is a new database. */
export const memoryBackend: StorageBackend = {
  kind: 'memory',
  async open(name: string, wasm: WasmOptions) {
    const sqlite = await loadSqlite('sync', wasm);
    // Under the module's lane: opens interleaved with other calls into the module share its scratch state.
    const handle = await sqlite.lane!.run(() => openHandle(sqlite.api, ':memory:', undefined, name));
    return new Database(name, sqlite, handle);
  },
};
