import type { ChangeRecord, Row } from '../../src/protocol/index.js';
import { LiveFeed } from '../../src/server/fanout/live-feed.js';
import { compileRules } from '../../src/server/rules/compile-rules.js';
import { RoutePlan, routeKey } from '../../src/server/rules/route-plan.js';
import { withOldRow } from '../../src/server/store/old-rows.js';
import { listsRules, listsSchema } from '../support/rules-fixture.js';

const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));

const change = (lsn: string, table: string, row: Row | null, old: Row | null, origin?: string): ChangeRecord =>
  withOldRow(
    {
      lsn,
      table,
      op: row === null ? 'delete' : old === null ? 'insert' : 'update',
      key: (row ?? old)!.id as string,
      ...(row && { row }),
      ...(origin && { origin: { clientId: origin, changeId: `${origin}-${lsn}` } }),
    },
    old,
  );

/**
 * The live feed under rules: a batch goes only to the sessions its changes' route keys name, with
 * just those changes, and says where the previous batch ended so a session knows it missed nothing.
 */
describe('LiveFeed routing (per-user rules)', () => {
  const plan = new RoutePlan(compileRules(listsRules, listsSchema), listsSchema);
  let feed: LiveFeed;
  beforeEach(() => {
    feed = new LiveFeed(
      (error) => {
        throw error;
      },
      '0/0',
      plan,
    );
  });
  afterEach(() => feed.close());

  function subscriber(keys: string[]) {
    const got: Array<{ lsns: string[]; after: string; end: string }> = [];
    let current = keys;
    const subscription = feed.subscribe(
      (changes, after, end) => got.push({ lsns: changes.map((c) => c.lsn), after, end }),
      () => current,
    );
    return {
      got,
      reroute(next: string[]) {
        current = next;
        subscription.reroute();
      },
      subscription,
    };
  }

  it('hands each change only to the sessions whose keys its rows name, and tells each where the batch began and ended', async () => {
    const alice = subscriber([routeKey('todos', 'list_id', 'la')]);
    const bob = subscriber([routeKey('todos', 'list_id', 'lb')]);
    const everyone: string[][] = [];
    feed.subscribe((changes) => everyone.push(changes.map((c) => c.lsn)));
    feed.publish([change('0/1', 'todos', { id: 't1', list_id: 'la' }, null)]);
    feed.publish([change('0/2', 'todos', { id: 't2', list_id: 'lb' }, null), change('0/3', 'todos', { id: 't3', list_id: 'lx' }, null)]);
    await endOfTurn();
    expect(alice.got).toEqual([{ lsns: ['0/1'], after: '0/0', end: '0/3' }]);
    expect(bob.got).toEqual([{ lsns: ['0/2'], after: '0/0', end: '0/3' }]);
    expect(everyone).toEqual([['0/1', '0/2', '0/3']]);
    expect(feed.delivered).toBe('0/3');
  });

  it('routes an update by its row before as well: the session it leaves hears of it', async () => {
    const alice = subscriber([routeKey('todos', 'list_id', 'la')]);
    feed.publish([change('0/4', 'todos', { id: 't1', list_id: 'lb' }, { id: 't1', list_id: 'la' })]);
    await endOfTurn();
    expect(alice.got.map((g) => g.lsns)).toEqual([['0/4']]);
  });

  it("routes a membership change to the member's sessions, and a client's own change to it", async () => {
    const bob = subscriber([routeKey('list_members', 'user_id', 'bob'), 'origin|bob-client']);
    feed.publish([change('0/5', 'list_members', { id: 'm1', list_id: 'la', user_id: 'bob' }, null)]);
    feed.publish([change('0/6', 'lists', { id: 'lz', owner_id: 'zed' }, null, 'bob-client')]);
    feed.publish([change('0/7', 'list_members', { id: 'm2', list_id: 'la', user_id: 'carol' }, null)]);
    await endOfTurn();
    expect(bob.got.map((g) => g.lsns)).toEqual([['0/5', '0/6']]);
  });

  it('follows new keys after a reroute, and nothing after close', async () => {
    const bob = subscriber([routeKey('todos', 'list_id', 'lb')]);
    bob.reroute([routeKey('todos', 'list_id', 'lb'), routeKey('todos', 'list_id', 'la')]);
    feed.publish([change('0/8', 'todos', { id: 't8', list_id: 'la' }, null)]);
    await endOfTurn();
    bob.reroute([routeKey('todos', 'list_id', 'lb')]);
    feed.publish([change('0/9', 'todos', { id: 't9', list_id: 'la' }, null)]);
    await endOfTurn();
    bob.subscription.close();
    feed.publish([change('0/A', 'todos', { id: 't10', list_id: 'lb' }, null)]);
    await endOfTurn();
    expect(bob.got.map((g) => g.lsns)).toEqual([['0/8']]);
  });

  it('gives a table every user reads (a stream without a where) to every routed session', async () => {
    const alice = subscriber(['tags|*']);
    const bob = subscriber(['tags|*']);
    feed.publish([change('0/B', 'tags', { id: 'g1', name: 'news' }, null)]);
    await endOfTurn();
    expect(alice.got.map((g) => g.lsns)).toEqual([['0/B']]);
    expect(bob.got.map((g) => g.lsns)).toEqual([['0/B']]);
  });

  it('settled() resolves once what was published has been handed out', async () => {
    const alice = subscriber([routeKey('todos', 'list_id', 'la')]);
    feed.publish([change('0/C', 'todos', { id: 't12', list_id: 'la' }, null)]);
    expect(alice.got).toEqual([]);
    await feed.settled();
    expect(alice.got.map((g) => g.lsns)).toEqual([['0/C']]);
    await expect(feed.settled()).resolves.toBeUndefined();
  });
});
