import { compareLsn } from '../../src/protocol/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';

const ROWS = 10_000;
const CHUNK_ROWS = 500;
const WINDOW = 3;

describe('initial sync', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer({ limits: { snapshotChunkRows: CHUNK_ROWS, snapshotWindow: WINDOW } });
    for (let i = 0; i < ROWS; i++) await server.insert('todos', todo(i));
    await server.insert('counters', { n: 1, label: 'one' });
  });
  afterAll(() => server.close());

  it(`sends ${ROWS} rows in chunks, never more than the window unacknowledged`, async () => {
    const { peer, welcome } = await helloPeer(server);
    expect(welcome).toMatchObject({ mode: 'initial', serverLsn: server.currentLsn(), clientKnown: false });
    const begin = await peer.next('snapshot_begin');
    expect(begin.lsn).toBe(server.currentLsn());
    expect(begin.tables).toEqual([
      { table: 'counters', rows: 1, chunks: 1 },
      { table: 'todos', rows: ROWS, chunks: ROWS / CHUNK_ROWS },
    ]);
    expect(begin.chunks).toBe(1 + ROWS / CHUNK_ROWS);

    // Ack nothing until the server goes quiet: it must stop at the window every time.
    let acked = 0;
    while (peer.all('snapshot_end').length === 0) {
      await peer.settle(100);
      const chunks = peer.all('snapshot_chunk');
      if (peer.all('snapshot_end').length === 0) expect(chunks.length - acked).toBe(WINDOW);
      else expect(chunks.length - acked).toBeLessThanOrEqual(WINDOW);
      acked = chunks[chunks.length - 1].seq;
      peer.send({ type: 'snapshot_ack', seq: acked });
    }

    const chunks = peer.all('snapshot_chunk');
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i + 1));
    const todos = chunks.filter((c) => c.table === 'todos');
    expect(todos.map((c) => `${c.chunk}/${c.chunks}`)).toEqual(todos.map((_, i) => `${i + 1}/${ROWS / CHUNK_ROWS}`));
    expect(todos.every((c) => c.rows.length <= CHUNK_ROWS)).toBe(true);

    // Every row exactly once, equal to the server's row, values typed as the schema says.
    const columns = todos[0].columns;
    const rows = todos.flatMap((c) => c.rows.map((values) => Object.fromEntries(columns.map((name, i) => [name, values[i]]))));
    expect(rows).toHaveLength(ROWS);
    expect(new Set(rows.map((r) => r.id)).size).toBe(ROWS);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const i of [0, 1, 4999, ROWS - 1]) expect(byId.get(todo(i).id)).toEqual(todo(i));

    const end = await peer.next('snapshot_end');
    expect(end.lsn).toBe(begin.lsn);
    await peer.close();
  });

  it('cuts chunks to about snapshotChunkBytes, wide rows to fewer rows, every row still sent once', async () => {
    const TARGET = 8 * 1024;
    const small = await startTestServer({ limits: { snapshotChunkRows: CHUNK_ROWS, snapshotChunkBytes: TARGET } });
    try {
      // 300 narrow rows, then 300 rows ten times wider: the chunks follow the width.
      for (let i = 0; i < 300; i++) await small.insert('todos', todo(i));
      for (let i = 300; i < 600; i++) await small.insert('todos', todo(i, { title: `wide ${i} ${'x'.repeat(400)}` }));
      const { peer } = await helloPeer(small);
      const begin = await peer.next('snapshot_begin');
      expect(begin.tables).toContainEqual({ table: 'todos', rows: 600, chunks: 2 });
      while (peer.all('snapshot_end').length === 0) {
        const chunks = await peer.settle(20).then(() => peer.all('snapshot_chunk'));
        if (chunks.length > 0) peer.send({ type: 'snapshot_ack', seq: chunks[chunks.length - 1].seq });
      }

      const todos = peer.all('snapshot_chunk').filter((c) => c.table === 'todos');
      const sizes = todos.map((c) => Buffer.byteLength(JSON.stringify(c)));
      // Sized from samples of their rows and from the frames before: none passes the target by
      // more than a tenth, not even the ones where the rows turn wide.
      for (const size of sizes) expect(size).toBeLessThanOrEqual(TARGET * 1.1);
      const narrowRows = todos[0].rows.length;
      const wideRows = todos[todos.length - 2].rows.length;
      expect(narrowRows).toBeGreaterThan(wideRows * 4);

      // Chunk numbers count up; the announced count is an estimate that only grows, and the last
      // chunk is counted in it.
      expect(todos.map((c) => c.chunk)).toEqual(todos.map((_, i) => i + 1));
      todos.slice(1).forEach((c, i) => expect(c.chunks).toBeGreaterThanOrEqual(todos[i].chunks));
      // Estimated in whole frames, not from the few rows that end one of the store's pages: it
      // ends right for rows of one width.
      expect(todos[todos.length - 1].chunks).toBe(todos.length);

      const ids = todos.flatMap((c) => c.rows.map((r) => r[columnIndex(c, 'id')]));
      expect(ids).toHaveLength(600);
      expect(new Set(ids).size).toBe(600);
      await peer.close();
    } finally {
      await small.close();
    }
  });

  it('streams changes committed during and after the snapshot, from its LSN on', async () => {
    const { peer } = await helloPeer(server, { clientId: 'client-b' });
    const begin = await peer.next('snapshot_begin');
    await server.update('todos', todo(1).id, { title: 'changed during snapshot' });
    peer.ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'snapshot_chunk') peer.send({ type: 'snapshot_ack', seq: message.seq });
    });
    peer.send({ type: 'snapshot_ack', seq: WINDOW });
    await peer.next('snapshot_end');
    const changes = await peer.next('changes');
    expect(compareLsn(changes.changes[0].lsn, begin.lsn)).toBe(1);
    expect(changes.changes[0]).toMatchObject({ table: 'todos', op: 'update', key: todo(1).id, row: { title: 'changed during snapshot' } });
    await server.delete('todos', todo(2).id);
    const live = await peer.next('changes');
    expect(live.changes).toEqual([{ lsn: server.currentLsn(), table: 'todos', op: 'delete', key: todo(2).id }]);
    await peer.close();
  });
});

function columnIndex(chunk: { columns: readonly string[] }, column: string): number {
  return chunk.columns.indexOf(column);
}
