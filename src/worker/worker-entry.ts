/**
 * The worker script (bundled to dist/browser/rxsync-worker.js, an ES module worker). It hosts the
 * {@link WorkerCore}: one engine per database name, shared by every port it serves.
 *
 * - As a SharedWorker: every tab that connects (`onconnect`) gets its own port and session.
 * - As a dedicated Worker: the worker's own scope is the one port.
 *
 * wa-sqlite's wasm files are looked up next to this script (`import.meta.url`), where
 * scripts/build-browser.mjs copies them; a tab can point elsewhere with the `wasmUrl` option.
 */
import { WorkerCore } from './worker-core.js';

const core = new WorkerCore({
  defaults: { wasm: { locateFile: (file: string) => new URL(file, import.meta.url).href } },
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
}
