import type { ChangeRecord } from '../../src/protocol/index.js';
import { Fanout } from '../../src/server/fanout/fanout.js';
import { createSqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import type { SyncStore } from '../../src/server/store/store.js';
import { testSchema, todo } from '../support/test-schema.js';

const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));
const caller = { principal: undefined };

describe("Fanout (the store's changes as sessions receive them)", () => {
  let store: SyncStore;
  let fanout: Fanout;
  const errors: unknown[] = [];
  beforeEach(async () => {
    store = createSqliteStore({ schema: testSchema });
    for (let i = 0; i < 3; i++) await store.write({ op: 'insert', table: 'todos', row: todo(i) });
    fanout = new Fanout(store, (error) => errors.push(error));
  });
  afterEach(async () => {
    fanout.close();
    await store.close();
  });

  it("hands each turn's commits to every subscriber as one batch", async () => {
    const batches: ChangeRecord[][] = [];
    fanout.subscribe((changes) => batches.push(changes));
    await store.write({ op: 'insert', table: 'todos', row: todo(3) });
    await store.write({ op: 'insert', table: 'todos', row: todo(4) });
    expect(batches).toEqual([]);
    await endOfTurn();
    expect(batches.map((batch) => batch.map((c) => c.lsn))).toEqual([['0/4', '0/5']]);
  });

  it('reads back recent changes from memory (the objects sent live) and older ones from the store', async () => {
    const live: ChangeRecord[] = [];
    fanout.subscribe((changes) => live.push(...changes));
    await store.write({ op: 'insert', table: 'todos', row: todo(3) });
    await store.write({ op: 'update', table: 'todos', key: todo(0).id, patch: { done: 1 } });
    await endOfTurn();

    const recent = await fanout.changesSince('0/3', 10, caller);
    expect(recent.map((c) => c.lsn)).toEqual(['0/4', '0/5']);
    recent.forEach((change, i) => expect(change).toBe(live[i]));
    expect(await fanout.changesSince('0/5', 10, caller)).toEqual([]);

    // 0/1..0/3 were written before the fan-out subscribed: only the store has them.
    const all = await fanout.changesSince('0/0', 10, caller);
    expect(all).toEqual(await store.changesSince('0/0', 10));
    expect(all.map((c) => c.lsn)).toEqual(['0/1', '0/2', '0/3', '0/4', '0/5']);
    expect(await fanout.changesSince('0/1', 2, caller)).toEqual(all.slice(1, 3));
  });

  it('reports a subscriber that throws, and still serves the others', async () => {
    const seen: string[] = [];
    fanout.subscribe(() => {
      throw new Error('a broken subscriber');
    });
    fanout.subscribe((changes) => seen.push(...changes.map((c) => c.lsn)));
    await store.write({ op: 'insert', table: 'todos', row: todo(3) });
    await endOfTurn();
    expect(seen).toEqual(['0/4']);
    expect(errors).toEqual([new Error('a broken subscriber')]);
    errors.length = 0;
  });
});
