/**
 * Tab coordination: how the shared worker learns that a tab is gone.
 *
 * A SharedWorker gets no event when a tab's port dies (a closed or crashed tab never calls
 * cleanup()), and an engine kept for a dead tab would keep its subscriptions, and the engine
 * itself, alive forever. Web Locks give a reliable signal: each tab holds an exclusive lock named
 * after its own random id for as long as it lives ({@link holdTabLock}); the worker asks for the
 * same lock ({@link watchTab}), which the browser grants only once the tab released it, i.e. the
 * tab is gone. Then the worker detaches that tab as if it had called cleanup().
 *
 * Where Web Locks are missing (very old browsers), tabs are only detached by cleanup(), by comlink's
 * release of the tab's proxy, and by the port's `close` event where the browser fires one.
 *
 * The engine itself needs no leader election: it lives in the SharedWorker, which the browser keeps
 * alive while any tab of the origin is connected to it. Without SharedWorker (shared: false, or a
 * browser without it) each tab runs its own dedicated worker and engine; see docs/architecture.md.
 */
import type { LockManagerSubset } from '../storage/local-locks.js';

const PREFIX = 'rxsync-tab:';

function webLocks(): LockManagerSubset | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerSubset } }).navigator?.locks;
}

/** A random id for this tab (per createWorkerSyncClient call). */
export function newTabId(): string {
  const random = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID?.();
  return random ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Main thread: takes the tab's lock and keeps it until `release()` (or until the tab dies).
 * Resolves once the lock is held, so that the worker's {@link watchTab} cannot be granted first.
 * Without Web Locks: resolves at once and does nothing.
 */
export async function holdTabLock(tabId: string, locks: LockManagerSubset | undefined = webLocks()): Promise<() => void> {
  if (!locks) return () => undefined;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await new Promise<void>((held, failed) => {
    locks
      .request(PREFIX + tabId, { mode: 'exclusive' }, () => {
        held();
        return released;
      })
      .catch(failed);
  });
  return release;
}

/**
 * Worker: calls `onGone` once the tab's lock is released (the tab closed, crashed or released it).
 * Returns a function that stops watching (when the tab detached by itself). Without Web Locks:
 * never calls `onGone`.
 */
export function watchTab(tabId: string, onGone: () => void, locks: LockManagerSubset | undefined = webLocks()): () => void {
  if (!locks) return () => undefined;
  const controller = new AbortController();
  let watching = true;
  locks
    .request(PREFIX + tabId, { mode: 'exclusive', signal: controller.signal }, () => {
      if (watching) {
        watching = false;
        onGone();
      }
    })
    .catch(() => undefined); // AbortError once stopped
  return () => {
    watching = false;
    controller.abort();
  };
}

/** The signature the worker core takes, so specs (and odd hosts) can inject their own. */
export type TabWatcher = (tabId: string, onGone: () => void) => () => void;
