import { compileRules } from '../../../src/server/rules/compile-rules.js';
import { RulesError } from '../../../src/server/rules/errors.js';
import { loadRules } from '../../../src/server/rules/load-rules.js';
import { listsRules, listsRulesYaml, listsSchema } from './rules-fixtures.js';

/** The message `text` (a rules file) fails to load with. */
function loadError(text: string, file?: string): string {
  try {
    loadRules(text, listsSchema, file);
  } catch (error) {
    if (error instanceof RulesError) return error.message;
    throw error;
  }
  throw new Error('the rules loaded');
}

/** A rules file with one stream on `table` and the WHERE `where` (on line 3). */
const streamFile = (table: string, where: string) => `streams:\n  s:\n    where: ${JSON.stringify(where)}\n    table: ${table}\n`;

describe('compileRules', () => {
  it('compiles the streams, writes and subqueries of the issue', () => {
    const rules = compileRules(listsRules, listsSchema);
    expect(rules.streams.map((s) => [s.name, s.table])).toEqual([
      ['my_lists', 'lists'],
      ['list_todos', 'todos'],
      ['tags', 'tags'],
    ]);
    expect(rules.streams[2].where).toEqual({ kind: 'const', value: true });
    // Two distinct subqueries; the one of my_lists and the first of list_todos are one.
    expect(rules.subqueries).toEqual([
      {
        id: 0,
        table: 'list_members',
        select: 'list_id',
        where: { kind: 'compare', op: '=', left: { kind: 'column', column: 'user_id' }, right: { kind: 'claim', name: 'sub' } },
        keyColumn: 'user_id',
        keyClaim: 'sub',
      },
      {
        id: 1,
        table: 'lists',
        select: 'id',
        where: { kind: 'compare', op: '=', left: { kind: 'column', column: 'owner_id' }, right: { kind: 'claim', name: 'sub' } },
        keyColumn: 'owner_id',
        keyClaim: 'sub',
      },
    ]);
    expect(rules.streams[0].where).toMatchObject({ kind: 'or', items: [{ kind: 'compare' }, { kind: 'in_subquery', subquery: 0 }] });
    expect(rules.streams[1].where).toMatchObject({ items: [{ subquery: 0 }, { subquery: 1 }] });
    expect([...rules.writes.keys()]).toEqual(['lists', 'todos']);
    expect(rules.writes.get('todos')).toEqual({
      table: 'todos',
      insert: { kind: 'in_subquery', operand: { kind: 'column', column: 'list_id' }, subquery: 1, negated: false },
      update: { kind: 'const', value: true },
    });
    expect(rules.claims).toEqual(['sub']);
    expect(rules.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('loads the same rules from YAML and from JSON', () => {
    const fromYaml = loadRules(listsRulesYaml, listsSchema);
    expect(fromYaml).toEqual(compileRules(listsRules, listsSchema));
    expect(loadRules(JSON.stringify(listsRules, null, 2), listsSchema, 'rules.json').hash).toBe(fromYaml.hash);
  });

  it('shares one id between identical subqueries, however they are written, and numbers them in order of appearance', () => {
    const rules = compileRules(
      {
        streams: {
          b: { table: 'todos', where: "list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub AND name != 'x')" },
          a: {
            table: 'lists',
            where:
              "id in (select id from lists where (owner_id = auth.sub) and name <> 'x') OR id IN (SELECT list_id FROM list_members WHERE auth.sub = user_id)",
          },
        },
      },
      listsSchema,
    );
    expect(rules.subqueries.map((s) => [s.id, s.table, s.keyColumn, s.keyClaim])).toEqual([
      [0, 'lists', 'owner_id', 'sub'],
      [1, 'list_members', 'user_id', 'sub'],
    ]);
  });

  it('takes the first top-level `column = auth.claim` of a subquery as its key', () => {
    const rules = compileRules(
      {
        streams: { s: { table: 'todos', where: "list_id IN (SELECT list_id FROM list_members WHERE id != 'x' AND auth.member = id AND user_id = auth.sub)" } },
      },
      listsSchema,
    );
    expect(rules.subqueries[0]).toMatchObject({ keyColumn: 'id', keyClaim: 'member' });
  });

  it('lists every claim read anywhere, sorted and once', () => {
    const rules = compileRules(
      {
        streams: { s: { table: 'lists', where: 'owner_id = auth.sub OR auth.role IN (auth.x, auth.sub)' } },
        writes: { todos: { delete: 'list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.member)' } },
      },
      listsSchema,
    );
    expect(rules.claims).toEqual(['member', 'role', 'sub', 'x']);
  });

  it('treats true as always and false as never (the same as no rule)', () => {
    const rules = compileRules({ writes: { tags: { insert: true, update: 'FALSE', delete: false } } }, listsSchema);
    expect(rules.writes.get('tags')).toEqual({ table: 'tags', insert: { kind: 'const', value: true } });
    expect(compileRules({}, listsSchema)).toMatchObject({ streams: [], subqueries: [], claims: [] });
  });

  it('accepts IS NULL on a json column, claims compared with claims, and TRUE compared with a claim', () => {
    expect(() =>
      compileRules({ streams: { s: { table: 'todos', where: 'meta IS NOT NULL AND auth.admin = TRUE AND auth.a < auth.b' } } }, listsSchema),
    ).not.toThrow();
  });

  it('says the key path (and no file) without a source', () => {
    expect(() => compileRules({ streams: { s: { table: 'lists', where: 'ownr = auth.sub' } } }, listsSchema)).toThrow(
      new RulesError("unknown column 'ownr' in table lists (columns: id, name, owner_id)", { path: 'streams.s.where' }),
    );
    expect(() => compileRules([], listsSchema)).toThrow('the rules must be a mapping with the keys streams and writes');
  });

  describe('the hash', () => {
    const hash = (text: string) => loadRules(text, listsSchema).hash;
    const base = hash(listsRulesYaml);

    it('does not change with whitespace, key order, keyword case, redundant parentheses or a false write', () => {
      const reformatted = `writes:
  todos:
    delete: false
    update: true
    insert: list_id   in (select id from lists where owner_id=auth.sub)
  lists: { delete: "owner_id = auth.sub", update: "(owner_id = auth.sub)", insert: "owner_id = auth.sub" }
streams:
  tags: { table: tags, where: true }
  list_todos:
    where: >-
      (list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub))
      or list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)
    table: todos
  my_lists: { where: "owner_id = auth.sub OR id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)", table: lists }
`;
      expect(hash(reformatted)).toBe(base);
      expect(hash(listsRulesYaml.replace(', delete: false', ''))).toBe(base);
    });

    it.each([
      ['an operator', 'owner_id = auth.sub"', 'owner_id != auth.sub"'],
      ['a claim', 'update: "owner_id = auth.sub"', 'update: "owner_id = auth.org"'],
      ['a write permission', 'delete: false', 'delete: true'],
      ['a subquery table', 'SELECT id FROM lists WHERE owner_id = auth.sub)", update', 'SELECT list_id FROM list_members WHERE user_id = auth.sub)", update'],
      ['a stream name', 'tags:       { table: tags }', 'all_tags: { table: tags }'],
      ['a stream filter', 'tags:       { table: tags }', 'tags: { table: tags, where: "label != \'secret\'" }'],
    ])('changes with %s', (_what, from, to) => {
      const changed = listsRulesYaml.replace(from, to);
      expect(changed).not.toBe(listsRulesYaml);
      expect(hash(changed)).not.toBe(base);
    });
  });
});

describe('loadRules errors: file:line: path: what is wrong', () => {
  it.each([
    [
      'an unknown table in a stream',
      'streams:\n  s:\n    table: lits\n',
      "rules.yaml:3: streams.s.table: unknown table 'lits' (tables: list_members, lists, tags, todos)",
    ],
    ['an unknown table in writes', listsRulesYaml.replace('  todos: { insert', '  todoz: { insert'), "rules.yaml:8: writes.todoz: unknown table 'todoz'"],
    [
      'an unknown column in a stream',
      listsRulesYaml.replace('"owner_id = auth.sub OR', '"ownr = auth.sub OR'),
      "rules.yaml:3: streams.my_lists.where: unknown column 'ownr' in table lists (columns: id, name, owner_id)",
    ],
    [
      'an unknown column in a write',
      listsRulesYaml.replace('update: "owner_id', 'update: "owner'),
      "rules.yaml:7: writes.lists.update: unknown column 'owner' in table lists (columns: id, name, owner_id)",
    ],
    [
      'an unknown column in a subquery SELECT',
      listsRulesYaml.replace('(SELECT id FROM lists WHERE owner_id = auth.sub)", update', '(SELECT idd FROM lists WHERE owner_id = auth.sub)", update'),
      "rules.yaml:8: writes.todos.insert: unknown column 'idd' in table lists (columns: id, name, owner_id)",
    ],
    [
      'an unknown column in a subquery WHERE',
      streamFile('todos', 'list_id IN (SELECT list_id FROM list_members WHERE user = auth.sub)'),
      "rules.yaml:3: streams.s.where: unknown column 'user' in table list_members (columns: id, list_id, user_id)",
    ],
    [
      'an unknown table in a subquery',
      streamFile('todos', 'list_id IN (SELECT list_id FROM members WHERE user_id = auth.sub)'),
      "rules.yaml:3: streams.s.where: unknown table 'members' in a subquery (tables: list_members, lists, tags, todos)",
    ],
    [
      'a column of the outer table used in a subquery',
      streamFile('todos', 'list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub AND title = list_id)'),
      "rules.yaml:3: streams.s.where: unknown column 'title' in table list_members",
    ],
    ['`auth` alone', streamFile('lists', 'owner_id = auth'), "rules.yaml:3: streams.s.where: expected '.' and a claim name after 'auth'"],
    ['a nested claim', streamFile('lists', 'owner_id = auth.user.id'), "rules.yaml:3: streams.s.where: nested claim 'auth.user.id' at 11 is not supported"],
    ['a claim not under auth', streamFile('lists', 'owner_id = user.sub'), "rules.yaml:3: streams.s.where: 'user.sub' at 11 is not a column or a claim"],
    [
      'a subquery without `= auth.x`',
      streamFile('todos', "list_id IN (SELECT list_id FROM list_members WHERE user_id != 'x')"),
      "rules.yaml:3: streams.s.where: the subquery on table list_members needs a condition '<column> = auth.<claim>' joined by AND at the top of its WHERE",
    ],
    [
      'a subquery whose `= auth.x` is under an OR',
      streamFile('todos', "list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub OR id = 'x')"),
      "rules.yaml:3: streams.s.where: the subquery on table list_members needs a condition '<column> = auth.<claim>'",
    ],
    [
      'a nested subquery',
      streamFile(
        'todos',
        'list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub AND list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub))',
      ),
      "rules.yaml:3: streams.s.where: a subquery cannot contain another subquery: found 'SELECT' at 86",
    ],
    [
      'a syntax error',
      streamFile('lists', 'owner_id = auth.sub AND'),
      'rules.yaml:3: streams.s.where: expected a column, auth.<claim> or a value to start a condition, found the end of the expression at 23',
    ],
    [
      'a string compared with an integer column',
      streamFile('todos', "done = 'yes'"),
      "rules.yaml:3: streams.s.where: 'yes' does not fit integer column 'done'",
    ],
    ['a decimal compared with an integer column', streamFile('todos', 'done < 1.5'), "rules.yaml:3: streams.s.where: 1.5 does not fit integer column 'done'"],
    ['a number compared with a text column', streamFile('todos', 'title = 5'), "rules.yaml:3: streams.s.where: 5 does not fit text column 'title' (write '5')"],
    [
      'TRUE compared with a column',
      streamFile('todos', 'done = TRUE'),
      "rules.yaml:3: streams.s.where: TRUE does not fit integer column 'done' (write 1 or 0)",
    ],
    ['a list value that does not fit', streamFile('todos', "done IN (1, NULL, 'x')"), "rules.yaml:3: streams.s.where: 'x' does not fit integer column 'done'"],
    [
      'a comparison with NULL',
      streamFile('todos', 'title = NULL'),
      'rules.yaml:3: streams.s.where: a comparison with NULL is never true: write IS NULL or IS NOT NULL',
    ],
    [
      'a json column compared',
      streamFile('todos', "meta = '{}'"),
      "rules.yaml:3: streams.s.where: json column 'meta' of table todos cannot be compared (only IS NULL / IS NOT NULL)",
    ],
    [
      'a json column in a list',
      streamFile('todos', 'meta IN (auth.sub)'),
      "rules.yaml:3: streams.s.where: json column 'meta' of table todos cannot be compared",
    ],
    [
      'columns of different types',
      streamFile('todos', 'title < done'),
      "rules.yaml:3: streams.s.where: cannot compare text column 'title' with integer column 'done'",
    ],
    [
      'IN (SELECT ...) of another type',
      streamFile('todos', 'position IN (SELECT id FROM lists WHERE owner_id = auth.sub)'),
      "rules.yaml:3: streams.s.where: cannot compare real column 'position' with text column 'id' of table lists",
    ],
    [
      'a claim left of IN (SELECT ...)',
      streamFile('todos', 'auth.sub IN (SELECT user_id FROM list_members WHERE list_id = auth.list)'),
      'rules.yaml:3: streams.s.where: the left side of IN (SELECT ...) must be a column of table todos',
    ],
    ['an unknown top-level key', 'streams: {}\nstrems: {}\n', 'rules.yaml:2: strems: unknown key (expected streams, writes)'],
    [
      'an unknown stream key',
      'streams:\n  s:\n    table: lists\n    filter: "id = 1"\n',
      'rules.yaml:4: streams.s.filter: unknown key (expected table, where)',
    ],
    ['an unknown write operation', 'writes:\n  lists:\n    upsert: true\n', 'rules.yaml:3: writes.lists.upsert: unknown key (expected insert, update, delete)'],
    [
      'a stream without a table',
      'streams:\n  x: 1\n  s:\n    where: "id = auth.sub"\n',
      'rules.yaml:2: streams.x: a stream must be a mapping { table, where? }',
    ],
    ['a missing table', 'streams:\n  s:\n    where: "id = auth.sub"\n', 'rules.yaml:2: streams.s: a stream needs a table'],
    [
      'a WHERE that is no string',
      'streams:\n  s: { table: lists, where: 5 }\n',
      'rules.yaml:2: streams.s.where: must be a WHERE expression (a string), true or false',
    ],
    ['a write that is no mapping', 'writes:\n  lists: true\n', 'rules.yaml:2: writes.lists: must be a mapping { insert?, update?, delete? }'],
    ['streams that are a list', 'streams:\n  - table: lists\n', 'rules.yaml:2: streams: must be a mapping of stream names to { table, where }'],
    ['a stream name that is no identifier', 'streams:\n  my lists: { table: lists }\n', 'rules.yaml:2: streams.my lists: a stream name is a plain identifier'],
    ['a reserved stream name', 'streams:\n  __proto__: { table: lists }\n', "rules.yaml:2: streams.__proto__: '__proto__' is reserved"],
    ['an empty file', '', 'rules.yaml: the rules must be a mapping with the keys streams and writes'],
    ['a YAML syntax error', 'streams:\n  s: { table: lists\n', 'rules.yaml:3: '],
    ['a duplicate key', 'streams:\n  s: { table: lists }\n  s: { table: tags }\n', 'rules.yaml:3: Map keys must be unique'],
  ])('%s', (_what, text, message) => {
    expect(loadError(text)).toContain(message);
  });

  it('names the file it was given', () => {
    expect(loadError('{"streams": {"s": {"table": "lits"}}}', 'rules.json')).toMatch(/^rules\.json:1: streams\.s\.table: unknown table 'lits'/);
  });

  it('keeps the location in the error fields', () => {
    try {
      loadRules(streamFile('lists', 'owner_id = auth.sub AND'), listsSchema);
    } catch (error) {
      expect(error).toMatchObject({ name: 'RulesError', code: 'invalid_rules', file: 'rules.yaml', line: 3, path: 'streams.s.where', offset: 23 });
      return;
    }
    throw new Error('loaded');
  });
});
