/**
 * The latency benches' live query shows the newest measured row; rows are written in `n` order, so
 * an emission showing n shows every write up to n. This keeps, per n, when it was first shown,
 * and lets the bench wait for a given n.
 */
export class WatchProgress {
  /** When the live query first showed each n (wall clock). */
  readonly shownAt = new Map<number, number>();
  private maxSeen = -1;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  /** `what` names the live query in timeout errors. */
  constructor(private readonly what: string) {}

  /** An emission at `at` whose newest row is `n`. */
  saw(n: number, at: number): void {
    if (n <= this.maxSeen) return;
    for (let k = this.maxSeen + 1; k <= n; k++) this.shownAt.set(k, at);
    this.maxSeen = n;
    this.waiters = this.waiters.filter((w) => (w.n <= n ? (w.resolve(), false) : true));
  }

  shown(n: number, timeoutMs: number): Promise<void> {
    if (n <= this.maxSeen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.what} did not show n=${n} within ${timeoutMs} ms (max seen ${this.maxSeen})`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}
