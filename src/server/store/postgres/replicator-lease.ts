import type pg from 'pg';
import type { Queryable } from './schema-check.js';

/**
 * Which process replicates a slot, when several sync processes share one Postgres database.
 *
 * The replicator is the process holding a session advisory lock on its writer connection (a plain
 * connection, never a pooled one: the lock lives and dies with it). `kill -9`, a Postgres restart
 * or a cut connection ends the session and frees the lock at once, and a standby takes it at its
 * next try. A replicator that is alive but stalled (a stopped process, a network path that drops
 * packets without closing) keeps its session; for that, it renews a lease row every second on a
 * connection of its own, and a standby that finds the lease older than `leaseMs` ends the holder's
 * backends (the lock's and the walsender's) with pg_terminate_backend. Should the old replicator
 * wake up, its writes are refused by the owner/epoch fence in `rxsync.replication_state`: a
 * takeover bumps the epoch before the new replicator writes anything.
 */

/** The advisory lock's first key ('rxsy'); the second is the slot name's hash, so slots elect apart. */
const LOCK_CLASS = 0x72787379;

/** Tries the replicator lock for `slot` on `writer`'s session; true when this session holds it now. */
export async function tryReplicatorLock(writer: pg.Client, slot: string): Promise<boolean> {
  const { rows } = await writer.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [LOCK_CLASS, slot]);
  return rows[0].locked;
}

/** The lease of a new replicator (which holds the lock and has bumped the epoch). */
export async function claimLease(db: Queryable, slot: string, owner: string, epoch: number): Promise<void> {
  await db.query(
    `INSERT INTO rxsync.replicator_lease (slot, owner, epoch, pid, renewed_at, lag_seconds) VALUES ($1, $2, $3, pg_backend_pid(), now(), 0)
     ON CONFLICT (slot) DO UPDATE SET owner = $2, epoch = $3, pid = pg_backend_pid(), renewed_at = now(), lag_seconds = 0`,
    [slot, owner, epoch],
  );
}

/** Renews the lease; false when another replicator holds it now (this one must stop writing). */
export async function renewLease(db: Queryable, slot: string, owner: string, epoch: number, lagSeconds: number): Promise<boolean> {
  const { rows } = await db.query<{ renewed: boolean }>(
    `UPDATE rxsync.replicator_lease SET renewed_at = now(), lag_seconds = $4 WHERE slot = $1 AND owner = $2 AND epoch = $3 RETURNING true AS renewed`,
    [slot, owner, epoch, lagSeconds],
  );
  return rows.length === 1;
}

/** What any process can read of the replicator: whether one renewed its lease lately, and its lag. */
export interface LeaseState {
  /** Seconds since the replicator last renewed its lease; null when no replicator ever ran. */
  ageSeconds: number | null;
  /** The lag the replicator reported with its last renewal (seconds behind the source's commits). */
  lagSeconds: number;
}

export async function readLease(db: Queryable, slot: string): Promise<LeaseState> {
  const { rows } = await db.query<{ age: number; lag: number }>(
    'SELECT extract(epoch FROM now() - renewed_at)::float8 AS age, lag_seconds::float8 AS lag FROM rxsync.replicator_lease WHERE slot = $1',
    [slot],
  );
  return rows.length ? { ageSeconds: Math.max(0, rows[0].age), lagSeconds: rows[0].lag } : { ageSeconds: null, lagSeconds: 0 };
}

/**
 * Called by a standby that did not get the lock: when the holder's lease is older than `leaseMs`,
 * ends the sessions holding the lock and streaming the slot, so that the next try can take over.
 * Returns the backend pids it ended (none while the lease is fresh, or while no lease was ever
 * written: the holder is a replicator still starting).
 */
export async function endStalledReplicator(db: Queryable, slot: string, leaseMs: number): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND classid = $2::int::oid AND objid = hashtext($1)::oid AND objsubid = 2
        AND EXISTS (SELECT 1 FROM rxsync.replicator_lease WHERE slot = $1 AND renewed_at < now() - make_interval(secs => $3::float8 / 1000))
     UNION
     SELECT active_pid FROM pg_replication_slots
      WHERE slot_name = $1 AND active_pid IS NOT NULL
        AND EXISTS (SELECT 1 FROM rxsync.replicator_lease WHERE slot = $1 AND renewed_at < now() - make_interval(secs => $3::float8 / 1000))`,
    [slot, LOCK_CLASS, leaseMs],
  );
  const pids = rows.map((row) => row.pid);
  for (const pid of pids) await db.query('SELECT pg_terminate_backend($1)', [pid]);
  return pids;
}

/**
 * Takes the replicator lock on `writer`'s session when it can: at once when it is free, or after
 * ending a replicator whose lease ran out (told to `onTakeover`, as an operator wants to know).
 * False when another process holds it and renews its lease.
 */
export async function takeReplicatorLock(writer: pg.Client, slot: string, leaseMs: number, onTakeover: (notice: Error) => void): Promise<boolean> {
  if (await tryReplicatorLock(writer, slot)) return true;
  const ended = await endStalledReplicator(writer, slot, leaseMs);
  if (ended.length === 0) return false;
  onTakeover(
    new Error(`rxsync: the replicator of slot ${slot} did not renew its lease for ${leaseMs} ms; its sessions (${ended.join(', ')}) were ended to take over`),
  );
  // The ended backends let go of the lock as they exit: a moment later.
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await tryReplicatorLock(writer, slot)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
