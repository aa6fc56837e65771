import type { SyncSchema } from '../../../protocol/index.js';
import { quoteIdentifier } from '../../../sql/index.js';
import type { Queryable } from './schema-check.js';

/** The names a Postgres source uses; the defaults suit one sync deployment per database. */
export interface ReplicationNames {
  /** The publication of the synced tables (default `rxsync`). */
  publication?: string;
  /** The logical replication slot (default `rxsync`). */
  slot?: string;
  /** The Postgres schema the synced tables live in (default `public`). */
  namespace?: string;
}

/** Serializes concurrent set-ups (several sync processes starting at once) on one database. */
const SETUP_LOCK = 0x72787379; // 'rxsy'

/**
 * The `rxsync` schema, kept in the app's own database: the change log the replicator writes each
 * committed transaction to (in commit-LSN order, the changes of one transaction numbered by
 * `seq`), the replication state (how far the slot's changes are stored, and by which replicator),
 * the replicator's lease (replicator-lease.ts), the client change ids applied (idempotency, across
 * restarts and processes), and the client ids seen.
 */
const RXSYNC_DDL = `
  CREATE SCHEMA IF NOT EXISTS rxsync;
  CREATE TABLE IF NOT EXISTS rxsync.change_log (
    lsn pg_lsn NOT NULL,          -- the commit LSN of the source transaction
    seq integer NOT NULL,         -- the change's place inside that transaction
    xid bigint NOT NULL,          -- the source transaction's id (xid8): which snapshots saw it
    table_name text NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    key jsonb NOT NULL,
    row jsonb,                    -- the whole row after the change, as clients get it; NULL for a delete
    old_row jsonb,                -- the whole row before it (NULL for an insert): who could see it, for per-user rules
    client_id text,               -- the client change that caused it, if one did
    change_id text,
    committed_at timestamptz,     -- when the source transaction committed (on its first change only)
    PRIMARY KEY (lsn, seq)
  );
  CREATE INDEX IF NOT EXISTS change_log_xid ON rxsync.change_log (xid);
  CREATE INDEX IF NOT EXISTS change_log_age ON rxsync.change_log (committed_at) WHERE seq = 0;
  CREATE TABLE IF NOT EXISTS rxsync.replication_state (
    slot text PRIMARY KEY,
    stored_lsn pg_lsn NOT NULL DEFAULT '0/0',    -- every transaction up to here is in change_log
    resumable_lsn pg_lsn NOT NULL DEFAULT '0/0', -- change_log is complete after here (older ones pruned)
    marked_lsn pg_lsn NOT NULL DEFAULT '0/0',    -- every transaction committed before here is stored (snapshots wait on it)
    owner text,                                  -- the replicator that may write (fencing)
    epoch bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS rxsync.replicator_lease (
    slot text PRIMARY KEY,
    owner text NOT NULL,                         -- the replicator renewing it (replication_state.owner)
    epoch bigint NOT NULL,
    pid integer NOT NULL,                        -- its writer's backend
    renewed_at timestamptz NOT NULL,             -- a standby takes over when this is older than the lease
    lag_seconds double precision NOT NULL DEFAULT 0 -- how far behind the source's commits it was, for every process's health
  );
  CREATE TABLE IF NOT EXISTS rxsync.applied_changes (
    client_id text NOT NULL,
    change_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('applied', 'rejected')),
    reason text,
    xid bigint,                   -- the transaction that applied it: its commit LSN is the answer's
    lsn pg_lsn,                   -- set by the replicator once that transaction is stored
    PRIMARY KEY (client_id, change_id)
  );
  CREATE TABLE IF NOT EXISTS rxsync.clients (
    client_id text PRIMARY KEY,
    first_seen timestamptz NOT NULL DEFAULT now()
  );`;

/**
 * Prepares a Postgres database to be a sync source, idempotently, and safely when several sync
 * processes start at the same moment: the `rxsync` schema, a publication of exactly the schema's
 * tables (altered to match when it exists), `REPLICA IDENTITY FULL` on those tables, and a logical
 * replication slot with `pgoutput`. Runs
 * with the least privilege a production database grants: a role with LOGIN and REPLICATION that
 * owns the synced tables and the database (no `FOR ALL TABLES`, nothing superuser-only).
 * Identifiers come from the checked schema and are quoted; values are bound. Returns whether this
 * call created the slot (its changes start now: a new slot means clients must be reset).
 */
export async function ensureReplicationSetup(db: Queryable, schema: SyncSchema, names: ReplicationNames = {}): Promise<{ createdSlot: boolean }> {
  await ensureSyncSchema(db, schema, names);
  return { createdSlot: await createSlotIfMissing(db, names.slot ?? 'rxsync') };
}

/**
 * The set-up without the slot: a sync process runs this at start, and only the elected replicator
 * creates the slot (createSlotIfMissing), under its lock, with the change log restarted there.
 */
