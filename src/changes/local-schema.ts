import type { SqliteExecutor } from '../storage/index.js';
import { indexChanges, MANAGED_INDEXES_SQL, quoteIdentifier, SQL_COLUMN_TYPE } from '../sql/index.js';
import type { Lsn, SyncSchema } from '../protocol/index.js';
import { ZERO_LSN } from '../protocol/index.js';
import { SERVER_ROWS_DDL } from './rebase.js';

/**
 * The client's local database: one table per synced table (same names and columns as the
 * server's), `local_changes` (every change with its status, attempts and error history) and
 * `_rxsync_state` (the LSN checkpoint; it lives in SQLite so that a batch's rows and its LSN commit
 * in one transaction; the IndexedDB copy is only a mirror).
 */

export const LOCAL_CHANGES_DDL = `
CREATE TABLE IF NOT EXISTS local_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- local order: pushes go out in this order
  id TEXT NOT NULL UNIQUE,                 -- change id, the server's idempotency key
  source TEXT NOT NULL,                    -- 'local' (a write here) or 'server' (applied from the stream)
  table_name TEXT NOT NULL,
  op TEXT NOT NULL,                        -- insert | update | delete
  row_key TEXT NOT NULL,                   -- JSON of the primary-key value
  row TEXT,                                -- JSON: the row (insert), the patch (update), NULL (delete)
  status TEXT NOT NULL,                    -- pending | sent | applied | rejected | failed
  settled INTEGER NOT NULL DEFAULT 0,      -- 0: may still differ from the server's rows, so it is
                                           -- re-applied on top of incoming server rows (guarantee 5)
  attempts INTEGER NOT NULL DEFAULT 0,
  errors TEXT NOT NULL DEFAULT '[]',       -- JSON array of { at, message }
  lsn TEXT,                                -- the server LSN it was applied at
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS local_changes_outbox ON local_changes (status, seq) WHERE status IN ('pending', 'sent');
CREATE INDEX IF NOT EXISTS local_changes_unsettled ON local_changes (seq) WHERE settled = 0;
CREATE TABLE IF NOT EXISTS _rxsync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export function syncedTablesDdl(schema: SyncSchema): string {
  return schema.tableNames
    .map((name) => {
      const table = schema.tables[name];
      const columns = Object.entries(table.columns).map(
        ([column, type]) => `${quoteIdentifier(column)} ${SQL_COLUMN_TYPE[type]}${column === table.primaryKey ? ' PRIMARY KEY' : ''}`,
      );
      return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(name)} (${columns.join(', ')});`;
    })
    .join('\n');
}

export async function createLocalSchema(db: SqliteExecutor, schema: SyncSchema): Promise<void> {
  await db.exec(`${syncedTablesDdl(schema)}\n${LOCAL_CHANGES_DDL}\n${SERVER_ROWS_DDL}`);
  await syncIndexes(db, schema);
  // A database created for another schema would mix rows of two shapes: refuse it plainly.
  const stored = await readState(db, 'schema_hash');
  if (stored === undefined) await writeState(db, 'schema_hash', schema.hash);
  else if (stored !== schema.hash) {
    throw new Error(`the local database was created for another schema (hash ${stored}, now ${schema.hash}); use another database name or resetLSN()`);
  }
}

/** Creates the indexes the schema declares and drops the ones rxsync made that it no longer declares. */
async function syncIndexes(db: SqliteExecutor, schema: SyncSchema): Promise<void> {
  const existing = await db.all<{ name: string }>(MANAGED_INDEXES_SQL);
  const changes = indexChanges(
    schema,
    existing.map((row) => row.name),
  );
  if (changes.length > 0) await db.exec(changes.map((sql) => `${sql};`).join('\n'));
}

export async function readState(db: SqliteExecutor, key: string): Promise<string | undefined> {
  const row = await db.get<{ value: string }>('SELECT value FROM _rxsync_state WHERE key = ?', [key]);
  return row?.value;
}

export async function writeState(db: SqliteExecutor, key: string, value: string): Promise<void> {
  await db.run('INSERT INTO _rxsync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
}

export const readLsn = async (db: SqliteExecutor): Promise<Lsn> => (await readState(db, 'lsn')) ?? ZERO_LSN;
export const writeLsn = (db: SqliteExecutor, lsn: Lsn): Promise<void> => writeState(db, 'lsn', lsn);

/**
 * Retention: settled entries (applied or rejected local changes, and the records of server
 * changes) beyond the newest `keep` are deleted, so local_changes does not grow forever. Pending,
 * sent and failed entries are never pruned.
 */
export async function pruneSettledChanges(db: SqliteExecutor, keep: number): Promise<void> {
  await db.run(`DELETE FROM local_changes WHERE settled = 1 AND status IN ('applied', 'rejected') AND seq <= (SELECT max(seq) FROM local_changes) - ?`, [keep]);
}

/**
 * What chose the synced rows (a server with per-user rules says so at snapshot_end): written with
 * the checkpoint that snapshot set, so the two always describe the same rows.
 */
export const readSetHash = (db: SqliteExecutor): Promise<string | undefined> => readState(db, 'set_hash');
export async function writeSetHash(db: SqliteExecutor, setHash: string | undefined): Promise<void> {
  if (setHash === undefined) await db.run(`DELETE FROM _rxsync_state WHERE key = 'set_hash'`);
  else await writeState(db, 'set_hash', setHash);
}
