import { defineSchema } from '../../src/protocol/index.js';
import type { SyncEventMessage } from '../../src/streams/events.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

/**
 * The server's schema is not the client's (testSchema): todos without `meta` and with an integer
 * `score`, no `counters`, and a `tags` table the client lacks. Its rows all fit the client's
 * tables, so the reset that follows the mismatch applies.
 */
const serverSchema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer', score: 'integer' } },
    tags: { primaryKey: 'id', columns: { id: 'text', name: 'text' } },
  },
});

describe('a server with another schema', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer({ schema: serverSchema });
    await server.insert('todos', { id: 't1', title: 'from a server of another schema', done: 0, score: 3 });
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('emits schema_mismatch saying what differs, before the reset, which then proceeds', async () => {
    const client = testClient();
    const events: SyncEventMessage[] = [];
    client.events$.subscribe((event) => events.push(event));
    expect(await client.connect(server.url, { timeoutMs: 5000 })).toBe(true);
    await until(() => events.some((e) => e.type === 'initial_sync_complete') || undefined, 5000, 'the reset snapshot');

    const mismatch = events.find((e) => e.type === 'schema_mismatch');
    expect(mismatch?.data).toEqual({
      clientHash: testSchema.hash,
      serverHash: serverSchema.hash,
      differences: [
        { kind: 'table_only_ours', table: 'counters' },
        { kind: 'table_only_theirs', table: 'tags' },
        { kind: 'column_only_ours', table: 'todos', column: 'meta' },
        { kind: 'column_type', table: 'todos', column: 'score', ours: 'real', theirs: 'integer' },
      ],
    });
    const order = events.map((e) => e.type).filter((type) => ['schema_mismatch', 'connected', 'initial_sync_started', 'initial_sync_complete'].includes(type));
    expect(order.slice(0, 4)).toEqual(['schema_mismatch', 'connected', 'initial_sync_started', 'initial_sync_complete']);
    expect(events.find((e) => e.type === 'connected')?.data).toMatchObject({ mode: 'reset', reason: 'schema_mismatch' });
    expect(await client.query('SELECT id, title, score, meta FROM todos')).toEqual([
      { id: 't1', title: 'from a server of another schema', score: 3, meta: null },
    ]);
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });
});
