/**
 * Loading wa-sqlite: lazily, and once per process for each of its two builds.
 *
 * - `sync`: dist/wa-sqlite.mjs, for ':memory:' databases (default in-memory VFS). Fast; no Asyncify.
 * - `async`: dist/wa-sqlite-async.mjs (Asyncify), which IDBBatchAtomicVFS needs. An Asyncify module
 *   must never be re-entered while a call into it is suspended, so every call into it goes
 *   through the module's {@link Lane} (see database.ts).
 *
 * The wasm: in Node (and jsdom under jest) the bytes are read from the installed wa-sqlite package
 * and passed as `wasmBinary`; in a browser the emscripten default (the .wasm next to the .mjs) or
 * `locateFile` applies. The first load of a build fixes its options; later calls reuse it.
 */
import * as SQLite from 'wa-sqlite';
import { Lane } from './lane.js';
import { isNodeLike, readWaSqliteWasm } from './node-wasm.js';

export type WaSqliteBuild = 'sync' | 'async';

export interface WasmOptions {
  /** The bytes of the build's .wasm (wa-sqlite.wasm for 'sync', wa-sqlite-async.wasm for 'async'). */
  wasmBinary?: Uint8Array | ArrayBuffer;
  /** Emscripten's hook: maps `wa-sqlite.wasm` / `wa-sqlite-async.wasm` to the URL to fetch. */
  locateFile?: (file: string) => string;
}

/** One loaded build: the SQLite API over it, and the lane its async build needs. */
export interface LoadedSqlite {
  readonly build: WaSqliteBuild;
  readonly api: SQLiteAPI;
  /** Serializes calls into the module, whichever build: its connections share state inside it. */
  readonly lane: Lane | undefined;
}

const WASM_FILE: Record<WaSqliteBuild, string> = { sync: 'wa-sqlite.wasm', async: 'wa-sqlite-async.wasm' };
const loaded: Partial<Record<WaSqliteBuild, Promise<LoadedSqlite>>> = {};

async function importFactory(build: WaSqliteBuild): Promise<(config?: object) => Promise<unknown>> {
  const mod = build === 'sync' ? await import('wa-sqlite/dist/wa-sqlite.mjs') : await import('wa-sqlite/dist/wa-sqlite-async.mjs');
  return mod.default;
}

async function load(build: WaSqliteBuild, options: WasmOptions): Promise<LoadedSqlite> {
  const factory = await importFactory(build);
  const config: { wasmBinary?: Uint8Array | ArrayBuffer; locateFile?: (file: string) => string } = {};
  if (options.locateFile) config.locateFile = options.locateFile;
  if (options.wasmBinary) config.wasmBinary = options.wasmBinary;
  else if (!options.locateFile && isNodeLike()) config.wasmBinary = await readWaSqliteWasm(WASM_FILE[build]);
  let module: unknown;
  try {
    module = await factory(config);
  } catch (error) {
    const hint = options.wasmBinary ? ` (is wasmBinary the bytes of ${WASM_FILE[build]}?)` : '';
    throw new Error(`cannot load wa-sqlite's ${build} build${hint}: ${(error as Error)?.message ?? error}`, {
      cause: error,
    });
  }
  // Both builds get a lane: wa-sqlite's API keeps per-module scratch state across the awaits of
  // one call (statement iteration), so two connections of one module must not interleave either.
  return { build, api: SQLite.Factory(module), lane: new Lane() };
}

/** The loaded build, loading it on first use. A failed load is forgotten so a later call can retry. */
export function loadSqlite(build: WaSqliteBuild, options: WasmOptions = {}): Promise<LoadedSqlite> {
  let promise = loaded[build];
  if (!promise) {
    promise = load(build, options);
    loaded[build] = promise;
    promise.catch(() => {
      if (loaded[build] === promise) delete loaded[build];
    });
  }
  return promise;
}
