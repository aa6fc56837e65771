import { compareLsn, SyncProtocolError, type Lsn, type ServerMessage } from '../protocol/index.js';

type Phase = 'awaiting_welcome' | 'snapshot_expected' | 'snapshot_open' | 'streaming' | 'broken';

/** What to do with a message the guard did not let through. */
export interface Refusal {
  /** What to report; absent for the messages after a broken one, dropped without another word. */
  error?: SyncProtocolError;
  /**
   * The server broke a promise that later data depends on (the LSN order): nothing more of this
   * session can be trusted. The client ends it, after what came before was applied, and reconnects
   * from its checkpoint. Every later message of the session is dropped without another error.
   */
  endsSession: boolean;
  /** A snapshot was open: the rows it brought are not a complete snapshot and must go. */
  discardSnapshot: boolean;
}

/**
 * What one socket's server promised, from the client's side, checked before a message can touch
 * the data:
 * - the order of the session: welcome first and once; a snapshot only when the welcome announced
 *   one (initial or reset), its chunks only between its begin and end; changes only outside a
 *   snapshot (a stray snapshot_begin would empty the tables, a stray welcome or snapshot_end move
 *   the checkpoint past changes never applied);
 * - the LSN order: `snapshot_end` at the LSN of its `snapshot_begin`; each `changes` message
 *   strictly after the previous one of this session, the first after the session's starting point
 *   (the hello's LSN, or the snapshot's). Across sessions the server may resend what the client
 *   applied after its hello (that overlap is dropped inside the apply transaction); within one, a
 *   repeat or a step back means a broken server;
 * - answers only to questions asked: a `push_result` only for change ids pushed on this socket.
 * Pure: one instance per socket.
 */
export class SessionGuard {
  private phase: Phase = 'awaiting_welcome';
  /** The LSN the next `changes` message must start after. */
  private after: Lsn = '0/0';
  private snapshotLsn: Lsn | undefined;
  /** A transaction sent in parts, after a `partial` message: where its next part must start. */
  private openTransaction: { lsn: Lsn; next: number } | undefined;
  /** Change ids pushed on this socket and not yet answered, with how many pushes carried each. */
  private readonly unanswered = new Map<string, number>();

  /** The hello went out with this LSN: in modes catchup and live, changes start after it. */
  helloSent(lsn: Lsn): void {
    this.after = lsn;
  }

  /** A push with these change ids went out on this socket. */
  pushed(ids: readonly string[]): void {
    for (const id of ids) this.unanswered.set(id, (this.unanswered.get(id) ?? 0) + 1);
  }

  /** Null when the message may go on; otherwise why not, and what follows. */
  check(message: ServerMessage): Refusal | null {
    if (this.phase === 'broken') return { endsSession: false, discardSnapshot: false };
    const refuse = (why: string): Refusal => ({ error: refusal(message, why), endsSession: false, discardSnapshot: false });
    switch (message.type) {
      case 'welcome':
        if (this.phase !== 'awaiting_welcome') return refuse('after the session was already welcomed');
        this.phase = message.mode === 'initial' || message.mode === 'reset' ? 'snapshot_expected' : 'streaming';
        return null;
      case 'snapshot_begin':
        if (this.phase !== 'snapshot_expected') return refuse('that the welcome did not announce');
        this.phase = 'snapshot_open';
        this.snapshotLsn = message.lsn;
        return null;
      case 'snapshot_chunk':
        return this.phase === 'snapshot_open' ? null : refuse('outside a snapshot');
      case 'snapshot_end':
        if (this.phase !== 'snapshot_open') return refuse('outside a snapshot');
        if (compareLsn(message.lsn, this.snapshotLsn!) !== 0) {
          return this.broken(
            new SyncProtocolError(
              'invalid_lsn',
              `snapshot_end at ${message.lsn} ends the snapshot begun at ${this.snapshotLsn}; the snapshot is discarded and the client reconnects`,
              { ref: 'snapshot_end', lsn: message.lsn, snapshotLsn: this.snapshotLsn },
            ),
            true,
          );
        }
        this.phase = 'streaming';
        this.after = message.lsn;
        return null;
      case 'changes': {
        if (this.phase !== 'streaming') return refuse(this.phase === 'awaiting_welcome' ? 'before the welcome' : 'before the snapshot ended');
        const first = message.changes[0]?.lsn ?? message.lsn;
        const open = this.openTransaction;
        if (open) {
          // The next part of the open transaction, and nothing else, must follow a partial message.
          if (message.lsn !== open.lsn || first !== open.lsn || (message.offset ?? 0) !== open.next) {
            return this.broken(
              new SyncProtocolError(
                'invalid_lsn',
                `changes at ${message.lsn} (from change ${message.offset ?? 0}) do not continue the transaction at ${open.lsn} from change ${open.next}; the client reconnects`,
                { ref: 'changes', lsn: message.lsn, after: this.after },
              ),
              false,
            );
          }
        } else if ((message.offset ?? 0) !== 0 || compareLsn(first, this.after) <= 0 || compareLsn(message.lsn, this.after) <= 0) {
          return this.broken(
            new SyncProtocolError(
              'invalid_lsn',
              `changes at ${first === message.lsn ? first : `${first}..${message.lsn}`} do not come after ${this.after}, where this session's stream stood; the client reconnects`,
              { ref: 'changes', lsn: message.lsn, after: this.after },
            ),
            false,
          );
        }
        if (message.partial) {
          this.openTransaction = { lsn: message.lsn, next: (message.offset ?? 0) + message.changes.length };
          return null;
        }
        this.openTransaction = undefined;
        this.after = message.lsn;
        return null;
      }
      case 'push_result': {
        if (this.phase === 'awaiting_welcome') return refuse('before the welcome');
        const answers = new Map<string, number>();
        for (const { id } of message.results) answers.set(id, (answers.get(id) ?? 0) + 1);
        for (const [id, count] of answers) {
          if (count > (this.unanswered.get(id) ?? 0))
            return refuse(`for change ${JSON.stringify(id.slice(0, 64))}, which was not pushed on this connection (or not that often)`);
        }
        for (const [id, count] of answers) {
          const left = this.unanswered.get(id)! - count;
          if (left > 0) this.unanswered.set(id, left);
          else this.unanswered.delete(id);
        }
        return null;
      }
      case 'ping':
      case 'pong':
      case 'error':
        return null;
    }
  }

  private broken(error: SyncProtocolError, discardSnapshot: boolean): Refusal {
    this.phase = 'broken';
    return { error, endsSession: true, discardSnapshot };
  }
}

function refusal(message: ServerMessage, why: string): SyncProtocolError {
  return new SyncProtocolError('invalid_message', `${message.type} ${why}; dropped`, { ref: message.type });
}
