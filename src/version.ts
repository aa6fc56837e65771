/**
 * rxsync's version, as package.json gives it. The page's proxy (src/browser.ts) and the worker
 * script (src/worker/worker-entry.ts) each carry it, and the proxy refuses a worker of another
 * version: a worker script copied by hand and not updated with the package, or a SharedWorker still
 * running for a tab of the old version.
 *
 * A plain constant, so that tsc, esbuild and jest (swc) all read it the same way.
 * scripts/build-browser.mjs refuses to build, and spec/browser/bundled-app.spec.ts fails, when it
 * differs from package.json's `version`: bump both together.
 */
export const VERSION = '0.1.0';
