/**
 * The worker script (bundled to dist/browser/rxsync-worker.js, an ES module worker). It hosts the
 * {@link WorkerCore}: one engine per database name, shared by every port it serves.
 *
 * - As a SharedWorker: every tab that connects (`onconnect`) gets its own port and session.
 * - As a dedicated Worker: the worker's own scope is the one port.
 * - As a dedicated Worker that its tab makes a candidate holder of an OPFS database: it serves the
 *   ports the SharedWorker's broker sends it once it holds the database (opfs-holder.ts).
 *
 * wa-sqlite's wasm files sit next to this script (scripts/build-browser.mjs copies them there). Each
 * is named by a literal `new URL('./<file>', import.meta.url)`, which esbuild keeps as it is in
 * this ES module: a bundler that bundles this worker for an app (Vite, webpack 5) sees both URLs,
 * emits the files and rewrites the URLs to the names it gives them (hashed). So no name is built
 * at run time here. A tab can point elsewhere with the `wasmUrl` option (worker-core.ts).
 */
import { WorkerCore } from './worker-core.js';
import { serveAsOpfsCandidate } from './opfs-holder.js';

const WASM_URLS: Readonly<Record<string, string>> = {
  'wa-sqlite.wasm': new URL('./wa-sqlite.wasm', import.meta.url).href,
  'wa-sqlite-async.wasm': new URL('./wa-sqlite-async.wasm', import.meta.url).href,
};

const core = new WorkerCore({
  defaults: {
    wasm: {
      locateFile: (file: string) => {
        const url = WASM_URLS[file];
        if (!url) throw new Error(`rxsync's worker knows no wasm file named ${JSON.stringify(file)}`);
        return url;
      },
    },
  },
});

interface ConnectEvent {
  ports: readonly MessagePort[];
}

const scope = globalThis as unknown as {
  onconnect?: ((event: ConnectEvent) => void) | null;
  postMessage?: unknown;
  addEventListener(type: string, listener: (event: any) => void): void;
};
const SharedScope = (globalThis as { SharedWorkerGlobalScope?: abstract new () => unknown }).SharedWorkerGlobalScope;

if (typeof SharedScope === 'function' && scope instanceof SharedScope) {
  scope.addEventListener('connect', (event: ConnectEvent) => {
    for (const port of event.ports) core.serve(port);
  });
} else {
  core.serve(scope as unknown as import('comlink').Endpoint);
  // Also a candidate holder of an OPFS database, if the tab that started it asks (browser.ts starts
  // one per tab; so may an app's own `holderWorker`). comlink answers that message too, with
  // nothing: the tab does not listen to a candidate.
  serveAsOpfsCandidate(core, scope);
}
