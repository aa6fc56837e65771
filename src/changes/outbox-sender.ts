import { concatMap, from, interval, tap, type SchedulerLike, type Subscription } from 'rxjs';
import type { ClientChange } from '../protocol/index.js';
import type { ConnectionStatus } from '../streams/connection-state.js';
import type { EventBus } from '../streams/events.js';
import type { SyncedData } from './synced-data.js';

/** The connection as the sender sees it: where pushes go now, if anywhere. */
export interface PushTarget {
  /** Sends one push on the welcomed connection. */
  push(changes: ClientChange[]): void;
  /** The most changes one push may carry (welcome.limits). */
  readonly maxChangesPerPush: number;
}

export interface OutboxSenderOptions {
  batchSize: number;
  ackTimeoutMs: number;
  stallAfterMs: number;
}

/**
 * Sends the outbox: on request (a local write, a welcome, an answer) and on its own timer (every
 * half ackTimeoutMs, so that changes whose answer is overdue go again even when nothing else
 * happens) it takes batches in local order and pushes them on the current connection until
 * nothing is due. Requests that arrive while it is sending make it go round once more, so none is
 * lost. It also watches for a stalled outbox: entries present and no answer for `stallAfterMs`
 * gives one `outbox_stalled` event per stall.
 *
 * And it keeps the evidence the outbox gives up on: when the server had last handled everything
 * sent before (`answeredUpTo`). The server handles a connection's messages in order, so a pong
 * to a ping sent at T proves every push sent before T was handled; only then does an unanswered
 * change count as a failed attempt. Hearing from the server is not enough: a one-way partition
 * lets its messages through while ours are held.
 */
export class OutboxSender {
  private sending = false;
  private again = false;
  private lastProgress: number;
  private stallReported = false;
  private answeredUpTo = 0;
  private timer: Subscription | undefined;

  constructor(
    private readonly data: SyncedData,
    private readonly bus: EventBus,
    private readonly target: () => PushTarget | undefined,
    private readonly status: () => ConnectionStatus,
    private readonly options: OutboxSenderOptions,
    private readonly scheduler: SchedulerLike,
    private readonly onError: (error: unknown) => void,
  ) {
    this.lastProgress = scheduler.now();
  }

  /** Starts the resend timer and the stall watchdog. */
  start(): void {
    this.timer ??= interval(Math.max(50, Math.floor(this.options.ackTimeoutMs / 2)), this.scheduler)
      .pipe(
        tap(() => this.request()),
        concatMap(() => from(this.checkStall())),
      )
      .subscribe({ error: (error) => this.onError(error) });
  }

  stop(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  request(): void {
    if (!this.timer) return; // stopped (or not started): nothing sends
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

  /** A connection was welcomed: answers to pushes of an earlier one will never come, so those go again. */
  async connected(): Promise<void> {
    await this.data.outbox.requeueSent();
    this.request();
  }

  /** The server answered a push: the outbox is moving. */
  answered(): void {
    this.lastProgress = this.scheduler.now();
    this.stallReported = false;
    this.request();
  }

  /** The server answered a ping sent at `sentAt` (on any connection): it had handled all we sent before. */
  pingAnswered(sentAt: number): void {
    this.answeredUpTo = Math.max(this.answeredUpTo, sentAt);
  }

  private async sendDue(): Promise<void> {
    for (;;) {
      const target = this.target();
      if (!target) return;
      const limit = Math.min(this.options.batchSize, target.maxChangesPerPush);
      const { changes: batch, failed } = await this.data.outbox.takeBatch(limit, this.answeredUpTo);
      for (const entry of failed) this.bus.emit('client_change_failed', entry);
      if (failed.length) this.data.notify(['local_changes']);
      if (batch.length === 0) return;
      // The connection may have gone while the batch was read: the entries go again on the next one.
      const now = this.target();
      if (!now) return;
      now.push(batch);
      this.bus.emit('client_change_sent', { ids: batch.map((c) => c.id), count: batch.length });
      this.data.notify(['local_changes']);
    }
  }

  private async checkStall(): Promise<void> {
    const open = await this.data.outbox.openCount();
    const now = this.scheduler.now();
    if (open === 0) {
      this.lastProgress = now;
      this.stallReported = false;
    } else if (!this.stallReported && now - this.lastProgress >= this.options.stallAfterMs) {
      this.stallReported = true;
      this.bus.emit('outbox_stalled', { open, sinceMs: now - this.lastProgress, status: this.status() });
    }
  }
}
