/**
 * The raw OPFS side of bench/browser-initial-sync.ts, as a dedicated module worker: OPFS sync
 * access handles, which rxsync's OPFS storage needs, exist only in dedicated workers, so the page
 * cannot insert into OPFS itself. bench/browser-initial-sync.ts bundles this file with esbuild next
 * to the page (bench-opfs-worker.js); bench/browser-page.ts starts one such worker and keeps it
 * for the whole bench, as the IndexedDB raw side keeps its page (a warm JIT on both).
 *
 * Each message is one {@link RawInsertRequest} with `storage: 'opfs'`, answered with
 * `{ result }` or `{ error }`, one at a time: the work is the shared rawInsert, nothing else (and,
 * when asked, the count of its file operations, browser-opfs-io.ts).
 */
import { countOpfsIo } from './browser-opfs-io.js';
import { rawInsert, type RawInsertRequest } from './browser-raw-insert.js';

/** The worker's own scope (the DOM typings this repo compiles with have no worker scope type). */
const scope = globalThis as unknown as {
  addEventListener(type: 'message', listener: (event: MessageEvent<RawInsertRequest>) => void): void;
  postMessage(message: unknown): void;
};

scope.addEventListener('message', (event) => {
  const io = event.data.countIo ? countOpfsIo() : undefined;
  rawInsert(event.data).then(
    (result) => scope.postMessage({ result: io ? { ...result, io: io() } : result }),
    (error: unknown) => scope.postMessage({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
  );
});
