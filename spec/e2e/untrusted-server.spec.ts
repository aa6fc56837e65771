import type { SyncClient } from '../../src/index.js';
import { FakeServer, welcomeMessage, type FakeConnection } from '../support/fake-server.js';
import { until } from '../support/until.js';
import { testSchema, todo, todoInsert } from '../support/test-schema.js';
import { cleanupClients, testClient } from '../support/test-client.js';

/**
 * The client does not take its server's word for what the protocol promises: a fake server,
 * driven message by message, breaks each promise once, and the client must notice, say so, keep
 * its data and checkpoint intact, and (where the stream can no longer be trusted) reconnect.
 */

const change = todoInsert;

describe('a client that does not trust its server', () => {
  let fake: FakeServer;
  let client: SyncClient;
  let errors: Array<{ code: string; message: string }>;
  let events: Array<{ type: string; data: any }>;

  beforeEach(async () => {
    fake = await FakeServer.start();
    client = testClient({ reconnect: { initialDelayMs: 20, maxDelayMs: 2000, jitter: 0 } });
    errors = [];
    events = [];
    client.on('error', (e) => errors.push(e));
    client.events$.subscribe((e) => events.push(e));
  });
  afterEach(async () => {
    await cleanupClients();
    await fake.close();
  });

  /** Connected in mode live at 0/5, with row `good` applied from batch 0/5. */
  async function live(): Promise<FakeConnection> {
    void client.connect(fake.url);
    const conn = await fake.welcomeNext(0, { serverLsn: '0/0' });
    conn.send({ type: 'changes', lsn: '0/5', changes: [change('0/5', 'good')] });
    await until(() => client.currentLsn === '0/5' || undefined, 5000, 'the first batch');
    return conn;
  }

  const disconnects = () => events.filter((e) => e.type === 'disconnected').map((e) => ({ attempt: e.data.attempt, retryInMs: e.data.retryInMs }));

  describe('reconnect backoff', () => {
    it('counts failed tries since the last welcomed session, not since the client started', async () => {
      void client.connect(fake.url);
      // Three tries fail before any welcome: the waits grow.
      for (let i = 0; i < 3; i++) (await fake.nextHello(i)).terminate();
      // Then a session is welcomed, and each later session is welcomed and cut at once.
      for (let i = 3; i < 10; i++) {
        const conn = await fake.welcomeNext(i);
        await until(() => client.currentStatus === 'live' || undefined, 5000, 'the welcome');
        conn.terminate();
      }
      await fake.nextHello(10);
      expect(disconnects()).toEqual([
        { attempt: 1, retryInMs: 20 },
        { attempt: 2, retryInMs: 40 },
        { attempt: 3, retryInMs: 80 },
        ...Array.from({ length: 7 }, () => ({ attempt: 1, retryInMs: 20 })),
      ]);
      const backoffs = events.filter((e) => e.type === 'status_changed' && e.data.status === 'backoff').map((e) => e.data.attempt);
      expect(backoffs).toEqual([1, 2, 3, 1, 1, 1, 1, 1, 1, 1]);
    });
  });

  describe('snapshot_end', () => {
    it.each([
      ['past its snapshot_begin', '0/20'],
      ['at the highest LSN there is', 'FFFFFFFF/FFFFFFFF'],
      ['before its snapshot_begin', '0/3'],
    ])('%s is refused: error, nothing checkpointed, the snapshot discarded, a reconnect', async (_name, endLsn) => {
      void client.connect(fake.url);
      const first = await fake.welcomeNext(0, { mode: 'initial', serverLsn: '0/10' });
      first.send({
        type: 'snapshot_begin',
        lsn: '0/10',
        chunks: 1,
        tables: [
          { table: 'counters', rows: 0, chunks: 0 },
          { table: 'todos', rows: 2, chunks: 1 },
        ],
      });
      first.send({
        type: 'snapshot_chunk',
        seq: 1,
        table: 'todos',
        chunk: 1,
        chunks: 1,
        columns: ['id', 'title'],
        rows: [
          ['a', 'one'],
          ['b', 'two'],
        ],
      });
      first.send({ type: 'snapshot_end', lsn: endLsn });
      const second = await fake.nextHello(1);
      expect(errors).toEqual([
        expect.objectContaining({ code: 'invalid_lsn', message: expect.stringContaining(`snapshot_end at ${endLsn} ends the snapshot begun at 0/10`) }),
      ]);
      expect(second.hello.lsn).toBe('0/0');
      expect(client.currentLsn).toBe('0/0');
      expect(await client.query('SELECT * FROM todos')).toEqual([]);
      expect(first.sent('ack')).toEqual([]);
      expect(events.some((e) => e.type === 'initial_sync_complete' || e.type === 'lsn_updated')).toBe(false);

      // An honest snapshot on the next connection syncs as usual.
      second.welcome({ mode: 'initial', serverLsn: '0/10' });
      second.send({
        type: 'snapshot_begin',
        lsn: '0/10',
        chunks: 1,
        tables: [
          { table: 'counters', rows: 0, chunks: 0 },
          { table: 'todos', rows: 1, chunks: 1 },
        ],
      });
      second.send({ type: 'snapshot_chunk', seq: 1, table: 'todos', chunk: 1, chunks: 1, columns: ['id', 'title'], rows: [['c', 'three']] });
      second.send({ type: 'snapshot_end', lsn: '0/10' });
      await until(() => client.currentLsn === '0/10' || undefined, 5000, 'the honest snapshot');
      expect(await client.query('SELECT id, title FROM todos')).toEqual([{ id: 'c', title: 'three' }]);
    });
  });

  describe('the LSN order within a session', () => {
    it.each([
      ['the same LSN with other content', [change('0/5', 'good', { title: 'rewritten' })]],
      ['an LSN going backwards', [change('0/3', 'older')]],
      ['a batch reaching back before the previous one', [change('0/4', 'older'), change('0/7', 'newer')]],
    ])('%s is a broken server: error, nothing applied, a reconnect from the checkpoint', async (_name, changes) => {
      const conn = await live();
      conn.send({ type: 'changes', lsn: changes.at(-1)!.lsn, changes });
      const next = await fake.nextHello(1);
      expect(errors).toEqual([expect.objectContaining({ code: 'invalid_lsn', message: expect.stringContaining('do not come after 0/5') })]);
      expect(next.hello.lsn).toBe('0/5');
      expect(client.currentLsn).toBe('0/5');
      expect(await client.query('SELECT id, title FROM todos')).toEqual([{ id: 'good', title: todo(1).title }]);
    });

    it('applies what came before the broken message, then reconnects from there', async () => {
      const conn = await live();
      conn.send({ type: 'changes', lsn: '0/6', changes: [change('0/6', 'six')] });
      conn.send({ type: 'changes', lsn: '0/6', changes: [change('0/6', 'six-again')] });
      conn.send({ type: 'changes', lsn: '0/7', changes: [change('0/7', 'after-the-break')] });
      const next = await fake.nextHello(1);
      expect(next.hello.lsn).toBe('0/6');
      expect(errors.map((e) => e.code)).toEqual(['invalid_lsn']); // one error: what follows the break is dropped quietly
      expect((await client.query<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id)).toEqual(['good', 'six']);
    });

    it('takes a transaction in parts (staged until its last part), and refuses parts that do not continue it', async () => {
      const conn = await live();
      conn.send({ type: 'changes', lsn: '0/8', changes: [change('0/8', 'p0'), change('0/8', 'p1')], partial: true, offset: 0 });
      conn.send({ type: 'changes', lsn: '0/8', changes: [change('0/8', 'p2')], partial: true, offset: 2 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.currentLsn).toBe('0/5'); // parts are no checkpoint
      expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 1 }]); // nor visible
      conn.send({ type: 'changes', lsn: '0/8', changes: [change('0/8', 'p3')], offset: 3 });
      await until(() => client.currentLsn === '0/8' || undefined, 5000, 'the whole transaction');
      expect((await client.query<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id)).toEqual(['good', 'p0', 'p1', 'p2', 'p3']);
      await until(() => conn.sent('ack').some((ack) => ack.lsn === '0/8') || undefined, 5000, 'the ack');
      expect(conn.sent('ack').map((ack) => ack.lsn)).toEqual(['0/5', '0/8']); // none for the parts: one for the whole transaction

      // A part followed by another transaction (or a gap in the parts) is a broken server.
      conn.send({ type: 'changes', lsn: '0/9', changes: [change('0/9', 'q0')], partial: true, offset: 0 });
      conn.send({ type: 'changes', lsn: '0/10', changes: [change('0/10', 'other')] });
      const next = await fake.nextHello(1);
      expect(errors).toEqual([expect.objectContaining({ code: 'invalid_lsn', message: expect.stringContaining('do not continue the transaction at 0/9') })]);
      expect(next.hello.lsn).toBe('0/8');
      expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 5 }]);
    });

    it('holds a catchup session to the LSN of its hello', async () => {
      await live();
      fake.connections[0].terminate();
      const second = await fake.welcomeNext(1, { mode: 'catchup', serverLsn: '0/9' });
      expect(second.hello.lsn).toBe('0/5');
      second.send({ type: 'changes', lsn: '0/5', changes: [change('0/5', 'good', { title: 'other content' })] });
      const third = await fake.nextHello(2);
      expect(errors.map((e) => e.code)).toEqual(['invalid_lsn']);
      expect(third.hello.lsn).toBe('0/5');
      // Changes that continue from the hello are taken as usual.
      third.welcome({ mode: 'catchup', serverLsn: '0/6' });
      third.send({ type: 'changes', lsn: '0/6', changes: [change('0/6', 'six')] });
      await until(() => client.currentLsn === '0/6' || undefined, 5000, '0/6');
      expect(await client.query('SELECT title FROM todos WHERE id = ?', ['good'])).toEqual([{ title: todo(1).title }]);
    });
  });

  describe('push_result', () => {
    it('for a change never pushed on this connection is refused, and nothing is written', async () => {
      const conn = await live();
      await client.update('todos', 'good', { title: 'mine' });
      const push = await conn.waitFor('push');
      const before = await client.localChanges();
      conn.send({ type: 'push_result', results: [{ id: 'never-sent', status: 'rejected', reason: 'nope', serverRow: null }] });
      conn.send({
        type: 'push_result',
        results: [
          { id: push.changes[0].id, status: 'applied', lsn: '0/6' },
          { id: push.changes[0].id, status: 'applied', lsn: '0/6' },
        ],
      });
      await until(() => errors.length >= 2 || undefined, 5000, 'two errors');
      expect(errors.map((e) => [e.code, e.message])).toEqual([
        ['invalid_message', expect.stringContaining('"never-sent", which was not pushed on this connection')],
        ['invalid_message', expect.stringContaining('which was not pushed on this connection (or not that often)')],
      ]);
      expect(await client.localChanges()).toEqual(before);
      expect(await client.query('SELECT title FROM todos WHERE id = ?', ['good'])).toEqual([{ title: 'mine' }]);
      expect(client.currentStatus).toBe('live'); // a wrong answer is not a broken stream

      // The real answer is still taken.
      conn.send({ type: 'push_result', results: [{ id: push.changes[0].id, status: 'applied', lsn: '0/6' }] });
      await until(async () => (await client.localChanges())[0]?.status === 'applied' || undefined, 5000, 'applied');
    });
  });

  describe('ping', () => {
    it('is answered with a pong that carries its id (and none without one)', async () => {
      const conn = await live();
      conn.send({ type: 'ping', id: 42 });
      conn.send({ type: 'ping' });
      await until(() => conn.sent('pong').length >= 2 || undefined, 5000, 'two pongs');
      expect(conn.sent('pong')).toEqual([{ type: 'pong', id: 42 }, { type: 'pong' }]);
    });
  });

  describe('heartbeat', () => {
    it("takes the server's heartbeatTimeoutMs as its own silence timeout, unless one was given", async () => {
      client = testClient({ heartbeat: { intervalMs: 100 } }); // pings often; no timeoutMs of its own
      client.events$.subscribe((e) => events.push(e));
      void client.connect(fake.url);
      const { limits } = welcomeMessage();
      const silent = await fake.welcomeNext(0, { limits: { ...limits, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 300 } });
      const started = Date.now();
      // The fake answers no ping and says nothing more: ~300 ms later the client gives up on it (not 45 s).
      await fake.nextHello(1, 5000);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(silent.closed || silent.ws.readyState !== silent.ws.OPEN).toBe(true);
      expect(events.find((e) => e.type === 'disconnected')?.data.reason).toBe('no message from the server for 300 ms');
    });
  });

  describe('a welcome that names another schema', () => {
    it('emits schema_mismatch saying what differs', async () => {
      void client.connect(fake.url);
      const serverSchema = {
        tables: {
          todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'real', meta: 'json', owner: 'text' } },
          projects: { primaryKey: 'id', columns: { id: 'text' } },
        },
      };
      await fake.welcomeNext(0, { mode: 'reset', reason: 'schema_mismatch', serverLsn: '0/3', schema: serverSchema as any });
      const [mismatch] = await until(
        () => {
          const found = events.filter((e) => e.type === 'schema_mismatch');
          return found.length ? found : undefined;
        },
        5000,
        'schema_mismatch',
      );
      expect(mismatch.data).toEqual({
        clientHash: testSchema.hash,
        serverHash: expect.stringMatching(/^[0-9a-f]{16}$/),
        differences: [
          { kind: 'table_only_ours', table: 'counters' },
          { kind: 'table_only_theirs', table: 'projects' },
          { kind: 'column_type', table: 'todos', column: 'done', ours: 'integer', theirs: 'real' },
          { kind: 'column_only_theirs', table: 'todos', column: 'owner' },
          { kind: 'column_only_ours', table: 'todos', column: 'score' },
        ],
      });
      expect(errors).toEqual([]);
    });

    it('with identifiers that are not plain is reported as invalid, and none of them is used', async () => {
      void client.connect(fake.url);
      const hostile = 'todos"; DROP TABLE todos; --';
      await fake.welcomeNext(0, { mode: 'reset', reason: 'schema_mismatch', schema: { tables: { [hostile]: { primaryKey: 'id', columns: { id: 'text' } } } } });
      await until(() => events.find((e) => e.type === 'schema_mismatch'), 5000, 'schema_mismatch');
      expect(errors).toEqual([
        expect.objectContaining({ code: 'invalid_message', message: expect.stringContaining('the welcome carries a schema that is not valid') }),
      ]);
      expect(events.find((e) => e.type === 'schema_mismatch')!.data).toEqual({ clientHash: testSchema.hash });
      expect(await client.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 0 }]);
    });
  });
});
