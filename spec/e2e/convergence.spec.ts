import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient } from '../support/test-client.js';

const ORDERED = 'SELECT id, title, done, score, meta FROM todos ORDER BY id';

describe('convergence', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer();
    for (let i = 0; i < 10; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('brings two clients and the server to the same rows after concurrent writes to the same rows', async () => {
    const a = testClient();
    const b = testClient();
    await Promise.all([a.connect(server.url), b.connect(server.url)]);
    await Promise.all([a.whenSynced({ timeoutMs: 5000 }), b.whenSynced({ timeoutMs: 5000 })]);

    const writes: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      const key = todo(round % 4).id; // few keys: the writes collide
      writes.push(a.update('todos', key, { title: `a${round}`, done: round % 2 }));
      writes.push(b.update('todos', key, { title: `b${round}`, score: round + 0.25 }));
      writes.push(server.update('todos', key, { meta: { round } }));
      if (round % 5 === 0) writes.push(a.insert('todos', { id: `a-new-${round}`, title: 'a', done: 0 }));
      if (round % 7 === 0) writes.push(b.delete('todos', todo(5 + (round % 3)).id).catch(() => undefined));
    }
    await Promise.all(writes);
    await Promise.all([a.whenSynced({ timeoutMs: 10000 }), b.whenSynced({ timeoutMs: 10000 })]);
    // whenSynced means each has what the server had when it last heard; once both are synced and
    // no write is in flight, all three must be equal row for row.
    await a.whenSynced({ timeoutMs: 5000 });
    const serverRows = (await server.query<Record<string, unknown>>(ORDERED)).map((row) => ({ ...row, meta: row.meta === null ? null : row.meta }));
    expect(await a.query(ORDERED)).toEqual(serverRows);
    expect(await b.query(ORDERED)).toEqual(serverRows);
    expect(serverRows.length).toBeGreaterThan(8);
    const open = [...(await a.localChanges()), ...(await b.localChanges())].filter((c) => c.status !== 'applied');
    expect(open).toEqual([]);
  });
});
