import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { PROTOCOL_VERSION, type ServerMessage, type Welcome } from '../../src/protocol/index.js';
import { DEFAULT_LIMITS } from '../../src/server/limits.js';
import { until } from './until.js';

/**
 * A fake sync server that a spec drives frame by frame: a real `ws` server on 127.0.0.1 (port 0)
 * that records what the client sends on each connection and sends exactly what the spec says, so
 * the client's handling of bad, unusual or out-of-order input can be seen. It answers nothing by
 * itself.
 */
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

  /** The first open connection after the first `after` ones whose hello has arrived. */
  nextHello(after = 0, timeoutMs = 5000): Promise<FakeConnection> {
    return until(() => this.connections.slice(after).find((c) => !c.closed && c.hello), timeoutMs, 'a hello on a new connection', 2);
  }

  /** Waits for the next connection's hello and welcomes it; returns that connection. */
  async welcomeNext(after = this.connections.length, overrides: Partial<Welcome> = {}): Promise<FakeConnection> {
    const connection = await this.nextHello(after);
    connection.welcome(overrides);
    return connection;
  }

  close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/** One client connection of a FakeServer. */
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

  /** The client's messages of one type, in arrival order. */
  sent(type: string): any[] {
    return this.received.filter((m) => m.type === type);
  }

  /** Waits for the client to send a message of `type` (matching `where`), and returns it. */
  waitFor(type: string, where: (message: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
    return until(() => this.received.find((m) => m.type === type && where(m)), timeoutMs, `the client's ${type}`, 2);
  }

  send(message: ServerMessage | string | Buffer, binary = false): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message), { binary });
  }

  welcome(overrides: Partial<Welcome> = {}): void {
    this.send(welcomeMessage(overrides));
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** A valid welcome (mode live at 0/0, the server's default limits), with `overrides`. */
export function welcomeMessage(overrides: Partial<Welcome> = {}): Welcome {
  const { maxMessageBytes, maxChangesPerPush, snapshotWindow, changesWindow, heartbeatIntervalMs, heartbeatTimeoutMs } = DEFAULT_LIMITS;
  return {
    type: 'welcome',
    protocol: PROTOCOL_VERSION,
    sessionId: 's1',
    serverLsn: '0/0',
    mode: 'live',
    clientKnown: true,
    limits: { maxMessageBytes, maxChangesPerPush, snapshotWindow, changesWindow, heartbeatIntervalMs, heartbeatTimeoutMs },
    ...overrides,
  };
}
