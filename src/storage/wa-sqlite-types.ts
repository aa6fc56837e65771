/**
 * The part of wa-sqlite's API the storage layer calls, as types of rxsync's own.
 *
 * wa-sqlite declares its API as ambient globals (`SQLiteAPI`, `SQLiteVFS`, ...) in a .d.ts that a
 * consumer of rxsync never loads: a declaration of ours naming them fails to typecheck there
 * (TS2304 with `skipLibCheck: false`). Every signature of the storage layer uses these instead;
 * wa-sqlite's `SQLiteAPI` is assignable to {@link SqliteApi}, so no cast is needed where the API
 * is created (wasm.ts).
 */
import type { Lane } from './lane.js';

/** What a column or a bound parameter can hold, as wa-sqlite passes it. */
export type SqliteValue = number | string | Uint8Array | number[] | bigint | null;

export interface SqliteApi {
  open_v2(zFilename: string, iFlags?: number, zVfs?: string): Promise<number>;
  close(db: number): Promise<number>;
  get_autocommit(db: number): number;
  changes(db: number): number;

  str_new(db: number, s?: string): number;
  str_value(str: number): number;
  str_finish(str: number): void;
  prepare_v2(db: number, sql: number): Promise<{ stmt: number; sql: number } | null>;
  step(stmt: number): Promise<number>;
  reset(stmt: number): Promise<number>;
  finalize(stmt: number): Promise<number>;

  bind_parameter_count(stmt: number): number;
  bind_null(stmt: number, i: number): number;
  bind_int(stmt: number, i: number, value: number): number;
  bind_int64(stmt: number, i: number, value: bigint): number;
  bind_double(stmt: number, i: number, value: number): number;
  bind_text(stmt: number, i: number, value: string): number;
  bind_blob(stmt: number, i: number, value: Uint8Array | number[]): number;

  column_names(stmt: number): string[];
  column_type(stmt: number, i: number): number;
  column_blob(stmt: number, i: number): Uint8Array;
  column(stmt: number, i: number): SqliteValue;

  /** Runs every statement of `sql`, calling `callback` with each result row (benchmarks and tools). */
  exec(db: number, sql: string, callback?: (row: SqliteValue[], columns: string[]) => void): Promise<number>;

  /** Registers a VFS object (an instance of a subclass of wa-sqlite's VFS.Base, see {@link SqliteVfs}). */
  vfs_register(vfs: SqliteVfs, makeDefault?: boolean): number;
}

/**
 * A VFS as wa-sqlite's glue calls it: each method returns a SQLite result code. In the sync build
 * (the one the file backend uses) every method must complete synchronously.
 */
export interface SqliteVfs {
  /** The name SQLite knows the VFS by (open_v2's third argument). */
  name: string;
  /** wa-sqlite 1.0.0 ignores it when registering: paths are at most 64 bytes whatever it says. */
  mxPathName?: number;
  xOpen(name: string | null, fileId: number, flags: number, pOutFlags: DataView): number;
  xClose(fileId: number): number;
  xRead(fileId: number, pData: Uint8Array, iOffset: number): number;
  xWrite(fileId: number, pData: Uint8Array, iOffset: number): number;
  xTruncate(fileId: number, iSize: number): number;
  xSync(fileId: number, flags: number): number;
  xFileSize(fileId: number, pSize64: DataView): number;
  xLock(fileId: number, flags: number): number;
  xUnlock(fileId: number, flags: number): number;
  xCheckReservedLock(fileId: number, pResOut: DataView): number;
  xFileControl(fileId: number, op: number, pArg: DataView): number;
  xSectorSize(fileId: number): number;
  xDeviceCharacteristics(fileId: number): number;
  xDelete(name: string, syncDir: number): number;
  xAccess(name: string, flags: number, pResOut: DataView): number;
}

/** A loaded wa-sqlite build as a connection needs it: its API and the lane that serializes calls into it. */
export interface SqliteModule {
  readonly api: SqliteApi;
  readonly lane: Lane | undefined;
}
