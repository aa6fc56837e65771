/**
 * bench/postgres: the Postgres source (issue 11), against ceilings measured in the same run.
 *
 *   node bench/run.mjs postgres [--rows=100000] [--runs=3] [--seconds=5] [--rates=1000,5000]
 *
 * - A throwaway PostgreSQL 15 cluster (spec/support/postgres.ts: wal_level=logical, fsync off),
 *   a database owned by a LOGIN REPLICATION role, the bench table `items` seeded with `--rows` rows
 *   (bench/fixtures.ts's rows) by plain INSERTs before the sync server starts.
 * - The sync server runs in its own process (bench/seed-server.ts with `postgres`), the client in
 *   this one (`createSyncClient({ database: ':memory:' })` on the `ws` package).
 * - Initial sync: a fresh client per run, connect() to whenSynced(), median of `--runs`; against
 *   `psql -c "COPY items TO STDOUT"` into /dev/null (the read ceiling: Postgres's fastest way out).
 * - Replication lag: a writer (a pg connection in this process) commits a transaction every 10 ms
 *   with rate/100 row inserts, for `--seconds`, at each of `--rates` changes/s; each transaction's
 *   wall-clock stamp is taken just before its COMMIT and its commit LSN read back from the change
 *   log by its transaction id. A transaction counts as applied at the client's first
 *   `changes_applied` event at or past that LSN. p50/p99 over the transactions, in ms.
 * - Change-log write cost: one transaction inserting `--rows` more rows; the time
 *   from its COMMIT to the change log holding it (the replicator decoding and storing it), per
 *   change, beside the source INSERT's own time per row.
 */
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import pg from 'pg';
import { createSyncClient } from '../src/client/sync-client.js';
import { lsnToBigInt } from '../src/protocol/index.js';
import { join } from 'node:path';
import { createAppDatabase, postgresBin, startPostgres } from '../spec/support/postgres.js';
import { option } from './cli-options.js';
import { benchRow, benchSchema, TABLE } from './fixtures.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { startBenchServer } from './seed-server-process.js';
import { median, rate, round2, stats } from './stats.js';
import { wallNow } from './wall-clock.js';

const ROWS = Number(option('rows') ?? 100_000);
const RUNS = Math.max(1, Number(option('runs') ?? 3));
const SECONDS = Number(option('seconds') ?? 5);
const RATES = (option('rates') ?? '1000,5000').split(',').map(Number);

const DDL = `CREATE TABLE ${TABLE} (id text PRIMARY KEY, title text, body text, n bigint, x double precision, updated_at text)`;

async function seed(db: pg.Client, rows: number): Promise<void> {
  for (let from = 0; from < rows; from += 10_000) {
    const batch = Array.from({ length: Math.min(10_000, rows - from) }, (_, i) => benchRow(from + i));
    await db.query(`INSERT INTO ${TABLE} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::text[])`, [
      batch.map((r) => r.id),
      batch.map((r) => r.title),
      batch.map((r) => r.body),
      batch.map((r) => r.n),
      batch.map((r) => r.x),
      batch.map((r) => r.updated_at),
    ]);
  }
}

function newClient() {
  return createSyncClient({ schema: benchSchema, database: ':memory:', WebSocketCtor: WebSocket as unknown as typeof globalThis.WebSocket });
}

