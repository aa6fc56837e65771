/**
 * The ceiling of bench/browser-initial-sync.ts: the bench's rows inserted straight into a database
 * opened with src/storage's openDatabase, with no engine in between. One function, so that the
 * IndexedDB side (run on the page, bench/browser-page.ts) and the OPFS side (run in a dedicated
 * worker, bench/browser-opfs-worker.ts, the only place with OPFS sync access handles) time exactly
 * the same work and differ only in the storage they open.
 *
 * Timed: one transaction and one prepared INSERT over all rows (runMany), commit included; or,
 * with `chunkRows`, one transaction per that many rows, as the client commits one per snapshot
 * chunk. Not timed: building the rows (cached per realm), opening the database, the DDL and
 * `setup` (PRAGMAs to try, e.g. journal modes).
 */
import { syncedTablesDdl } from '../src/changes/local-schema.js';
import { tableCodecs } from '../src/changes/table-codec.js';
import { openDatabase } from '../src/storage/index.js';
import type { StorageBackendKind } from '../src/storage/index.js';
import type { OpfsIo } from './browser-opfs-io.js';
import { benchRowArrays, benchSchema, TABLE } from './fixtures.js';

/** Where the browser bundle (and its .wasm files) is served from: the bench page's /browser/. */
export const BUNDLE = '/browser/';

const COLUMNS = Object.keys(benchSchema.tables[TABLE].columns);
const PLAIN_INSERT = `INSERT INTO "${TABLE}" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;
const CODEC = tableCodecs(benchSchema).get(TABLE)!;

export interface RawInsertRequest {
  /** A fresh database name: the run creates it. */
  database: string;
  storage: Extract<StorageBackendKind, 'indexeddb' | 'opfs'>;
  rows: number;
  /** One transaction per this many rows; default: one for all. */
  chunkRows?: number;
  /** SQL run after the DDL, before the clock (PRAGMAs to compare). */
  setup?: string;
  /** OPFS only: count the worker's file operations during the run (browser-opfs-io.ts). */
  countIo?: boolean;
}

export interface RawRunResult {
  ms: number;
  rows: number;
  /** `PRAGMA journal_mode` as the run found it after `setup`: what was really measured. */
  journalMode: string;
  /** With `countIo`: the file operations of the whole run, open and close included. */
  io?: OpfsIo;
}

let rowCache: { rows: number; values: unknown[][] } | undefined;

export async function rawInsert({ database, storage, rows, chunkRows = Infinity, setup }: RawInsertRequest): Promise<RawRunResult> {
  if (rowCache?.rows !== rows) rowCache = { rows, values: benchRowArrays(rows).values };
  const { values } = rowCache;
  const db = await openDatabase({ name: database, storage, locateFile: (file) => `${BUNDLE}${file}` });
  try {
    await db.exec(syncedTablesDdl(benchSchema));
    if (setup) await db.exec(setup);
    const journalMode = String(Object.values((await db.get('PRAGMA journal_mode')) ?? {})[0]);
    const t0 = performance.now();
    for (let i = 0; i < values.length; i += chunkRows) {
      const slice = chunkRows >= values.length ? values : values.slice(i, i + chunkRows);
      await db.transaction((tx) => tx.runMany(PLAIN_INSERT, slice, { realColumns: CODEC.realPositions }));
    }
    const ms = performance.now() - t0;
    const count = (await db.get<{ n: number }>(`SELECT count(*) AS n FROM "${TABLE}"`))!.n;
    if (count !== rows) throw new Error(`the raw insert into ${storage} left ${count} rows, expected ${rows}`);
    return { ms, rows: count, journalMode };
  } finally {
    await db.close();
  }
}
