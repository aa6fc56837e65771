import type { SyncClient } from '../../src/index.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { FakeServer, type FakeConnection } from '../support/fake-server.js';
import { until } from '../support/until.js';
import { testClient } from '../support/test-client.js';

/**
 * Bugs the protocol fuzzers found in the client's session handling and in value storage, now
 * fixed; each test states the right behaviour (regressions.spec.ts pins the decoder's).
 */

const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fixed: a client facing out-of-place server messages', () => {
  let fake: FakeServer;
  let client: SyncClient;
  let conn: FakeConnection;
  let errors: string[];

  beforeEach(async () => {
    fake = await FakeServer.start();
    client = testClient({ apply: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1 } });
    errors = [];
    client.on('error', (e) => errors.push(e.code));
    void client.connect(fake.url);
    conn = await fake.nextHello(0);
    conn.welcome({ mode: 'catchup', serverLsn: '0/5' });
    conn.send({ type: 'changes', lsn: '0/5', changes: [{ lsn: '0/5', table: 'todos', op: 'insert', key: 't1', row: { ...todo(1), id: 't1' } }] });
    await until(() => client.currentLsn === '0/5' || undefined, 5000, 'the first batch');
  });
  afterEach(async () => {
    await client.cleanup();
    await fake.close();
  });

  const batch = (lsn: string, id: string) => ({
    type: 'changes' as const,
    lsn,
    changes: [{ lsn, table: 'todos', op: 'insert' as const, key: id, row: { id } }],
  });

  // client.ts sends every snapshot_* message to the apply queue whatever the session's mode: a
  // snapshot_begin empties the synced tables and sets the checkpoint to 0/0, and the next batch then
  // checkpoints on top of the emptied tables: t1 is lost for good, with no error.
  it('refuses a snapshot_begin in a catchup session instead of wiping the rows and the LSN', async () => {
    conn.send({ type: 'snapshot_begin', lsn: '0/1', chunks: 0, tables: [] });
    conn.send(batch('0/6', 't2'));
    await settle();
    expect(await client.query('SELECT id FROM todos WHERE id = ?', ['t1'])).toHaveLength(1);
    expect(errors.length).toBeGreaterThan(0);
  });

  // The same path: a snapshot_end outside a snapshot makes its LSN the checkpoint, so the client
  // would skip every change between 0/5 and 0/50.
  it('refuses a snapshot_end in a catchup session instead of taking its LSN', async () => {
    conn.send({ type: 'snapshot_end', lsn: '0/50' });
    await settle();
    expect(client.currentLsn).toBe('0/5');
    expect(errors.length).toBeGreaterThan(0);
  });

  // onWelcome runs for every welcome: a second one (mode reset, serverLsn 0/100) raises the floor
  // under which batches are dropped as duplicates, so the next, new batch is dropped silently.
  it('does not silently drop a new batch after a second welcome', async () => {
    conn.welcome({ mode: 'reset', reason: 'lsn_ahead', serverLsn: '0/100' });
    conn.send(batch('0/6', 't2'));
    await settle();
    expect(client.currentLsn === '0/6' || errors.length > 0).toBe(true);
  });

  // wa-sqlite reads TEXT through emscripten's UTF8ToString, whose TextDecoder strips a leading BOM
  // from strings over 16 bytes: the local row differed from the server's (storage/binding.ts).
  it('keeps a leading U+FEFF of a text value', async () => {
    const title = '\uFEFF' + 'a title longer than 16 bytes';
    conn.send({ type: 'changes', lsn: '0/6', changes: [{ lsn: '0/6', table: 'todos', op: 'insert', key: 't2', row: { id: 't2', title } }] });
    await until(() => client.currentLsn === '0/6' || undefined, 5000, 'the batch');
    expect(await client.query('SELECT title FROM todos WHERE id = ?', ['t2'])).toEqual([{ title }]);
  });
});

describe('fixed: the server refusing values it cannot store', () => {
  // checkValue accepted any JSON value for a json column; one nested too deep for JSON.stringify
  // then failed the store's transaction: `internal`, retryable, although a retry fails the same way.
  it('refuses a json value nested too deep to store with invalid_value, not internal', async () => {
    const server = await startTestServer();
    try {
      const { peer } = await helloPeer(server, { lsn: server.currentLsn() });
      const depth = 20_000;
      peer.send(
        `{"type":"push","changes":[{"id":"deep","table":"todos","op":"insert","key":"t1","row":{"id":"t1","meta":${'['.repeat(depth)}${']'.repeat(depth)}}}]}`,
      );
      const error = await peer.next('error');
      expect(server.currentLsn()).toBe('0/0');
      expect(error).toMatchObject({ code: 'invalid_value', retryable: false });
      await peer.close();
    } finally {
      await server.close();
    }
  });
});