async function main(): Promise<void> {
  const postgres = await startPostgres();
  const step = (what: string) => console.log(`postgres bench: ${what}`);
  try {
    const database = await createAppDatabase(postgres, DDL);
    const db = new pg.Client({ connectionString: database.connectionString });
    await db.connect();
    step(`seeding ${ROWS} rows`);
    await seed(db, ROWS);
    await db.query('VACUUM ANALYZE');

    // ---- the read ceiling: COPY TO STDOUT ----
    step('COPY TO STDOUT');
    const copyMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      execFileSync(join(postgresBin(), 'psql'), ['-X', '-q', database.connectionString, '-c', `COPY ${TABLE} TO STDOUT`, '-o', '/dev/null']);
      copyMs.push(performance.now() - started);
    }

    const server = await startBenchServer('postgres', { database: '', postgres: { connectionString: database.connectionString, slot: database.name } });
    try {
      // ---- initial sync ----
      step('initial sync');
      const syncMs: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const client = newClient();
        await client.initialize();
        const started = performance.now();
        await client.connect(server.url);
        await client.whenSynced({ timeoutMs: 120_000 });
        syncMs.push(performance.now() - started);
        const [{ n }] = await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${TABLE}`);
        if (n !== ROWS) throw new Error(`the client has ${n} rows, not ${ROWS}`);
        await client.cleanup();
      }

      // ---- replication lag under a write load ----
      step('replication lag');
      const client = newClient();
      const appliedLsn: bigint[] = [];
      const appliedAt: number[] = [];
      client.on('changes_applied', (data: { lsn: string }) => {
        appliedAt.push(wallNow());
        appliedLsn.push(lsnToBigInt(data.lsn));
      });
      await client.connect(server.url);
      await client.whenSynced({ timeoutMs: 120_000 });
      const lag: Record<string, ReturnType<typeof stats>> = {};
      let next = ROWS;
      for (const perSecond of RATES) {
        const perTransaction = Math.max(1, Math.round(perSecond / 100));
        const commits: Array<{ xid: string; t: number }> = [];
        const until = performance.now() + SECONDS * 1000;
        let due = performance.now();
        while (performance.now() < until) {
          const rows = Array.from({ length: perTransaction }, () => benchRow(next++));
          await db.query('BEGIN');
          const { rows: xid } = await db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
          await db.query(`INSERT INTO ${TABLE} (id, title, n) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])`, [
            rows.map((r) => r.id),
            rows.map((r) => r.title),
            rows.map((r) => r.n),
          ]);
          const t = wallNow();
          await db.query('COMMIT');
          commits.push({ xid: xid[0].xid, t });
          due += 10;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        // Every transaction stored, then applied by the client (the server's head may trail the log by a poll).
        let stored: Array<{ xid: string; lsn: string }> = [];
        for (const deadline = performance.now() + 60_000; ; await new Promise((resolve) => setTimeout(resolve, 20))) {
          ({ rows: stored } = await db.query<{ xid: string; lsn: string }>(
            'SELECT DISTINCT xid::text AS xid, lsn::text AS lsn FROM rxsync.change_log WHERE xid = ANY($1::bigint[])',
            [commits.map((c) => c.xid)],
          ));
          const last = stored.reduce((max, r) => (lsnToBigInt(r.lsn) > max ? lsnToBigInt(r.lsn) : max), 0n);
          if (stored.length === commits.length && lsnToBigInt(client.currentLsn) >= last) break;
          if (performance.now() > deadline) throw new Error(`${commits.length - stored.length} transactions not stored, or not applied, within 60 s`);
        }
        const lsnOf = new Map(stored.map((r) => [r.xid, lsnToBigInt(r.lsn)]));
        const delays = commits.map(({ xid, t }) => {
          const lsn = lsnOf.get(xid);
          const index = lsn === undefined ? -1 : appliedLsn.findIndex((applied) => applied >= lsn);
          if (index < 0) throw new Error(`transaction ${xid} was not applied by the client`);
          return appliedAt[index] - t;
        });
        lag[`${perSecond}`] = stats(delays);
      }
      await client.cleanup();

      // ---- change-log write cost ----
      step('change-log write cost');
      await db.query('BEGIN');
      const { rows: bulkXid } = await db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      const insertStarted = performance.now();
      await db.query(`INSERT INTO ${TABLE} (id, title, n) SELECT 'bulk-' || n, 'bulk', n FROM generate_series(1, ${ROWS}) n`);
      const insertMs = performance.now() - insertStarted;
      await db.query('COMMIT');
      const committed = performance.now();
      for (;;) {
        const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rxsync.change_log WHERE xid = $1', [bulkXid[0].xid]);
        if (rows[0].n === ROWS) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const storeMs = performance.now() - committed;

      const copyRowsPerSec = rate(ROWS, median(copyMs));
      const syncRowsPerSec = rate(ROWS, median(syncMs));
      const data = {
        rows: ROWS,
        copyRowsPerSec,
        initialSyncRowsPerSec: syncRowsPerSec,
        initialSyncOfCopy: round2(syncRowsPerSec / copyRowsPerSec),
        initialSyncMs: syncMs.map(Math.round),
        lagMs: Object.fromEntries(Object.entries(lag).map(([perSecond, s]) => [perSecond, { p50: round2(s.p50), p99: round2(s.p99), transactions: s.count }])),
        changeLogMicrosPerChange: round2((storeMs * 1000) / ROWS),
        sourceInsertMicrosPerRow: round2((insertMs * 1000) / ROWS),
      };
      console.log(
        [
          `initial sync of ${ROWS} rows from Postgres: ${syncRowsPerSec} rows/s (median of ${RUNS}) = ${data.initialSyncOfCopy} of COPY TO STDOUT (${copyRowsPerSec} rows/s)`,
          ...Object.entries(data.lagMs).map(
            ([perSecond, s]) => `lag at ${perSecond} changes/s: commit -> applied p50 ${s.p50} ms, p99 ${s.p99} ms (${s.transactions} transactions)`,
          ),
          `change log: ${data.changeLogMicrosPerChange} µs per change to store (the source INSERT: ${data.sourceInsertMicrosPerRow} µs per row)`,
        ].join('\n'),
      );
      recordAndPrint('postgres', 'postgres', data);
    } finally {
      await server.close();
      await db.end();
    }
  } finally {
    await postgres.stop();
  }
}

runMain(main);
