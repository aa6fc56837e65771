/**
 * A load process of bench/fanout (forked by it, IPC on): `sessions` light protocol clients, raw `ws`
 * sockets speaking the sync protocol with no database behind them. argv[2] is JSON:
 * { url, sessions, lsn, schemaHash, index, expected }.
 *
 * Each session sends hello (the server's current LSN, so it starts live), answers snapshot chunks
 * with snapshot_ack and pings with pong, and acks every `changes` frame at once with its LSN (what
 * a real client does after its apply). On each `changes` frame it takes a wall-clock stamp
 * (performance.timeOrigin + performance.now()) before parsing and records, per change, that stamp
 * minus the server's write stamp carried in the row (`x`); it also checks that the rows (`n` =
 * 0, 1, 2, ...) arrive in order with none missing or repeated. Rows with a negative `n` are the
 * bench's warm-up (--warm-up): acked with their frame, neither measured nor counted.
 *
 * IPC: reports { type: 'ready', sessions } once every session is welcomed; { type: 'report' } is
 * answered with { type: 'report', latencies (Float64Array), counts, complete, gaps, errors, cpuMs };
 * { type: 'close' } closes every socket and exits.
 */
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../src/protocol/index.js';
import { wallNow } from './wall-clock.js';

interface Config {
  url: string;
  sessions: number;
  lsn: string;
  schemaHash: string;
  index: number;
  /** Changes every session should receive. */
  expected: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;

const latencies = new Float64Array(config.sessions * config.expected);
let recorded = 0;
const counts = new Uint32Array(config.sessions);
const nextN = new Int32Array(config.sessions);
let gaps = 0;
const errors: string[] = [];
const sockets: WebSocket[] = [];
let welcomed = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(config.url, { perMessageDeflate: false });
    sockets[i] = ws;
    let isWelcomed = false;
    ws.on('open', () =>
      ws.send(
        JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: `fanout-${config.index}-${i}`, lsn: config.lsn, schemaHash: config.schemaHash }),
      ),
    );
    ws.on('message', (data) => {
      const at = wallNow();
      const message = JSON.parse(data.toString()) as {
        type: string;
        lsn?: string;
        seq?: number;
        code?: string;
        message?: string;
        changes?: Array<{ row?: { x: number; n: number } }>;
      };
      switch (message.type) {
        case 'changes': {
          for (const change of message.changes!) {
            const row = change.row!;
            if (row.n < 0) continue;
            if (recorded < latencies.length) latencies[recorded++] = at - row.x;
            if (row.n !== nextN[i]) gaps++;
            nextN[i] = row.n + 1;
            counts[i]++;
          }
          ws.send(JSON.stringify({ type: 'ack', lsn: message.lsn }));
          return;
        }
        case 'welcome':
          if (!isWelcomed) {
            isWelcomed = true;
            welcomed++;
            resolve();
          }
          return;
        case 'snapshot_chunk':
          ws.send(JSON.stringify({ type: 'snapshot_ack', seq: message.seq }));
          return;
        case 'ping':
          ws.send(JSON.stringify({ type: 'pong' }));
          return;
        case 'error':
          if (errors.length < 10) errors.push(`${message.code}: ${message.message}`);
          return;
      }
    });
    ws.on('error', (error) => {
      if (errors.length < 10) errors.push(String(error));
      if (!isWelcomed) reject(error);
    });
    ws.on('close', (code) => {
      if (!closing && errors.length < 10) errors.push(`session ${i} closed (${code})`);
    });
  });
}

let closing = false;

async function main(): Promise<void> {
  // Waves of 100 connections: a listen backlog overflow would only add SYN retransmits.
  for (let from = 0; from < config.sessions; from += 100) {
    const wave: Array<Promise<void>> = [];
    for (let i = from; i < Math.min(from + 100, config.sessions); i++) wave.push(open(i));
    await Promise.all(wave);
  }
  process.send!({ type: 'ready', sessions: welcomed });
}

process.on('message', (message: { type?: string }) => {
  if (message?.type === 'report') {
    let complete = 0;
    for (let i = 0; i < config.sessions; i++) if (counts[i] === config.expected) complete++;
    const cpu = process.cpuUsage();
    process.send!({
      type: 'report',
      latencies: latencies.slice(0, recorded),
      counts: Array.from(counts),
      complete,
      gaps,
      errors,
      cpuMs: (cpu.user + cpu.system) / 1000,
    });
  } else if (message?.type === 'close') {
    closing = true;
    for (const ws of sockets) ws?.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));

main().catch((error) => {
  console.error('[fanout load]', error);
  process.exit(1);
});
