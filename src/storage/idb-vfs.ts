/**
 * Persistence: wa-sqlite's IDBBatchAtomicVFS (async build) over an injected IndexedDB factory.
 *
 * The VFS (wa-sqlite 1.0.0) reaches for three globals. Each is handled as narrowly as its code allows:
 *
 * 1. `globalThis.indexedDB`: read once, synchronously, in the VFS constructor (`indexedDB.open`).
 *    For that one synchronous call, globalThis.indexedDB is shadowed by a stub whose `open` forwards
 *    to the injected factory, and restored before the constructor returns: no other code can
 *    observe it. If the constructor did not call `open` (a future wa-sqlite), this fails loudly.
 * 2. `navigator.locks` (Web Locks), used by WebLocks.js. Where it is missing (Node, jsdom), the
 *    three methods of WebLocksExclusive (the lock class the VFS uses) that call it are overridden to
 *    use the in-process {@link localLocks}, which never waits (a wait would deadlock in-process):
 *    a lock held elsewhere in the process becomes SQLITE_BUSY. They look navigator.locks up at each
 *    call, so a real one always wins. Nothing is installed on globalThis or navigator.
 * 3. `IDBKeyRange`, used at every read. It must be the injected factory's own implementation
 *    (fake-indexeddb only accepts its own key ranges). Browsers have it; in Node/jsdom the
 *    environment must provide it (the specs use spec/storage/helpers/fake-indexeddb.ts).
 *
 * One IndexedDB database per SQLite database, named after it (the file inside: {@link fileNameFor}).
 * Each VFS gets a process-unique name, so any number of databases (and factories) coexist. A
 * (factory, name) pair is open at most once at a time in a process (a second connection to the
 * same file could only ever get SQLITE_BUSY), so a second open is refused with a clear error.
 */
import { localLocks, type LockManagerSubset } from './local-locks.js';
import { SQLITE_BUSY, SQLITE_CANTOPEN, SqliteError } from './errors.js';
import { IdbGuard } from './idb-guard.js';
import type { SqliteApi, SqliteVfs } from './wa-sqlite-types.js';

export interface IdbVfsHandle {
  /** The name the VFS is registered under (pass it to open_v2). */
  readonly vfsName: string;
  /** The file to open with it: {@link fileNameFor}. */
  readonly fileName: string;
  /** Set once an IndexedDB write of the VFS failed; the database is then unusable (see idb-guard.ts). */
  readonly failure: Error | undefined;
  /** Unregistering is not possible in wa-sqlite: this closes the VFS's IndexedDB connection. */
  close(): Promise<void>;
}

let vfsCounter = 0;
const openNames = new WeakMap<IDBFactory, Set<string>>();
const factoryScopes = new WeakMap<IDBFactory, string>();
let factoryScopesCount = 1;
let locksFallbackInstalled = false;

function webLocks(): LockManagerSubset | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerSubset } }).navigator?.locks;
}

/** A non-cryptographic 64-bit hash of `text` (two 32-bit multiplicative lanes), as 16 hex digits. */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * The SQLite file name inside IndexedDB database `name`. The VFS derives its lock names from it, and
 * Web Locks are per origin while IndexedDB is per factory, so the name carries:
 * - the database (a readable prefix plus a hash of the full name: distinct databases never share
 *   locks);
 * - for a factory other than globalThis.indexedDB (fake-indexeddb in tests: several "origins" in
 *   one process), a per-process tag of the factory, so that two clients using the same database
 *   name on different factories do not share locks. Such factories keep data in memory only, so
 *   a per-process tag is stable for as long as their data lives.
 * It stays short: wa-sqlite 1.0.0 registers every VFS with a 64-byte maximum path (its minified
 * registerVFS ignores VFS.Base#mxPathName), and '-journal' is appended for the journal file.
 */
export function fileNameFor(factory: IDBFactory, name: string): string {
  let scope = '';
  if (factory !== (globalThis as { indexedDB?: IDBFactory }).indexedDB) {
    scope = factoryScopes.get(factory) ?? `f${factoryScopesCount++}-`;
    factoryScopes.set(factory, scope);
  }
  const readable = name.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 12);
  return `${scope}${readable}-${hash64(name)}.db`;
}

type WebLocksClass = typeof import('wa-sqlite/src/examples/WebLocks.js').WebLocksExclusive;

/**
 * Where navigator.locks is missing, overrides WebLocksExclusive's three Web Locks calls (the VFS's
 * lock class; WebLocksBase keeps releasers in a private field, hence our own map) so that they use
 * {@link localLocks}: granted at once or refused (AbortError, which the VFS turns into SQLITE_BUSY),
 * never waited for (see local-locks.ts). A navigator.locks present at call time is used as is.
 */
