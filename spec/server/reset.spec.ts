import type { SyncServer } from '../../src/server/index.js';
import { autoAck, helloPeer, startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { lsnFromBigInt, lsnToBigInt } from '../../src/protocol/index.js';

describe('reset', () => {
  let server: SyncServer;
  beforeEach(async () => {
    server = await startTestServer({ retention: { maxChanges: 5 } });
    await server.insert('todos', todo(1));
  });
  afterEach(() => server.close());

  async function syncedLsn(): Promise<string> {
    const { peer } = await helloPeer(server);
    autoAck(peer);
    const { lsn } = await peer.next('snapshot_end');
    await peer.close();
    return lsn;
  }

  it('resets a client whose LSN is older than the change log keeps, with a fresh snapshot', async () => {
    const lsn = await syncedLsn();
    for (let i = 2; i < 20; i++) await server.insert('todos', todo(i));
    const { peer, welcome } = await helloPeer(server, { lsn });
    expect(welcome).toMatchObject({ mode: 'reset', reason: 'lsn_too_old', serverLsn: server.currentLsn() });
    autoAck(peer);
    const begin = await peer.next('snapshot_begin');
    expect(begin.tables.find((t) => t.table === 'todos')?.rows).toBe(19);
    const end = await peer.next('snapshot_end');
    expect(end.lsn).toBe(server.currentLsn());
    await peer.close();
  });

  it('still lets a client catch up from within the retained log', async () => {
    const lsn = await syncedLsn();
    for (let i = 2; i < 5; i++) await server.insert('todos', todo(i));
    const { peer, welcome } = await helloPeer(server, { lsn });
    expect(welcome.mode).toBe('catchup');
    await peer.close();
  });

  it('resets a client with another schema, and tells it the server schema', async () => {
    const { peer, welcome } = await helloPeer(server, { lsn: server.currentLsn(), schemaHash: '0123456789abcdef' });
    expect(welcome).toMatchObject({ mode: 'reset', reason: 'schema_mismatch', schema: { tables: testSchema.tables } });
    await peer.next('snapshot_begin');
    await peer.close();
  });

  it('resets a client that claims an LSN beyond the server', async () => {
    const ahead = lsnFromBigInt(lsnToBigInt(server.currentLsn()) + 100n);
    const { peer, welcome } = await helloPeer(server, { lsn: ahead });
    expect(welcome).toMatchObject({ mode: 'reset', reason: 'lsn_ahead' });
    await peer.next('snapshot_begin');
    await peer.close();
  });
});
