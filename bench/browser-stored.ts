/**
 * Where the bench page's databases are, and removing them (bench/browser-page.ts). A run must
 * measure the storage it claims to (a new named database goes to OPFS by default, but a name
 * remembers its backend and the browser may not allow OPFS), and must not leave ~20 MB per run
 * behind: IndexedDB databases (the IndexedDB VFS's, and the client's meta store
 * `rxsync-meta:<name>`) and OPFS directories (`rxsync/db-<encoded name>`, see src/storage's
 * opfsDirectoryFor).
 */
import { opfsDirectoryFor } from '../src/storage/opfs-vfs.js';

/** How long a removal waits for a worker that is still letting go of the files. */
const RELEASE_WAIT_MS = 10_000;

export interface Stored {
  /** Bytes in the database's OPFS directory; undefined when there is none. */
  opfsBytes: number | undefined;
  /** The IndexedDB databases of that name: the VFS's (the name itself) and the meta store's. */
  indexedDb: string[];
}

/** The parent directory ('rxsync') and the entry ('db-<encoded name>') of database `name` in OPFS. */
function opfsPath(name: string): { parent: string; entry: string } {
  const [parent, entry] = opfsDirectoryFor(name).split('/');
  return { parent, entry };
}

/** rxsync's directory at the root of this origin's OPFS; undefined before rxsync made one. */
async function opfsParentDir(): Promise<FileSystemDirectoryHandle | undefined> {
  try {
    return await (await navigator.storage.getDirectory()).getDirectoryHandle(opfsPath('').parent);
  } catch {
    return undefined;
  }
}

/** Every file below `dir`, recursively. */
async function* files(dir: FileSystemDirectoryHandle): AsyncGenerator<FileSystemFileHandle> {
  for await (const handle of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
    if (handle.kind === 'file') yield handle as FileSystemFileHandle;
    else yield* files(handle as FileSystemDirectoryHandle);
  }
}

export async function storedAt(name: string): Promise<Stored> {
  let opfsBytes: number | undefined;
  const parent = await opfsParentDir();
  if (parent) {
    try {
      const dir = await parent.getDirectoryHandle(opfsPath(name).entry);
      opfsBytes = 0;
      for await (const file of files(dir)) opfsBytes += (await file.getFile()).size;
    } catch (error) {
      if ((error as Error).name !== 'NotFoundError') throw error;
    }
  }
  const wanted = new Set([name, `rxsync-meta:${name}`]);
  const indexedDb = (await indexedDB.databases()).map((info) => info.name ?? '').filter((n) => wanted.has(n));
  return { opfsBytes, indexedDb };
}

/**
 * Throws unless the pages of database `name` (holding `rows` rows of ~150 bytes) are in `kind`
 * and not in the other storage. Called before the database is removed.
 */
export async function assertStoredIn(name: string, kind: 'opfs' | 'indexeddb', rows: number): Promise<Stored> {
  const stored = await storedAt(name);
  const where = JSON.stringify(stored);
  const minBytes = rows * 100;
  if (kind === 'opfs' && !((stored.opfsBytes ?? 0) >= minBytes && !stored.indexedDb.includes(name))) {
    throw new Error(`database ${name} is not in OPFS (${opfsDirectoryFor(name)} with >= ${minBytes} bytes, no IndexedDB data): ${where}`);
  }
  if (kind === 'indexeddb' && !(stored.opfsBytes === undefined && stored.indexedDb.includes(name))) {
    throw new Error(`database ${name} is not in IndexedDB alone: ${where}`);
  }
  return stored;
}

/** Deletes an IndexedDB database; an open connection elsewhere blocks it, waited for until RELEASE_WAIT_MS. */
function deleteIndexedDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    const timer = setTimeout(() => {
      console.warn(`IndexedDB database ${name} is still open elsewhere: not deleted yet`);
      resolve();
    }, RELEASE_WAIT_MS);
    request.onsuccess = () => {
      clearTimeout(timer);
      resolve();
    };
    request.onerror = () => {
      clearTimeout(timer);
      reject(request.error);
    };
  });
}

/**
 * Removes the OPFS directory of `name`. A worker that held it (a client's holder, terminated by
 * cleanup()) releases its access handles a little after it ends: NoModificationAllowedError until
 * then, so it is tried again until RELEASE_WAIT_MS.
 */
async function removeOpfsDirectory(name: string): Promise<void> {
  const parent = await opfsParentDir();
  if (!parent) return;
  const deadline = Date.now() + RELEASE_WAIT_MS;
  for (;;) {
    try {
      await parent.removeEntry(opfsPath(name).entry, { recursive: true });
      return;
    } catch (error) {
      const reason = (error as Error).name;
      if (reason === 'NotFoundError') return;
      if (Date.now() >= deadline) throw new Error(`cannot remove ${opfsDirectoryFor(name)}: ${reason}: ${(error as Error).message}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Removes every trace of database `name`: its IndexedDB data, its meta store, its OPFS directory. */
export async function removeDatabase(name: string): Promise<void> {
  await deleteIndexedDb(name);
  await deleteIndexedDb(`rxsync-meta:${name}`);
  await removeOpfsDirectory(name);
}

/** What is left whose database name starts with `prefix` (expected: nothing, after the removals). */
export async function leftovers(prefix: string): Promise<string[]> {
  const left = (await indexedDB.databases()).map((info) => info.name ?? '').filter((n) => n.startsWith(prefix) || n.startsWith(`rxsync-meta:${prefix}`));
  const parent = await opfsParentDir();
  const { parent: parentName, entry: entryPrefix } = opfsPath(prefix);
  if (parent) {
    for await (const key of (parent as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (key.startsWith(entryPrefix)) left.push(`OPFS ${parentName}/${key}`);
    }
  }
  return left;
}
