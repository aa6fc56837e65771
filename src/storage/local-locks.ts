/**
 * An in-process lock table with Web Locks' modes, standing in for `navigator.locks` where it is
 * missing (Node, jsdom). A process is a single JS thread, so a per-process table gives what Web
 * Locks give within an origin.
 *
 * - {@link LocalLockManager.tryAcquire} grants or refuses at once and releases synchronously. The
 *   IDB VFS uses it: in-process, every lock wait would happen inside a call into the Asyncify
 *   module while the holder needs that same module to finish, i.e. a deadlock; refusing instead
 *   makes SQLite report SQLITE_BUSY.
 * - {@link LocalLockManager.request} / `query()` are the `navigator.locks` subset (modes, `ifAvailable`,
 *   `signal`), for callers that can wait (e.g. a leader election in Node): exclusive excludes
 *   everything, shared excludes exclusive, waiters are served in order, an aborted signal rejects a
 *   waiting request with an AbortError, the lock is held until the callback's promise settles.
 */

export type LocalLockMode = 'exclusive' | 'shared';

export interface LocalLockOptions {
  mode?: LocalLockMode;
  ifAvailable?: boolean;
  signal?: AbortSignal;
}

export interface LocalLockInfo {
  name: string;
  mode: LocalLockMode;
}

/** The part of the Web Locks API (`navigator.locks`) that wa-sqlite's WebLocks.js calls. */
export interface LockManagerSubset {
  request<T>(name: string, options: LocalLockOptions, callback: (lock: LocalLockInfo | null) => T | PromiseLike<T>): Promise<T>;
  query(): Promise<{ held: LocalLockInfo[]; pending: LocalLockInfo[] }>;
}

interface Waiter {
  mode: LocalLockMode;
  grant: () => void;
}

interface LockState {
  held: LocalLockInfo[];
  queue: Waiter[];
}

function abortError(): Error {
  return typeof DOMException === 'function'
    ? new DOMException('The lock request was aborted.', 'AbortError')
    : Object.assign(new Error('The lock request was aborted.'), { name: 'AbortError' });
}

export class LocalLockManager implements LockManagerSubset {
  #locks = new Map<string, LockState>();

  #state(name: string): LockState {
    let state = this.#locks.get(name);
    if (!state) this.#locks.set(name, (state = { held: [], queue: [] }));
    return state;
  }

  #free(state: LockState, mode: LocalLockMode): boolean {
    if (state.queue.length > 0) return false;
    return state.held.length === 0 || (mode === 'shared' && state.held.every((lock) => lock.mode === 'shared'));
  }

  #release(name: string, state: LockState, lock: LocalLockInfo): void {
    const index = state.held.indexOf(lock);
    if (index < 0) return;
    state.held.splice(index, 1);
    this.#pump(name, state);
  }

  /** Grants waiters from the head of the queue while they are compatible; forgets an idle name. */
  #pump(name: string, state: LockState): void {
    while (state.queue.length > 0) {
      const next = state.queue[0]!;
      const compatible = state.held.length === 0 || (next.mode === 'shared' && state.held.every((l) => l.mode === 'shared'));
      if (!compatible) break;
      state.queue.shift()!.grant();
    }
    if (state.held.length === 0 && state.queue.length === 0) this.#locks.delete(name);
  }

  /** Takes the lock now and returns its (synchronous, idempotent) release, or null if it is taken. */
  tryAcquire(name: string, mode: LocalLockMode = 'exclusive'): (() => void) | null {
    const state = this.#state(name);
    if (!this.#free(state, mode)) return null;
    const lock: LocalLockInfo = { name, mode };
    state.held.push(lock);
    return () => this.#release(name, state, lock);
  }

  async request<T>(name: string, options: LocalLockOptions, callback: (lock: LocalLockInfo | null) => T | PromiseLike<T>): Promise<T> {
    const mode: LocalLockMode = options.mode ?? 'exclusive';
    const { signal } = options;
    if (signal?.aborted) throw abortError();
    let release = this.tryAcquire(name, mode);
    if (!release && options.ifAvailable) return callback(null);
    if (!release) {
      const state = this.#state(name);
      release = await new Promise<() => void>((resolve, reject) => {
        const lock: LocalLockInfo = { name, mode };
        const waiter: Waiter = {
          mode,
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            state.held.push(lock);
            resolve(() => this.#release(name, state, lock));
          },
        };
        const onAbort = () => {
          state.queue.splice(state.queue.indexOf(waiter), 1);
          this.#pump(name, state);
          reject(abortError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        state.queue.push(waiter);
      });
    }
    try {
      return await callback({ name, mode });
    } finally {
      release();
    }
  }

  async query(): Promise<{ held: LocalLockInfo[]; pending: LocalLockInfo[] }> {
    const held: LocalLockInfo[] = [];
    const pending: LocalLockInfo[] = [];
    for (const [name, state] of this.#locks) {
      held.push(...state.held.map((lock) => ({ ...lock })));
      pending.push(...state.queue.map(({ mode }) => ({ name, mode })));
    }
    return { held, pending };
  }
}

/** The one lock table of this process (Web Locks are per origin; this is the closest analogue). */
export const localLocks = new LocalLockManager();
