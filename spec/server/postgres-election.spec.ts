import pg from 'pg';
import { compareLsn, defineSchema, type ChangeRecord } from '../../src/protocol/index.js';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/server/store/postgres/postgres-store.js';
import type { SyncStore } from '../../src/server/store/store.js';
import { createAppDatabase, type AppDatabase, useTestPostgres } from '../support/postgres.js';
import { until } from '../support/until.js';

const schema = defineSchema({ tables: { items: { primaryKey: 'n', columns: { n: 'integer', label: 'text' } } } });
const DDL = 'CREATE TABLE items (n bigint PRIMARY KEY, label text)';

/**
 * Several sync processes' stores over one database (here in one process, each with connections of
 * its own): exactly one replicates, another takes over when it goes, and a replicator whose place
 * was taken writes nothing more. The process-level faults (kill -9, SIGSTOP, a cut) are in
 * spec/e2e/multi-process.spec.ts.
 */
describe('replicator election over one Postgres, against a real PostgreSQL', () => {
  const cluster = useTestPostgres();
  let database: AppDatabase;
  let psql: pg.Client;
  const stores: SyncStore[] = [];
  const errors: unknown[] = [];

  beforeEach(async () => {
    errors.length = 0;
    database = await createAppDatabase(cluster(), DDL);
    psql = new pg.Client({ connectionString: database.connectionString });
    await psql.connect();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await psql.end().catch(() => undefined);
    await database.drop();
  });
  jest.setTimeout(60_000);

  const open = (options: Partial<PostgresStoreOptions> = {}) =>
    createPostgresStore({
      schema,
      connectionString: database.connectionString,
      slot: database.name,
      pollMs: 100,
      restartDelayMs: 100,
      electionIntervalMs: 100,
      onError: (error) => errors.push(error),
      ...options,
    }).then((store) => {
      stores.push(store);
      return store;
    });
  const roles = async (of: SyncStore[]) => Promise.all(of.map(async (store) => (await store.health()).role));
  const logged = async () =>
    (await psql.query<{ lsn: string; n: number }>(`SELECT lsn::text AS lsn, (key #>> '{}')::int AS n FROM rxsync.change_log ORDER BY lsn, seq`)).rows;
  const collect = (store: SyncStore) => {
    const seen: number[] = [];
    store.subscribe((changes: ChangeRecord[]) => seen.push(...changes.map((change) => Number(change.key))));
    return seen;
  };

  it('elects exactly one replicator among stores started at the same moment on a fresh database, without an error', async () => {
    const three = await Promise.all([open(), open(), open()]);
    expect((await roles(three)).sort()).toEqual(['follower', 'follower', 'replicator']);
    const seen = three.map(collect);
    for (let n = 1; n <= 5; n++) await psql.query('INSERT INTO items VALUES ($1, $2)', [n, `item ${n}`]);
    await until(() => seen.every((s) => s.length === 5) || undefined, 10_000, 'every store told of the five inserts');
    expect(seen).toEqual([1, 2, 3].map(() => [1, 2, 3, 4, 5]));
    // Every store reads the same log: an LSN means the same in each process.
    const [a, b, c] = await Promise.all(three.map((store) => store.changesSince('0/0', 100)));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(errors).toEqual([]);
    // Still one, a while later: the standbys keep trying and keep losing, each on the one
    // connection it keeps between tries (not a new connection a second).
    const candidates = async () =>
      (
        await psql.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rxsync replicator' AND backend_type = 'client backend' ORDER BY pid`,
        )
      ).rows.map((row) => row.pid);
    const before = await candidates();
    expect(before).toHaveLength(3); // the replicator's writer and a standby's each
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await roles(three)).sort()).toEqual(['follower', 'follower', 'replicator']);
    expect(await candidates()).toEqual(before);
  });

  it('lets a store catch up to an LSN another store has read, for a client moving between processes', async () => {
    // The second reads the log only every minute (no NOTIFY): behind the first until asked.
    const [first, second] = await Promise.all([open(), open({ pollMs: 60_000, notifications: false })]);
    const seen = collect(first);
    await psql.query(`INSERT INTO items VALUES (1, 'moved')`);
    await until(() => seen.length === 1 || undefined, 10_000, 'the first store told');
    const lsn = first.currentLsn();
    expect(compareLsn(second.currentLsn(), lsn)).toBeLessThan(0);
    expect(await second.catchUpTo(lsn, 5000)).toBe(true);
    expect(second.currentLsn()).toBe(lsn);
    // An LSN no store ever stored is refused at once, not waited for.
    expect(await second.catchUpTo('FFFF/0', 60_000)).toBe(false);
  });

  it('hands the slot to another store when the replicator goes, resuming from what was stored: nothing lost, nothing twice', async () => {
    const first = await open();
    const [second, third] = await Promise.all([open(), open()]);
    expect(await roles([first, second, third])).toEqual(['replicator', 'follower', 'follower']);
    const seen = [second, third].map(collect);
    for (let n = 1; n <= 3; n++) await psql.query('INSERT INTO items VALUES ($1, $2)', [n, 'before']);
    await until(() => seen.every((s) => s.length === 3) || undefined, 10_000, 'the first three stored');
    await first.close();
    stores.splice(stores.indexOf(first), 1);
    // Written while no process replicates: the slot keeps them for whoever takes over.
    for (let n = 4; n <= 6; n++) await psql.query('INSERT INTO items VALUES ($1, $2)', [n, 'during']);
    await until(async () => ((await roles([second, third])).includes('replicator') ? true : undefined), 10_000, 'a new replicator');
    expect((await roles([second, third])).sort()).toEqual(['follower', 'replicator']);
    for (let n = 7; n <= 9; n++) await psql.query('INSERT INTO items VALUES ($1, $2)', [n, 'after']);
    await until(() => seen.every((s) => s.length === 9) || undefined, 10_000, 'all nine told to both');
    expect(seen).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    ]);
    expect((await logged()).map((row) => row.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(errors).toEqual([]);
  });

  it('refuses the writes of a replicator whose place was taken (fencing), which then stands by and stores nothing twice', async () => {
    const store = await open();
    const seen = collect(store);
    await psql.query(`INSERT INTO items VALUES (1, 'stored')`);
    await until(() => seen.length === 1 || undefined, 10_000, 'the first insert stored');
    // What a takeover does first (replicator-lease.ts): a new owner and epoch. The old replicator
    // still streams, on connections that are alive, and must not store anything more.
    await psql.query(`UPDATE rxsync.replication_state SET owner = 'someone else', epoch = epoch + 1 WHERE slot = $1`, [database.name]);
    await psql.query(`INSERT INTO items VALUES (2, 'after the takeover')`);
    await until(() => errors.find((error) => (error as Error).name === 'FencedError') ?? undefined, 10_000, 'the write fenced');
    // It let go of the lock and stood by; as the only process it is elected again, claims a new
    // epoch, and stores the insert from the slot, once.
    await until(() => seen.length === 2 || undefined, 10_000, 'the second insert stored by the next term');
    expect((await logged()).map((row) => row.n)).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
    const state = await psql.query<{ owner: string }>('SELECT owner FROM rxsync.replication_state WHERE slot = $1', [database.name]);
    expect(state.rows[0].owner).not.toBe('someone else');
  });

  it('lets a standby take over from a replicator that stopped renewing its lease, ending its sessions', async () => {
    const first = await open({ leaseMs: 600 });
    const second = await open({ leaseMs: 600 });
    expect(await roles([first, second])).toEqual(['replicator', 'follower']);
    // A stalled replicator, as the standby sees it: the lease is old. (A real stall, SIGSTOP of a
    // process, is in the multi-process spec.) Held old by a trigger, as the first one keeps renewing.
    // Only the first replicator's renewals are held back (its owner id, a UUID, goes in as a literal).
    const lease = await psql.query<{ owner: string }>('SELECT owner FROM rxsync.replicator_lease WHERE slot = $1', [database.name]);
    const stalled = lease.rows[0].owner;
    expect(stalled).toMatch(/^[0-9a-f-]{36}$/);
    await psql.query(
      `CREATE FUNCTION hold_lease() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.renewed_at := now() - interval '1 hour'; RETURN NEW; END $$`,
    );
    await psql.query(
      `CREATE TRIGGER hold_lease BEFORE UPDATE ON rxsync.replicator_lease FOR EACH ROW WHEN (NEW.owner = '${stalled}') EXECUTE FUNCTION hold_lease()`,
    );
    await psql.query(`UPDATE rxsync.replicator_lease SET lag_seconds = 0 WHERE slot = $1`, [database.name]);
    await until(async () => ((await second.health()).role === 'replicator' ? true : undefined), 10_000, 'the standby took over');
    expect(errors.some((error) => /did not renew its lease/.test((error as Error).message))).toBe(true);
    await psql.query('DROP TRIGGER hold_lease ON rxsync.replicator_lease');
    const seen = collect(second);
    await psql.query(`INSERT INTO items VALUES (1, 'after the takeover')`);
    await until(() => seen.length === 1 || undefined, 10_000, 'stored by the new replicator');
    await until(async () => ((await roles([first, second])).join() === 'follower,replicator' ? true : undefined), 10_000, 'the old one stands by');
    expect((await logged()).map((row) => row.n)).toEqual([1]);
  });
});
