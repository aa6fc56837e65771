import { defineSchema } from '../../src/protocol/index.js';
import { queryShape } from '../../src/live/query-shape.js';

const schema = defineSchema({
  tables: {
    items: { primaryKey: 'id', columns: { id: 'text', n: 'integer', list: 'text', title: 'text', updated_at: 'text' } },
    lists: { primaryKey: 'id', columns: { id: 'text', name: 'text' } },
  },
});

describe('queryShape: the watch() queries kept up to date by folding changes in', () => {
  it.each([
    'SELECT * FROM items',
    'select id, title from items where list = ? order by updated_at desc limit 20',
    'SELECT "id", title AS name, n count FROM "items" WHERE n > ? AND (title LIKE ? OR list IS NULL) ORDER BY n, title DESC',
    'SELECT * FROM items ORDER BY n DESC LIMIT ?;',
    "SELECT * FROM items WHERE title = 'FROM lists ORDER BY x' -- a comment with SELECT\n ORDER BY n",
    'SELECT * FROM Items WHERE length(title) > 3 /* SELECT */',
  ])('takes %s', (sql) => {
    expect(queryShape(sql, schema)).toMatchObject({ table: 'items', primaryKey: 'id' });
  });

  it.each([
    ['a join', 'SELECT * FROM items JOIN lists ON lists.id = items.list'],
    ['two tables', 'SELECT * FROM items, lists'],
    ['an alias on the table', 'SELECT i.* FROM items i'],
    ['an aggregate', 'SELECT count(*) FROM items'],
    ['GROUP BY', 'SELECT list FROM items GROUP BY list'],
    ['DISTINCT', 'SELECT DISTINCT list FROM items'],
    ['a subquery', 'SELECT * FROM items WHERE list IN (SELECT id FROM lists)'],
    ['an expression selected', "SELECT title || '!' FROM items"],
    ['ORDER BY an expression', 'SELECT * FROM items ORDER BY lower(title)'],
    ['ORDER BY an alias', 'SELECT title AS t FROM items ORDER BY t'],
    ['COLLATE', 'SELECT * FROM items ORDER BY title COLLATE NOCASE'],
    ['NULLS LAST', 'SELECT * FROM items ORDER BY n NULLS LAST'],
    ['OFFSET', 'SELECT * FROM items LIMIT 10 OFFSET 20'],
    ['LIMIT a, b', 'SELECT * FROM items LIMIT 20, 10'],
    ['a named parameter', 'SELECT * FROM items WHERE list = :list'],
    ['a numbered parameter', 'SELECT * FROM items WHERE list = ?1'],
    ['a table not synced', 'SELECT * FROM local_changes'],
    ['a second statement', 'SELECT * FROM items; DELETE FROM items'],
    ['UNION', 'SELECT id FROM items UNION SELECT id FROM lists'],
    ['a window function', 'SELECT id, row_number() OVER (ORDER BY n) FROM items'],
  ])('leaves %s to a re-run', (_, sql) => {
    expect(queryShape(sql, schema)).toBeUndefined();
  });

  it('adds the key and the order columns as hidden columns, and the key as the last tie-break', () => {
    const shape = queryShape('SELECT title FROM items WHERE list = ? ORDER BY n DESC LIMIT ?', schema)!;
    expect(shape).toMatchObject({ order: [{ column: 'n', descending: true }], limit: { param: 1 }, whereParams: 1 });
    expect(shape.fullSql).toBe('SELECT title, "id" AS _rxsync_key, "n" AS _rxsync_o0 FROM "items" WHERE list = ? ORDER BY "n" DESC, "id" LIMIT ?');
    expect(shape.keyedSql).toBe(
      'SELECT title, "id" AS _rxsync_key, "n" AS _rxsync_o0 FROM "items" WHERE "id" IN (SELECT value FROM json_each(?)) AND (list = ?)',
    );
  });
});
