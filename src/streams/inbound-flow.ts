/** What a socket offers to hold back what it reads (the `ws` package does; browsers' sockets don't). */
export interface ReadControl {
  pause(): void;
  resume(): void;
}

/**
 * Flow control on the client's side of one socket: counts the server messages waiting to be
 * applied and stops reading the socket while more than `highWater` wait, until they are down to
 * `lowWater`. The server's window bounds what an honest server sends unacknowledged; this bounds
 * what any server can make the client hold, and, because a paused socket is not read, it keeps a
 * flood from being decoded in one long run that starves the host's timers (Node's `ws` emits
 * every frame of a read synchronously). Where the socket cannot pause (a browser delivers each
 * frame as a task of its own) it only counts.
 */
export class InboundFlow {
  private waiting = 0;
  private paused = false;
  private control: ReadControl | undefined;

  constructor(
    private readonly highWater = 256,
    private readonly lowWater = 64,
  ) {}

  /** The socket opened: this is how it can be held back. */
  attach(control: ReadControl | undefined): void {
    this.control = control;
  }

  /** A message went into the apply queue. */
  queued(): void {
    this.waiting += 1;
    if (!this.paused && this.waiting > this.highWater && this.control) {
      this.paused = true;
      this.control.pause();
    }
  }

  /** A message left the apply queue (applied, or dropped with the session). */
  done(): void {
    this.waiting -= 1;
    if (this.paused && this.waiting <= this.lowWater) {
      this.paused = false;
      this.control?.resume();
    }
  }
}

/** The pause/resume of a WebSocket object, where it has them (the `ws` package). */
export function readControlOf(socket: unknown): ReadControl | undefined {
  const candidate = socket as { pause?: unknown; resume?: unknown } | null;
  if (typeof candidate?.pause !== 'function' || typeof candidate.resume !== 'function') return undefined;
  return { pause: () => (candidate.pause as () => void).call(socket), resume: () => (candidate.resume as () => void).call(socket) };
}
