import WebSocket from 'ws';
import { PROTOCOL_VERSION, decodeServerMessage, type ServerMessage, type SyncSchema } from '../../src/protocol/index.js';

type ByType<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

/**
 * A protocol peer for server specs: a real `ws` client whose every inbound frame is decoded with
 * the client-side codecs (so a spec also proves the server only sends what the protocol allows).
 * It answers nothing by itself: the spec drives it message by message.
 */
export class TestPeer {
  readonly messages: ServerMessage[] = [];
  readonly invalidFrames: string[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private cursor = 0;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const decoded = decodeServerMessage(data.toString());
      if (decoded.ok) this.messages.push(decoded.value);
      else this.invalidFrames.push(data.toString().slice(0, 200));
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve(code);
      });
    });
    ws.on('error', () => undefined);
  }

  /** `options`: the `ws` client's, e.g. `{ perMessageDeflate: false }` for a client that does not offer compression. */
  static async connect(url: string, options?: WebSocket.ClientOptions): Promise<TestPeer> {
    const ws = new WebSocket(url, options);
    const peer = new TestPeer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return peer;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  hello(schema: SyncSchema, options: { clientId?: string; lsn?: string; token?: string; schemaHash?: string } = {}): void {
    this.send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      clientId: options.clientId ?? 'client-a',
      lsn: options.lsn ?? '0/0',
      schemaHash: options.schemaHash ?? schema.hash,
      ...(options.token !== undefined && { token: options.token }),
    });
  }

  /** The next message of this type after those already taken (messages of other types are skipped). */
  async next<K extends ServerMessage['type']>(type: K, timeoutMs = 3000): Promise<ByType<K>> {
    const found = await this.waitFor(
      () => {
        for (let i = this.cursor; i < this.messages.length; i++) {
          if (this.messages[i].type === type) {
            this.cursor = i + 1;
            return this.messages[i] as ByType<K>;
          }
        }
        return undefined;
      },
      timeoutMs,
      `a ${type} message`,
      true,
    );
    return found;
  }

  /** Every message of a type received so far. */
  all<K extends ServerMessage['type']>(type: K): Array<ByType<K>> {
    return this.messages.filter((m): m is ByType<K> => m.type === type);
  }

  /** Polls `probe` on every inbound event until it gives a value; `failOnClose` gives up when the socket closes. */
  async waitFor<T>(probe: () => T | undefined, timeoutMs = 3000, what = 'a condition', failOnClose = false): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (failOnClose && this.closeCode !== undefined) {
        throw new Error(`connection closed (${this.closeCode} ${this.closeReason}) while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        // Woken by every message; the short cap re-polls conditions that do not arrive as messages.
        const timer = setTimeout(resolve, Math.min(left, 20));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves after `ms` of quiet: used to show that the server sends nothing more. */
  async settle(ms = 150): Promise<void> {
    let count = -1;
    while (count !== this.messages.length) {
      count = this.messages.length;
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }

  close(): Promise<number> {
    if (this.closeCode === undefined) this.ws.close();
    return this.closed;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  }
}
