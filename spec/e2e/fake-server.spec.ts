import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { FakeServer, type FakeConnection } from '../support/fake-server.js';
import { testSchema, todo, todoInsert } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

describe('a client facing a misbehaving server', () => {
  let fake: FakeServer;
  /** The connection the spec is talking on. */
  let conn: FakeConnection;
  beforeEach(async () => {
    fake = await FakeServer.start();
  });
  afterEach(async () => {
    await cleanupClients();
    await fake.close();
  });

  async function connected() {
    const client = testClient();
    const errors: any[] = [];
    client.on('error', (e) => errors.push(e));
    const connecting = client.connect(fake.url);
    conn = await fake.welcomeNext(0);
    expect(await connecting).toBe(true);
    const change = todoInsert;
    conn.send({ type: 'changes', lsn: '0/5', changes: [change('0/5', 'good')] });
    await until(() => client.currentLsn === '0/5' || undefined, 5000, 'first batch');
    return { client, errors, change };
  }

  it('sends a hello with its id, LSN, schema hash and protocol version', async () => {
    const { client } = await connected();
    expect(conn.received[0]).toEqual({ type: 'hello', protocol: PROTOCOL_VERSION, clientId: client.clientId, lsn: '0/0', schemaHash: testSchema.hash });
    // The ack follows the commit (and the IndexedDB mirror), so it may come a moment after the LSN moved.
    await until(() => conn.received.find((m) => m.type === 'ack' && m.lsn === '0/5'), 5000, 'ack 0/5');
  });

  it.each([
    ['a frame that is not JSON', 'not json{', 'malformed_frame'],
    ['an unknown message type', '{"type":"launch_missiles"}', 'unknown_message'],
    ['a changes message of the wrong shape', '{"type":"changes","lsn":"0/6","changes":"all of them"}', 'invalid_message'],
    ['an LSN that is not X/Y', '{"type":"changes","lsn":"6","changes":[]}', 'invalid_lsn'],
  ])('reports %s as an error event and changes nothing', async (_name, frame, code) => {
    const { client, errors } = await connected();
    const rows = await client.query('SELECT * FROM todos');
    conn.send(frame);
    await until(() => errors.find((e) => e.code === code), 5000, code);
    expect(client.currentLsn).toBe('0/5');
    expect(await client.query('SELECT * FROM todos')).toEqual(rows);
    expect(client.currentStatus).toBe('live'); // still connected: one bad frame is not fatal
  });

  it.each([
    ['an unknown table', (c: any) => ({ ...c('0/6', 'x'), table: 'users' }), 'unknown_table'],
    ['an unknown column', (c: any) => c('0/6', 'x', { owner: 'mallory' }), 'unknown_column'],
    ['a hostile column name', (c: any) => c('0/6', 'x', { 'title" = 1; DROP TABLE todos; --': 1 }), 'unknown_column'],
    ['a value of the wrong type', (c: any) => c('0/6', 'x', { done: 'yes' }), 'invalid_value'],
  ])('refuses a batch with %s: nothing written, LSN unchanged, sync paused on it', async (_name, make, code) => {
    const { client, errors, change } = await connected();
    const paused: any[] = [];
    client.on('sync_paused', (e) => paused.push(e));
    // A good change and a bad one in the same batch: neither may be written.
    const batch = [change('0/6', 'fine-but-same-batch'), { ...make(change), lsn: '0/7' }];
    conn.send({ type: 'changes', lsn: '0/7', changes: batch });
    await until(() => paused.length > 0 || undefined, 5000, 'paused');
    expect(
      errors.some(
        (e) =>
          e.code === 'apply_failed' &&
          e.message.includes(code === 'unknown_table' ? 'unknown table' : code === 'invalid_value' ? 'expected integer' : 'unknown column'),
      ),
    ).toBe(true);
    expect(client.currentLsn).toBe('0/5');
    expect(await client.query(`SELECT id FROM todos ORDER BY id`)).toEqual([{ id: 'good' }]);
  });

  it('refuses a batch whose changes go backwards in LSN', async () => {
    const { client, errors, change } = await connected();
    conn.send({ type: 'changes', lsn: '0/8', changes: [change('0/9', 'a'), change('0/8', 'b')] });
    await until(() => errors.find((e) => e.code === 'apply_failed'), 5000, 'apply_failed');
    expect(client.currentLsn).toBe('0/5');
  });

  it('sends a change again when its answer does not come within ackTimeoutMs, and reports a stalled outbox', async () => {
    const client = testClient({ changes: { ackTimeoutMs: 100, stallAfterMs: 250 } });
    const stalled: any[] = [];
    client.on('outbox_stalled', (e) => stalled.push(e));
    const connecting = client.connect(fake.url);
    conn = await fake.welcomeNext(0);
    await connecting;
    await client.insert('todos', todo(1));
    await until(() => conn.received.filter((m) => m.type === 'push').length >= 3 || undefined, 5000, 'three pushes');
    const pushes = conn.received.filter((m) => m.type === 'push');
    expect(new Set(pushes.map((p) => p.changes[0].id)).size).toBe(1); // the same change, by id
    await until(() => stalled.length > 0 || undefined, 5000, 'outbox_stalled');
    expect(stalled[0]).toMatchObject({ open: 1, status: 'live' });
    const [entry] = await client.localChanges();
    expect(entry.status).toBe('sent');
    expect(entry.errors.some((e) => /no answer/.test(e.message))).toBe(true);

    conn.send({ type: 'push_result', results: [{ id: entry.id, status: 'applied', lsn: '0/1' }] });
    await until(async () => (await client.localChanges())[0].status === 'applied' || undefined, 5000, 'applied');
  });

  it('undoes a rejected change: back to the server row it holds, and says why', async () => {
    const { client } = await connected();
    const rejected: any[] = [];
    client.on('client_change_rejected', (e) => rejected.push(e));
    await client.update('todos', 'good', { title: 'mine' });
    const push = await until(() => conn.received.find((m) => m.type === 'push'), 5000, 'push');
    const serverRow = { ...todo(1), id: 'good', title: 'the server says no' };
    conn.send({ type: 'push_result', results: [{ id: push.changes[0].id, status: 'rejected', reason: 'read_only', serverRow }] });
    await until(() => rejected.length > 0 || undefined, 5000, 'rejected');
    expect(rejected[0]).toMatchObject({ table: 'todos', key: 'good', reason: 'read_only', serverRow });
    // The row goes back to the server's version as of the checkpoint; the stream brings anything newer.
    expect(await client.query('SELECT title FROM todos WHERE id = ?', ['good'])).toEqual([{ title: todo(1).title }]);
    const [entry] = await client.localChanges();
    expect(entry).toMatchObject({ status: 'rejected' });
    expect(entry.errors.at(-1)?.message).toBe('rejected: read_only');
  });

  it('keeps a pending local change on top of a server change to the same row until its answer arrives', async () => {
    const { client, change } = await connected();
    await client.update('todos', 'good', { title: 'local edit' });
    const push = await until(() => conn.received.find((m) => m.type === 'push'), 5000, 'push');
    // Another client's change to the same row arrives first; it must not wipe the local edit.
    conn.send({ type: 'changes', lsn: '0/6', changes: [change('0/6', 'good', { title: 'other client', done: 1 })] });
    await until(() => client.currentLsn === '0/6' || undefined, 5000, '0/6');
    expect(await client.query('SELECT title, done FROM todos WHERE id = ?', ['good'])).toEqual([{ title: 'local edit', done: 1 }]);
    // Then the server answers and streams our change back at its LSN, tagged with its id.
    conn.send({ type: 'push_result', results: [{ id: push.changes[0].id, status: 'applied', lsn: '0/7' }] });
    conn.send({
      type: 'changes',
      lsn: '0/7',
      changes: [{ ...change('0/7', 'good', { title: 'local edit', done: 1 }), origin: { clientId: client.clientId, changeId: push.changes[0].id } }],
    });
    await until(() => client.currentLsn === '0/7' || undefined, 5000, '0/7');
    // A later server change now wins: the local change is settled.
    conn.send({ type: 'changes', lsn: '0/8', changes: [change('0/8', 'good', { title: 'later server edit', done: 1 })] });
    await until(() => client.currentLsn === '0/8' || undefined, 5000, '0/8');
    expect(await client.query('SELECT title FROM todos WHERE id = ?', ['good'])).toEqual([{ title: 'later server edit' }]);
  });
});
