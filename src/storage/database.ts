/**
 * SqliteDatabase: one wa-sqlite connection behind an async API.
 *
 * Ordering: every call (exec/run/all/get/runMany, and each transaction as a whole) queues on the
 * connection's lane and runs alone, in call order. Calls into the Asyncify build (persistent
 * databases) additionally queue on the module's lane, which all its connections share.
 *
 * Transactions: `transaction(fn)` runs BEGIN IMMEDIATE, `fn(tx)`, COMMIT; if `fn` (or COMMIT)
 * throws, ROLLBACK, then the error is rethrown. Inside `fn`, use `tx` for every statement:
 * `db.run()` (or a nested `db.transaction()`) from inside `fn` queues behind the running
 * transaction, which waits for `fn`: a deadlock. `tx` is usable only until `fn` settles.
 *
 * Storage failure (persistent databases): once a write of the database to its storage failed (an
 * IndexedDB transaction, see idb-guard.ts; a file write or sync, see file-vfs.ts), the call that
 * was running rejects with SQLITE_IOERR, even if SQLite itself reported success (the IndexedDB VFS
 * learns of failures late), and so does every later call: SQLite's view of the file may be ahead
 * of what the storage holds. Close the database and open it again: it then holds exactly what was
 * committed before the failure.
 */
import { SQLITE_IOERR, SQLITE_MISUSE, SqliteError } from './errors.js';
import { Lane } from './lane.js';
import { StatementCache } from './statement-cache.js';
import { runManyRows, type RunManyOptions } from './run-many.js';
import { execScript, queryRows, runStatement, type RunResult, type UseStatement } from './statements.js';
import type { SqliteModule } from './wa-sqlite-types.js';

/** The statements a database and a transaction handle both offer. */
export interface SqliteExecutor {
  /** Runs a script: any number of statements, no parameters (DDL, PRAGMAs, ...). */
  exec(sql: string): Promise<void>;
  /** Runs one statement with positional parameters. */
  run(sql: string, params?: readonly unknown[]): Promise<RunResult>;
  /** Runs one statement and returns all its rows as objects keyed by column name. */
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /**
   * Runs ONE prepared statement once per parameter row (bulk insert/upsert). Wrap it in a
   * transaction for speed and atomicity. `realColumns` binds those 0-based positions as REAL.
   */
  runMany(sql: string, rows: readonly (readonly unknown[])[], options?: RunManyOptions): Promise<RunResult>;
}

export interface SqliteDatabase extends SqliteExecutor {
  /** ':memory:' or the name the database persists under. */
  readonly name: string;
  /** True when the database persists (in IndexedDB, or in a file in Node). */
  readonly persistent: boolean;
  readonly closed: boolean;
  /** See the module comment: inside `fn`, use `tx`, never the database itself. */
  transaction<T>(fn: (tx: SqliteExecutor) => Promise<T>): Promise<T>;
  /**
   * A transaction that stays open across calls until `commit()` or `rollback()`, for work that
   * comes in pieces (the snapshot's chunks) and is cheaper committed once (snapshot-writer.ts).
   * Every other call waits behind it meanwhile; `onWaiting` runs when one starts to, so that the
   * holder commits rather than make it wait.
   */
  holdTransaction(onWaiting: () => void): Promise<HeldTransaction>;
  /** Waits for queued calls, then closes the connection (and its storage: IndexedDB, or the file's lock). Idempotent. */
  close(): Promise<void>;
}

/** An open transaction from holdTransaction(). After commit() or rollback(), `tx` can no longer be used. */
export interface HeldTransaction {
  readonly tx: SqliteExecutor;
  /** Whether another call waits for the connection now. */
  readonly contended: boolean;
  /** COMMIT; on failure, ROLLBACK, and the error. Either way the connection is free again. */
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** The statements of one connection, each run under the module lane when there is one. */
class Connection implements SqliteExecutor {
  readonly #statements: StatementCache;
  readonly #use: UseStatement;

