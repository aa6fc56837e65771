/**
 * A fault-injecting IndexedDB for crash and I/O-error specs, in the spirit of SQLite's own ioerr
 * and crash tests: count the writes an operation makes, then run it again failing the Nth one.
 *
 * - Everything the client stores goes through IndexedDB: the SQLite file (IDBBatchAtomicVFS puts
 *   and deletes blocks) and the meta store (client id, LSN mirror). So "a write" here is one write
 *   request, put/add/delete/clear, on a readwrite transaction of any database of the factory.
 * - A fault fails the way IndexedDB fails when the disk is full: the request is made, then its
 *   transaction aborts with a QuotaExceededError. Every write of that transaction is rolled back,
 *   its requests get AbortError, and its `abort` event fires.
 * - `image()` is the crash: it copies what IndexedDB has committed, at the instant of the call,
 *   into a fresh factory. Nothing of the old process (its open connections, locks, caches, writes
 *   it makes later) reaches the copy, which is what a browser finds after a tab or process crash.
 *   The readonly transactions of the copy start synchronously inside `image()`, so writes started
 *   after the call are not in it whatever the timing.
 *
 * Test-only: it wraps fake-indexeddb; src/ needs no hook for it.
 */
import * as fake from 'fake-indexeddb';
import { installIndexedDbClasses, wrapFactory } from './fake-indexeddb.js';

const WRITES = ['put', 'add', 'delete', 'clear'] as const;

export interface WriteRecord {
  database: string;
  store: string;
  op: (typeof WRITES)[number];
}

/** Rewrites a value on its way into the crash image (e.g. a file name that names the factory). */
export type ValueMapper = (at: { database: string; store: string; copy: FaultyIndexedDB }, value: any) => unknown;

interface StoreShape {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: Array<{ name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }>;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

export class FaultyIndexedDB {
  /** The factory to inject (fake-indexeddb, instrumented, with the DOMStringList adaptation). */
  readonly factory: IDBFactory;
  /** Every write made through `factory`, in order. */
  readonly writes: WriteRecord[] = [];
  /** The writes that were failed, in order. */
  readonly faults: WriteRecord[] = [];
  #raw: IDBFactory;
  #failAt: number | undefined;
  #openTransactions = 0;
  #transactionsStarted = 0;

