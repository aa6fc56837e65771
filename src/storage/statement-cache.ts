/**
 * Prepared statements kept per connection, by SQL text: the apply path and the live queries run the
 * same few statements again and again, and preparing one costs more than running it on a small
 * batch (a one-row live batch ran ~10 of them afresh).
 *
 * Correct across schema changes without being told: SQLite re-prepares a `prepare_v2` statement by
 * itself when the schema changed since it was prepared, and a statement over a dropped table fails
 * as a fresh one would. A statement is reset after every use (so it holds no read transaction or
 * lock), a statement already in use (a caller running the same SQL inside its own use) gets a
 * one-off copy, the least recently used ones are finalized past `capacity`, and `clear()` finalizes
 * them all: the connection must do it before it closes (SQLite refuses to close over live statements).
 */
import { SqliteError, SQLITE_MISUSE, toSqliteError } from './errors.js';
import { prepareOne, withStatement } from './statements.js';
import type { SqliteApi } from './wa-sqlite-types.js';

interface Cached {
  stmt: number;
  inUse: boolean;
}

/** How many statements a connection keeps: the engine runs a few dozen distinct ones; apps add their queries. */
export const STATEMENT_CACHE_CAPACITY = 128;

export class StatementCache {
  /** In use order: the least recently used first (a Map keeps insertion order; a use moves the entry last). */
  readonly #entries = new Map<string, Cached>();
  #closed = false;

  constructor(
    private readonly api: SqliteApi,
    private readonly db: number,
    private readonly capacity = STATEMENT_CACHE_CAPACITY,
  ) {}

  /** Statements kept now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Runs `fn` with the prepared statement of `sql` (exactly one statement), preparing it on first
   * use, and resets it afterwards. Failures come out as SqliteErrors carrying `sql`.
   */
  async use<T>(sql: string, fn: (stmt: number) => Promise<T>): Promise<T> {
    if (this.#closed) throw new SqliteError('the connection is closing: no statement can be prepared', SQLITE_MISUSE, sql);
    let entry = this.#entries.get(sql);
    if (entry?.inUse) return withStatement(this.api, this.db, sql, fn);
    if (entry) {
      this.#entries.delete(sql);
    } else {
      entry = { stmt: await prepareOne(this.api, this.db, sql), inUse: false };
    }
    this.#entries.set(sql, entry);
    await this.#evict();
    entry.inUse = true;
    try {
      return await fn(entry.stmt);
    } catch (error) {
      throw toSqliteError(error, sql);
    } finally {
      try {
        // reset() repeats the error of a failed step (already thrown above): only the reset matters here.
        await this.api.reset(entry.stmt);
      } catch {
        // the statement is reset all the same
      }
      entry.inUse = false;
    }
  }

  /** Finalizes every statement not in use (all of them once the connection's calls have settled). */
  async clear(): Promise<void> {
    for (const [sql, entry] of this.#entries) {
      if (entry.inUse) continue;
      this.#entries.delete(sql);
      await this.api.finalize(entry.stmt);
    }
  }

  /** Finalizes everything and takes no more statements: the connection is about to close. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.clear();
  }

  async #evict(): Promise<void> {
    for (const [sql, entry] of this.#entries) {
      if (this.#entries.size <= this.capacity) return;
      if (entry.inUse) continue;
      this.#entries.delete(sql);
      await this.api.finalize(entry.stmt);
    }
  }
}