function installLocksFallback(WebLocksExclusive: WebLocksClass): void {
  if (locksFallbackInstalled || webLocks()) return;
  locksFallbackInstalled = true;
  const releasers = new WeakMap<object, Map<string, () => void>>();
  const releasersOf = (self: object) => {
    let map = releasers.get(self);
    if (!map) releasers.set(self, (map = new Map()));
    return map;
  };
  const overrides: Pick<InstanceType<WebLocksClass>, '_acquireWebLock' | '_releaseWebLock' | '_pollWebLock'> = {
    _acquireWebLock(this: object, lockName: string, options: { mode?: 'exclusive' | 'shared' }) {
      const locks = webLocks();
      if (locks) {
        return new Promise((resolve, reject) => {
          locks
            .request(lockName, options, (lock) => {
              resolve(lock);
              return lock ? new Promise<void>((release) => releasersOf(this).set(lockName, release)) : undefined;
            })
            .catch(reject);
        });
      }
      const release = localLocks.tryAcquire(lockName, options.mode ?? 'exclusive');
      if (!release) {
        const busy = new Error(`lock ${lockName} is held by another connection in this process`);
        return Promise.reject(Object.assign(busy, { name: 'AbortError' }));
      }
      releasersOf(this).set(lockName, release);
      return Promise.resolve({ name: lockName, mode: options.mode ?? 'exclusive' });
    },
    _releaseWebLock(this: object, lockName: string) {
      const map = releasers.get(this);
      map?.get(lockName)?.();
      map?.delete(lockName);
    },
    async _pollWebLock(lockName: string) {
      const { held } = await (webLocks() ?? localLocks).query();
      return held.find((lock) => lock.name === lockName)?.mode;
    },
  };
  for (const [key, value] of Object.entries(overrides)) {
    Object.defineProperty(WebLocksExclusive.prototype, key, { value, writable: true, configurable: true });
  }
}

/**
 * Runs `construct` (synchronous) with globalThis.indexedDB.open forwarding to `factory`; the
 * database the VFS gets is wrapped by `guard`.
 */
function constructOver<T>(factory: IDBFactory, guard: IdbGuard, construct: () => T): T {
  const scope = globalThis as { indexedDB?: unknown };
  let opened = false;
  const stub = {
    open(name: string, version?: number) {
      opened = true;
      const request = factory.open(name, version);
      return new Proxy(request, {
        get(target, prop) {
          if (prop === 'result') return target.result ? guard.wrapDatabase(target.result) : target.result;
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
  const previous = Object.getOwnPropertyDescriptor(scope, 'indexedDB');
  Object.defineProperty(scope, 'indexedDB', { value: stub, writable: true, configurable: true });
  let result: T;
  try {
    result = construct();
  } finally {
    if (previous) Object.defineProperty(scope, 'indexedDB', previous);
    else delete scope.indexedDB;
  }
  if (!opened) throw new Error('IDBBatchAtomicVFS did not open IndexedDB in its constructor (wa-sqlite changed?)');
  return result;
}

/** Waits until callbacks the VFS scheduled (deferred purges) have started. */
function afterScheduledTasks(): Promise<void> {
  const idle = (globalThis as { requestIdleCallback?: (cb: () => void) => unknown }).requestIdleCallback;
  return new Promise((resolve) => (idle ? idle(() => resolve()) : setTimeout(resolve, 0)));
}

/**
 * Creates an IDBBatchAtomicVFS storing database `name` in IndexedDB database `name` of `factory`,
 * and registers it with `api` (the async build) under a process-unique VFS name.
 */
export async function registerIdbVfs(api: SqliteApi, factory: IDBFactory, name: string): Promise<IdbVfsHandle> {
  if (typeof (globalThis as { IDBKeyRange?: unknown }).IDBKeyRange !== 'function') {
    throw new SqliteError(
      'a persistent database needs the global IDBKeyRange of the injected IndexedDB implementation, ' +
        "and this environment has none (in Node/jsdom: install fake-indexeddb's FDBKeyRange as globalThis.IDBKeyRange)",
      SQLITE_CANTOPEN,
    );
  }
  let names = openNames.get(factory);
  if (!names) openNames.set(factory, (names = new Set()));
  if (names.has(name)) {
    throw new SqliteError(`database '${name}' is already open in this process with this IndexedDB factory; close it first`, SQLITE_BUSY);
  }
  names.add(name);
  try {
    const [{ IDBBatchAtomicVFS }, { WebLocksExclusive }] = await Promise.all([
      import('wa-sqlite/src/examples/IDBBatchAtomicVFS.js'),
      import('wa-sqlite/src/examples/WebLocks.js'),
    ]);
    installLocksFallback(WebLocksExclusive);
    const guard = new IdbGuard();
    const vfs = constructOver(factory, guard, () => new IDBBatchAtomicVFS(name, { durability: 'default', purge: 'deferred' }));
    const vfsName = `rxsync-idb-${++vfsCounter}`;
    vfs.name = vfsName;
    api.vfs_register(vfs as unknown as SqliteVfs, false); // wa-sqlite's Base and SQLiteVFS types disagree on xRead
    let closing: Promise<void> | undefined;
    return {
      vfsName,
      fileName: fileNameFor(factory, name),
      get failure() {
        return guard.failure;
      },
      close: () =>
        (closing ??= (async () => {
          try {
            await afterScheduledTasks();
            await vfs.close();
          } finally {
            names.delete(name);
          }
        })()),
    };
  } catch (error) {
    names.delete(name);
    throw error;
  }
}
