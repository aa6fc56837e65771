/**
 * A long-running server is warm: before a timed client run, one bare-socket snapshot (hello, ack
 * every chunk, apply nothing) runs the server's snapshot path once, untimed.
 */
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../src/protocol/index.js';
import { benchSchema } from './fixtures.js';

export function warmUp(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () =>
      ws.send(
        JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: `bench-warmup-${Math.random()}`, lsn: '0/0', schemaHash: benchSchema.hash }),
      ),
    );
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; seq?: number };
      if (message.type === 'snapshot_chunk') ws.send(JSON.stringify({ type: 'snapshot_ack', seq: message.seq }));
      else if (message.type === 'snapshot_end') {
        ws.close();
        resolve();
      } else if (message.type === 'error') reject(new Error(JSON.stringify(message)));
    });
    ws.on('error', reject);
  });
}
