import type { ChangeRecord } from '../../protocol/index.js';

/**
 * Where transactions begin and end in a run of changes in LSN order (the changes of one source
 * transaction share its commit LSN): a message never ends inside one unless it says `partial`.
 */

/** How many changes at the start of `changes` (in LSN order) belong to its first transaction. */
export function transactionLength(changes: readonly ChangeRecord[]): number {
  let n = 1;
  while (n < changes.length && changes[n].lsn === changes[0].lsn) n++;
  return n;
}

/** How many of the first changes make whole transactions and at most `limit` changes (0: the first transaction alone is larger). */
export function wholeTransactionsWithin(changes: readonly ChangeRecord[], limit: number): number {
  let end = 0;
  for (let i = 1; i <= Math.min(limit, changes.length); i++) {
    if (i === changes.length || changes[i].lsn !== changes[i - 1].lsn) end = i;
  }
  return end;
}