export async function ensureSyncSchema(db: Queryable, schema: SyncSchema, names: ReplicationNames = {}): Promise<void> {
  const publication = names.publication ?? 'rxsync';
  const slot = names.slot ?? 'rxsync';
  const namespace = names.namespace ?? 'public';
  const tables = schema.tableNames.map((table) => `${quoteIdentifier(namespace)}.${quoteIdentifier(table)}`).join(', ');
  await db.query('BEGIN');
  try {
    await db.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    await db.query(RXSYNC_DDL);
    await addOldRows(db, slot);
    // Each step only when needed: a rolling restart of several processes should not take the
    // app's tables' ACCESS EXCLUSIVE lock (ALTER TABLE) or touch the publication each time.
    const published = await db.query<{ tables: string[] | null }>(
      'SELECT (SELECT array_agg(tablename::text ORDER BY tablename COLLATE "C") FROM pg_publication_tables t WHERE t.pubname = p.pubname AND t.schemaname = $2) AS tables FROM pg_publication p WHERE p.pubname = $1',
      [publication, namespace],
    );
    const wanted = [...schema.tableNames].sort();
    if (published.rows.length === 0) await db.query(`CREATE PUBLICATION ${quoteIdentifier(publication)} FOR TABLE ${tables}`);
    else if (JSON.stringify(published.rows[0].tables ?? []) !== JSON.stringify(wanted))
      await db.query(`ALTER PUBLICATION ${quoteIdentifier(publication)} SET TABLE ${tables}`);
    // Updates and deletes carry the whole old row: an unchanged TOASTed value is filled from it,
    // and a primary key change is seen as one.
    const identities = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relreplident = 'f'`,
      [namespace, schema.tableNames],
    );
    const full = new Set(identities.rows.map((row) => row.name));
    for (const table of schema.tableNames) {
      if (!full.has(table)) await db.query(`ALTER TABLE ${quoteIdentifier(namespace)}.${quoteIdentifier(table)} REPLICA IDENTITY FULL`);
    }
    await db.query('INSERT INTO rxsync.replication_state (slot) VALUES ($1) ON CONFLICT (slot) DO NOTHING', [slot]);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Creates the `pgoutput` slot unless it exists; true when this call created it. A slot cannot be
 * created in a transaction that has written; a concurrent creator loses with duplicate_object,
 * which means the slot is there.
 */
export async function createSlotIfMissing(db: Queryable, slot: string): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS exists', [slot]);
  if (rows[0].exists) return false;
  try {
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === '42710') return false;
    throw error;
  }
}

/**
 * A change log written before old rows were kept gets the column, and what it held stops being
 * resumable: per-user rules cannot tell who saw a change without the row before it, so clients
 * behind that point are reset instead of caught up from it (once, at the upgrade).
 */
async function addOldRows(db: Queryable, slot: string): Promise<void> {
  const { rows } = await db.query<{ missing: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'rxsync' AND table_name = 'change_log' AND column_name = 'old_row') AS missing`,
  );
  if (!rows[0].missing) return;
  await db.query('ALTER TABLE rxsync.change_log ADD COLUMN old_row jsonb');
  await db.query('UPDATE rxsync.replication_state SET resumable_lsn = stored_lsn WHERE slot = $1', [slot]);
  await db.query('DELETE FROM rxsync.change_log');
}

/**
 * A slot created now streams from now: what the change log holds (from an earlier slot, dropped or
 * invalidated) has a gap before it. Both positions move to the new slot's start, so no client LSN
 * is resumable and every client gets a fresh snapshot; the old entries go. With `fence`, only the
 * replicator holding that owner and epoch may do it.
 */
export async function startFromNewSlot(db: Queryable, slot: string, fence?: { owner: string; epoch: number }): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>(
    `UPDATE rxsync.replication_state s SET stored_lsn = r.confirmed_flush_lsn, resumable_lsn = r.confirmed_flush_lsn, updated_at = now()
       FROM pg_replication_slots r
      WHERE r.slot_name = $1 AND s.slot = $1 AND ($2::text IS NULL OR (s.owner = $2 AND s.epoch = $3))
      RETURNING s.stored_lsn::text AS lsn`,
    [slot, fence?.owner ?? null, fence?.epoch ?? 0],
  );
  if (rows.length === 0) throw new Error(`rxsync: could not restart the change log at slot ${slot} (another replicator took over?)`);
  await db.query('DELETE FROM rxsync.change_log');
  return rows[0].lsn;
}

/**
 * Removes what a Postgres source holds in the database: its replication slot (which keeps WAL
 * from being recycled while it exists) and its publication. The `rxsync` schema stays (the applied
 * change ids, the replication state); a server started later creates a new slot and resets its
 * clients. Refuses while a sync server streams from the slot. Returns what was there to drop.
 */
export async function dropReplicationSetup(db: Queryable, names: ReplicationNames = {}): Promise<{ slot: boolean; publication: boolean }> {
  const slot = names.slot ?? 'rxsync';
  const publication = names.publication ?? 'rxsync';
  const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (rows[0]?.active) throw new Error(`replication slot ${slot} is in use by a running sync server: stop it first`);
  if (rows.length) await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  const published = await db.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS exists', [publication]);
  if (published.rows[0].exists) await db.query(`DROP PUBLICATION ${quoteIdentifier(publication)}`);
  return { slot: rows.length > 0, publication: published.rows[0].exists };
}
