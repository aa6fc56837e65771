import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createLocalSchema } from '../../src/changes/local-schema.js';
import { defineSchema, SchemaError } from '../../src/protocol/index.js';
import { createSqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { cleanupClients, testClient } from '../support/test-client.js';

const columns = { id: 'text', n: 'integer', updated_at: 'text', list: 'text', done: 'integer' } as const;
const itemsWith = (indexes: ReadonlyArray<string | readonly string[]> | undefined) =>
  defineSchema({ tables: { items: { primaryKey: 'id', columns, ...(indexes && { indexes }) } } });

/** SQLite's plan for `sql`, in one line (`SCAN items` or `SCAN items USING INDEX ...`). */
async function planOf(db: SqliteDatabase, sql: string): Promise<string> {
  const steps = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`);
  return steps.map((step) => step.detail).join('; ');
}

const TOP_20 = 'SELECT * FROM items ORDER BY n DESC LIMIT 20';

describe('indexes declared in the schema', () => {
  afterEach(cleanupClients);

  it('are checked: every column declared, none twice, no index twice, no empty one', () => {
    expect(() => itemsWith(['nope'])).toThrow(new SchemaError('table items: index "nope": "nope" is not a column of items'));
    expect(() => itemsWith([['n', 'n']])).toThrow('table items: index ["n","n"] names a column twice');
    expect(() => itemsWith(['n', ['n']])).toThrow('table items: index ["n"] is declared twice');
    expect(() => itemsWith([[]])).toThrow('table items: index [] has no column');
    expect(() => itemsWith([42 as unknown as string])).toThrow(SchemaError);
  });

  it('do not change the schema hash: a client may declare indexes its server lacks, and adding one resets nobody', () => {
    expect(itemsWith(['n', ['list', 'updated_at']]).hash).toBe(itemsWith(undefined).hash);
  });

  it("are in the client's database, and its queries use them", async () => {
    const client = testClient({ schema: itemsWith(['n', ['list', 'updated_at']]) });
    await client.initialize();
    const plan = await client.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${TOP_20}`);
    expect(plan.map((step) => step.detail).join('; ')).toMatch(/^SCAN items USING INDEX _rxsync_ix_items_\w+$/);
    const byList = await client.query<{ detail: string }>(`EXPLAIN QUERY PLAN SELECT * FROM items WHERE list = ? ORDER BY updated_at DESC`, ['a']);
    expect(byList.map((step) => step.detail).join('; ')).toMatch(/SEARCH items USING INDEX _rxsync_ix_items_\w+ \(list=\?\)/);
  });

  it('follow the schema when a database opens again: new ones made, dropped ones removed, an index made by hand kept', async () => {
    const db = await openDatabase();
    try {
      await createLocalSchema(db, itemsWith(['n']));
      await db.exec('CREATE INDEX items_by_hand ON items (done)');
      expect(await planOf(db, TOP_20)).toMatch(/USING INDEX _rxsync_ix_items_/);

      await createLocalSchema(db, itemsWith([['list', 'updated_at']]));
      expect(await planOf(db, TOP_20)).toMatch(/^SCAN items; USE TEMP B-TREE FOR ORDER BY$/);
      expect(await planOf(db, "SELECT * FROM items WHERE list = 'a' ORDER BY updated_at")).toMatch(/USING INDEX _rxsync_ix_items_\w+ \(list=\?\)/);
      const indexes = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items' ORDER BY name");
      expect(indexes.map((index) => index.name)).toEqual([expect.stringMatching(/^_rxsync_ix_items_/), 'items_by_hand', 'sqlite_autoindex_items_1']);

      await createLocalSchema(db, itemsWith(undefined));
      const left = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items' ORDER BY name");
      expect(left.map((index) => index.name)).toEqual(['items_by_hand', 'sqlite_autoindex_items_1']);
    } finally {
      await db.close();
    }
  });

  it("are in the reference server's SQLite store, and follow its schema when it opens again", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxsync-indexes-'));
    const file = join(dir, 'server.db');
    const indexesOf = () => {
      const db = new Database(file, { readonly: true });
      try {
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${TOP_20}`).all() as Array<{ detail: string }>).map((step) => step.detail).join('; ');
        const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '\\_rxsync\\_ix\\_%' ESCAPE '\\'").pluck().all();
        return { plan, names };
      } finally {
        db.close();
      }
    };
    try {
      const first = createSqliteStore({ schema: itemsWith(['n']), database: file });
      await first.close();
      expect(indexesOf()).toEqual({ plan: expect.stringMatching(/^SCAN items USING INDEX _rxsync_ix_items_\w+$/), names: [expect.any(String)] });
      const second = createSqliteStore({ schema: itemsWith(undefined), database: file });
      await second.close();
      expect(indexesOf()).toEqual({ plan: 'SCAN items; USE TEMP B-TREE FOR ORDER BY', names: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
