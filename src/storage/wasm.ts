/**
 * Loading wa-sqlite: lazily, and once per process for each of its two builds.
 *
 * - `sync`: dist/wa-sqlite.mjs, for ':memory:' databases (default in-memory VFS). Fast; no Asyncify.
 * - `async`: dist/wa-sqlite-async.mjs (Asyncify), which IDBBatchAtomicVFS needs. An Asyncify module
 *   must never be re-entered while a call into it is suspended, so every call into it goes
 *   through the module's {@link Lane} (see database.ts).
 *
 * The wasm: in Node (and jsdom under jest) the bytes are read from the installed wa-sqlite package
 * and passed as `wasmBinary`. In a browser with `locateFile` (the worker script always gives one),
 * the .wasm is fetched here and checked before emscripten sees it: a missing file, or a server's
 * HTML fallback page, fails with an {@link AssetLoadError} that names the URL and what came back,
 * rather than emscripten's "expected magic word 00 61 73 6d". Without `locateFile`, emscripten's
 * default applies (the .wasm next to wa-sqlite's .mjs). The first load of a build fixes its
 * options; later calls reuse it.
 */
import type { SqliteApi } from './wa-sqlite-types.js';
import * as SQLite from 'wa-sqlite';
import { Lane } from './lane.js';
import { isNodeLike, readWaSqliteWasm } from './node-wasm.js';
import { AssetLoadError, answerOf, describeAnswer, isWasm, looksLikeHtml } from '../served-file.js';

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
  readonly api: SqliteApi;
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
  if (options.wasmBinary) config.wasmBinary = options.wasmBinary;
  else if (options.locateFile && !isNodeLike()) config.wasmBinary = await fetchWasm(build, options.locateFile(WASM_FILE[build]));
  else if (options.locateFile) config.locateFile = options.locateFile;
  else if (isNodeLike()) config.wasmBinary = await readWaSqliteWasm(WASM_FILE[build]);
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

/** What to do when a .wasm URL does not serve the .wasm. */
const WASM_FIX = 'Serve dist/browser/*.wasm next to the worker script, or pass wasmUrl (the directory that holds them)';

/** The bytes of a build's .wasm from `url`, or an AssetLoadError saying what came back instead. */
async function fetchWasm(build: WaSqliteBuild, url: string): Promise<Uint8Array> {
  const what = `cannot load wa-sqlite's ${build} build`;
  let response: Response;
  let body: Uint8Array;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
    body = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new AssetLoadError(`${what}: fetching ${url} failed (${(error as Error)?.message ?? error}). ${WASM_FIX}.`, { url, file: WASM_FILE[build] });
  }
  if (response.ok && isWasm(body)) return body;
  const answer = answerOf(url, response, body.subarray(0, 64));
  const verdict = !response.ok
    ? ''
    : looksLikeHtml(answer)
      ? ": an HTML page (a server's fallback for a missing file?), not WebAssembly (which starts with the bytes 00 61 73 6d)"
      : ', not WebAssembly (which starts with the bytes 00 61 73 6d)';
  throw new AssetLoadError(`${what}: ${url} answered ${describeAnswer(answer)}${verdict}. ${WASM_FIX}.`, {
    url,
    file: WASM_FILE[build],
    status: answer.status,
    contentType: answer.contentType,
  });
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
