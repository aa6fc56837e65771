/**
 * Fail-stop for IndexedDB write failures under IDBBatchAtomicVFS.
 *
 * wa-sqlite 1.0.0's VFS (its IDBContext) writes blocks without awaiting them and learns of a
 * failed IndexedDB transaction only at the next xSync. Two things go wrong when a write
 * transaction aborts (QuotaExceededError, or any abort):
 * - torn commits: a request that failed with the abort is retried in a NEW transaction, and the
 *   rest of the SQLite commit (its remaining pages, then block 0, the commit point) goes there and
 *   commits, while the pages of the aborted transaction are gone. The database on disk then mixes
 *   old and new pages.
 * - an unhandled promise rejection (the transaction's abort rejects a promise nobody awaits yet),
 *   which ends a Node process.
 *
 * The guard wraps the IDBDatabase the VFS is given. On the first aborted write transaction it
 * records the failure, and from then on the VFS's IndexedDB is read-only in effect: every later
 * write request is dropped (it never reaches IndexedDB, so nothing after the failure can land on
 * top of a hole), and the VFS is told the transaction completed (so no promise of its rejects).
 * The failure is then reported by {@link IdbGuard.failure}: the Database fails the operation that
 * was running with SQLITE_IOERR and refuses every later one. What IndexedDB holds is the state as
 * of the last commit before the failure; reopening the database reads exactly that.
 */

/** The IndexedDB write requests the VFS makes. */
const WRITES = ['put', 'add', 'delete', 'clear'] as const;

export class IdbGuard {
  #failure: Error | undefined;

  /** Why the VFS's storage failed, once it has. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** `db` as the VFS must see it: its write transactions watched, its writes dropped after a failure. */
  wrapDatabase(db: IDBDatabase): IDBDatabase {
    return new Proxy(db, {
      get: (target, prop) => {
        if (prop === 'transaction') {
          return (names: string | string[], mode?: IDBTransactionMode, options?: IDBTransactionOptions) =>
            this.#watch(target.transaction(names, mode, options));
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  #fail(tx: IDBTransaction, requestError?: DOMException | null): void {
    const cause = tx.error ?? requestError;
    this.#failure ??= new Error(`IndexedDB write failed: ${cause ? `${cause.name}: ${cause.message}` : 'the transaction was aborted'}`, {
      cause,
    });
  }

  #watch(tx: IDBTransaction): IDBTransaction {
    if (tx.mode === 'readonly') return tx;
    const addEventListener = tx.addEventListener.bind(tx);
    // The VFS resolves its commit promise on 'complete' and rejects it on 'abort'; it learns of
    // the failure through the Database instead (see the module comment), so an abort ends the
    // transaction for it like a completion does.
    addEventListener('abort', () => this.#fail(tx));
    Object.defineProperty(tx, 'addEventListener', {
      configurable: true,
      value: (type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions) => {
        if (type === 'abort') return;
        addEventListener(type, listener, options);
        if (type === 'complete') addEventListener('abort', listener, options);
      },
    });
    const objectStore = tx.objectStore.bind(tx);
    const seen = new WeakSet<IDBObjectStore>();
    Object.defineProperty(tx, 'objectStore', {
      configurable: true,
      value: (name: string) => {
        const store = objectStore(name);
        if (!seen.has(store)) {
          seen.add(store);
          for (const op of WRITES) this.#guardWrite(tx, store, op);
        }
        return store;
      },
    });
    return tx;
  }

  /**
   * A failed write request is recorded as the failure before anyone hears of it, and the VFS
   * hears of it as a success with no result: it would otherwise retry the request in a new
   * transaction (the torn commit), or leave a rejected promise nobody awaits (it does not await
   * most of its writes). The Database reports the failure instead.
   */
  #watchRequest(tx: IDBTransaction, request: IDBRequest): IDBRequest {
    const addEventListener = request.addEventListener.bind(request);
    addEventListener('error', () => this.#fail(tx, request.error));
    const result = accessorOf(request, 'result');
    if (result?.get) {
      const { get, set } = result;
      // Reading the result of a failed request throws in browsers: it is undefined here instead.
      Object.defineProperty(request, 'result', {
        configurable: true,
        get: () => (request.error ? undefined : get.call(request)),
        ...(set && { set: (value: unknown) => set.call(request, value) }),
      });
    }
    Object.defineProperty(request, 'addEventListener', {
      configurable: true,
      value: (type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions) => {
        if (type === 'error') return;
        addEventListener(type, listener, options);
        if (type === 'success') addEventListener('error', listener, options);
      },
    });
    return request;
  }

  /** After a failure a write is not made; the VFS gets a request that succeeds with nothing. */
  #guardWrite(tx: IDBTransaction, store: IDBObjectStore, op: (typeof WRITES)[number]): void {
    const write = (store[op] as (...args: unknown[]) => IDBRequest).bind(store);
    Object.defineProperty(store, op, {
      configurable: true,
      value: (...args: unknown[]) => {
        if (!this.#failure) return this.#watchRequest(tx, write(...args));
        // A read of nothing stands in: a real request on this transaction that writes nothing.
        return store.count(IDBKeyRange.only([]));
      },
    });
  }
}

/** The accessor of `prop` on `object`'s prototype chain (undefined where it is a plain field). */
function accessorOf(object: object, prop: string): { get?: () => unknown; set?: (value: unknown) => void } | undefined {
  for (let proto = Object.getPrototypeOf(object); proto; proto = Object.getPrototypeOf(proto)) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, prop);
    if (descriptor) return descriptor.get ? { get: descriptor.get, set: descriptor.set } : undefined;
  }
  return undefined;
}
