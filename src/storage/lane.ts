/**
 * A lane runs async jobs one at a time, in call order. SqliteDatabase uses one per connection (so
 * operations and transactions never interleave) and one per Asyncify module (so the module is never
 * re-entered while a call into it is suspended).
 */
export class Lane {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #onWait = new Set<() => void>();

  /**
   * Calls `listener` whenever a job starts waiting behind another (or drain() is called): how a
   * job that holds the lane on purpose (a held transaction) learns that it should let go.
   * Returns the unsubscribe.
   */
  onWait(listener: () => void): () => void {
    this.#onWait.add(listener);
    return () => this.#onWait.delete(listener);
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Runs `job` after every job queued before it has settled; resolves or rejects as `job` does. */
  run<T>(job: () => Promise<T> | T): Promise<T> {
    this.#pending++;
    if (this.#pending > 1) this.#waiting();
    const result = this.#tail.then(job);
    const settled = result.then(
      () => this.#pending--,
      () => this.#pending--,
    );
    this.#tail = settled;
    return result;
  }

  /** Resolves once every job queued so far has settled. */
  async drain(): Promise<void> {
    if (this.#pending > 0) this.#waiting();
    while (this.#pending > 0) await this.#tail;
  }

  #waiting(): void {
    for (const listener of [...this.#onWait]) listener();
  }
}
