/**
 * A wa-sqlite VFS over Node's synchronous `fs` (the sync build calls a VFS synchronously): a
 * named database in Node is an ordinary SQLite database file, with its rollback journal beside it
 * (`<file>-journal`), readable by any SQLite (the sqlite3 shell, better-sqlite3).
 *
 * Atomicity is SQLite's own: a rollback journal (journal_mode=TRUNCATE, synchronous=FULL: see
 * backends/file.ts). The VFS gives SQLite what its crash guarantees rest on: xSync is fsync
 * (fdatasync when SQLite asks for data only), a new journal's directory is fsynced at the
 * journal's first sync and after a delete that asks for it, xAccess reports a journal that exists
 * and is not empty (an empty one is no hot journal), xCheckReservedLock says no one else is
 * writing (true: see file-lock.ts). A process killed at any point leaves the old state plus a hot
 * journal, which the next open rolls back, or the new state.
 *
 * Fail-stop: the first failed write, truncate, sync or delete (ENOSPC, EIO, ...) is recorded as the
 * database's failure and, from then on, nothing reaches the disk: every later write, truncate,
 * sync and delete is refused with SQLITE_IOERR, and a new journal with SQLITE_CANTOPEN. On disk is
 * then the state before the failing transaction, possibly with its hot journal (a rollback SQLite
 * would attempt could fail half-way on the same disk), or, if only the sync after its commit point
 * (the journal's truncation) failed, the state after it. The Database refuses every call
 * (database.ts); reopening rolls a hot journal back. Reads are not refused: they change nothing.
 *
 * SQLite sees each database under a short alias (`/rxsync-file-<n>.db`): wa-sqlite 1.0.0 limits
 * VFS paths to 64 bytes (see idb-vfs.ts). Files SQLite opens without a name (temporary tables,
 * sorts, statement journals) stay in memory.
 */
import { SQLITE_CANTOPEN } from './errors.js';
import { errnoOf, type NodeFileSystem } from './node-fs.js';
import type { SqliteApi, SqliteVfs } from './wa-sqlite-types.js';

const SQLITE_OK = 0;
const SQLITE_NOTFOUND = 12;
const SQLITE_FULL = 13;
const SQLITE_IOERR_READ = 266;
const SQLITE_IOERR_SHORT_READ = 522;
const SQLITE_IOERR_WRITE = 778;
const SQLITE_IOERR_FSYNC = 1034;
const SQLITE_IOERR_DIR_FSYNC = 1290;
const SQLITE_IOERR_TRUNCATE = 1546;
const SQLITE_IOERR_FSTAT = 1802;
const SQLITE_IOERR_DELETE = 2570;
const SQLITE_IOERR_ACCESS = 3338;
const SQLITE_IOERR_CLOSE = 4106;
const SQLITE_IOERR_DELETE_NOENT = 5898;

const SQLITE_OPEN_READONLY = 0x1;
const SQLITE_OPEN_CREATE = 0x4;
const SQLITE_OPEN_DELETEONCLOSE = 0x8;
const SQLITE_OPEN_MAIN_JOURNAL = 0x800;
const SQLITE_OPEN_SUPER_JOURNAL = 0x4000;
const SQLITE_SYNC_DATAONLY = 0x10;
const SQLITE_ACCESS_EXISTS = 0;
const SQLITE_IOCAP_POWERSAFE_OVERWRITE = 0x1000;
/** What SQLite's unix VFS reports: SQLITE_DEFAULT_SECTOR_SIZE. */
const SECTOR_SIZE = 4096;

/** The VFS name SQLite knows the file VFS by, in each loaded sync build. */
export const FILE_VFS_NAME = 'rxsync-file';

/** One database file as the VFS serves it. */
export interface FileVfsDatabase {
  /** The name to pass to open_v2 (with {@link FILE_VFS_NAME}). */
  readonly fileName: string;
  /** The file's absolute path. */
  readonly path: string;
  /** Set by the first failed write, truncate, sync or delete; nothing reaches the disk after it. */
  readonly failure: Error | undefined;
  /** Forgets the database (once SQLite closed it): its alias then opens nothing. */
  remove(): void;
}

interface Entry {
  readonly path: string;
  readonly fs: NodeFileSystem;
  failure: Error | undefined;
}

interface DiskFile {
  readonly kind: 'disk';
  readonly entry: Entry;
  readonly path: string;
  readonly fd: number;
  readonly flags: number;
  /** A journal this open created: its directory entry must reach the disk at its first sync. */
  syncDirectory: boolean;
}

interface MemoryFile {
  readonly kind: 'memory';
  data: Uint8Array;
  size: number;
}

type OpenFile = DiskFile | MemoryFile;

class FileVfs implements SqliteVfs {
  readonly name = FILE_VFS_NAME;
  readonly mxPathName = 64;
  readonly #databases = new Map<string, Entry>();
  readonly #files = new Map<number, OpenFile>();
  #counter = 0;

