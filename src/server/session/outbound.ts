import type { ServerMessage } from '../../protocol/index.js';

/** What a session needs from the socket: the server adapts a `ws` WebSocket to it. */
export interface SessionTransport {
  /**
   * Queues one frame and returns its size in bytes (0 if the socket is no longer open, and then
   * `written` never runs). `written` runs once the frame's bytes have left the process (handed
   * to the OS), or the socket failed: until then they are memory this session holds.
   */
  send(message: ServerMessage, written: () => void): number;
  close(code: number, reason: string): void;
  /** Bytes the socket itself still holds unsent (`ws` bufferedAmount): a check on the session's own count. */
  readonly bufferedAmount: number;
  /** Stops reading inbound frames (TCP backpressure on the client) until `resume()`. */
  pause(): void;
  resume(): void;
}

/** Data (snapshot chunks, changes) waits for room; replies answer the client and cannot wait. */
export type SendKind = 'data' | 'reply';

/** How the pumps send: through their session, which stops sending once it is closed. */
export interface SessionOutput {
  /** Sends `message`; returns its size in bytes (0 when the session is closed). */
  send(message: ServerMessage, kind: SendKind): number;
  /** Room for one more data message: the socket holds less than `maxBufferedBytes` unsent. */
  readonly hasRoom: boolean;
  readonly isClosed: boolean;
}

/**
 * A session's frames on their way out, counted until the socket has written them: what a slow
 * client costs the server. Data waits for room (the pumps send only while `hasRoom`), and
 * `onRoom` runs when the count drains back under `maxBufferedBytes`. Replies cannot wait: a client
 * whose unread replies exceed `maxBufferedBytes` is not reading what it asks for, and `onOverflow`
 * closes it rather than let it grow the server's memory.
 */
export class OutboundBuffer {
  private readonly unwritten = { data: 0, reply: 0 };

  constructor(
    private readonly transport: SessionTransport,
    private readonly maxBufferedBytes: number,
    private readonly events: { onRoom(): void; onOverflow(): void },
  ) {}

  /** Bytes sent to the socket and not yet handed to the OS: data and replies. */
  get bytes(): number {
    return this.unwritten.data + this.unwritten.reply;
  }

  /** The part of `bytes` that is replies. */
  get replyBytes(): number {
    return this.unwritten.reply;
  }

  get hasRoom(): boolean {
    return this.bytes < this.maxBufferedBytes;
  }

  send(message: ServerMessage, kind: SendKind): number {
    const bytes = this.transport.send(message, () => {
      const before = this.bytes;
      this.unwritten[kind] -= bytes;
      if (before >= this.maxBufferedBytes && this.hasRoom) this.events.onRoom();
    });
    this.unwritten[kind] += bytes;
    if (kind === 'reply' && this.unwritten.reply > this.maxBufferedBytes) this.events.onOverflow();
    return bytes;
  }
}
