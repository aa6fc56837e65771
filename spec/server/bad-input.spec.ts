import type { SyncServer } from '../../src/server/index.js';
import { CloseCode, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { TestPeer } from '../support/test-peer.js';

const MAX_BYTES = 64 * 1024;

const push = (...changes: unknown[]) => ({ type: 'push', changes });
const insert = (row: Record<string, unknown>, table = 'todos', key: unknown = row.id) => ({ id: `x-${Math.random()}`, table, op: 'insert', key, row });

/**
 * Every kind of bad input, each followed by the same three checks: the sender got a clear error
 * (or a documented close code), nothing was written and the LSN did not move, and an honest
 * session on the same server is still served.
 */
describe('bad input', () => {
  let server: SyncServer;
  let honest: TestPeer;

  beforeAll(async () => {
    server = await startTestServer({ limits: { maxMessageBytes: MAX_BYTES, maxChangesPerPush: 10, maxInvalidMessages: 5 } });
    for (let i = 0; i < 3; i++) await server.insert('todos', todo(i));
    ({ peer: honest } = await helloPeer(server, { clientId: 'honest', lsn: server.currentLsn() }));
    autoAck(honest);
  });
  afterAll(() => server.close());

  async function expectNothingChangedAndHonestServed(before: { lsn: string; rows: unknown[] }): Promise<void> {
    expect(server.currentLsn()).toBe(before.lsn);
    expect(await server.query('SELECT * FROM todos ORDER BY id')).toEqual(before.rows);
    expect(await server.query('SELECT * FROM counters')).toEqual([]);
    const lsn = await server.update('todos', todo(0).id, { title: `still served at ${before.lsn}` });
    await honest.waitFor(() => honest.all('changes').some((m) => m.lsn === lsn) || undefined);
  }

  async function state() {
    return { lsn: server.currentLsn(), rows: await server.query('SELECT * FROM todos ORDER BY id') };
  }

  const afterHello: Array<[string, unknown, string]> = [
    ['a frame that is not JSON', 'not json{', 'malformed_frame'],
    ['a JSON array', '[{"type":"push"}]', 'malformed_frame'],
    ['a message without a type', { changes: [] }, 'invalid_message'],
    ['an unknown message type', { type: 'drop_all_tables' }, 'unknown_message'],
    ['a push of the wrong shape', { type: 'push', changes: { id: 1 } }, 'invalid_message'],
    ['an unknown op', push({ id: 'c', table: 'todos', op: 'truncate', key: 'a' }), 'invalid_message'],
    ['an unknown table', push(insert({ id: 'a' }, 'users')), 'unknown_table'],
    ['a hostile table name', push(insert({ id: 'a' }, 'todos"; DROP TABLE todos; --')), 'unknown_table'],
    ['an internal table', push(insert({ lsn: 1 }, '_rxsync_changes', 1)), 'unknown_table'],
    ['an unknown column', push(insert({ id: 'a', owner: 'me' })), 'unknown_column'],
    ['a hostile column name', push(insert({ id: 'a', 'title" = 1; DROP TABLE todos; --': 'x' })), 'unknown_column'],
    ['a value of the wrong type', push(insert({ id: 'a', done: 'yes' })), 'invalid_value'],
    ['a key of the wrong type', push(insert({ n: 'one' }, 'counters', 'one')), 'invalid_value'],
    ['a good change beside a bad one', push(insert({ id: 'good' }), insert({ id: 'bad', done: 0.5 })), 'invalid_value'],
    ['too many changes in one push', push(...Array.from({ length: 11 }, (_, i) => insert({ id: `many-${i}` }))), 'too_many_changes'],
    ['a malformed LSN', { type: 'ack', lsn: '12' }, 'invalid_lsn'],
    ['an ack beyond what was sent', { type: 'ack', lsn: 'FFFF/0' }, 'invalid_lsn'],
    ['a snapshot ack of a chunk never sent', { type: 'snapshot_ack', seq: 99 }, 'invalid_ack'],
    ['a second hello', { type: 'hello', protocol: PROTOCOL_VERSION, clientId: 'x', lsn: '0/0', schemaHash: testSchema.hash }, 'duplicate_hello'],
  ];

  it.each(afterHello)('answers %s with an error and changes nothing', async (_name, frame, code) => {
    const before = await state();
    const { peer } = await helloPeer(server, { clientId: 'mallory', lsn: server.currentLsn() });
    peer.send(frame);
    const error = await peer.next('error');
    expect(error.code).toBe(code);
    expect(error.message.length).toBeGreaterThan(10);
    expect(error.retryable).toBe(false);
    await expectNothingChangedAndHonestServed(before);
    // The connection stays usable after one bad message.
    peer.send({ type: 'ping', id: 7 });
    expect(await peer.next('pong')).toEqual({ type: 'pong', id: 7, lsn: server.currentLsn() });
    await peer.close();
  });

  it('refuses a push before hello', async () => {
    const before = await state();
    const peer = await TestPeer.connect(server.url);
    peer.send(push(insert({ id: 'early' })));
    expect(await peer.next('error')).toMatchObject({ code: 'hello_required', ref: 'push' });
    await expectNothingChangedAndHonestServed(before);
    await peer.close();
  });

  it('refuses a binary frame', async () => {
    const before = await state();
    const { peer } = await helloPeer(server, { clientId: 'mallory', lsn: server.currentLsn() });
    peer.ws.send(Buffer.from(JSON.stringify(push(insert({ id: 'bin' })))), { binary: true });
    expect((await peer.next('error')).code).toBe('malformed_frame');
    await expectNothingChangedAndHonestServed(before);
    await peer.close();
  });

  it('closes with 1009 on a frame over the size limit, before parsing it', async () => {
    const before = await state();
    const { peer } = await helloPeer(server, { clientId: 'mallory', lsn: server.currentLsn() });
    peer.send(push(insert({ id: 'huge', title: 'x'.repeat(MAX_BYTES) })));
    expect(await peer.closed).toBe(CloseCode.messageTooBig);
    await expectNothingChangedAndHonestServed(before);
  });

  it('closes with 4400 after too many invalid messages in a row', async () => {
    const before = await state();
    const { peer } = await helloPeer(server, { clientId: 'mallory', lsn: server.currentLsn() });
    for (let i = 0; i < 5; i++) peer.send('garbage');
    expect(await peer.closed).toBe(CloseCode.protocolViolation);
    expect(peer.all('error')).toHaveLength(5);
    await expectNothingChangedAndHonestServed(before);
  });

  it('closes with 4400 on a protocol version it does not speak', async () => {
    const peer = await TestPeer.connect(server.url);
    peer.send({ type: 'hello', protocol: 99, clientId: 'future', lsn: '0/0', schemaHash: testSchema.hash });
    expect((await peer.next('error')).code).toBe('unsupported_protocol');
    expect(await peer.closed).toBe(CloseCode.protocolViolation);
  });
});

describe('flood', () => {
  it('drops messages over the rate limit with a retryable error, then closes with 4429', async () => {
    const server = await startTestServer({ limits: { rateLimitPerSecond: 20, rateLimitBurst: 20 } });
    const { peer } = await helloPeer(server, { lsn: server.currentLsn() });
    for (let i = 0; i < 30; i++) peer.send({ type: 'ping', id: i });
    const error = await peer.next('error');
    expect(error).toMatchObject({ code: 'rate_limited', retryable: true });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(peer.all('pong').length).toBeLessThan(30);
    for (let i = 0; i < 100; i++) peer.send({ type: 'ping', id: i });
    expect(await peer.closed).toBe(CloseCode.rateLimited);
    // Other clients are unaffected.
    const other = await helloPeer(server, { clientId: 'other', lsn: server.currentLsn() });
    other.peer.send({ type: 'ping', id: 1 });
    await other.peer.next('pong');
    await other.peer.close();
    await server.close();
  });
});

describe('authentication', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer({ authenticate: (token) => token === 'let-me-in' && { user: 'alice' } });
  });
  afterAll(() => server.close());

  it.each([
    ['no token', undefined],
    ['a wrong token', 'guess'],
  ])('refuses a client with %s: error unauthorized, close 4401', async (_name, token) => {
    const before = server.currentLsn();
    const peer = await TestPeer.connect(server.url);
    peer.hello(testSchema, { token });
    peer.send(push(insert({ id: 'sneaky' })));
    expect((await peer.next('error')).code).toBe('unauthorized');
    expect(await peer.closed).toBe(CloseCode.unauthorized);
    expect(peer.all('welcome')).toHaveLength(0);
    expect(server.currentLsn()).toBe(before);
    expect(await server.query('SELECT * FROM todos')).toEqual([]);
  });

  it('welcomes a client with the right token', async () => {
    const { peer, welcome } = await helloPeer(server, { token: 'let-me-in' });
    expect(welcome.mode).toBe('initial');
    await peer.close();
  });

  it('treats an authenticate hook that throws as a refusal', async () => {
    const throwing = await startTestServer({
      authenticate: () => {
        throw new Error('auth backend down');
      },
    });
    const peer = await TestPeer.connect(throwing.url);
    peer.hello(testSchema, { token: 'x' });
    expect(await peer.closed).toBe(CloseCode.unauthorized);
    await throwing.close();
  });
});