  add(path: string, fs: NodeFileSystem): FileVfsDatabase {
    const alias = `/rxsync-file-${++this.#counter}.db`;
    const entry: Entry = { path, fs, failure: undefined };
    this.#databases.set(alias, entry);
    return {
      fileName: alias,
      path,
      get failure() {
        return entry.failure;
      },
      remove: () => {
        this.#databases.delete(alias);
      },
    };
  }

  /** The database a SQLite path belongs to, and the file's real path (`<file>`, `<file>-journal`). */
  #resolve(name: string): { entry: Entry; path: string } | undefined {
    const slash = name.startsWith('/') ? name : `/${name}`;
    for (const [alias, entry] of this.#databases) {
      if (slash === alias || (slash.startsWith(alias) && slash[alias.length] === '-')) {
        return { entry, path: entry.path + slash.slice(alias.length) };
      }
    }
    return undefined;
  }

  /** Records the database's failure (the first one wins) and maps the errno to a SQLite code. */
  #fail(entry: Entry, what: string, path: string, error: unknown, code: number): number {
    const errno = errnoOf(error);
    entry.failure ??= new Error(`${what} ${path} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    return errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EFBIG' ? SQLITE_FULL : code;
  }

  #directorySync(entry: Entry, path: string): number {
    const directory = path.slice(0, Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'))) || '/';
    let fd: number;
    try {
      fd = entry.fs.openSync(directory, entry.fs.constants.O_RDONLY);
    } catch {
      return SQLITE_OK; // a directory cannot be opened everywhere (Windows): SQLite's unix VFS also goes on
    }
    try {
      entry.fs.fsyncSync(fd);
      return SQLITE_OK;
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'EINVAL' || errno === 'EISDIR' || errno === 'EPERM' || errno === 'EBADF') return SQLITE_OK;
      return this.#fail(entry, 'fsync of directory', directory, error, SQLITE_IOERR_DIR_FSYNC);
    } finally {
      entry.fs.closeSync(fd);
    }
  }

  xOpen(name: string | null, fileId: number, flags: number, pOutFlags: DataView): number {
    if (!name) {
      this.#files.set(fileId, { kind: 'memory', data: new Uint8Array(0), size: 0 });
      pOutFlags.setInt32(0, flags, true);
      return SQLITE_OK;
    }
    const found = this.#resolve(name);
    if (!found) return SQLITE_CANTOPEN;
    const { entry, path } = found;
    const { fs } = entry;
    const create = (flags & SQLITE_OPEN_CREATE) !== 0;
    if (create && entry.failure) return SQLITE_CANTOPEN; // nothing new reaches the disk after a failure
    const readOnly = (flags & SQLITE_OPEN_READONLY) !== 0;
    let existed = true;
    if (create) {
      try {
        fs.statSync(path);
      } catch {
        existed = false;
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(path, (readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR) | (create ? fs.constants.O_CREAT : 0), 0o644);
    } catch {
      return SQLITE_CANTOPEN;
    }
    const journal = (flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL)) !== 0;
    this.#files.set(fileId, { kind: 'disk', entry, path, fd, flags, syncDirectory: journal && !existed });
    pOutFlags.setInt32(0, flags, true);
    return SQLITE_OK;
  }

  xClose(fileId: number): number {
    const file = this.#files.get(fileId);
    this.#files.delete(fileId);
    if (!file || file.kind === 'memory') return SQLITE_OK;
    try {
      file.entry.fs.closeSync(file.fd);
    } catch {
      return SQLITE_IOERR_CLOSE;
    }
    if (file.flags & SQLITE_OPEN_DELETEONCLOSE && !file.entry.failure) {
      try {
        file.entry.fs.unlinkSync(file.path);
      } catch {
        // already gone
      }
    }
    return SQLITE_OK;
  }

  xRead(fileId: number, pData: Uint8Array, iOffset: number): number {
    const file = this.#files.get(fileId);
    if (!file) return SQLITE_IOERR_READ;
    let read: number;
    if (file.kind === 'memory') {
      read = Math.max(0, Math.min(pData.byteLength, file.size - iOffset));
      if (read > 0) pData.set(file.data.subarray(iOffset, iOffset + read));
    } else {
      try {
        read = 0;
        while (read < pData.byteLength) {
          const n = file.entry.fs.readSync(file.fd, pData, read, pData.byteLength - read, iOffset + read);
          if (n === 0) break;
          read += n;
        }
      } catch (error) {
        return this.#fail(file.entry, 'read of', file.path, error, SQLITE_IOERR_READ);
      }
    }
    if (read < pData.byteLength) {
      pData.fill(0, read);
      return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
  }

  xWrite(fileId: number, pData: Uint8Array, iOffset: number): number {
    const file = this.#files.get(fileId);
    if (!file) return SQLITE_IOERR_WRITE;
    if (file.kind === 'memory') {
      const end = iOffset + pData.byteLength;
      if (end > file.data.byteLength) {
        const grown = new Uint8Array(Math.max(end, 2 * file.data.byteLength));
        grown.set(file.data.subarray(0, file.size));
        file.data = grown;
      }
      file.data.set(pData, iOffset);
      file.size = Math.max(file.size, end);
      return SQLITE_OK;
    }
    if (file.entry.failure) return SQLITE_IOERR_WRITE;
    try {
      let written = 0;
      while (written < pData.byteLength) {
        written += file.entry.fs.writeSync(file.fd, pData, written, pData.byteLength - written, iOffset + written);
      }
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(file.entry, 'write to', file.path, error, SQLITE_IOERR_WRITE);
    }
  }

  xTruncate(fileId: number, iSize: number): number {
    const file = this.#files.get(fileId);
    if (!file) return SQLITE_IOERR_TRUNCATE;
    if (file.kind === 'memory') {
      file.size = Math.min(file.size, iSize);
      return SQLITE_OK;
    }
    if (file.entry.failure) return SQLITE_IOERR_TRUNCATE;
    try {
      file.entry.fs.ftruncateSync(file.fd, iSize);
      return SQLITE_OK;
    } catch (error) {
      return this.#fail(file.entry, 'truncate of', file.path, error, SQLITE_IOERR_TRUNCATE);
    }
  }

  xSync(fileId: number, flags: number): number {
    const file = this.#files.get(fileId);
    if (!file) return SQLITE_IOERR_FSYNC;
    if (file.kind === 'memory') return SQLITE_OK;
    if (file.entry.failure) return SQLITE_IOERR_FSYNC;
    try {
      if (flags & SQLITE_SYNC_DATAONLY) file.entry.fs.fdatasyncSync(file.fd);
      else file.entry.fs.fsyncSync(file.fd);
    } catch (error) {
      return this.#fail(file.entry, 'fsync of', file.path, error, SQLITE_IOERR_FSYNC);
    }
    if (file.syncDirectory) {
      file.syncDirectory = false;
      return this.#directorySync(file.entry, file.path);
    }
    return SQLITE_OK;
  }

  xFileSize(fileId: number, pSize64: DataView): number {
    const file = this.#files.get(fileId);
    if (!file) return SQLITE_IOERR_FSTAT;
    let size: number;
    if (file.kind === 'memory') size = file.size;
    else {
      try {
        size = file.entry.fs.fstatSync(file.fd).size;
      } catch (error) {
        return this.#fail(file.entry, 'stat of', file.path, error, SQLITE_IOERR_FSTAT);
      }
    }
    pSize64.setBigInt64(0, BigInt(size), true);
    return SQLITE_OK;
  }

  // One process owns the file for as long as it is open (file-lock.ts): SQLite's own locks have
  // nothing to exclude.
  xLock(): number {
    return SQLITE_OK;
  }
  xUnlock(): number {
    return SQLITE_OK;
  }
  xCheckReservedLock(_fileId: number, pResOut: DataView): number {
    pResOut.setInt32(0, 0, true);
    return SQLITE_OK;
  }

  xFileControl(): number {
    return SQLITE_NOTFOUND;
  }
  xSectorSize(): number {
    return SECTOR_SIZE;
  }
  xDeviceCharacteristics(): number {
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
  }

  xDelete(name: string, syncDir: number): number {
    const found = this.#resolve(name);
    if (!found) return SQLITE_IOERR_DELETE;
    const { entry, path } = found;
    if (entry.failure) return SQLITE_IOERR_DELETE;
    try {
      entry.fs.unlinkSync(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return SQLITE_IOERR_DELETE_NOENT;
      return this.#fail(entry, 'delete of', path, error, SQLITE_IOERR_DELETE);
    }
    return syncDir ? this.#directorySync(entry, path) : SQLITE_OK;
  }

  xAccess(name: string, flags: number, pResOut: DataView): number {
    const found = this.#resolve(name);
    if (!found) {
      pResOut.setInt32(0, 0, true);
      return SQLITE_OK;
    }
    let exists: boolean;
    try {
      const stats = found.entry.fs.statSync(found.path);
      // As SQLite's unix VFS: an empty file does not exist (an empty journal is no hot journal).
      exists = flags === SQLITE_ACCESS_EXISTS ? !stats.isFile() || stats.size > 0 : true;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') return SQLITE_IOERR_ACCESS;
      exists = false;
    }
    pResOut.setInt32(0, exists ? 1 : 0, true);
    return SQLITE_OK;
  }
}

const registered = new WeakMap<SqliteApi, FileVfs>();

/**
 * Serves the file at `path` (absolute) through the file VFS of `api` (the sync build), registering
 * that VFS on first use.
 */
export function addFileDatabase(api: SqliteApi, path: string, fs: NodeFileSystem): FileVfsDatabase {
  let vfs = registered.get(api);
  if (!vfs) {
    vfs = new FileVfs();
    api.vfs_register(vfs, false);
    registered.set(api, vfs);
  }
  return vfs.add(path, fs);
}
