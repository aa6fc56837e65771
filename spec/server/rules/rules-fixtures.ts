import { defineSchema } from '../../../src/protocol/index.js';
import { listsRules as endToEndRules } from '../../support/rules-fixture.js';

/** The schema of the examples in docs/rules.md: lists shared through a membership table. */
export const listsSchema = defineSchema({
  tables: {
    lists: { primaryKey: 'id', columns: { id: 'text', name: 'text', owner_id: 'text' } },
    list_members: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', user_id: 'text' } },
    todos: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', title: 'text', done: 'integer', position: 'real', meta: 'json' } },
    tags: { primaryKey: 'id', columns: { id: 'text', label: 'text' } },
  },
});

/** The rules of the issue, as a user writes them (line numbers matter to the error specs). */
export const listsRulesYaml = `# lists, shared through list_members
streams:
  my_lists:   { table: lists, where: "owner_id = auth.sub OR id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)" }
  list_todos: { table: todos, where: "list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub) OR list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)" }
  tags:       { table: tags }            # no where: every row, to every user
writes:
  lists: { insert: "owner_id = auth.sub", update: "owner_id = auth.sub", delete: "owner_id = auth.sub" }
  todos: { insert: "list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)", update: true, delete: false }
`;

/** The same rules as a plain object (what a JSON file or code gives compileRules): the end-to-end specs' streams. */
export const listsRules = {
  streams: endToEndRules.streams,
  writes: {
    lists: { insert: 'owner_id = auth.sub', update: 'owner_id = auth.sub', delete: 'owner_id = auth.sub' },
    todos: { insert: 'list_id IN (SELECT id FROM lists WHERE owner_id = auth.sub)', update: true, delete: false },
  },
};
