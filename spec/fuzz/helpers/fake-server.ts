import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { PROTOCOL_VERSION, type ServerMessage } from '../../../src/protocol/index.js';
import { DEFAULT_LIMITS } from '../../../src/server/limits.js';

/**
 * A fake sync server that a spec drives frame by frame (after FakeServer in
 * spec/e2e/fake-server.spec.ts): it records what the client sends on each connection and sends
 * exactly what the spec says, so the client's handling of bad input can be seen.
 */
export class FakeConnection {
  readonly received: any[] = [];
  closed = false;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.received.push(JSON.parse(data.toString()));
      } catch {
        this.received.push({ unparsable: data.toString().slice(0, 200) });
      }
    });
    ws.on('close', () => (this.closed = true));
    ws.on('error', () => undefined);
  }

  get hello(): any {
    return this.received.find((m) => m.type === 'hello');
  }

  send(message: ServerMessage | string | Buffer, binary = false): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message), { binary });
  }

  welcome(overrides: Partial<Extract<ServerMessage, { type: 'welcome' }>> = {}): void {
    this.send(welcomeMessage(overrides));
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export function welcomeMessage(overrides: Partial<Extract<ServerMessage, { type: 'welcome' }>> = {}): Extract<ServerMessage, { type: 'welcome' }> {
  const { maxMessageBytes, maxChangesPerPush, snapshotWindow, changesWindow, heartbeatIntervalMs, heartbeatTimeoutMs } = DEFAULT_LIMITS;
  return {
    type: 'welcome', protocol: PROTOCOL_VERSION, sessionId: 's1', serverLsn: '0/0', mode: 'live', clientKnown: true,
    limits: { maxMessageBytes, maxChangesPerPush, snapshotWindow, changesWindow, heartbeatIntervalMs, heartbeatTimeoutMs },
    ...overrides,
  };
}

export class FakeServer {
  readonly connections: FakeConnection[] = [];
  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => this.connections.push(new FakeConnection(ws)));
  }

  static async start(): Promise<FakeServer> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    return new FakeServer(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/api/sync`;
  }

  /** The latest connection, once it is open and its hello has arrived. */
  async nextHello(after: number, timeoutMs = 5000): Promise<FakeConnection> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const connection = this.connections.slice(after).find((c) => !c.closed && c.hello);
      if (connection) return connection;
      if (Date.now() > deadline) throw new Error(`no hello on a new connection within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
