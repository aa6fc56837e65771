/**
 * A load process of bench/fanout-rules (the bench's own bundle, forked with `--role=load`; IPC on):
 * `sessions` light protocol clients, raw `ws` sockets with no database, users u<offset> ..
 * u<offset + sessions - 1>. argv: JSON { url, sessions, offset, schemaHash, pingMs }.
 *
 * Each session does what a client must, and no more:
 * - hello with its own token (HS256, `sub` = its user) at LSN 0/0 (a first sync: `initial`);
 * - snapshot: snapshot_ack for every chunk; the session is ready at snapshot_end (or at a
 *   welcome in `live`/`catchup` mode, which needs no snapshot);
 * - acks every `changes` message at once with its LSN (what a client does after applying it),
 *   the empty ones too (under rules the server sends an empty `changes` to move the client's
 *   checkpoint over commits it could not see, when the client pings), except the parts of a
 *   transaction before its last (`partial`: the client acks nothing until the last);
 * - answers the server's pings with pong; with `pingMs` > 0 it also pings every `pingMs` (as the
 *   client's heartbeat does, default 15 s there), each session at a random phase of the period.
 * On each `changes` frame it takes a wall-clock stamp before parsing and records, per change, that
 * stamp minus the row's write stamp (`x`); it checks that a session's rows arrive in order (`n`
 * rising) and, where the bench says so, that every `items` row it gets is its own (`owner`).
 *
 * IPC: { type: 'ready', sessions } once every session is ready; { type: 'phase', checkOwner }
 * starts a new tally (answered by { type: 'phase_started' }); { type: 'progress' } answers { type: 'progress', received, empty, pongs };
 * { type: 'report' } answers { type: 'report', latencies, counts, disorder, leaks, empty, pongs,
 * errors, cpuMs }; { type: 'ping_round', spreadMs } makes every session ping once, spread over
 * `spreadMs`, answered by { type: 'ping_round_sent' }; { type: 'close' } closes every socket and exits.
 */
import WebSocket from 'ws';
import { PROTOCOL_VERSION, ZERO_LSN } from '../src/protocol/index.js';
import { signToken } from '../src/server/auth/index.js';
import { RULES_BENCH_SECRET, userOf } from './fanout-rules-fixtures.js';
import { wallNow } from './wall-clock.js';

interface Config {
  url: string;
  sessions: number;
  /** Global index of the first session (its user is u<offset>). */
  offset: number;
  schemaHash: string;
  pingMs: number;
}

interface Tally {
  latencies: number[];
  counts: Uint32Array;
  lastN: Int32Array;
  disorder: number;
  leaks: number;
  empty: number;
  pongs: number;
  checkOwner: boolean;
}

const newTally = (sessions: number, checkOwner: boolean): Tally => ({
  latencies: [],
  counts: new Uint32Array(sessions),
  lastN: new Int32Array(sessions).fill(-1),
  disorder: 0,
  leaks: 0,
  empty: 0,
  pongs: 0,
  checkOwner,
});

interface ServerFrame {
  type: string;
  mode?: string;
  lsn?: string;
  seq?: number;
  partial?: true;
  code?: string;
  message?: string;
  changes?: Array<{ table: string; row?: { x: number; n: number; owner?: string } }>;
}

