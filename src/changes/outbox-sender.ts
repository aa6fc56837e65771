import type { ClientMessage } from '../protocol/index.js';
import type { EventBus } from '../streams/events.js';
import type { ChangesInterface } from './changes-interface.js';

/** What the sender needs to know about the connection, read at the moment of sending. */
export interface OutboxLink {
  /** The current session's sender, or undefined while there is no welcomed session. */
  send(): ((message: ClientMessage) => void) | undefined;
  /** The most changes one push may carry (welcome.limits). */
  maxPerPush(): number;
  /** When the server last said anything (an unanswered change only fails against a talking server). */
  /** When the server had last handled everything this client sent before (see SyncClient). */
  answeredUpTo(): number;
  status(): string;
}

/**
 * Sends the outbox: on request (a local write, a welcome, an answer, the resend timer) it takes
 * batches in local order and pushes them on the current session until nothing is due. Requests
 * that arrive while it is sending make it go round once more, so none is lost. It also watches for
 * a stalled outbox: entries present and no answer for `stallAfterMs` gives one `outbox_stalled`
 * event per stall.
 */
export class OutboxSender {
  private sending = false;
  private again = false;
  private lastProgress: number;
  private stallReported = false;

  constructor(
    private readonly changes: ChangesInterface,
    private readonly bus: EventBus,
    private readonly link: OutboxLink,
    private readonly options: { batchSize: number; stallAfterMs: number },
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.lastProgress = now();
  }

  request(): void {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    void (async () => {
      try {
        do {
          this.again = false;
          await this.sendDue();
        } while (this.again);
      } catch (error) {
        this.onError(error);
      } finally {
        this.sending = false;
      }
    })();
  }

  /** The server answered a push: the outbox is moving. */
  answered(): void {
    this.lastProgress = this.now();
    this.stallReported = false;
    this.request();
  }

  private async sendDue(): Promise<void> {
    for (;;) {
      const send = this.link.send();
      if (!send) return;
      const limit = Math.min(this.options.batchSize, this.link.maxPerPush());
      const { changes: batch, failed } = await this.changes.outbox.takeBatch(limit, this.link.answeredUpTo());
      for (const entry of failed) this.bus.emit('client_change_failed', entry);
      if (failed.length) this.changes.notify(['local_changes']);
      if (batch.length === 0) return;
      send({ type: 'push', changes: batch });
      this.bus.emit('client_change_sent', { ids: batch.map((c) => c.id), count: batch.length });
      this.changes.notify(['local_changes']);
    }
  }

  async checkStall(): Promise<void> {
    const open = await this.changes.outbox.openCount();
    const now = this.now();
    if (open === 0) {
      this.lastProgress = now;
      this.stallReported = false;
    } else if (!this.stallReported && now - this.lastProgress >= this.options.stallAfterMs) {
      this.stallReported = true;
      this.bus.emit('outbox_stalled', { open, sinceMs: now - this.lastProgress, status: this.link.status() });
    }
  }
}
