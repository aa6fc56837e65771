import fc from 'fast-check';
import {
  CloseCode,
  PROTOCOL_VERSION,
  SyncProtocolError,
  checkClientChange,
  compareLsn,
  decodeClientMessage,
  type ChangeRecord,
  type PushResultEntry,
  type ServerMessage,
} from '../../src/protocol/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { TestPeer } from '../support/test-peer.js';
import { validClientMessage } from './client-messages.js';
import { encode, FUZZ_SEED, garbageFrame, mutate, mutation, preview, type RawFrame } from './json-fuzz.js';
import { until } from '../support/until.js';
import { json, ServerModel } from './server-model.js';
import { testClient } from '../support/test-client.js';

/**
 * Protocol fuzzing, client to server: thousands of garbage frames and mutated valid messages from
 * real `ws` peers to a real server, before and after hello. Each input's expected answer is
 * predicted with the protocol's own decoder and schema checks plus a model of the store (the
 * default conflict policy), and after the run the server must have answered every input as
 * predicted, written exactly what the model wrote, and still serve honest peers and clients.
 */

const CONNECTIONS = Number(process.env.FUZZ_CONNECTIONS ?? 28);
const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_CHANGES_PER_PUSH = 20;
const LIMITS = {
  maxMessageBytes: MAX_MESSAGE_BYTES,
  maxChangesPerPush: MAX_CHANGES_PER_PUSH,
  // Wide enough that the flow-control window never fills: the LSN a session has sent is then
  // always the store's, and an ack's answer can be predicted.
  changesWindow: 1_000_000,
  // The limiter and the invalid-message close would hide the answers; bad-input.spec.ts covers them.
  rateLimitPerSecond: 1_000_000,
  rateLimitBurst: 1_000_000,
  maxInvalidMessages: 1_000_000_000,
};

type Input = RawFrame;
type Expected =
  | { type: 'error'; code: string; ref?: string; /** other codes that are accepted too */ or?: string[] }
  | { type: 'pong'; id?: number }
  | { type: 'push_result'; results: PushResultEntry[] }
  | { type: 'welcome' };

interface Connection {
  helloAccepted: boolean;
  clientId?: string;
  /** Snapshot chunks the session sent (a small snapshot is sent whole before the next message is read). */
  chunksSent: number;
}

const inputArb: fc.Arbitrary<Input> = fc.oneof(
  { weight: 2, arbitrary: garbageFrame(validClientMessage.map(encode)) },
  {
    weight: 7,
    arbitrary: fc
      .tuple(validClientMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([message, mutations]) => ({ kind: `mutated:${message.type}`, text: encode(mutate(message, mutations)) })),
  },
  { weight: 1, arbitrary: validClientMessage.map((message) => ({ kind: `valid:${message.type}`, text: encode(message) })) },
);

