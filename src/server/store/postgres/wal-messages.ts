/**
 * The names rxsync's own messages go by in the database: logical messages it writes into the WAL
 * (read back by the replicator) and the channel the replicator notifies on.
 */

/** The prefix of the logical messages that name the client change behind the next row change. */
export const ORIGIN_MESSAGE_PREFIX = 'rxsync.origin';
/**
 * The prefix of the non-transactional logical message a snapshot emits: when the replicator gets
 * it, every transaction committed before it was sent and is stored, and it records that as
 * `marked_lsn`. A snapshot waits for it to know which transactions it holds.
 */
export const MARK_MESSAGE_PREFIX = 'rxsync.mark';
/** The NOTIFY channel a stored transaction is announced on (payload: the slot). */
export const CHANGES_CHANNEL = 'rxsync_changes';
