/**
 * Finding wa-sqlite's .wasm files on disk, for Node (and jsdom under jest), where the emscripten
 * module cannot fetch them by itself.
 *
 * This source runs in two module systems: compiled to ESM by tsc for dist/, and to CommonJS by
 * @swc/jest for the specs. It therefore imports nothing from Node statically (browser bundles must
 * not see `node:` imports) and finds its base path in whichever system it runs in: `__filename`
 * under CommonJS (`typeof` of an undeclared name is safe in ESM), `import.meta.url` in ESM (swc
 * rewrites `import.meta.url` to a `__filename` URL when it emits CommonJS, so the expression is
 * valid in both outputs).
 */

type NodeModuleApi = { createRequire(path: string | URL): { resolve(id: string): string } };
type NodeFsApi = { readFileSync(path: string): Uint8Array };

/** True in Node (including jest's jsdom environment, which still has Node's `process`). */
export function isNodeLike(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/** A Node built-in module (`node:fs`, ...), without a static import a bundler would follow. */
export async function nodeBuiltin<T>(id: string): Promise<T> {
  const proc = globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined;
  const found = proc?.getBuiltinModule?.(id);
  if (found) return found as T;
  // Node < 20.16 has no getBuiltinModule. A computed specifier keeps bundlers from following it.
  const specifier = id;
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as T;
}

function basePaths(): string[] {
  const bases: string[] = [];
  if (typeof __filename === 'string') bases.push(__filename);
  try {
    const url = import.meta.url;
    if (typeof url === 'string' && url) bases.push(url);
  } catch {
    // not available in this module system
  }
  const proc = globalThis.process as { cwd?: () => string } | undefined;
  if (proc?.cwd) bases.push(`${proc.cwd()}/noop.js`);
  return bases;
}

/**
 * The bytes of `wa-sqlite/dist/<file>` (e.g. `wa-sqlite.wasm`), resolved the way Node resolves
 * `wa-sqlite` from this module (then from the working directory as a last resort).
 */
export async function readWaSqliteWasm(file: string): Promise<Uint8Array> {
  const { createRequire } = await nodeBuiltin<NodeModuleApi>('node:module');
  const { readFileSync } = await nodeBuiltin<NodeFsApi>('node:fs');
  const errors: string[] = [];
  for (const base of basePaths()) {
    try {
      return readFileSync(createRequire(base).resolve(`wa-sqlite/dist/${file}`));
    } catch (error) {
      errors.push(`${base}: ${(error as Error).message}`);
    }
  }
  throw new Error(`cannot find wa-sqlite/dist/${file}; pass wasmBinary (${errors.join('; ')})`);
}
