import type { ChangeRecord, Row } from '../../protocol/index.js';

/**
 * The row as it was before a change, kept on the server's copy of the change under a symbol: per-user
 * rules need it (an update can move a row out of a user's set; a delete must reach only the users
 * who could see the row), and a symbol key keeps it out of every message, since JSON.stringify
 * skips symbols; not enumerable either, so copies and equality checks see the protocol fields
 * only. A change from a store that records no old rows has none (undefined).
 */
const OLD_ROW = Symbol('rxsync.oldRow');

type WithOldRow = ChangeRecord & { [OLD_ROW]?: Row | null };

/** Attaches the row before the change (null: there was none, an insert). Returns the record. */
export function withOldRow<T extends ChangeRecord>(record: T, old: Row | null): T {
  Object.defineProperty(record, OLD_ROW, { value: old, enumerable: false, writable: true, configurable: true });
  return record;
}

/** The row before the change: null for an insert, undefined when the store did not record it. */
export function oldRowOf(record: ChangeRecord): Row | null | undefined {
  return (record as WithOldRow)[OLD_ROW];
}
