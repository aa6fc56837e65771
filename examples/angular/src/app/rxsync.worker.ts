// The rxsync engine, as a worker of this app. The Angular CLI bundles the workers that the app's
// own code starts (`new SharedWorker(new URL('./rxsync.worker', import.meta.url), ...)` in
// sync.ts) but not those a package starts, so the app names this file and the package's worker
// script is its one import.
import 'rxsync/browser/rxsync-worker.js';
