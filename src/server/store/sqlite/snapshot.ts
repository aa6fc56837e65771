import type { Key, Lsn } from '../../../protocol/index.js';
import type { SnapshotReader, SqlCondition } from '../store.js';
import type { SyncedTable } from './tables.js';

/**
 * A snapshot of the synced tables, read table by table (schema order) in chunks of `chunkRows`
 * rows with keyset pagination on the primary key. Rows come as arrays straight from SQLite
 * (`raw`), json columns parsed in place; an empty table yields no chunk. A table may come with a
 * filter (per-user rules: the rows its caller may read), applied in the same queries.
 *
 * The reader holds no transaction open (the store has one connection, and its writes must go on),
 * so a change committed while it reads may or may not show up; the caller replays
 * `changesSince(lsn)` afterwards, which converges either way. Keyset pagination never returns a
 * row twice nor skips one that existed throughout.
 */
export function openSqliteSnapshot(
  lsn: Lsn,
  sources: ReadonlyArray<{ table: SyncedTable; filter?: SqlCondition }>,
  chunkRows: number,
  assertOpen: () => void,
): SnapshotReader {
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  const tables = sources.map(({ table }) => table);
  const summary = sources.map(({ table, filter }) => ({ table: table.name, rows: filter ? table.countWhere(filter) : table.count(), columns: table.columns }));
  let index = 0;
  let after: Key | undefined;
  let closed = false;

  const nextChunk = (): { table: string; columns: readonly string[]; rows: unknown[][] } | null => {
    while (!closed && index < tables.length) {
      assertOpen();
      const { table, filter } = sources[index];
      const rows = filter ? table.chunkWhere(filter, after, chunkRows) : table.chunk(after, chunkRows);
      if (rows.length < chunkRows) {
        index++;
        after = undefined;
      } else {
        after = rows[rows.length - 1][table.keyIndex] as Key;
      }
      if (rows.length > 0) return { table: table.name, columns: table.columns, rows };
    }
    return null;
  };

  return {
    lsn,
    tables: summary,
    nextChunk: async () => nextChunk(),
    close: () => {
      closed = true;
    },
  };
}
