// Types for the two wa-sqlite example modules the storage layer uses; wa-sqlite 1.0.0 ships
// none for them (its src/types/index.d.ts covers the API, the builds and VFS.js only).

declare module 'wa-sqlite/src/examples/IDBBatchAtomicVFS.js' {
  import * as VFS from 'wa-sqlite/src/VFS.js';

  export interface IDBBatchAtomicVFSOptions {
    durability?: 'default' | 'strict' | 'relaxed';
    purge?: 'deferred' | 'manual';
    purgeAtLeast?: number;
  }

  /** Opens IndexedDB database `idbDatabaseName` (through globalThis.indexedDB) in its constructor. */
  export class IDBBatchAtomicVFS extends VFS.Base {
    constructor(idbDatabaseName?: string, options?: IDBBatchAtomicVFSOptions);
    /** The VFS name SQLite knows it by (initially the IndexedDB database name). */
    name: string;
    close(): Promise<void>;
    purge(path: string): Promise<void>;
  }
}

declare module 'wa-sqlite/src/examples/WebLocks.js' {
  export class WebLocksBase {
    get state(): number;
    timeoutMillis: number;
    lock(flags: number): Promise<number>;
    unlock(flags: number): Promise<number>;
    isSomewhereReserved(): Promise<boolean>;
    _acquireWebLock(lockName: string, options: object): Promise<unknown>;
    _releaseWebLock(lockName: string): void;
    _pollWebLock(lockName: string): Promise<string | undefined>;
  }
  export class WebLocksExclusive extends WebLocksBase {
    constructor(name: string);
  }
  export class WebLocksShared extends WebLocksBase {
    constructor(name: string);
  }
}

declare module 'wa-sqlite/src/examples/AccessHandlePoolVFS.js' {
  import * as VFS from 'wa-sqlite/src/VFS.js';

  /** A pool of OPFS files with sync access handles, all held open by this VFS (dedicated workers only). */
  export class AccessHandlePoolVFS extends VFS.Base {
    constructor(directoryPath: string);
    /** Settles once the pool's access handles are acquired (rejects if OPFS refused them). */
    isReady: Promise<void>;
    get name(): string;
    close(): Promise<void>;
    getCapacity(): number;
    getSize(): number;
    addCapacity(n: number): Promise<number>;
  }
}
