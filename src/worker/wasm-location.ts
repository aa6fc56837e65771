import type { SyncClientOptions } from '../client/options.js';
import type { EngineOptions } from './types.js';

type WasmOptions = NonNullable<SyncClientOptions['wasm']>;

/**
 * Where the engine of a worker fetches wa-sqlite's .wasm files: the tab's `wasmUrl` (a directory
 * holding both under their own names, or one URL per file) over the worker's defaults
 * (worker-entry.ts: the URLs next to the worker script, which a bundler may have rewritten to its
 * hashed names). A file the tab's map leaves out falls back to the default.
 */
export function wasmLocation(wasmUrl: EngineOptions['wasmUrl'], defaults: WasmOptions | undefined): WasmOptions | undefined {
  if (wasmUrl === undefined || wasmUrl === '') return defaults;
  if (typeof wasmUrl === 'string') return { ...defaults, locateFile: (file) => new URL(file, wasmUrl).href };
  const files = new Map<string, string | undefined>(Object.entries(wasmUrl));
  return {
    ...defaults,
    locateFile: (file) => {
      const url = files.get(file) ?? defaults?.locateFile?.(file);
      if (url === undefined) throw new Error(`rxsync's worker has no URL for ${JSON.stringify(file)}: give it in wasmUrl`);
      return url;
    },
  };
}
