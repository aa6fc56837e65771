import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP load balancer for specs: each connection goes to the next upstream port in turn, skipping
 * one that refuses (a killed process), as a real balancer with health checks would after its
 * first failure. No stickiness: a client that reconnects may land anywhere.
 */
export class TcpBalancer {
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly upstreams: () => readonly number[],
  ) {}

  static async start(upstreams: () => readonly number[]): Promise<TcpBalancer> {
    let balancer!: TcpBalancer;
    const server = createServer((client) => balancer.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    balancer = new TcpBalancer(server, (server.address() as AddressInfo).port, upstreams);
    return balancer;
  }

  /** The sync URL through the balancer. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/api/sync`;
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const ports = this.upstreams();
    const tryPort = (tries: number) => {
      if (tries >= ports.length || client.destroyed) {
        client.destroy();
        return;
      }
      const port = ports[this.next++ % ports.length];
      const upstream = connect(port, '127.0.0.1');
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        this.sockets.add(upstream);
        upstream.on('close', () => {
          this.sockets.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        upstream.on('error', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        if (!connected) tryPort(tries + 1);
      });
    };
    tryPort(0);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
