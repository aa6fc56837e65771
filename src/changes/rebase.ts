import type { SqliteExecutor } from '../storage/index.js';
import type { Row } from '../protocol/index.js';
import { keyFromJson, type TableCodec } from './table-codec.js';

/**
 * No silent overwrite (guarantee 5 in docs/architecture.md), as a rebase. For every row with unsettled local changes
 * (sent or pending, or applied by the server but not yet covered by the checkpoint) the client
 * keeps the server's version of the row in `_rxsync_server_rows`; the visible row is always that
 * server version with the unsettled changes applied on top, in local order. Server rows update
 * the server version; a change that settles drops out; when none is left, the visible row is
 * exactly the server's again and its entry is removed. Rows with no unsettled change (nearly all)
 * cost one cheap query per batch.
 */
interface OpenChange {
  table_name: string;
  op: string;
  row_key: string;
  row: string | null;
}

export const SERVER_ROWS_DDL = `
CREATE TABLE IF NOT EXISTS _rxsync_server_rows (
  table_name TEXT NOT NULL,
  row_key TEXT NOT NULL,
  row TEXT,                    -- JSON of the server's row; NULL: the server has no such row
  PRIMARY KEY (table_name, row_key)
) WITHOUT ROWID;`;

type RowRef = [table: string, key: string];
const id = ([table, key]: RowRef): string => `${table}\u0000${key}`;

export class Rebase {
  constructor(private readonly codecs: Map<string, TableCodec>) {}

  /** Before a local write: if the row has no server version yet, its current state is the server's. */
  async beforeLocalWrite(tx: SqliteExecutor, codec: TableCodec, rowKey: string): Promise<void> {
    const current = await tx.get<Record<string, unknown>>(codec.selectSql, [keyFromJson(rowKey)]);
    await tx.run(`INSERT OR IGNORE INTO _rxsync_server_rows (table_name, row_key, row) VALUES (?, ?, ?)`, [
      codec.table,
      rowKey,
      current ? JSON.stringify(codec.fromSql(current)) : null,
    ]);
  }

  /**
   * After server rows were written straight into the tables: for the rows that are being rebased,
   * what was written is the new server version; then those rows, and the rows of changes that
   * just settled, are rebuilt.
   */
  async afterServerRows(tx: SqliteExecutor, written: () => RowRef[], settled: RowRef[] = []): Promise<void> {
    const tracked = await tx.all<{ table_name: string; row_key: string }>(`SELECT table_name, row_key FROM _rxsync_server_rows`);
    if (tracked.length === 0) return;
    const trackedIds = new Set(tracked.map((t) => id([t.table_name, t.row_key])));
    const dirty = new Map<string, RowRef>();
    for (const ref of written()) {
      if (!trackedIds.has(id(ref)) || dirty.has(id(ref))) continue;
      const codec = this.codecs.get(ref[0])!;
      const current = await tx.get<Record<string, unknown>>(codec.selectSql, [keyFromJson(ref[1])]);
      await this.setServerRow(tx, ref, current ? codec.fromSql(current) : null);
      dirty.set(id(ref), ref);
    }
    for (const ref of settled) if (trackedIds.has(id(ref))) dirty.set(id(ref), ref);
    for (const ref of dirty.values()) await this.rebuild(tx, ref);
  }

  /** A snapshot starts: the server's versions are unknown until its chunks say otherwise (absent = deleted). */
  async forgetServerRows(tx: SqliteExecutor): Promise<void> {
    await tx.run(`UPDATE _rxsync_server_rows SET row = NULL`);
    const tracked = await tx.all<{ table_name: string; row_key: string }>(`SELECT table_name, row_key FROM _rxsync_server_rows`);
    for (const t of tracked) await this.rebuild(tx, [t.table_name, t.row_key]);
  }

  async setServerRow(tx: SqliteExecutor, ref: RowRef, row: Row | null): Promise<void> {
    await tx.run(
      `INSERT INTO _rxsync_server_rows (table_name, row_key, row) VALUES (?, ?, ?) ON CONFLICT (table_name, row_key) DO UPDATE SET row = excluded.row`,
      [ref[0], ref[1], row ? JSON.stringify(row) : null],
    );
  }

  /** The visible row := the server's version + the unsettled local changes, in local order. */
  async rebuild(tx: SqliteExecutor, ref: RowRef): Promise<void> {
    const entry = await tx.get<{ row: string | null }>(`SELECT row FROM _rxsync_server_rows WHERE table_name = ? AND row_key = ?`, ref);
    if (!entry) return;
    const codec = this.codecs.get(ref[0])!;
    const key = keyFromJson(ref[1]);
    if (entry.row === null) await tx.run(codec.deleteSql, [key]);
    else await tx.run(codec.upsertSql, codec.toParams(JSON.parse(entry.row)));
    const open = await tx.all<OpenChange>(
      `SELECT table_name, op, row_key, row FROM local_changes WHERE settled = 0 AND source = 'local' AND table_name = ? AND row_key = ? ORDER BY seq`,
      ref,
    );
    for (const change of open) await applyLocalChange(tx, codec, change);
    if (open.length === 0) await tx.run(`DELETE FROM _rxsync_server_rows WHERE table_name = ? AND row_key = ?`, ref);
  }
}

/** Applies one local change to its table: the same logic for a fresh write and a rebase. */
export async function applyLocalChange(tx: SqliteExecutor, codec: TableCodec, change: Pick<OpenChange, 'op' | 'row_key' | 'row'>): Promise<void> {
  const key = keyFromJson(change.row_key);
  const row = change.row === null ? null : (JSON.parse(change.row) as Row);
  switch (change.op) {
    case 'insert':
      await tx.run(codec.upsertSql, codec.toParams(row!));
      return;
    case 'update': {
      const current = await tx.get<Record<string, unknown>>(codec.selectSql, [key]);
      if (current) await tx.run(codec.upsertSql, codec.toParams({ ...codec.fromSql(current), ...row }));
      return;
    }
    case 'delete':
      await tx.run(codec.deleteSql, [key]);
      return;
  }
}
