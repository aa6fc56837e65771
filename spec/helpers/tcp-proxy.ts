import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between real clients and a real server, for network faults: `cut()`
 * drops every connection mid-stream, `down()` also refuses new ones until `up()`, and `hold()`
 * stops forwarding server-to-client bytes (a one-way partition) until `release()` or a cut.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private isDown = false;
  private holding = false;
  private held: Array<() => void> = [];
  connections = 0;

  private constructor(private readonly server: Server, readonly port: number, private targetPort: number) {}

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
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on('data', (data) => upstream.write(data));
    upstream.on('data', (data) => {
      if (this.holding) this.held.push(() => client.write(data));
      else client.write(data);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  cut(): void {
    this.held = [];
    this.holding = false;
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
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
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
