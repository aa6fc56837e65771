import { lsnToBigInt, type ChangeRecord, type Lsn } from '../../protocol/index.js';

/**
 * The newest committed changes, kept in memory in LSN order, so that a session a little behind
 * (its window was full when a commit went out live, the usual case for many sessions on a busy
 * server) catches up without a store read. It holds the same objects the live path sent, and
 * answers only when it holds every change the request covers; otherwise the caller reads the
 * store. Bounded by count (`capacity`), so its memory is a constant: at 1 KiB rows, about 2 MiB.
 *
 * LSNs need only increase: they may jump (Postgres WAL positions do), so the records are found by
 * a binary search on their LSNs as 64-bit numbers, never by arithmetic on positions.
 */
export class RecentChanges {
  private records: ChangeRecord[] = [];
  /** `records[i].lsn` as a 64-bit number, for the search. */
  private keys: bigint[] = [];
  /** What it holds is every change after this position; undefined until the first append. */
  private from: bigint | undefined;

  constructor(private readonly capacity = 2048) {}

  /**
   * Adds one commit's records, in LSN order: every change after `after`. When `after` is not where
   * what it holds ends (a change it never saw, a restart, a reset), it starts afresh from `after`.
   */
  append(records: readonly ChangeRecord[], after: Lsn): void {
    if (records.length === 0) return;
    const start = lsnToBigInt(after);
    if (this.from === undefined || start !== this.end) {
      this.records = [];
      this.keys = [];
      this.from = start;
    }
    for (const record of records) {
      this.records.push(record);
      this.keys.push(lsnToBigInt(record.lsn));
    }
    const excess = this.records.length - this.capacity;
    // Trim in halves, not one by one: splice of the front is O(n).
    if (excess > 0) {
      const drop = Math.max(excess, this.capacity >> 1);
      this.from = this.keys[drop - 1];
      this.records = this.records.slice(drop);
      this.keys = this.keys.slice(drop);
    }
  }

  /**
   * Up to `limit` records with LSN > `after`, rounded up to whole transactions (the records of one
   * share its LSN), or undefined when it does not hold all of them.
   */
  since(after: Lsn, limit: number): ChangeRecord[] | undefined {
    if (this.from === undefined) return undefined;
    const position = lsnToBigInt(after);
    if (position < this.from || position > this.end) return undefined;
    const start = this.firstAfter(position);
    let end = Math.min(start + limit, this.records.length);
    while (end > start && end < this.records.length && this.keys[end] === this.keys[end - 1]) end++;
    return this.records.slice(start, end);
  }

  /** The position of the newest change it holds. */
  private get end(): bigint {
    return this.keys.length > 0 ? this.keys[this.keys.length - 1] : this.from!;
  }

  /** The index of the first record with LSN > `position` (`records.length` when none is). */
  private firstAfter(position: bigint): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.keys[middle] <= position) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