  constructor(raw: IDBFactory = new fake.IDBFactory()) {
    installIndexedDbClasses();
    this.#raw = raw;
    const instrumentDatabase = (db: IDBDatabase) =>
      new Proxy(db, {
        get: (target, prop) => {
          if (prop === 'transaction') {
            return (names: string | string[], mode?: IDBTransactionMode, options?: IDBTransactionOptions) =>
              this.#instrument(target.transaction(names, mode, options), target.name);
          }
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const instrumented = new Proxy(raw, {
      get: (target, prop) => {
        if (prop === 'open') {
          return (name: string, version?: number) => {
            const req = target.open(name, version);
            return new Proxy(req, {
              get: (r, p) => {
                if (p === 'result') return r.result ? instrumentDatabase(r.result) : r.result;
                const value = Reflect.get(r, p, r);
                return typeof value === 'function' ? value.bind(r) : value;
              },
            });
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    this.factory = wrapFactory(instrumented);
  }

  /** Writes made so far: take it before an operation, subtract it after, to count its writes. */
  get count(): number {
    return this.writes.length;
  }

  /** Fails the `n`th write from now (1-based), once. */
  failNthWrite(n: number): void {
    this.#failAt = this.writes.length + n;
  }

  disarm(): void {
    this.#failAt = undefined;
  }

  /**
   * Resolves once no readwrite transaction has been open across a few turns of the event loop:
   * the work an operation set off (the VFS's deferred purge, the LSN mirror) is done, so the next
   * operation's writes are its own and their count is the same on every run.
   */
  async quiesce(): Promise<void> {
    let stable = 0;
    while (stable < 3) {
      const started = this.#transactionsStarted;
      await new Promise((resolve) => setTimeout(resolve, 0));
      stable = this.#openTransactions === 0 && started === this.#transactionsStarted ? stable + 1 : 0;
    }
  }

  #instrument(tx: IDBTransaction, database: string): IDBTransaction {
    if (tx.mode === 'readonly') return tx;
    this.#openTransactions++;
    this.#transactionsStarted++;
    const finished = () => this.#openTransactions--;
    tx.addEventListener('complete', finished);
    tx.addEventListener('abort', finished);
    const objectStore = tx.objectStore.bind(tx);
    const patched = new WeakSet<IDBObjectStore>();
    Object.defineProperty(tx, 'objectStore', {
      configurable: true,
      value: (name: string) => {
        const store = objectStore(name);
        if (!patched.has(store)) {
          patched.add(store);
          for (const op of WRITES) this.#instrumentWrite(tx, store, database, op);
        }
        return store;
      },
    });
    return tx;
  }

  #instrumentWrite(tx: IDBTransaction, store: IDBObjectStore, database: string, op: (typeof WRITES)[number]): void {
    const original = (store[op] as (...args: unknown[]) => IDBRequest).bind(store);
    Object.defineProperty(store, op, {
      configurable: true,
      value: (...args: unknown[]) => {
        const record: WriteRecord = { database, store: store.name, op };
        this.writes.push(record);
        const result = original(...args);
        if (this.writes.length === this.#failAt) {
          this.#failAt = undefined;
          this.faults.push(record);
          // The disk is full: the transaction aborts, and IndexedDB reports why on it.
          tx.abort();
          (tx as { error: DOMException | null }).error = new DOMException(
            `injected fault: write ${this.writes.length} (${op} on ${database}/${store.name}) failed`,
            'QuotaExceededError',
          );
        }
        return result;
      },
    });
  }

  /**
   * The crash: a fresh FaultyIndexedDB holding exactly what this one has committed now. Call
   * `prepareImage()` first (it opens the connections the copy reads through, which takes a turn
   * of the event loop); `image()` itself starts its reads synchronously.
   */
  async prepareImage(mapValue: ValueMapper = (_at, value) => value): Promise<() => Promise<FaultyIndexedDB>> {
    const names = (await this.#raw.databases()).map((info) => info.name!).filter(Boolean);
    const connections = await Promise.all(names.map((name) => request(this.#raw.open(name))));
    return () => {
      // Synchronously: one readonly transaction per database, reading every store.
      const reads = connections.map((db) => {
        const storeNames = Array.from(db.objectStoreNames);
        const shapes: StoreShape[] = [];
        const tx = storeNames.length > 0 ? db.transaction(storeNames, 'readonly') : undefined;
        const contents = storeNames.map((name) => {
          const store = tx!.objectStore(name);
          shapes.push({
            name,
            keyPath: store.keyPath as string | string[] | null,
            autoIncrement: store.autoIncrement,
            indexes: Array.from(store.indexNames, (indexName) => {
              const index = store.index(indexName);
              return { name: indexName, keyPath: index.keyPath as string | string[], unique: index.unique, multiEntry: index.multiEntry };
            }),
          });
          return Promise.all([request(store.getAllKeys()), request(store.getAll())]);
        });
        return { name: db.name, version: db.version, shapes, contents: Promise.all(contents) };
      });
      return (async () => {
        const copy = new FaultyIndexedDB();
        for (const read of reads) {
          const contents = await read.contents;
          const open = copy.#raw.open(read.name, read.version);
          open.onupgradeneeded = () => {
            for (const shape of read.shapes) {
              const store = open.result.createObjectStore(shape.name, { keyPath: shape.keyPath, autoIncrement: shape.autoIncrement });
              for (const index of shape.indexes) store.createIndex(index.name, index.keyPath, { unique: index.unique, multiEntry: index.multiEntry });
            }
          };
          const db = await request(open);
          if (read.shapes.length > 0) {
            const tx = db.transaction(
              read.shapes.map((s) => s.name),
              'readwrite',
            );
            read.shapes.forEach((shape, i) => {
              const [keys, values] = contents[i]!;
              const store = tx.objectStore(shape.name);
              values.forEach((stored, j) => {
                const value = mapValue({ database: read.name, store: shape.name, copy }, stored);
                if (shape.keyPath === null) store.put(value, keys[j]);
                else store.put(value);
              });
            });
            await transactionDone(tx);
          }
          db.close();
        }
        for (const db of connections) db.close();
        return copy;
      })();
    };
  }
}