describe('server protocol fuzz', () => {
  let server: SyncServer;
  let model: ServerModel;
  const kinds = new Map<string, number>();
  const answers = new Map<string, number>();
  const anomalies: string[] = [];
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  beforeAll(async () => {
    server = await startTestServer({ limits: LIMITS });
    model = new ServerModel(testSchema);
    for (let i = 1; i <= 3; i++) {
      const row = { ...todo(i), id: `t${i}` };
      await server.insert('todos', row);
      model.seed('todos', row);
    }
    await server.insert('counters', { n: 1, label: 'one' });
    model.seed('counters', { n: 1, label: 'one' });
  });
  afterAll(() => server?.close());

  /** What the server must answer to one input, and how the connection's state moves. */
  function predict(input: Input, conn: Connection): { expect: Expected[]; close?: number } {
    const size = 'bytes' in input ? input.bytes.length : Buffer.byteLength(input.text);
    if (size > MAX_MESSAGE_BYTES) return { expect: [], close: CloseCode.messageTooBig }; // a few mutants grow past the limit
    if ('bytes' in input) return { expect: [{ type: 'error', code: 'malformed_frame' }] };
    let decoded: ReturnType<typeof decodeClientMessage>;
    try {
      decoded = decodeClientMessage(input.text);
    } catch (error) {
      anomalies.push(`decodeClientMessage threw ${String(error)} on ${input.kind} ${preview(input.text)}`);
      return { expect: [] };
    }
    if (!decoded.ok) return { expect: [{ type: 'error', code: decoded.error.code, ref: decoded.error.context.ref as string | undefined }] };
    const message = decoded.value;
    const refuse = (code: string): { expect: Expected[] } => ({ expect: [{ type: 'error', code, ref: message.type }] });
    if (message.type === 'ping') return { expect: [{ type: 'pong', id: message.id }] };
    if (message.type === 'pong') return { expect: [] };
    if (!conn.helloAccepted) {
      if (message.type !== 'hello') return refuse('hello_required');
      if (message.protocol !== PROTOCOL_VERSION) return { ...refuse('unsupported_protocol'), close: CloseCode.protocolViolation };
      conn.helloAccepted = true;
      conn.clientId = message.clientId;
      const snapshot = message.schemaHash !== testSchema.hash || message.lsn === '0/0' || compareLsn(message.lsn, model.currentLsn) > 0;
      conn.chunksSent = snapshot ? model.nonEmptyTables() : 0;
      return { expect: [{ type: 'welcome' }] };
    }
    switch (message.type) {
      case 'hello':
        return refuse('duplicate_hello');
      case 'ack':
        return compareLsn(message.lsn, model.currentLsn) > 0 ? refuse('invalid_lsn') : { expect: [] };
      case 'snapshot_ack':
        return message.seq > conn.chunksSent ? refuse('invalid_ack') : { expect: [] };
      case 'push': {
        if (message.changes.length > MAX_CHANGES_PER_PUSH) return refuse('too_many_changes');
        try {
          for (const change of message.changes) checkClientChange(testSchema, change);
        } catch (error) {
          if (error instanceof SyncProtocolError) return refuse(error.code);
          anomalies.push(`checkClientChange threw ${String(error)} on ${input.kind} ${preview(input.text)}`);
          return refuse('internal');
        }
        return { expect: [{ type: 'push_result', results: json(model.push(conn.clientId!, message.changes)) }] };
      }
    }
  }

  /** Compares what a peer received with what was predicted, input kind by input kind. */
  function compare(peer: TestPeer, expected: Expected[], label: string): void {
    const got = (type: ServerMessage['type']) => peer.messages.filter((m) => m.type === type);
    const errors = (got('error') as Array<Extract<ServerMessage, { type: 'error' }>>).map((e) => `${e.code}/${e.ref ?? '-'}`);
    const wantErrors = expected.flatMap((e) => (e.type === 'error' ? [[e.code, ...(e.or ?? [])].map((code) => `${code}/${e.ref ?? '-'}`)] : []));
    const mismatch = matchErrors(errors, wantErrors);
    if (mismatch) anomalies.push(`${label}: errors ${mismatch}`);
    for (const error of got('error') as Array<Extract<ServerMessage, { type: 'error' }>>) {
      if (error.retryable !== (error.code === 'internal') || error.message.length < 5)
        anomalies.push(`${label}: error ${JSON.stringify(error)} has the wrong retryable flag or says nothing`);
    }
    const pongs = got('pong').map((m) => json((m as { id?: number }).id ?? null));
    const wantPongs = expected.filter((e) => e.type === 'pong').map((e) => json(e.id ?? null));
    if (!same(pongs, wantPongs)) anomalies.push(`${label}: pongs ${JSON.stringify(pongs).slice(0, 200)} != ${JSON.stringify(wantPongs).slice(0, 200)}`);
    const results = got('push_result').map((m) => json((m as { results: PushResultEntry[] }).results));
    const wantResults = expected.filter((e) => e.type === 'push_result').map((e) => e.results);
    if (!same(results, wantResults)) {
      const i = results.findIndex((r, n) => !same(r, wantResults[n]));
      const j = results[i]?.findIndex((r, n) => !same(r, wantResults[i]?.[n])) ?? 0;
      anomalies.push(
        `${label}: push_result #${i}, result #${j}: ${JSON.stringify(results[i]?.[j])?.slice(0, 300)} != ${JSON.stringify(wantResults[i]?.[j])?.slice(0, 300)} (${results.length} vs ${wantResults.length} results)`,
      );
    }
    const welcomes = got('welcome').length;
    const wantWelcomes = expected.filter((e) => e.type === 'welcome').length + (label.startsWith('after-hello') ? 1 : 0);
    if (welcomes !== wantWelcomes) anomalies.push(`${label}: ${welcomes} welcomes, expected ${wantWelcomes}`);
    if (peer.invalidFrames.length)
      anomalies.push(`${label}: the server sent frames the protocol does not allow: ${peer.invalidFrames.slice(0, 3).join(' | ')}`);
  }

  it('answers thousands of garbage and mutated messages as the protocol says, writing only valid pushes', async () => {
    const started = Date.now();
    const seedLsn = model.lsn;
    const honest = await TestPeer.connect(server.url);
    honest.hello(testSchema, { clientId: 'honest-peer-f7c1d0a9e3b24c6d8a51', lsn: server.currentLsn() });
    autoAckPeer(honest);
    await honest.next('welcome');

    const bursts = fc.sample(fc.array(inputArb, { minLength: 110, maxLength: 170 }), { seed: FUZZ_SEED, numRuns: CONNECTIONS });
    const finished: Array<{ peer: TestPeer; expected: Expected[]; label: string }> = [];
    for (const [n, burst] of bursts.entries()) {
      const preHello = n % 4 === 0;
      const label = `${preHello ? 'before-hello' : 'after-hello'} connection ${n} (seed ${FUZZ_SEED})`;
      const peer = await TestPeer.connect(server.url);
      const conn: Connection = { helloAccepted: false, chunksSent: 0 };
      if (!preHello) {
        const clientId = `fuzz-connection-${n}`;
        peer.hello(testSchema, { clientId, lsn: server.currentLsn() });
        await peer.next('welcome');
        Object.assign(conn, { helloAccepted: true, clientId, chunksSent: 0 });
      }
      const expected: Expected[] = [];
      let close: number | undefined;
      let oversized: Input | undefined;
      for (const input of burst) {
        count(kinds, input.kind);
        const prediction = predict(input, conn);
        if (prediction.close === CloseCode.messageTooBig) {
          // The close would lose the answers still on their way: it is sent once they arrived.
          oversized = input;
          break;
        }
        expected.push(...prediction.expect);
        if ('bytes' in input) peer.ws.send(Buffer.from(input.bytes), { binary: true });
        else peer.ws.send(input.text);
        if (prediction.close) {
          close = prediction.close;
          break; // the server closes: what would follow is never read
        }
      }
      const want = (type: Expected['type']) => expected.filter((e) => e.type === type).length + (type === 'welcome' && !preHello ? 1 : 0);
      const have = (type: Expected['type']) => peer.messages.filter((m) => m.type === type).length;
      try {
        await peer.waitFor(
          () => (['error', 'pong', 'push_result', 'welcome'] as const).every((type) => have(type) >= want(type)) || undefined,
          5000,
          `the answers to ${label}`,
        );
      } catch (error) {
        anomalies.push(
          `${label}: ${(error as Error).message}; errors ${have('error')}/${want('error')}, pongs ${have('pong')}/${want('pong')}, push_results ${have('push_result')}/${want('push_result')}; frames it could not decode: ${peer.invalidFrames.slice(0, 2).join(' | ')}`,
        );
      }
      if (close !== undefined) {
        const code = await closedWithin(peer, 2000);
        if (code !== close) anomalies.push(`${label}: closed with ${String(code)}, expected ${close}`);
      } else if (oversized || n % 7 === 3) {
        // A frame over the limit (a mutant that grew too large, or one made so): close 1009, no error, nothing read.
        if (!oversized) count(kinds, 'oversize');
        const errorsBefore = have('error');
        const made =
          n % 2
            ? encode({
                type: 'push',
                changes: [{ id: 'big', table: 'todos', op: 'insert', key: 'big', row: { id: 'big', title: 'x'.repeat(MAX_MESSAGE_BYTES) } }],
              })
            : Buffer.alloc(MAX_MESSAGE_BYTES + 1);
        const big = oversized ? ('bytes' in oversized ? Buffer.from(oversized.bytes) : oversized.text) : made;
        peer.ws.send(big, { binary: typeof big !== 'string' });
        const code = await closedWithin(peer, 2000);
        if (code !== CloseCode.messageTooBig) anomalies.push(`${label}: an oversized frame closed with ${String(code)}, expected 1009`);
        if (have('error') !== errorsBefore) anomalies.push(`${label}: an oversized frame got an error message`);
      } else if (peer.closeCode !== undefined) {
        anomalies.push(`${label}: closed unexpectedly with ${peer.closeCode} ${peer.closeReason}`);
      }
      finished.push({ peer, expected, label });
      if (anomalies.length > 20) break;
    }

    // Anything sent after the last expected answer arrives by now.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const { peer, expected, label } of finished) {
      compare(peer, expected, label);
      await peer.close();
      for (const m of peer.messages) count(answers, m.type === 'error' ? `error:${m.code}` : m.type);
    }

    // The server wrote exactly what the model wrote: LSN, rows, and the change stream.
    if (server.currentLsn() !== model.currentLsn) anomalies.push(`server LSN ${server.currentLsn()}, model ${model.currentLsn}`);
    await honest
      .waitFor(() => compareLsn(lastChangesLsn(honest), model.currentLsn) >= 0 || model.lsn === seedLsn || undefined, 5000, 'the honest peer to catch up')
      .catch((e) => anomalies.push(String(e)));
    const streamed = honest
      .all('changes')
      .flatMap((m) => m.changes)
      .map(pickRecord);
    const logged = model.records.filter((r) => compareLsn(r.lsn, `0/${seedLsn.toString(16)}`) > 0).map(pickRecord);
    if (!same(streamed, logged)) {
      const i = streamed.findIndex((r, n) => !same(r, logged[n]));
      anomalies.push(`honest peer's changes differ at #${i}: ${JSON.stringify(streamed[i])?.slice(0, 300)} != ${JSON.stringify(logged[i])?.slice(0, 300)}`);
    }
    if (honest.closeCode !== undefined || honest.all('error').length)
      anomalies.push(`the honest peer was disturbed: close ${honest.closeCode}, errors ${JSON.stringify(honest.all('error'))}`);
    const snapshot = await snapshotRows(server);
    for (const table of testSchema.tableNames) {
      const rows = snapshot.get(table)!;
      const want = model.table(table);
      for (const [key, row] of want)
        if (!same(rows.get(key), row)) anomalies.push(`snapshot ${table} ${key}: ${JSON.stringify(rows.get(key))} != model ${JSON.stringify(row)}`);
      for (const key of rows.keys()) if (!want.has(key)) anomalies.push(`snapshot ${table} has ${key}, which no valid push wrote`);
    }

    const inputs = [...kinds.values()].reduce((a, b) => a + b, 0);
    console.log(
      `server fuzz (seed ${FUZZ_SEED}): ${inputs} inputs over ${finished.length} connections in ${Date.now() - started} ms; ` +
        `${model.lsn - seedLsn} changes written by valid pushes\n  inputs by kind: ${format(kinds)}\n  answers: ${format(answers)}`,
    );
    expect(anomalies.slice(0, 15)).toEqual([]);
    expect(inputs).toBeGreaterThan(CONNECTIONS * 100);
    await honest.close();
  }, 60_000);

  it('still answers /healthz, and a fresh honest client syncs and pushes', async () => {
    const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, lsn: model.currentLsn });

    const client = testClient();
    try {
      expect(await client.connect(server.url, { timeoutMs: 5000 })).toBe(true);
      await client.whenSynced({ timeoutMs: 5000 });
      expect(client.currentLsn).toBe(model.currentLsn);
      const local = await client.query<{ id: string }>('SELECT id FROM todos ORDER BY id');
      expect(local).toHaveLength(model.table('todos').size);
      await client.insert('todos', { id: 'after-the-fuzz', title: 'still works', done: 0 });
      await until(async () => (await server.query('SELECT title FROM todos WHERE id = ?', ['after-the-fuzz'])).length > 0 || undefined, 5000, 'the push');
      expect(await server.query('SELECT title FROM todos WHERE id = ?', ['after-the-fuzz'])).toEqual([{ title: 'still works' }]);
      expect(compareLsn(server.currentLsn(), model.currentLsn)).toBe(1);
    } finally {
      await client.cleanup();
    }
  }, 20_000);
});

