import pg from 'pg';

/**
 * Session settings every connection of the Postgres source uses, replication ones included: the
 * text output of timestamps is then the same whatever the server's defaults (ISO, in UTC), so a
 * value reads the same from a snapshot and from the WAL stream (see pg-values.ts).
 */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c extra_float_digits=1';

export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:port/database`. */
  connectionString: string;
  /** Connections in the pool that serves snapshots, catch-up reads and client writes (default 10). */
  poolSize?: number;
}

export function createPool(options: PostgresConnectionOptions): pg.Pool {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10, options: SESSION_OPTIONS, application_name: 'rxsync' });
  // The pool listens for errors only on idle clients. A checked-out one (a snapshot between two
  // chunks) whose connection breaks (Postgres restarted, its backend ended) would emit 'error' to
  // nobody, which ends the process; its next query fails instead, and release() drops it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A plain connection of its own (LISTEN, the replicator's writes): not shared through the pool. */
export async function connectClient(options: PostgresConnectionOptions, role: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: options.connectionString, options: SESSION_OPTIONS, application_name: `rxsync ${role}` });
  await client.connect();
  return client;
}

/** A replication connection (`replication=database`), for START_REPLICATION. */
export async function connectReplication(options: PostgresConnectionOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.connectionString,
    options: SESSION_OPTIONS,
    application_name: 'rxsync replicator',
    replication: 'database',
  } as pg.ClientConfig);
  await client.connect();
  return client;
}
