import { SyncProtocolError, type ServerMessage } from '../protocol/index.js';

type Phase = 'awaiting_welcome' | 'snapshot_expected' | 'snapshot_open' | 'streaming';

/**
 * The order of one session, from the client's side: welcome first and once; a snapshot only when
 * the welcome announced one (initial or reset), its chunks only between its begin and end; changes
 * only outside a snapshot. A message out of place is refused (dropped, with an error) before it
 * can touch the data: a stray snapshot_begin would empty the tables, a stray snapshot_end or
 * welcome would move the checkpoint past changes never applied. Pure: one instance per socket.
 */
export class SessionGuard {
  private phase: Phase = 'awaiting_welcome';

  /** Null when the message may go on; otherwise the error to report. */
  check(message: ServerMessage): SyncProtocolError | null {
    const refuse = (why: string) => new SyncProtocolError('invalid_message', `${message.type} ${why}; dropped`, { ref: message.type });
    switch (message.type) {
      case 'welcome':
        if (this.phase !== 'awaiting_welcome') return refuse('after the session was already welcomed');
        this.phase = message.mode === 'initial' || message.mode === 'reset' ? 'snapshot_expected' : 'streaming';
        return null;
      case 'snapshot_begin':
        if (this.phase !== 'snapshot_expected') return refuse('that the welcome did not announce');
        this.phase = 'snapshot_open';
        return null;
      case 'snapshot_chunk':
        return this.phase === 'snapshot_open' ? null : refuse('outside a snapshot');
      case 'snapshot_end':
        if (this.phase !== 'snapshot_open') return refuse('outside a snapshot');
        this.phase = 'streaming';
        return null;
      case 'changes':
        return this.phase === 'streaming' ? null : refuse(this.phase === 'awaiting_welcome' ? 'before the welcome' : 'before the snapshot ended');
      case 'push_result':
        return this.phase === 'awaiting_welcome' ? refuse('before the welcome') : null;
      case 'ping':
      case 'pong':
      case 'error':
        return null;
    }
  }
}
