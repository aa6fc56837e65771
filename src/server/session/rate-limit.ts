/**
 * A session's inbound rate limit. A message over the rate is dropped; the client hears
 * `rate_limited` (with when to retry) at most once a second, and one that keeps sending through
 * more than `burst` drops in a row is closed. Every inbound frame counts, pings and pongs included.
 */
export class RateLimit {
  private readonly bucket: TokenBucket;
  private droppedInRow = 0;
  private lastWarningAt = -Infinity;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucket = new TokenBucket(perSecond, burst, now);
  }

  /** What to do with one inbound message: handle it, drop it, drop it and say so, or close. */
  admit(): 'accept' | 'drop' | 'warn' | 'close' {
    if (this.bucket.tryTake()) {
      this.droppedInRow = 0;
      return 'accept';
    }
    this.droppedInRow += 1;
    if (this.droppedInRow > this.burst) return 'close';
    const now = this.now();
    if (now - this.lastWarningAt < 1000) return 'drop';
    this.lastWarningAt = now;
    return 'warn';
  }

  /** The `rate_limited` error's text and retry delay. */
  warning(): { message: string; retryAfterMs: number } {
    return {
      message: `more than ${this.perSecond} messages per second: message dropped`,
      retryAfterMs: Math.max(1, this.bucket.msUntilNextToken()),
    };
  }
}

/**
 * A token bucket: `ratePerSecond` tokens flow in, at most `burst` are kept, each message takes one.
 * Pure apart from the injected clock.
 */
class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes a token if there is one. */
  tryTake(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token. */
  msUntilNextToken(): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}
