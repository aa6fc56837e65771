/**
 * The parts of Node's `fs` and `path` the file backend uses, as types of rxsync's own (no Node
 * types in the declarations a browser app loads) and loaded without a static `node:` import (the
 * browser bundles include the storage layer; see node-wasm.ts).
 *
 * Everything is synchronous: wa-sqlite's sync build calls a VFS synchronously. The file system is
 * injectable (openDatabase's `fileSystem`) so that specs can fail a chosen write or sync.
 */
import { nodeBuiltin } from './node-wasm.js';

/** An error from `fs`: `code` is the errno name (ENOSPC, EIO, ENOENT, ...). */
export interface FsError extends Error {
  code?: string;
}

export interface FileStats {
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

/** The synchronous `node:fs` functions the file backend calls (node:fs itself by default). */
export interface NodeFileSystem {
  openSync(path: string, flags: number, mode?: number): number;
  closeSync(fd: number): void;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  ftruncateSync(fd: number, len: number): void;
  fstatSync(fd: number): FileStats;
  statSync(path: string): FileStats;
  unlinkSync(path: string): void;
  realpathSync(path: string): string;
  renameSync(from: string, to: string): void;
  linkSync(existing: string, newPath: string): void;
  readFileSync(path: string, encoding: 'utf8'): string;
  writeFileSync(path: string, data: string, options: { flag: string }): void;
  readonly constants: { O_RDONLY: number; O_RDWR: number; O_CREAT: number };
}

/** The `node:path` functions the file backend calls. */
export interface NodePath {
  resolve(...paths: string[]): string;
  dirname(path: string): string;
  basename(path: string): string;
}

/** `node:os` and `process`, for the lock file's owner. */
export interface NodeHost {
  hostname(): string;
}

export function loadNodeFileSystem(): Promise<NodeFileSystem> {
  return nodeBuiltin<NodeFileSystem>('node:fs');
}

export function loadNodePath(): Promise<NodePath> {
  return nodeBuiltin<NodePath>('node:path');
}

export function loadNodeHost(): Promise<NodeHost> {
  return nodeBuiltin<NodeHost>('node:os');
}

/** The errno name of an fs error (undefined for anything else). */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as FsError | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
