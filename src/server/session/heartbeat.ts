/**
 * A session's heartbeat: pings the client every `intervalMs`, and gives up on it when nothing at
 * all came from it for `timeoutMs` (a dead network shows no close, only silence).
 */
export class Heartbeat {
  private lastSeen = performance.now();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(intervalMs: number, timeoutMs: number, on: { ping(): void; timeout(): void }) {
    this.timer = setInterval(() => {
      if (performance.now() - this.lastSeen > timeoutMs) on.timeout();
      else on.ping();
    }, intervalMs);
    this.timer.unref?.();
  }

  /** Something arrived from the client. */
  seen(): void {
    this.lastSeen = performance.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
