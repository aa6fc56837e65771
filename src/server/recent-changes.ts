import type { ChangeRecord } from '../protocol/index.js';

/**
 * The newest committed changes, kept in memory in LSN order, so that a session a little behind
 * (its window was full when a commit went out live, the usual case for many sessions on a busy
 * server) catches up without a store read: no SQL, no JSON.parse per session. It holds what the
 * log holds, as the same objects the live path sent, and answers only when it covers the whole
 * request; otherwise the caller reads the log. Bounded by count (`capacity`), so its memory is a
 * constant: at 1 KiB rows, about 2 MiB.
 */
export class RecentChanges {
  private records: ChangeRecord[] = [];
  /** The numeric LSN of records[0]; the store's LSNs are consecutive integers. */
  private first = 0;

  constructor(
    private readonly capacity = 2048,
    private readonly lsnOf: (record: ChangeRecord) => number,
  ) {}

  /** Adds a commit's records (consecutive LSNs); a gap (a restart, a reset) starts afresh. */
  append(records: readonly ChangeRecord[]): void {
    if (records.length === 0) return;
    const start = this.lsnOf(records[0]);
    if (this.records.length === 0 || start !== this.first + this.records.length) {
      this.records = [];
      this.first = start;
    }
    for (const record of records) this.records.push(record);
    const excess = this.records.length - this.capacity;
    // Trim in halves, not one by one: splice of the front is O(n).
    if (excess > 0) {
      const drop = Math.max(excess, this.capacity >> 1);
      this.records = this.records.slice(drop);
      this.first += drop;
    }
  }

  /** Up to `limit` records after `after`, or undefined when some of them are no longer here. */
  since(after: number, limit: number): ChangeRecord[] | undefined {
    if (this.records.length === 0 || after + 1 < this.first) return undefined;
    const start = after + 1 - this.first;
    return this.records.slice(start, start + limit);
  }

  clear(): void {
    this.records = [];
  }
}
