/**
 * A tab's dedicated worker as a candidate holder of an OPFS database (see opfs-broker.ts).
 *
 * The tab starts it (a dedicated worker of rxsync's script) and posts `{ rxsyncOpfs: database }` with the control port
 * whose other end it gave the broker. The candidate asks for the database's Web Lock; the browser
 * grants it to one worker of the origin at a time, and releases it when that worker ends (its tab
 * closed, crashed, or cleaned up its client). Once granted, the candidate says `{ holding: true }`
 * and serves every port the broker sends it (`{ serve: port }`) with its {@link WorkerCore}, whose
 * engine then opens the database in OPFS: the sync access handles it needs exist here.
 *
 * The lock is taken in the worker, not in the tab, because it is the worker that holds the
 * database's files: when the lock is released the previous holder is gone (its handles closing).
 */
import type { WorkerCore } from './worker-core.js';
import type { LockManagerSubset } from '../storage/local-locks.js';

/** The Web Lock a database's holder keeps while it lives. */
export function opfsLockName(database: string): string {
  return `rxsync-opfs:${database}`;
}

interface CandidateScope {
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

export function serveAsOpfsCandidate(core: WorkerCore, scope: CandidateScope): void {
  const locks = (globalThis as { navigator?: { locks?: LockManagerSubset } }).navigator?.locks;
  scope.addEventListener('message', (event) => {
    const database = (event.data as { rxsyncOpfs?: unknown } | null)?.rxsyncOpfs;
    const control = event.ports[0];
    if (typeof database !== 'string' || !control || !locks) return;
    void locks.request(opfsLockName(database), { mode: 'exclusive' }, () => {
      control.onmessage = ({ data }) => {
        const port = (data as { serve?: unknown } | null)?.serve;
        if (port instanceof MessagePort) core.serve(port);
      };
      control.postMessage({ holding: true });
      // Held for as long as this worker lives.
      return new Promise<void>(() => undefined);
    });
  });
}
