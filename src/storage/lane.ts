/**
 * A lane runs async jobs one at a time, in call order. SqliteDatabase uses one per connection (so
 * operations and transactions never interleave) and one per Asyncify module (so the module is never
 * re-entered while a call into it is suspended).
 */
export class Lane {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Jobs queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Runs `job` after every job queued before it has settled; resolves or rejects as `job` does. */
  run<T>(job: () => Promise<T> | T): Promise<T> {
    this.#pending++;
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
    while (this.#pending > 0) await this.#tail;
  }
}
