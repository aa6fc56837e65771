/**
 * Persistence in the origin private file system (OPFS): wa-sqlite's AccessHandlePoolVFS over the
 * sync build. It keeps a small pool of OPFS files in one directory per database and holds a
 * synchronous access handle on each for as long as it is open. So:
 *
 * - it works only in a dedicated worker (the only place with `createSyncAccessHandle`);
 * - one worker at a time: a sync access handle is exclusive, so a second worker's open fails until
 *   the first closed its handles or died. rxsync's browser entry makes one tab's worker the holder
 *   (Web Locks, see worker/opfs-holder.ts); {@link registerOpfsVfs} waits a little for a holder
 *   that is still dying to let go;
 * - every I/O call is synchronous, so the fast sync build serves it (no Asyncify, no lane waits).
 *
 * A write the file system refuses (QuotaExceededError, ...) would throw through the VFS into
 * SQLite: it is turned into SQLITE_IOERR here and remembered as the storage's failure, after which
 * the database is unusable (fail-stop, as for the other persistent backends): SQLite has rolled
 * back, and nothing written after it can be trusted to be there.
 */
import { SQLITE_CANTOPEN, SqliteError } from './errors.js';
import type { SqliteApi, SqliteVfs } from './wa-sqlite-types.js';

const SQLITE_IOERR = 10;
/** How long an open waits for the previous holder's handles (a worker dying as its tab closes). */
const ACQUIRE_WAIT_MS = 10_000;
const ACQUIRE_RETRY_MS = 100;

export interface OpfsVfsHandle {
  readonly vfsName: string;
  /** The file to open with it. */
  readonly fileName: string;
  readonly failure: Error | undefined;
  /** Releases every access handle (another worker can open the database after this). */
  close(): Promise<void>;
}

let vfsCounter = 0;

/** The OPFS directory of database `name`: one per database, a name OPFS accepts whatever `name` is. */
export function opfsDirectoryFor(name: string): string {
  return `rxsync/db-${encodeURIComponent(name)}`;
}

/** True where this context can use OPFS sync access handles (a dedicated worker of a recent browser). */
export function opfsAvailable(): boolean {
  const scope = globalThis as { FileSystemSyncAccessHandle?: unknown; navigator?: { storage?: { getDirectory?: unknown } } };
  return typeof scope.FileSystemSyncAccessHandle === 'function' && typeof scope.navigator?.storage?.getDirectory === 'function';
}

/** Opens the pool of database `name` and registers it with `api` (the sync build) under a new VFS name. */
export async function registerOpfsVfs(api: SqliteApi, name: string): Promise<OpfsVfsHandle> {
  if (!opfsAvailable()) {
    throw new SqliteError(
      `database '${name}' lives in OPFS, which needs a dedicated worker of a browser with sync access handles; ` +
        "use storage: 'indexeddb' here (rxsync's browser entry chooses by itself when storage is left out)",
      SQLITE_CANTOPEN,
    );
  }
  const { AccessHandlePoolVFS } = await import('wa-sqlite/src/examples/AccessHandlePoolVFS.js');
  const vfsName = `rxsync-opfs-${++vfsCounter}`;
  let failure: Error | undefined;
  /** A write to the files: refused once one failed, its failure remembered. */
  const guarded = (write: () => number): number => {
    if (failure) return SQLITE_IOERR;
    try {
      return write();
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      return SQLITE_IOERR;
    }
  };

  /** The pool, named for SQLite, with the writes that can throw turned into SQLITE_IOERR. */
  class GuardedPool extends AccessHandlePoolVFS {
    override get name(): string {
      return vfsName;
    }
    // `data`: wa-sqlite's own typings disagree on it (a Uint8Array at run time); it is passed on as is.
    override xWrite(fileId: number, data: any, offset: number): number {
      return guarded(() => super.xWrite(fileId, data, offset));
    }
    override xTruncate(fileId: number, size: number): number {
      return guarded(() => super.xTruncate(fileId, size));
    }
    override xSync(fileId: number, flags: number): number {
      return guarded(() => super.xSync(fileId, flags));
    }
  }

  const vfs = await acquirePool(() => new GuardedPool(opfsDirectoryFor(name)), name);
  api.vfs_register(vfs as unknown as SqliteVfs, false);
  let closing: Promise<void> | undefined;
  return {
    vfsName,
    fileName: '/rxsync.db',
    get failure() {
      return failure;
    },
    close: () => (closing ??= vfs.close()),
  };
}

/**
 * A pool whose handles are all acquired. Another worker holding them (the previous holder, still
 * closing) makes createSyncAccessHandle fail with NoModificationAllowedError: retried until
 * {@link ACQUIRE_WAIT_MS}, each failed try's handles released first.
 */
async function acquirePool<P extends { isReady: Promise<void>; close(): Promise<void> }>(create: () => P, name: string): Promise<P> {
  const deadline = Date.now() + ACQUIRE_WAIT_MS;
  for (;;) {
    const pool = create();
    try {
      await pool.isReady;
      return pool;
    } catch (error) {
      await pool.close().catch(() => undefined);
      const busy = (error as { name?: string })?.name === 'NoModificationAllowedError' || (error as { name?: string })?.name === 'InvalidStateError';
      if (!busy || Date.now() >= deadline) {
        throw new SqliteError(
          `cannot open database '${name}' in OPFS: ${(error as Error)?.message ?? error}` +
            (busy ? " (another worker still holds its files: is it open in another tab without rxsync's tab coordination?)" : ''),
          SQLITE_CANTOPEN,
          undefined,
          { cause: error },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, ACQUIRE_RETRY_MS));
    }
  }
}
