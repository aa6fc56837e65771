import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Which way bytes flow through the proxy. */
export type Direction = 'toClient' | 'toServer' | 'both';

export interface DelayOptions {
  /** Latency added to every chunk, in ms. */
  ms: number;
  /** A random extra latency of 0..jitterMs per chunk; order is kept all the same. */
  jitterMs?: number;
  direction?: Direction;
}

export interface CutMidFrameOptions {
  /**
   * Cut in the first server-to-client chunk that contains this text (e.g. `"type":"snapshot_chunk"`),
   * a few bytes past it, so the cut falls inside the frame whose payload holds it. Default: the
   * next chunk of any content, cut in its middle.
   */
  match?: string;
  /** Bytes to forward past the start of the match (default 8); without `match`, half the chunk. */
  keepBytes?: number;
}

/**
 * Chunks waiting out their delay in one direction, in arrival order, with ONE timer for the head:
 * a chunk is sent only after every chunk ahead of it, as TCP would. (One timer per chunk let
 * two chunks due in the same millisecond fire in either order, which swapped whole WebSocket
 * frames: a client then saw a later batch before an earlier one.)
 */
interface DelayQueue {
  chunks: Array<{ due: number; send: () => void }>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  toClient: DelayQueue;
  toServer: DelayQueue;
}

/**
 * A TCP proxy on 127.0.0.1 between real clients and a real server, for network faults: `cut()`
 * drops every connection mid-stream, `down()` also refuses new ones until `up()`, `hold()`
 * stops forwarding server-to-client bytes (a one-way partition) until `release()` or a cut,
 * `delay()` adds latency (with jitter, order kept) and `cutMidFrame()` forwards only part of the
 * next server-to-client chunk (so the client gets half a WebSocket frame) and then drops both sides.
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private isDown = false;
  private holding = false;
  private held: Array<() => void> = [];
  private latency: Required<DelayOptions> = { ms: 0, jitterMs: 0, direction: 'both' };
  private pendingCut: { options: CutMidFrameOptions; done: (forwarded: number) => void } | undefined;
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => proxy.accept(client, proxy.targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as AddressInfo).port, targetPort);
    return proxy;
  }

  /** Points new connections at another port (a restarted server); existing ones are cut. */
  retarget(port: number): void {
    this.targetPort = port;
    this.cut();
  }

  /** The sync URL through the proxy. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/api/sync`;
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.isDown) {
      client.destroy();
      return;
    }
    this.connections += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, toClient: { chunks: [], timer: undefined }, toServer: { chunks: [], timer: undefined } };
    this.pairs.add(pair);
    client.on('data', (data) => this.forward(pair, 'toServer', data));
    upstream.on('data', (data) => this.forward(pair, 'toClient', data));
    const end = () => this.destroy(pair);
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  /** Every chunk goes through here: a pending mid-frame cut, then the delay (order kept), then the hold. */
  private forward(pair: Pair, direction: 'toClient' | 'toServer', data: Buffer): void {
    let send = () => this.deliver(pair, direction, data);
    if (direction === 'toClient' && this.pendingCut) {
      const cut = this.cutPoint(data);
      if (cut !== undefined) send = cut(pair);
    }
    const { ms, jitterMs, direction: delayed } = this.latency;
    const extra = delayed === 'both' || delayed === direction ? ms + Math.random() * jitterMs : 0;
    const queue = pair[direction];
    if (extra <= 0 && queue.chunks.length === 0) return send();
    // Never out before the chunk ahead of it: jitter, or turning the delay off, keeps the order.
    queue.chunks.push({ due: Date.now() + extra, send });
    if (queue.chunks.length === 1) this.drain(queue);
  }

  /** Sends the queue's due chunks in order, then waits for the next one's time. */
  private drain(queue: DelayQueue): void {
    queue.timer = undefined;
    while (queue.chunks.length > 0 && queue.chunks[0].due <= Date.now()) queue.chunks.shift()!.send();
    if (queue.chunks.length > 0) queue.timer = setTimeout(() => this.drain(queue), queue.chunks[0].due - Date.now());
  }

  private deliver(pair: Pair, direction: 'toClient' | 'toServer', data: Buffer): void {
    if (!this.pairs.has(pair)) return;
    if (direction === 'toServer') pair.upstream.write(data);
    else if (this.holding) this.held.push(() => pair.client.write(data));
    else pair.client.write(data);
  }

  /**
   * If this chunk is the one the pending cut waits for: disarms it and returns what to do in the
   * chunk's place (forward part of it, then drop the pair).
   */
  private cutPoint(data: Buffer): ((pair: Pair) => () => void) | undefined {
    const { options, done } = this.pendingCut!;
    let keep: number;
    if (options.match !== undefined) {
      const at = data.indexOf(options.match);
      if (at < 0) return undefined;
      keep = Math.min(data.length - 1, at + (options.keepBytes ?? 8));
    } else {
      keep = options.keepBytes ?? Math.floor(data.length / 2);
    }
    this.pendingCut = undefined;
    return (pair) => {
      // Nothing after this chunk reaches the client: the rest of the frame is lost with the connection.
      pair.upstream.pause();
      return () => {
        if (!this.pairs.has(pair)) return done(0);
        pair.client.write(data.subarray(0, keep), () => {
          this.destroy(pair);
          done(keep);
        });
      };
    };
  }

  private destroy(pair: Pair): void {
    for (const queue of [pair.toClient, pair.toServer]) {
      clearTimeout(queue.timer);
      queue.chunks = [];
    }
    pair.client.destroy();
    pair.upstream.destroy();
    this.pairs.delete(pair);
  }

  /** Adds latency from now on (chunks already queued keep theirs). `delay({ ms: 0 })` turns it off. */
  delay(options: DelayOptions): void {
    this.latency = { jitterMs: 0, direction: 'both', ...options };
  }

  /**
   * Arms a cut: the next server-to-client chunk (or the next one containing `match`) is forwarded
   * only in part, then the client and server sockets are destroyed. Resolves with the number of
   * bytes of that chunk the client got.
   */
  cutMidFrame(options: CutMidFrameOptions = {}): Promise<number> {
    return new Promise((done) => {
      this.pendingCut = { options, done };
    });
  }

  cut(): void {
    this.held = [];
    this.holding = false;
    for (const pair of [...this.pairs]) this.destroy(pair);
  }

  down(): void {
    this.isDown = true;
    this.cut();
  }

  up(): void {
    this.isDown = false;
  }

  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    const held = this.held;
    this.held = [];
    held.forEach((write) => write());
  }

  async close(): Promise<void> {
    this.down();
    this.pendingCut = undefined;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
