import { compileRules } from '../../src/server/rules/compile-rules.js';
import type { SyncServer } from '../../src/server/index.js';
import { ids, listsSchema, startRulesServer, tokenFor } from '../support/rules-fixture.js';
import { cleanupClients, testClient } from '../support/test-client.js';

/**
 * Each form of the rules language end to end, one stream per form over the same todos, and a user
 * whose claims pick rows by each: what reaches the client is exactly what the form selects.
 */
const rules = {
  streams: {
    // claim equality, a literal, NOT and AND
    by_claim: { table: 'todos', where: "list_id = auth.list AND NOT title = 'hidden'" },
    // an IN list of literals and claims, OR
    by_list: { table: 'lists', where: "id IN ('l-public', auth.extra_list) OR owner_id = auth.sub" },
    // IS NULL: rows with no list are everyone's inbox
    inbox: { table: 'todos', where: 'list_id IS NULL AND done = 0' },
    // a membership subquery
    shared: { table: 'todos', where: 'list_id IN (SELECT list_id FROM list_members WHERE user_id = auth.sub)' },
  },
  writes: {},
};

describe('each rule form, end to end', () => {
  let server: SyncServer;
  afterEach(async () => {
    await cleanupClients();
    await server.close();
  });

  it('claim equality, NOT, IN lists with claims, OR, IS NULL and a membership subquery each select their rows', async () => {
    expect(() => compileRules(rules, listsSchema)).not.toThrow();
    server = await startRulesServer({ rules });
    const rows: Array<[string, Record<string, unknown>]> = [
      ['todos', { id: 't-mine', list_id: 'l-carol', title: 'mine', done: 0 }],
      ['todos', { id: 't-hidden', list_id: 'l-carol', title: 'hidden', done: 0 }],
      ['todos', { id: 't-other', list_id: 'l-other', title: 'not mine', done: 0 }],
      ['todos', { id: 't-inbox', list_id: null, title: 'inbox', done: 0 }],
      ['todos', { id: 't-inbox-done', list_id: null, title: 'done inbox', done: 1 }],
      ['todos', { id: 't-shared', list_id: 'l-shared', title: 'shared', done: 1 }],
      ['lists', { id: 'l-public', owner_id: 'nobody', name: 'public' }],
      ['lists', { id: 'l-extra', owner_id: 'nobody', name: 'by claim' }],
      ['lists', { id: 'l-own', owner_id: 'carol', name: 'own' }],
      ['lists', { id: 'l-private', owner_id: 'dave', name: 'private' }],
      ['list_members', { id: 'm1', list_id: 'l-shared', user_id: 'carol' }],
    ];
    for (const [table, row] of rows) await server.insert(table, row);
    const carol = testClient({ schema: listsSchema, authToken: () => tokenFor('carol', 3600, { list: 'l-carol', extra_list: 'l-extra' }) });
    await carol.connect(server.url);
    await carol.whenSynced({ timeoutMs: 5000 });
    expect(await ids(carol, 'todos')).toEqual(['t-inbox', 't-mine', 't-shared']);
    expect(await ids(carol, 'lists')).toEqual(['l-extra', 'l-own', 'l-public']);
    expect(await ids(carol, 'list_members')).toEqual([]);

    // Live, each form again: a row that starts matching arrives, one that stops goes.
    await server.update('todos', 't-hidden', { title: 'shown now' });
    await server.update('todos', 't-inbox', { done: 1 });
    await server.insert('todos', { id: 't-inbox-2', list_id: null, title: 'new inbox', done: 0 });
    await server.update('lists', 'l-private', { owner_id: 'carol' });
    await carol.whenSynced({ timeoutMs: 5000 });
    expect(await ids(carol, 'todos')).toEqual(['t-hidden', 't-inbox-2', 't-mine', 't-shared']);
    expect(await ids(carol, 'lists')).toEqual(['l-extra', 'l-own', 'l-private', 'l-public']);
  });
});
