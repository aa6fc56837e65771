/**
 * fake-indexeddb for the storage specs (and anyone else's specs that need a persistent client db).
 *
 * `fakeIndexedDB()` returns a fresh, empty in-memory IDBFactory to inject as `indexedDB`. Two
 * adaptations make it work with wa-sqlite's IDBBatchAtomicVFS and with `idb`:
 * - fake-indexeddb 6 refuses the DOMStringList the VFS passes to `IDBDatabase.transaction()`
 *   (it wants a string or an array): the factory is wrapped so that list becomes an array. A real
 *   browser IndexedDB needs no such thing; src/ stays unchanged.
 * - The VFS builds key ranges with the global `IDBKeyRange`, and `idb` checks values with
 *   `instanceof IDBRequest` etc. Those globals must be fake-indexeddb's classes: they are installed
 *   (jest gives every spec file its own global scope). `globalThis.indexedDB` is NOT installed: the
 *   factory is always injected.
 */
import * as fake from 'fake-indexeddb';

const CLASSES = [
  'IDBCursor',
  'IDBCursorWithValue',
  'IDBDatabase',
  'IDBIndex',
  'IDBKeyRange',
  'IDBObjectStore',
  'IDBOpenDBRequest',
  'IDBRequest',
  'IDBTransaction',
  'IDBVersionChangeEvent',
] as const;

/** Installs fake-indexeddb's IDB* classes as globals where missing (never `indexedDB` itself). */
export function installIndexedDbClasses(): void {
  const scope = globalThis as Record<string, unknown>;
  for (const name of CLASSES) {
    if (scope[name] === undefined) {
      Object.defineProperty(scope, name, { value: fake[name], writable: true, configurable: true });
    }
  }
}

function forward<T extends object>(target: T, prop: PropertyKey): unknown {
  const value = Reflect.get(target, prop, target);
  return typeof value === 'function' ? value.bind(target) : value;
}

const wrappedDatabases = new WeakMap<IDBDatabase, IDBDatabase>();

function wrapDatabase(db: IDBDatabase): IDBDatabase {
  let wrapped = wrappedDatabases.get(db);
  if (!wrapped) {
    wrapped = new Proxy(db, {
      get(target, prop) {
        if (prop === 'transaction') {
          return (names: string | Iterable<string>, mode?: IDBTransactionMode, options?: IDBTransactionOptions) =>
            target.transaction(typeof names === 'string' ? names : Array.from(names), mode, options);
        }
        return forward(target, prop);
      },
    });
    wrappedDatabases.set(db, wrapped);
  }
  return wrapped;
}

function wrapOpenRequest(request: IDBOpenDBRequest): IDBOpenDBRequest {
  return new Proxy(request, {
    get(target, prop) {
      if (prop === 'result') return target.result ? wrapDatabase(target.result) : target.result;
      return forward(target, prop);
    },
  });
}

const wrappedFactories = new WeakMap<IDBFactory, IDBFactory>();

/**
 * `factory` with `transaction(DOMStringList)` accepted (converted to an array). The same wrapper
 * for the same factory: the storage layer tells factories apart by identity (see fileNameFor in
 * src/storage/idb-vfs.ts), so reopening through a new wrapper must not look like another factory.
 */
export function wrapFactory(factory: IDBFactory): IDBFactory {
  let wrapped = wrappedFactories.get(factory);
  if (!wrapped) {
    wrapped = new Proxy(factory, {
      get(target, prop) {
        if (prop === 'open') return (name: string, version?: number) => wrapOpenRequest(target.open(name, version));
        return forward(target, prop);
      },
    });
    wrappedFactories.set(factory, wrapped);
  }
  return wrapped;
}

/** A fresh, empty fake IndexedDB (wrapped; globals installed). */
export function fakeIndexedDB(): IDBFactory {
  installIndexedDbClasses();
  return wrapFactory(new fake.IDBFactory());
}