  constructor(
    private readonly sqlite: SqliteModule,
    readonly handle: number,
  ) {
    this.#statements = new StatementCache(sqlite.api, handle);
    this.#use = (sql, fn) => this.#statements.use(sql, fn);
  }

  guard<T>(job: () => Promise<T>): Promise<T> {
    return this.sqlite.lane ? this.sqlite.lane.run(job) : job();
  }

  /** True when no transaction is open on the connection. */
  autocommit(): Promise<boolean> {
    return this.guard(async () => this.sqlite.api.get_autocommit(this.handle) !== 0);
  }

  exec(sql: string): Promise<void> {
    return this.guard(() => execScript(this.sqlite.api, this.handle, sql));
  }
  run(sql: string, params: readonly unknown[] = []): Promise<RunResult> {
    return this.guard(() => runStatement(this.sqlite.api, this.handle, this.#use, sql, params));
  }
  all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.guard(() => queryRows<T>(this.sqlite.api, this.#use, sql, params));
  }
  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    const rows = await this.guard(() => queryRows<T>(this.sqlite.api, this.#use, sql, params, 1));
    return rows[0];
  }
  runMany(sql: string, rows: readonly (readonly unknown[])[], options?: RunManyOptions): Promise<RunResult> {
    return this.guard(() => runManyRows(this.sqlite.api, this.handle, this.#use, sql, rows, options));
  }
  close(): Promise<void> {
    return this.guard(async () => {
      try {
        await this.#statements.close();
      } finally {
        await this.sqlite.api.close(this.handle);
      }
    });
  }
}

/** How a held transaction's job is told to roll back (never seen outside holdTransaction). */
const ROLLED_BACK = Symbol('rolled back');

/** The `tx` given to a transaction's function: the connection, until the function settles. */
class TransactionHandle implements SqliteExecutor {
  #open = true;
  #inFlight = new Set<Promise<unknown>>();

  constructor(private readonly connection: Connection) {}

  end(): void {
    this.#open = false;
  }

  /** Statements started through `tx` that have not settled yet (awaited before COMMIT). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #track<T>(sql: string, job: () => Promise<T>): Promise<T> {
    if (!this.#open) {
      return Promise.reject(new SqliteError('transaction is over: this tx can no longer be used', SQLITE_MISUSE, sql));
    }
    const promise = job();
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  exec(sql: string) {
    return this.#track(sql, () => this.connection.exec(sql));
  }
  run(sql: string, params?: readonly unknown[]) {
    return this.#track(sql, () => this.connection.run(sql, params));
  }
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]) {
    return this.#track(sql, () => this.connection.all<T>(sql, params));
  }
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]) {
    return this.#track(sql, () => this.connection.get<T>(sql, params));
  }
  runMany(sql: string, rows: readonly (readonly unknown[])[], options?: RunManyOptions) {
    return this.#track(sql, () => this.connection.runMany(sql, rows, options));
  }
}

/** Where a persistent database's bytes live, as the Database sees it (idb-vfs.ts, file-vfs.ts). */
export interface PersistentStorage {
  /** Set once a write to the storage failed: the database is then unusable (fail-stop). */
  readonly failure: Error | undefined;
  /** Releases the storage (after the connection closed). */
  close(): Promise<void>;
}

export class Database implements SqliteDatabase {
  readonly #connection: Connection;
  readonly #lane = new Lane();
  readonly #storage: PersistentStorage | undefined;
  #closing: Promise<void> | undefined;

  /** Use openDatabase(); this wraps an already opened handle. */
  constructor(
    readonly name: string,
    sqlite: SqliteModule,
    handle: number,
    storage?: PersistentStorage,
  ) {
    this.#connection = new Connection(sqlite, handle);
    this.#storage = storage;
  }

  get persistent(): boolean {
    return this.#storage !== undefined;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  #enqueue<T>(sql: string | undefined, job: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new SqliteError(`database '${this.name}' is closed`, SQLITE_MISUSE, sql));
    return this.#lane.run(async () => {
      this.#assertStorage(sql);
      let result: T;
      try {
        result = await job();
      } catch (error) {
        this.#assertStorage(sql); // the storage's failure is what the caller must hear of, not SQLite's echo of it
        throw error;
      }
      this.#assertStorage(sql); // a commit SQLite reported may not have reached IndexedDB
      return result;
    });
  }

  /** Fail-stop after a storage failure (see the module comment). */
  #assertStorage(sql: string | undefined): void {
    const failure = this.#storage?.failure;
    if (failure) {
      throw new SqliteError(
        `the storage of database '${this.name}' failed (${failure.message}); nothing after its last successful commit was saved. ` +
          'Close the database (or the client) and open it again',
        SQLITE_IOERR,
        sql,
        { cause: failure },
      );
    }
  }

  exec(sql: string): Promise<void> {
    return this.#enqueue(sql, () => this.#connection.exec(sql));
  }
  run(sql: string, params?: readonly unknown[]): Promise<RunResult> {
    return this.#enqueue(sql, () => this.#connection.run(sql, params));
  }
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#enqueue(sql, () => this.#connection.all<T>(sql, params));
  }
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return this.#enqueue(sql, () => this.#connection.get<T>(sql, params));
  }
  runMany(sql: string, rows: readonly (readonly unknown[])[], options?: RunManyOptions): Promise<RunResult> {
    return this.#enqueue(sql, () => this.#connection.runMany(sql, rows, options));
  }

  transaction<T>(fn: (tx: SqliteExecutor) => Promise<T>): Promise<T> {
    return this.#enqueue(undefined, async () => {
      const connection = this.#connection;
      await connection.exec('BEGIN IMMEDIATE');
      const tx = new TransactionHandle(connection);
      try {
        const result = await fn(tx);
        tx.end();
        await tx.settle();
        await connection.exec('COMMIT');
        return result;
      } catch (error) {
        tx.end();
        await tx.settle();
        // SQLite may already have rolled back by itself (some errors do): only roll back if still open.
        if (!(await connection.autocommit())) {
          await connection.exec('ROLLBACK').catch(() => undefined);
        }
        throw error;
      }
    });
  }