/** The peer's close code, or 'still open' after `ms`. */
async function closedWithin(peer: TestPeer, ms: number): Promise<number | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open'), ms)));
  try {
    return await Promise.race([peer.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function autoAckPeer(peer: TestPeer): void {
  peer.ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'snapshot_chunk') peer.send({ type: 'snapshot_ack', seq: message.seq });
    if (message.type === 'changes') peer.send({ type: 'ack', lsn: message.lsn });
  });
}

const lastChangesLsn = (peer: TestPeer): string => peer.all('changes').at(-1)?.lsn ?? '0/0';
const pickRecord = (r: ChangeRecord) => json({ lsn: r.lsn, table: r.table, op: r.op, key: r.key, row: r.row ?? null, origin: r.origin ?? null });

/** Every row of the server as a fresh peer's snapshot shows it: table -> JSON key -> row. */
async function snapshotRows(server: SyncServer): Promise<Map<string, Map<string, unknown>>> {
  const peer = await TestPeer.connect(server.url);
  autoAckPeer(peer);
  peer.hello(testSchema, { clientId: 'snapshot-reader-0c9e4b7a', lsn: '0/0' });
  await peer.next('snapshot_end');
  const out = new Map(testSchema.tableNames.map((t) => [t, new Map<string, unknown>()]));
  for (const chunk of peer.all('snapshot_chunk')) {
    const pk = testSchema.tables[chunk.table].primaryKey;
    for (const values of chunk.rows) {
      const row = Object.fromEntries(chunk.columns.map((c, i) => [c, values[i]]));
      out.get(chunk.table)!.set(JSON.stringify(row[pk]), json(row));
    }
  }
  await peer.close();
  return out;
}

/** Matches received errors to expected ones (each a list of accepted codes), in any order; a description of the mismatch, if any. */
function matchErrors(got: string[], want: string[][]): string | undefined {
  const left = [...got];
  const missing: string[] = [];
  // Exact expectations first, so that an alternative never takes an error an exact one needs.
  for (const options of [...want].sort((a, b) => a.length - b.length)) {
    const i = left.findIndex((code) => options.includes(code));
    if (i >= 0) left.splice(i, 1);
    else missing.push(options.join('|'));
  }
  if (left.length === 0 && missing.length === 0) return undefined;
  return `unexpected [${left.slice(0, 8).join(', ')}], missing [${missing.slice(0, 8).join(', ')}]`;
}

/** Equality of two JSON values by their JSON text (both sides build rows in schema column order). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const format = (map: Map<string, number>) =>
  [...map.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
