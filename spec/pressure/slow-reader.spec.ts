import WebSocket from 'ws';
import type { SyncServer } from '../../src/server/index.js';
import { compareLsn } from '../../src/protocol/index.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import type { TestPeer } from '../support/test-peer.js';
import { cleanupClients, testClient } from '../support/test-client.js';
import { MiB, mib, settledMemory, wasmGrowth } from './memory.js';

const MAX_BUFFERED = 512 * 1024;
/** About 1 KiB per row, so that what a slow reader could hold adds up to megabytes. */
const big = (i: number) => todo(i, { meta: { i, pad: 'x'.repeat(1000) } });

/**
 * A client that says hello and then stops reading its socket, while the server has a large
 * snapshot and then 20,000 live changes for it, committed 500 at a time (so each commit is one
 * `changes` message of about 550 KB). The windows are set wide open (1000 messages) so that only
 * the byte limit holds the server back — without it, all ~27 MB would be queued for this client: the session's unsent bytes must stay under
 * `maxBufferedBytes` plus one message the whole time, the process's memory must not grow with
 * what is written, a normal client alongside must keep syncing, and the slow reader, once it
 * reads again, must get everything in order (live changes were left in the log, not dropped).
 */
describe('a client that stops reading', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer({
      limits: { maxBufferedBytes: MAX_BUFFERED, snapshotWindow: 1000, changesWindow: 1000, snapshotChunkRows: 200 },
    });
  });
  afterAll(async () => {
    await cleanupClients();
    await server.close();
  });

  it('costs the server a bounded amount of memory, and misses nothing', async () => {
    for (let i = 0; i < 5000; i++) await server.insert('todos', big(i));
    const { peer: slow } = await helloPeer(server, { clientId: 'slow-reader' });
    slow.ws.pause(); // stops reading the socket: TCP fills, then the server's own buffer
    const slowStats = () => server.sessionStats().find((s) => s.clientId === 'slow-reader')!;
    // The normal client's database is opened first, so that the wasm module's own memory is in the baseline.
    const normal = testClient();
    await normal.initialize();
    const before = await settledMemory();
    const wasmBefore = wasmGrowth();
    await normal.connect(server.url);

    let peakBuffered = 0;
    let peakSocketBuffered = 0;
    const sample = () => {
      const stats = slowStats();
      peakBuffered = Math.max(peakBuffered, stats.bufferedBytes);
      peakSocketBuffered = Math.max(peakSocketBuffered, stats.socketBufferedBytes);
    };
    // A commit of 500 rows goes out as one `changes` message: the largest message here.
    const commit = (n: number) => Array.from({ length: 500 }, (_, i) => big(10_000 + n * 500 + i));
    const largestMessage = Buffer.byteLength(
      JSON.stringify({ changes: commit(0).map((row) => ({ lsn: '0/FFFFFF', table: 'todos', op: 'insert', key: row.id, row })) }),
    );
    for (let n = 0; n < 40; n++) {
      const rows = commit(n).map((row) => ({ id: `w-${row.id}`, table: 'todos', op: 'insert' as const, key: row.id, row }));
      await server.store.applyClientWrites('backend-writer', rows);
      sample();
      await new Promise((resolve) => setImmediate(resolve)); // let the sockets write between commits
    }
    sample();
    // The normal client kept syncing all along. Measured once it has everything (its batches in
    // flight do not count), and without its database: the wasm memory its ~24 MiB of rows grew by.
    await normal.whenSynced({ timeoutMs: 60_000 });
    expect(await normal.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 25_000 }]);
    sample();
    const after = await settledMemory();
    const clientRows = wasmGrowth() - wasmBefore;
    const stats = slowStats();

    console.log(
      `slow reader: peak session buffer ${mib(peakBuffered)} (ws ${mib(peakSocketBuffered)}), limit ${mib(MAX_BUFFERED)} + one message ${mib(largestMessage)}; ` +
        `heap ${mib(before.heapUsed)} -> ${mib(after.heapUsed)}, external ${mib(before.external)} -> ${mib(after.external)} of which the client's wasm grew ${mib(clientRows)}; ` +
        `20,000 changes of ~1 KiB written (${mib(20_000 * 1100)})`,
    );
    expect(stats.phase).toBe('snapshot'); // it never read its snapshot
    expect(peakBuffered).toBeGreaterThan(0);
    expect(peakBuffered).toBeLessThanOrEqual(MAX_BUFFERED + largestMessage);
    expect(peakSocketBuffered).toBeLessThanOrEqual(MAX_BUFFERED + largestMessage);
    // 20k changes of ~1.1 KiB is ~21 MiB: queueing them anywhere in the process would show here.
    expect(after.heapUsed - before.heapUsed).toBeLessThan(8 * MiB);
    expect(after.external - clientRows - before.external).toBeLessThan(8 * MiB);

    // The slow reader reads again and acks: it gets the whole snapshot, then every change in order.
    await drain(slow);
    const rows = new Set<string>();
    for (const m of slow.all('snapshot_chunk')) for (const row of m.rows) rows.add(row[m.columns.indexOf('id')] as string);
    const changes = slow.all('changes').flatMap((m) => m.changes);
    for (const change of changes) rows.add(change.key as string);
    expect(rows.size).toBe(25_000);
    for (let i = 1; i < changes.length; i++) expect(compareLsn(changes[i].lsn, changes[i - 1].lsn)).toBe(1);
    await slow.close();
  }, 120_000);

  /** Acks as it reads (like a real client), from where it stopped, until it has the server's head. */
  async function drain(peer: TestPeer): Promise<void> {
    const ack = (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'snapshot_chunk') peer.send({ type: 'snapshot_ack', seq: message.seq });
      if (message.type === 'changes') peer.send({ type: 'ack', lsn: message.lsn });
    };
    peer.ws.on('message', ack);
    peer.ws.resume();
    const head = server.currentLsn();
    await peer.waitFor(() => peer.all('changes').at(-1)?.lsn === head || undefined, 60_000, 'the server head');
  }
});
