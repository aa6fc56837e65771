import type Database from 'better-sqlite3';
import type { SyncSchema, TableSchema } from '../../../protocol/index.js';
import { indexChanges, MANAGED_INDEXES_SQL, quoteIdentifier, SQL_COLUMN_TYPE } from '../../../sql/index.js';

/**
 * The SQLite store's schema: the synced tables (from the SyncSchema) and the store's own tables,
 * all prefixed `_rxsync_` (a prefix defineSchema refuses for user tables, so they never clash).
 *
 * Identifiers only ever come from the schema, which defineSchema has checked to be plain
 * identifiers; they are still double-quoted everywhere. Values are always bound parameters.
 */

const INTERNAL_DDL = `
  -- Every committed change, in LSN order. row: the whole row after the change as JSON (NULL for a
  -- delete); old_row: the whole row before it (NULL for an insert), for per-user rules;
  -- client_id/change_id: the client change that caused it (NULL for a backend write).
  CREATE TABLE IF NOT EXISTS _rxsync_changes (
    lsn INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    key TEXT NOT NULL,
    row TEXT,
    client_id TEXT,
    change_id TEXT,
    old_row TEXT
  );
  -- Idempotency: every client change id ever answered (until retention prunes it), per client, so
  -- that two clients that happen to use the same id never shadow each other's writes. lsn: the LSN
  -- it was applied at, or the store's LSN when it was rejected or changed nothing.
  CREATE TABLE IF NOT EXISTS _rxsync_client_changes (
    client_id TEXT NOT NULL,
    change_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'rejected')),
    lsn INTEGER NOT NULL,
    reason TEXT,
    PRIMARY KEY (client_id, change_id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS _rxsync_client_changes_lsn ON _rxsync_client_changes (lsn);
  CREATE TABLE IF NOT EXISTS _rxsync_clients (
    client_id TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
  );
  -- last_lsn: the LSN counter; resumable_from: the newest LSN retention pruned (0 = never pruned).
  CREATE TABLE IF NOT EXISTS _rxsync_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO _rxsync_meta (key, value) VALUES ('last_lsn', 0), ('resumable_from', 0);
`;

/** `CREATE TABLE IF NOT EXISTS` for one synced table; the primary key column is the PRIMARY KEY. */
function createTableSql(name: string, table: TableSchema): string {
  const columns = Object.keys(table.columns).map((column) => {
    const type = SQL_COLUMN_TYPE[table.columns[column]];
    return column === table.primaryKey ? `${quoteIdentifier(column)} ${type} NOT NULL PRIMARY KEY` : `${quoteIdentifier(column)} ${type}`;
  });
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(name)} (${columns.join(', ')})`;
}

/**
 * Creates every synced table that is missing, and adds the columns a newer schema declares to a
 * table that already exists (as nullable columns; nothing is ever dropped or retyped).
 */
export function ensureSchema(db: Database.Database, schema: SyncSchema): void {
  db.exec(INTERNAL_DDL);
  addOldRows(db);
  for (const name of schema.tableNames) {
    const table = schema.tables[name];
    db.exec(createTableSql(name, table));
    const existing = new Set(db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(name) as string[]);
    for (const column of Object.keys(table.columns)) {
      if (!existing.has(column)) {
        db.exec(`ALTER TABLE ${quoteIdentifier(name)} ADD COLUMN ${quoteIdentifier(column)} ${SQL_COLUMN_TYPE[table.columns[column]]}`);
      }
    }
  }
  const existing = db.prepare(MANAGED_INDEXES_SQL).pluck().all() as string[];
  for (const sql of indexChanges(schema, existing)) db.exec(sql);
}

/**
 * A log written before old rows were kept gets the column, and what it held is pruned: per-user
 * rules cannot tell who saw a change without the row before it, so clients behind that point
 * are reset instead of caught up from it (once, at the upgrade).
 */
function addOldRows(db: Database.Database): void {
  const columns = db.prepare(`SELECT name FROM pragma_table_info('_rxsync_changes')`).pluck().all() as string[];
  if (columns.includes('old_row')) return;
  db.exec(`ALTER TABLE _rxsync_changes ADD COLUMN old_row TEXT`);
  const last = db
    .prepare(`SELECT MAX(value) FROM (SELECT value FROM _rxsync_meta WHERE key = 'last_lsn' UNION ALL SELECT MAX(lsn) FROM _rxsync_changes)`)
    .pluck()
    .get();
  db.prepare(`DELETE FROM _rxsync_changes`).run();
  db.prepare(`UPDATE _rxsync_meta SET value = ? WHERE key IN ('resumable_from', 'last_lsn')`).run(last ?? 0);
}

/** Connection settings: WAL and synchronous=NORMAL for a file database (nothing for ':memory:'). */
export function configure(db: Database.Database): void {
  if (!db.memory) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
}
