/**
 * A fault-injecting node:fs for the file backend's crash and I/O-error specs, the counterpart of
 * faulty-indexeddb.ts: count the writes an operation makes to the database files in one folder,
 * then run it again failing the Nth one.
 *
 * - "A write" is a call that changes a file: writeSync, ftruncateSync, fsyncSync/fdatasyncSync
 *   (a sync makes earlier writes durable: its failure is a write failure) and unlinkSync, on the
 *   files under `folder`, lock files excepted (they are not the database).
 * - A fault throws what Node throws when the disk is full (ENOSPC for a write or a truncate) or
 *   fails (EIO for a sync or a delete), and leaves the file as it was.
 * - `image()` is the crash: it copies the database files (the database and its journal), as they
 *   are at the instant of the call, into a fresh folder. A process killed at that instant leaves
 *   exactly that: what was written is in the OS's cache whether or not it was synced.
 *
 * Two ways in: `fileSystem` for openDatabase's `fileSystem` option, and `install()`, which puts
 * the same wrappers on node:fs itself (jest.spyOn) for specs that go through a client, which has
 * no such option. Calls on other files pass through untouched either way.
 */
// The module object itself (a namespace import is a copy under jest's CommonJS interop, and
// install() must change what the storage layer's process.getBuiltinModule('node:fs') returns).
import fs from 'node:fs';
import { join } from 'node:path';
import type { NodeFileSystem } from '../../src/storage/node-fs.js';

type WriteOp = 'write' | 'truncate' | 'sync' | 'unlink';

export interface FileWriteRecord {
  op: WriteOp;
  path: string;
}

const ERRNO: Record<WriteOp, { code: string; errno: number; message: string }> = {
  write: { code: 'ENOSPC', errno: -28, message: 'no space left on device' },
  truncate: { code: 'ENOSPC', errno: -28, message: 'no space left on device' },
  sync: { code: 'EIO', errno: -5, message: 'i/o error' },
  unlink: { code: 'EIO', errno: -5, message: 'i/o error' },
};

const WRAPPED = ['openSync', 'closeSync', 'writeSync', 'ftruncateSync', 'fsyncSync', 'fdatasyncSync', 'unlinkSync'] as const;

export class FaultyFileSystem {
  /** Every write to a database file under the folder, in order. */
  readonly writes: FileWriteRecord[] = [];
  /** The writes that were failed. */
  readonly faults: FileWriteRecord[] = [];
  /** The file system to pass as openDatabase's `fileSystem`. */
  readonly fileSystem: NodeFileSystem;
  readonly #fds = new Map<number, string>();
  readonly #wrappers: Pick<NodeFileSystem, (typeof WRAPPED)[number]>;
  #failAt: number | undefined;
  #images = 0;

  constructor(readonly folder: string) {
    const real = { ...fs } as unknown as NodeFileSystem;
    for (const name of WRAPPED) (real as unknown as Record<string, unknown>)[name] = (fs[name] as (...args: unknown[]) => unknown).bind(fs);
    this.#wrappers = {
      openSync: (path, flags, mode) => {
        const fd = real.openSync(path, flags, mode);
        if (this.#watched(path)) this.#fds.set(fd, path);
        return fd;
      },
      closeSync: (fd) => {
        this.#fds.delete(fd);
        real.closeSync(fd);
      },
      writeSync: (fd, buffer, offset, length, position) => {
        this.#write('write', this.#fds.get(fd));
        return real.writeSync(fd, buffer, offset, length, position);
      },
      ftruncateSync: (fd, len) => {
        this.#write('truncate', this.#fds.get(fd));
        real.ftruncateSync(fd, len);
      },
      fsyncSync: (fd) => {
        this.#write('sync', this.#fds.get(fd));
        real.fsyncSync(fd);
      },
      fdatasyncSync: (fd) => {
        this.#write('sync', this.#fds.get(fd));
        real.fdatasyncSync(fd);
      },
      unlinkSync: (path) => {
        this.#write('unlink', this.#watched(path) ? path : undefined);
        real.unlinkSync(path);
      },
    };
    this.fileSystem = Object.assign(Object.create(fs) as NodeFileSystem, this.#wrappers);
  }

  /** Writes so far. */
  get count(): number {
    return this.writes.length;
  }

  /** The `n`th write from now (1-based) fails, once. */
  failNthWrite(n: number): void {
    this.#failAt = this.writes.length + n;
  }

  /** Puts the wrappers on node:fs itself, for code that takes no file system; returns the undo. */
  install(): () => void {
    const spies = WRAPPED.map((name) => jest.spyOn(fs, name).mockImplementation(this.#wrappers[name] as never));
    return () => spies.forEach((spy) => spy.mockRestore());
  }

  /** The crash image: a fresh folder holding copies of the folder's database files as they are now. */
  image(): string {
    const copy = join(this.folder, `crash-${++this.#images}`);
    fs.mkdirSync(copy);
    for (const entry of fs.readdirSync(this.folder, { withFileTypes: true })) {
      if (entry.isFile() && !entry.name.endsWith('-lock')) fs.copyFileSync(join(this.folder, entry.name), join(copy, entry.name));
    }
    return copy;
  }

  #watched(path: string): boolean {
    return path.startsWith(`${this.folder}/`) && !path.endsWith('-lock') && !path.slice(this.folder.length + 1).includes('/');
  }

  #write(op: WriteOp, path: string | undefined): void {
    if (path === undefined) return;
    const record = { op, path };
    this.writes.push(record);
    if (this.writes.length !== this.#failAt) return;
    this.#failAt = undefined;
    this.faults.push(record);
    const { code, errno, message } = ERRNO[op];
    throw Object.assign(new Error(`${code}: ${message}, ${op} '${path}'`), { code, errno, syscall: op, path });
  }
}
