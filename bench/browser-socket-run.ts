/**
 * The transport alone, in Chromium: a bare WebSocket on the bench page says hello, parses every
 * frame (as the client does) and acknowledges every chunk at once, applying nothing. What the
 * server and the browser's socket path deliver by themselves: the client's time can be no less.
 * bench/initial-sync.ts's transportRun is the same in Node.
 */
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { benchSchema } from './fixtures.js';

export interface SocketRunResult {
  ms: number;
  rows: number;
  frames: number;
}

export function socketRun(url: string): Promise<SocketRunResult> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let frames = 0;
    const t0 = performance.now();
    const ws = new WebSocket(url);
    ws.onopen = () =>
      ws.send(
        JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: `bench-socket-${Math.random()}`, lsn: '0/0', schemaHash: benchSchema.hash }),
      );
    ws.onmessage = (event: MessageEvent<string>) => {
      const message = JSON.parse(event.data) as { type: string; seq?: number; rows?: unknown[] };
      frames++;
      if (message.type === 'snapshot_chunk') {
        rows += message.rows!.length;
        ws.send(JSON.stringify({ type: 'snapshot_ack', seq: message.seq }));
      } else if (message.type === 'snapshot_end') {
        const ms = performance.now() - t0;
        ws.close();
        resolve({ ms, rows, frames });
      } else if (message.type === 'error') reject(new Error(event.data));
    };
    ws.onerror = () => reject(new Error(`the bench socket to ${url} failed`));
  });
}
