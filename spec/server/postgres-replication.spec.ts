import pg from 'pg';
import { compareLsn, defineSchema, type ChangeRecord, type Lsn } from '../../src/protocol/index.js';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/server/store/postgres/postgres-store.js';
import type { SyncStore } from '../../src/server/store/store.js';
import { createAppDatabase, type AppDatabase, useTestPostgres } from '../support/postgres.js';
import { until } from '../support/until.js';

const schema = defineSchema({ tables: { items: { primaryKey: 'n', columns: { n: 'integer', label: 'text' } } } });
const DDL = 'CREATE TABLE items (n bigint PRIMARY KEY, label text)';

/** The replicator under faults: what the change log holds must be every transaction, once. */
describe('the Postgres replicator, against a real PostgreSQL', () => {
  const cluster = useTestPostgres();
  let database: AppDatabase;
  let store: SyncStore | undefined;
  let psql: pg.Client;
  const errors: unknown[] = [];

  beforeEach(async () => {
    errors.length = 0;
    database = await createAppDatabase(cluster(), DDL);
    psql = new pg.Client({ connectionString: database.connectionString });
    await psql.connect();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await psql.end().catch(() => undefined);
    await database.drop();
  });
  jest.setTimeout(60_000);

  const open = async (options: Partial<PostgresStoreOptions> = {}) => {
    store = await createPostgresStore({
      schema,
      connectionString: database.connectionString,
      slot: database.name,
      pollMs: 100,
      restartDelayMs: 100,
      onError: (error) => errors.push(error),
      ...options,
    });
    return store;
  };
  const logged = async () =>
    (await psql.query<{ lsn: string; n: number }>(`SELECT lsn::text AS lsn, (key #>> '{}')::int AS n FROM rxsync.change_log ORDER BY lsn, seq`)).rows;
  const slotPosition = async () =>
    (await psql.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [database.name])).rows[0].lsn;

  it('replays a transaction stored but not acknowledged when the stream was cut, and stores it once', async () => {
    let cuts = 0;
    const s = await open({
      // The first stored transaction: the replication connection is cut before the ack goes out.
      beforeAcknowledge: async () => {
        if (cuts++ > 0) return;
        await psql.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1', [database.name]);
      },
    });
    const seen: Lsn[] = [];
    s.subscribe((changes) => seen.push(...changes.map((c) => c.lsn)));
    const first = await s.write({ op: 'insert', table: 'items', row: { n: 1, label: 'one' } });
    expect(compareLsn(await slotPosition(), first)).toBeLessThan(0); // stored, never acknowledged
    await psql.query(`INSERT INTO items VALUES (2, 'two')`);
    await psql.query(`INSERT INTO items VALUES (3, 'three')`);
    await until(() => seen.length === 3, 20_000, 'the writes after the cut');
    await until(async () => compareLsn(await slotPosition(), s.currentLsn()) >= 0, 10_000, 'the slot acknowledged');
    // The replayed first transaction was recognised by its LSN and skipped: each is logged and told once.
    expect((await logged()).map((r) => r.n)).toEqual([1, 2, 3]);
    expect(new Set(seen).size).toBe(3);
    expect(seen).toHaveLength(3);
    expect(errors.length).toBeGreaterThan(0); // the cut was reported
  });

  it('stores a 100,000-row transaction whole, in one change-log transaction', async () => {
    const s = await open();
    const transactions: ChangeRecord[][] = [];
    s.subscribe((changes) => transactions.push(changes));
    await psql.query(`INSERT INTO items SELECT n, 'row ' || n FROM generate_series(1, 100000) n`);
    await until(() => transactions.length > 0, 50_000, 'the big transaction');
    expect(transactions).toHaveLength(1);
    expect(transactions[0]).toHaveLength(100_000);
    expect(new Set(transactions[0].map((c) => c.lsn)).size).toBe(1);
    expect(transactions[0][99_999]).toMatchObject({ op: 'insert', key: 100_000, row: { n: 100_000, label: 'row 100000' } });
  });

  it('carries on after Postgres restarts: the replicator and the listener connect again', async () => {
    const s = await open();
    await s.write({ op: 'insert', table: 'items', row: { n: 1 } });
    psql.on('error', () => undefined); // this spec's own connection is cut too
    await cluster().restart();
    await psql.end().catch(() => undefined);
    psql = new pg.Client({ connectionString: database.connectionString });
    await psql.connect();
    await psql.query(`INSERT INTO items VALUES (2, 'after the restart')`);
    await until(async () => (await s.changesSince('0/0', 10)).length === 2, 20_000, 'the write after the restart');
    const lsn = await s.write({ op: 'insert', table: 'items', row: { n: 3 } });
    expect(s.currentLsn()).toBe(lsn);
    expect((await logged()).map((r) => r.n)).toEqual([1, 2, 3]);
  });

  it('stops replicating with an error naming the column when a synced column is dropped, and goes on once schema.json matches again', async () => {
    const s = await open();
    await s.write({ op: 'insert', table: 'items', row: { n: 1, label: 'before' } });
    await psql.query('ALTER TABLE items DROP COLUMN label');
    await psql.query('INSERT INTO items VALUES (2)');
    const drift = await until(() => errors.find((e) => (e as Error).name === 'SchemaDriftError') as Error | undefined, 10_000, 'the drift error');
    expect(drift.message).toMatch(/items\.label is no longer in Postgres/);
    expect((await logged()).map((r) => r.n)).toEqual([1]); // never a row without its column

    // The operator makes schema.json match the table again (label is gone) and restarts: what was
    // written meanwhile arrives, in the new shape (clients on the old schema are reset by its hash).
    await s.close();
    const narrower = defineSchema({ tables: { items: { primaryKey: 'n', columns: { n: 'integer' } } } });
    const again = await open({ schema: narrower });
    await until(async () => (await again.changesSince('0/0', 10)).length === 2, 10_000, 'the write made during the drift');
    expect((await again.changesSince('0/0', 10)).map((c) => c.row)).toEqual([{ n: 1, label: 'before' }, { n: 2 }]);
  });

  it('snapshots taken during concurrent writes hold each transaction or leave it to the catch-up, never both, never neither', async () => {
    const s = await open();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await psql.query(`INSERT INTO items SELECT n, 'w' FROM generate_series($1::int, $1::int + 4) n`, [written]);
        written += 5;
        // Paced a little: flat out on 2 shared cores, the replicator can fall more than the 5 s a
        // snapshot waits for it behind, and the snapshot then (correctly) falls back to replaying.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const snapshots: Array<{ lsn: Lsn; keys: Set<number> }> = [];
    for (let i = 0; i < 15; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const reader = await s.openSnapshot({ chunkRows: 1000 });
      const keys = new Set<number>();
      for (let chunk = await reader.nextChunk(); chunk; chunk = await reader.nextChunk()) {
        const at = chunk.columns.indexOf('n');
        for (const row of chunk.rows) keys.add(row[at] as number);
      }
      reader.close();
      snapshots.push({ lsn: reader.lsn, keys });
    }
    writing = false;
    await writer;
    await until(async () => (await logged()).length === written, 20_000, 'every write stored');
    expect(new Set(snapshots.map((snapshot) => snapshot.keys.size)).size).toBeGreaterThan(5); // taken while the table grew
    for (const snapshot of snapshots) {
      const caughtUp = (await s.changesSince(snapshot.lsn, 1_000_000)).map((change) => change.key as number);
      expect(caughtUp.filter((key) => snapshot.keys.has(key))).toEqual([]); // nothing twice
      expect(snapshot.keys.size + caughtUp.length).toBe(written); // nothing missed
    }
  });

  it('stores the full transaction id, (xid8), never one computed from the wrong epoch', async () => {
    const s = await open();
    await s.write({ op: 'insert', table: 'items', row: { n: 1 } });
    const { rows } = await psql.query<{ xid: string; current: string }>(
      `SELECT xid::text, pg_snapshot_xmax(pg_current_snapshot())::text AS current FROM rxsync.change_log`,
    );
    expect(BigInt(rows[0].xid)).toBeGreaterThan(0n);
    expect(BigInt(rows[0].xid)).toBeLessThan(BigInt(rows[0].current));
  });

  it('prunes the change log by age when retention.maxAgeMs is set, moving the oldest resumable LSN', async () => {
    const s = await open({ retention: { maxAgeMs: 300 } });
    const old = await s.write({ op: 'insert', table: 'items', row: { n: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fresh = await s.write({ op: 'insert', table: 'items', row: { n: 2 } });
    expect(s.oldestResumableLsn()).toBe(old);
    expect((await s.changesSince('0/0', 10)).map((c) => c.lsn)).toEqual([fresh]);
  });

  it('answers duplicate to a push resent after the server restarted: the applied change ids live in Postgres', async () => {
    const first = await open();
    const push = [{ id: 'c1', table: 'items', op: 'insert' as const, key: 7, row: { n: 7, label: 'once' } }];
    const [applied] = await first.applyClientWrites('client-a', push);
    expect(applied).toMatchObject({ status: 'applied' });
    await first.close();
    const second = await open();
    expect(await second.applyClientWrites('client-a', push)).toEqual([{ id: 'c1', status: 'duplicate', lsn: (applied as { lsn: string }).lsn }]);
    expect((await logged()).map((r) => r.n)).toEqual([7]);
  });
});