  holdTransaction(onWaiting: () => void): Promise<HeldTransaction> {
    const lane = this.#lane;
    let end!: (commit: boolean) => void;
    const ended = new Promise<boolean>((resolve) => (end = resolve));
    let opened!: (tx: SqliteExecutor) => void;
    const open = new Promise<SqliteExecutor>((resolve) => (opened = resolve));
    // One lane job from BEGIN to COMMIT: nothing else runs on the connection in between.
    const job = this.transaction(async (tx) => {
      opened(tx);
      if (!(await ended)) throw ROLLED_BACK;
    });
    // Listening from the moment the job is queued, not from when it opens: a close() (or a call)
    // that starts waiting in between would otherwise never be heard, and wait for a transaction that
    // nothing ends. Waits queued before this job are not ours to answer, and are not heard.
    const unsubscribe = lane.onWait(onWaiting);
    const settled = job.then(
      () => undefined,
      (error: unknown) => {
        if (error !== ROLLED_BACK) throw error;
      },
    );
    settled.catch(() => undefined).finally(unsubscribe);
    return Promise.race([open, settled.then(() => Promise.reject(new SqliteError('the held transaction did not open', SQLITE_MISUSE)))]).then((tx) => {
      const finish = (commit: boolean) => {
        unsubscribe();
        end(commit);
        return settled;
      };
      return {
        tx,
        get contended() {
          return lane.pending > 1;
        },
        commit: () => finish(true),
        rollback: () => finish(false),
      };
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#lane.drain();
      try {
        await this.#connection.close();
      } catch (error) {
        // After a storage failure SQLite's close may fail too (its rollback cannot be written): the
        // storage keeps what was committed before the failure, and reopening recovers from there.
        if (!this.#storage?.failure) throw error;
      } finally {
        await this.#storage?.close();
      }
    })();
    return this.#closing;
  }
}
