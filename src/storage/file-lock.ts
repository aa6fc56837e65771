/**
 * One process at a time per database file: a lock file beside it (`<file>-lock`), created
 * exclusively (O_EXCL) when the database opens and removed when it closes. It holds its owner's
 * pid, host and a random tag.
 *
 * - A second open of the file, in this process or another, is refused with SQLITE_BUSY and a
 *   message naming the owner: the IndexedDB backend refuses a second connection the same way
 *   (idb-vfs.ts). Node has no advisory file locks in its API, hence the file.
 * - A lock whose owner is gone (a process killed, or that exited without closing the database) is
 *   stale: the owner is checked with `process.kill(pid, 0)` on the same host, and a stale lock is
 *   taken over. The takeover renames the lock away first (atomic), then checks that what it moved
 *   is the stale lock it judged and not a new owner's; so two processes taking over at once do not
 *   both win.
 * - A lock from another host (a shared network folder) cannot be checked, and neither can a lock
 *   whose pid was reused by an unrelated process: the message says which file to delete once no
 *   process uses the database.
 */
import { SQLITE_BUSY, SQLITE_CANTOPEN, SqliteError } from './errors.js';
import { errnoOf, type NodeFileSystem } from './node-fs.js';

interface LockOwner {
  pid: number;
  host: string;
  tag: string;
  since: string;
}

/** A lock file that is still empty (its owner is writing it) is taken for held this long. */
const UNWRITTEN_GRACE_MS = 10_000;
const paths = new Set<string>();

function randomTag(): string {
  return Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 10);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM'; // it exists, under another user
  }
}

function readOwner(fs: NodeFileSystem, lockPath: string): LockOwner | 'missing' | 'unreadable' {
  try {
    const owner = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.tag === 'string') return owner as LockOwner;
    return 'unreadable';
  } catch (error) {
    return errnoOf(error) === 'ENOENT' ? 'missing' : 'unreadable';
  }
}

function inUse(path: string, lockPath: string, detail: string): SqliteError {
  return new SqliteError(
    `database file ${path} is in use ${detail}: one process at a time may open it. Close the other client first, ` +
      `or, if no process uses the database any more, delete ${lockPath}`,
    SQLITE_BUSY,
  );
}

/**
 * Moves a stale lock out of the way; if what it moved turns out to be a newer owner's lock (taken
 * between our look and the rename), puts it back. The caller then tries to create the lock again.
 */
function takeOver(fs: NodeFileSystem, lockPath: string, stale: LockOwner | undefined): void {
  const moved = `${lockPath}.${process.pid}.${randomTag()}.stale`;
  try {
    fs.renameSync(lockPath, moved);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return; // someone else took it over first
    throw error;
  }
  const got = readOwner(fs, moved);
  const same = stale ? typeof got === 'object' && got.tag === stale.tag : got === 'unreadable';
  if (!same) {
    // A new owner locked it between our look and the rename: give it back.
    try {
      fs.linkSync(moved, lockPath);
    } catch {
      // yet another owner since: it holds the lock now
    }
  }
  fs.unlinkSync(moved);
}

/**
 * Takes the lock of the database file at `path` (absolute) for this process; returns its release.
 * Throws a SqliteError (SQLITE_BUSY) naming the owner when another process (or this one) has it.
 */
export function lockDatabaseFile(fs: NodeFileSystem, path: string, host: string): () => void {
  const lockPath = `${path}-lock`;
  if (paths.has(path)) throw inUse(path, lockPath, 'in this process already');
  const me: LockOwner = { pid: process.pid, host, tag: randomTag(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lockPath, JSON.stringify(me), { flag: 'wx' });
      break;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') {
        throw new SqliteError(`cannot create the lock file ${lockPath}: ${(error as Error).message}`, SQLITE_CANTOPEN, undefined, { cause: error });
      }
    }
    if (attempt >= 5) throw inUse(path, lockPath, 'by another process (its lock changed hands while this one tried)');
    const owner = readOwner(fs, lockPath);
    if (owner === 'missing') continue;
    if (owner === 'unreadable') {
      let age: number;
      try {
        age = Date.now() - fs.statSync(lockPath).mtimeMs;
      } catch {
        continue; // gone meanwhile
      }
      if (age < UNWRITTEN_GRACE_MS) throw inUse(path, lockPath, 'by another process (its lock file is being written)');
      takeOver(fs, lockPath, undefined);
      continue;
    }
    if (owner.host !== host) throw inUse(path, lockPath, `by process ${owner.pid} on host ${owner.host}`);
    // Our own pid in a lock this process does not hold: left by an earlier process with the same pid.
    if (owner.pid !== process.pid && alive(owner.pid)) throw inUse(path, lockPath, `by process ${owner.pid} (since ${owner.since})`);
    takeOver(fs, lockPath, owner);
  }
  paths.add(path);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    paths.delete(path);
    const owner = readOwner(fs, lockPath);
    if (typeof owner === 'object' && owner.tag === me.tag) {
      try {
        fs.unlinkSync(lockPath);
      } catch {
        // gone already
      }
    }
  };
}
