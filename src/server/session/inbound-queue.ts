/**
 * A session's inbound messages, handled one at a time in arrival order. While more than `limit`
 * wait, the socket is not read, so a client that sends faster than the store applies is slowed by
 * TCP instead of growing this queue (each entry may be a push of up to `maxMessageBytes`).
 * Reading resumes once half of them are done.
 */
export class InboundQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;
  private paused = false;

  constructor(
    private readonly limit: number,
    private readonly socket: { pause(): void; resume(): void },
  ) {}

  /** Messages accepted and not yet handled. */
  get size(): number {
    return this.waiting;
  }

  /** Runs `task` after every task added before it; `task` must not throw (it handles its errors). */
  add(task: () => Promise<void>, isOpen: () => boolean): void {
    this.waiting += 1;
    if (this.waiting >= this.limit && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.tail = this.tail.then(task).finally(() => {
      this.waiting -= 1;
      if (this.paused && this.waiting <= this.limit / 2 && isOpen()) this.resume();
    });
  }

  /** Resolves once every task added so far, and any added meanwhile, is done. */
  async idle(): Promise<void> {
    while (this.waiting > 0) await this.tail.catch(() => undefined);
  }

  /** Reads again now: the closing handshake needs the client's close frame read. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }
}