export async function runFanoutRulesLoad(configJson: string): Promise<void> {
  const config = JSON.parse(configJson) as Config;
  let tally = newTally(config.sessions, false);
  const errors: string[] = [];
  const sockets: WebSocket[] = [];
  const timers: Array<ReturnType<typeof setInterval>> = [];
  let closing = false;
  let pingSeq = 0;
  const note = (error: string) => {
    if (errors.length < 10) errors.push(error);
  };

  const open = (i: number, token: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const user = userOf(config.offset + i);
      const ws = new WebSocket(config.url, { perMessageDeflate: false });
      sockets[i] = ws;
      let ready = false;
      const becomeReady = () => {
        if (ready) return;
        ready = true;
        resolve();
      };
      ws.on('open', () =>
        ws.send(
          JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: `fanout-rules-${user}`, lsn: ZERO_LSN, schemaHash: config.schemaHash, token }),
        ),
      );
      ws.on('message', (data) => {
        const at = wallNow();
        const message = JSON.parse(data.toString()) as ServerFrame;
        switch (message.type) {
          case 'changes': {
            const t = tally;
            const changes = message.changes!;
            if (changes.length === 0) t.empty++;
            for (const change of changes) {
              const row = change.row!;
              t.latencies.push(at - row.x);
              if (row.n <= t.lastN[i]) t.disorder++;
              t.lastN[i] = row.n;
              t.counts[i]++;
              if (t.checkOwner && change.table === 'items' && row.owner !== user) t.leaks++;
            }
            if (!message.partial) ws.send(JSON.stringify({ type: 'ack', lsn: message.lsn }));
            return;
          }
          case 'welcome':
            if (message.mode === 'live' || message.mode === 'catchup') becomeReady();
            return;
          case 'snapshot_chunk':
            ws.send(JSON.stringify({ type: 'snapshot_ack', seq: message.seq }));
            return;
          case 'snapshot_end':
            becomeReady();
            return;
          case 'ping':
            ws.send(JSON.stringify({ type: 'pong' }));
            return;
          case 'pong':
            tally.pongs++;
            return;
          case 'error':
            note(`${user}: ${message.code}: ${message.message}`);
            return;
        }
      });
      ws.on('error', (error) => {
        note(`${user}: ${String(error)}`);
        if (!ready) reject(error);
      });
      ws.on('close', (code) => {
        if (!closing) note(`${user}: closed (${code})`);
        if (!ready) reject(new Error(`${user}: closed (${code}) before it was ready`));
      });
    });

  const tokens = await Promise.all(
    Array.from({ length: config.sessions }, (_, i) =>
      signToken({ secret: RULES_BENCH_SECRET, claims: { sub: userOf(config.offset + i) }, expiresInSeconds: 3600 }),
    ),
  );
  const ping = (i: number) => {
    const ws = sockets[i];
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ping', id: ++pingSeq }));
  };

  process.on('message', (message: { type?: string; checkOwner?: boolean; spreadMs?: number }) => {
    switch (message?.type) {
      case 'phase':
        tally = newTally(config.sessions, message.checkOwner ?? false);
        process.send!({ type: 'phase_started' });
        return;
      case 'progress': {
        let received = 0;
        for (const count of tally.counts) received += count;
        process.send!({ type: 'progress', received, empty: tally.empty, pongs: tally.pongs });
        return;
      }
      case 'report': {
        const cpu = process.cpuUsage();
        process.send!({
          type: 'report',
          latencies: Float64Array.from(tally.latencies),
          counts: Array.from(tally.counts),
          disorder: tally.disorder,
          leaks: tally.leaks,
          empty: tally.empty,
          pongs: tally.pongs,
          errors,
          cpuMs: (cpu.user + cpu.system) / 1000,
        });
        return;
      }
      case 'ping_round': {
        const spread = message.spreadMs ?? 1000;
        for (let i = 0; i < config.sessions; i++) setTimeout(() => ping(i), (i * spread) / config.sessions);
        setTimeout(() => process.send!({ type: 'ping_round_sent' }), spread + 1);
        return;
      }
      case 'close':
        closing = true;
        for (const timer of timers) clearInterval(timer);
        for (const ws of sockets) ws?.terminate();
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));

  // Waves of 100 connections: a listen backlog overflow would only add SYN retransmits.
  for (let from = 0; from < config.sessions; from += 100) {
    const wave: Array<Promise<void>> = [];
    for (let i = from; i < Math.min(from + 100, config.sessions); i++) wave.push(open(i, tokens[i]));
    await Promise.all(wave);
  }
  if (config.pingMs > 0) {
    for (let i = 0; i < config.sessions; i++) {
      setTimeout(() => {
        if (closing) return;
        ping(i);
        timers.push(setInterval(() => ping(i), config.pingMs));
      }, Math.random() * config.pingMs);
    }
  }
  process.send!({ type: 'ready', sessions: config.sessions });
}
