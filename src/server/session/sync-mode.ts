import { compareLsn, ZERO_LSN, type Lsn, type ResetReason, type SyncMode } from '../../protocol/index.js';

/**
 * How a session starts, decided from the client's hello and the store's state alone:
 * - `reset` when the client's schema differs, its rows were chosen by other rules or claims, its LSN is ahead of the server (another server's or
 *   a restored database's), or older than the server's change log still covers;
 * - `initial` for a client that never synced (`0/0`);
 * - `live` when it is already at the server's LSN, `catchup` otherwise.
 */
export function chooseSyncMode(input: {
  clientLsn: Lsn;
  clientSchemaHash: string;
  schemaHash: string;
  serverLsn: Lsn;
  oldestResumableLsn: Lsn;
  /** Under per-user rules: what chose the client's rows (its hello) and what chooses them now. */
  clientSetHash?: string;
  setHash?: string;
}): {
  mode: SyncMode;
  reason?: ResetReason;
} {
  if (input.clientSchemaHash !== input.schemaHash) return { mode: 'reset', reason: 'schema_mismatch' };
  if (compareLsn(input.clientLsn, ZERO_LSN) === 0) return { mode: 'initial' };
  // Rows chosen by other rules or claims (the rules changed, another user signed in) cannot be
  // caught up from: which rows to add and to drop is the difference of two whole sets.
  if (input.setHash !== undefined && input.clientSetHash !== input.setHash) return { mode: 'reset', reason: 'set_changed' };
  if (compareLsn(input.clientLsn, input.serverLsn) > 0) return { mode: 'reset', reason: 'lsn_ahead' };
  if (compareLsn(input.clientLsn, input.oldestResumableLsn) < 0) return { mode: 'reset', reason: 'lsn_too_old' };
  return { mode: compareLsn(input.clientLsn, input.serverLsn) === 0 ? 'live' : 'catchup' };
}
