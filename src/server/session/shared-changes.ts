import type { ChangeRecord, Changes, Lsn } from '../../protocol/index.js';
import { endOfTurn } from '../end-of-turn.js';

/** How many of this turn's messages are looked through. */
const KEPT = 16;
const kept: Changes[] = [];
let next = 0;

/**
 * The `changes` message taking a client to `lsn` with `changes`, shared with every session that
 * sends the very same records (the same objects, in the same order) up to the same LSN in this
 * turn of the event loop: the transport serializes and frames a message once, however many
 * sessions it goes to.
 *
 * Sessions read a commit into arrays of their own (the live batch, filtered of what the pump
 * sent; a slice of the recent changes when a session's ack starts its pump, the usual way on a
 * busy server), but the records in them are the fan-out's objects, so equal content is found by
 * identity. Nothing else is trusted: a record read again from the store, or one the rules made
 * for a user, is a new object, and its message is that session's alone.
 *
 * The sessions that share a message send it in the same turn (the acks read in one poll phase,
 * the live feed's hand-out), so messages are kept only until the turn ends: a large message is
 * not held, nor its frame, once the sockets have it.
 */
export function changesMessage(changes: ChangeRecord[], lsn: Lsn): Changes {
  // An empty one (a position under rules) is one session's, and cheap to encode.
  if (changes.length === 0) return { type: 'changes', lsn, changes };
  for (let i = 1; i <= kept.length; i++) {
    const message = kept[(next - i + KEPT) % KEPT];
    if (message.lsn === lsn && sameRecords(message.changes, changes)) return message;
  }
  const message: Changes = { type: 'changes', lsn, changes };
  if (kept.length === 0) endOfTurn(forget);
  kept[next] = message;
  next = (next + 1) % KEPT;
  return message;
}

function forget(): void {
  kept.length = 0;
  next = 0;
}

/** Whether two runs hold the very same change records, in the same order. */
function sameRecords(a: readonly ChangeRecord[], b: readonly ChangeRecord[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
