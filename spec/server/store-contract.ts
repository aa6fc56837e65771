import { compareLsn, defineSchema, isLsn, ZERO_LSN } from '../../src/protocol/index.js';
import type { ChangeRecord, ClientChange, Row, SyncSchema } from '../../src/protocol/index.js';
import { oldRowOf } from '../../src/server/store/old-rows.js';
import type { SyncStore } from '../../src/server/store/store.js';

/**
 * The contract every SyncStore implementation passes (the embedded SQLite store today, a Postgres
 * source next): run `describeStoreContract(name, open)` from the implementation's spec. `open` must
 * give a fresh, empty store for the schema each time it is called; the suite closes every store
 * it opened. Nothing here relies on SQLite: only the SyncStore interface, plus plain SELECTs
 * through `query`.
 */
export type OpenStore = (options: { schema: SyncSchema; retention?: { maxChanges?: number } }) => Promise<SyncStore>;

/** The schema the contract runs on: one integer-keyed table and one text-keyed with every type. */
export const contractSchema = defineSchema({
  tables: {
    items: { primaryKey: 'n', columns: { n: 'integer', label: 'text' } },
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer', score: 'real', meta: 'json' } },
  },
});

/** Every row of a table, read through a snapshot, as objects keyed by column. */
export async function readTable(store: SyncStore, table: string): Promise<Row[]> {
  const reader = await store.openSnapshot({ chunkRows: 1000 });
  const rows: Row[] = [];
  for (let chunk = await reader.nextChunk(); chunk; chunk = await reader.nextChunk()) {
    if (chunk.table !== table) continue;
    for (const values of chunk.rows) rows.push(Object.fromEntries(chunk.columns.map((c, i) => [c, values[i]])));
  }
  reader.close();
  return rows;
}

const todo = (id: string, fields: Row = {}): Row => ({ id, title: null, done: null, score: null, meta: null, ...fields });
const insert = (id: string, key: string, row: Row = {}): ClientChange => ({ id, table: 'todos', op: 'insert', key, row: { id: key, ...row } });
const update = (id: string, key: string, row: Row): ClientChange => ({ id, table: 'todos', op: 'update', key, row });
const remove = (id: string, key: string): ClientChange => ({ id, table: 'todos', op: 'delete', key });

export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`SyncStore contract: ${name}`, () => {
    const opened: SyncStore[] = [];
    const openStore = async (retention?: { maxChanges?: number }) => {
      const store = await open({ schema: contractSchema, ...(retention && { retention }) });
      opened.push(store);
      return store;
    };
    let store: SyncStore;
    beforeEach(async () => {
      store = await openStore();
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    });

    it('starts empty, with nothing to replay from where it starts', async () => {
      // 0/0 for a store that starts the log itself; a Postgres source starts at its slot's position.
      const start = store.currentLsn();
      expect(isLsn(start)).toBe(true);
      expect(store.oldestResumableLsn()).toBe(start);
      expect(await store.changesSince(start, 100)).toEqual([]);
      expect(await store.changesSince(ZERO_LSN, 100)).toEqual([]);
      const reader = await store.openSnapshot({ chunkRows: 10 });
      expect(reader.lsn).toBe(start);
      expect(reader.tables).toEqual([
        { table: 'items', rows: 0, columns: ['label', 'n'] },
        { table: 'todos', rows: 0, columns: ['done', 'id', 'meta', 'score', 'title'] },
      ]);
      expect(await reader.nextChunk()).toBeNull();
    });

    it('catches up to an LSN it stored (catchUpTo true) and refuses at once one it never did', async () => {
      const lsn = await store.write({ op: 'insert', table: 'items', row: { n: 1 } });
      expect(await store.catchUpTo(lsn, 5000)).toBe(true);
      expect(compareLsn(store.currentLsn(), lsn)).toBeGreaterThanOrEqual(0);
      const started = Date.now();
      expect(await store.catchUpTo('FFFF/FFFF', 60_000)).toBe(false);
      expect(Date.now() - started).toBeLessThan(30_000); // at once, not after the timeout
    });

    it('gives strictly increasing LSNs, compared as 64-bit numbers', async () => {
      const lsns: string[] = [];
      for (let i = 0; i < 20; i++) lsns.push(await store.write({ op: 'insert', table: 'items', row: { n: i } }));
      lsns.forEach((lsn) => expect(isLsn(lsn)).toBe(true));
      for (let i = 1; i < lsns.length; i++) expect(compareLsn(lsns[i], lsns[i - 1])).toBe(1);
      expect(compareLsn(lsns[0], ZERO_LSN)).toBe(1);
      expect(store.currentLsn()).toBe(lsns[19]);
      expect((await store.changesSince(ZERO_LSN, 100)).map((c) => c.lsn)).toEqual(lsns);
    });

    it('logs backend writes as whole rows: insert, update (merged), delete', async () => {
      const l1 = await store.write({ op: 'insert', table: 'todos', row: { id: 'a', title: 'first' } });
      const l2 = await store.write({ op: 'update', table: 'todos', key: 'a', patch: { done: 1 } });
      const l3 = await store.write({ op: 'delete', table: 'todos', key: 'a' });
      expect(await store.changesSince(ZERO_LSN, 10)).toEqual([
        { lsn: l1, table: 'todos', op: 'insert', key: 'a', row: todo('a', { title: 'first' }) },
        { lsn: l2, table: 'todos', op: 'update', key: 'a', row: todo('a', { title: 'first', done: 1 }) },
        { lsn: l3, table: 'todos', op: 'delete', key: 'a' },
      ]);
      expect(await readTable(store, 'todos')).toEqual([]);
    });

    it('refuses a backend update or delete of a missing row and changes nothing', async () => {
      await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
      const before = store.currentLsn();
      await expect(store.write({ op: 'update', table: 'todos', key: 'zz', patch: { title: 'x' } })).rejects.toThrow(Error);
      await expect(store.write({ op: 'delete', table: 'todos', key: 'zz' })).rejects.toThrow(Error);
      expect(store.currentLsn()).toBe(before);
      expect(await store.changesSince(before, 10)).toEqual([]);
      expect(await readTable(store, 'todos')).toEqual([todo('a')]);
    });

    it('reads changesSince in LSN order, with a limit and an exclusive lower bound', async () => {
      const lsns: string[] = [];
      for (let i = 0; i < 10; i++) lsns.push(await store.write({ op: 'insert', table: 'items', row: { n: i, label: `#${i}` } }));
      const all = await store.changesSince(ZERO_LSN, 100);
      expect(all.map((c) => c.key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(all[3]).toEqual({ lsn: lsns[3], table: 'items', op: 'insert', key: 3, row: { n: 3, label: '#3' } });
      expect((await store.changesSince(ZERO_LSN, 3)).map((c) => c.lsn)).toEqual(lsns.slice(0, 3));
      expect((await store.changesSince(lsns[4], 100)).map((c) => c.lsn)).toEqual(lsns.slice(5));
      expect((await store.changesSince(lsns[4], 2)).map((c) => c.lsn)).toEqual(lsns.slice(5, 7));
      expect(await store.changesSince(lsns[9], 100)).toEqual([]);
    });

    it('never ends a changesSince read inside a transaction: a reader resuming after its last LSN misses nothing', async () => {
      const start = store.currentLsn();
      await store.applyClientWrites('c', [insert('t1', 'a'), insert('t2', 'b'), insert('t3', 'c')]);
      await store.write({ op: 'insert', table: 'items', row: { n: 1 } });
      const seen: ChangeRecord[] = [];
      for (let after = start, batch = await store.changesSince(after, 1); batch.length > 0; batch = await store.changesSince(after, 1)) {
        seen.push(...batch);
        after = batch[batch.length - 1].lsn;
      }
      expect(seen.map((c) => c.key)).toEqual(['a', 'b', 'c', 1]);
    });

    it('tells subscribers exactly the committed changes, until they unsubscribe', async () => {
      const seen: ChangeRecord[][] = [];
      const unsubscribe = store.subscribe((changes) => seen.push(changes));
      const lsn = await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
      expect(seen).toEqual([[{ lsn, table: 'todos', op: 'insert', key: 'a', row: todo('a') }]]);

      await store.write({ op: 'delete', table: 'todos', key: 'missing' }).catch(() => undefined);
      await store.applyClientWrites('c', [update('u0', 'missing', { title: 'x' })]); // rejected: nothing committed
      expect(seen).toHaveLength(1);

      const results = await store.applyClientWrites('c', [insert('u1', 'b'), insert('u2', 'c'), update('u3', 'a', { done: 1 })]);
      expect(seen).toHaveLength(2);
      expect(seen[1].map((c) => c.lsn)).toEqual(results.map((r) => (r.status === 'applied' ? r.lsn : null)));
      expect(seen[1].map((c) => c.origin?.changeId)).toEqual(['u1', 'u2', 'u3']);
      await store.applyClientWrites('c', [insert('u1', 'b')]); // duplicate: nothing committed
      expect(seen).toHaveLength(2);

      unsubscribe();
      await store.write({ op: 'insert', table: 'todos', row: { id: 'z' } });
      expect(seen).toHaveLength(2);
    });

    it('keeps going when a subscriber throws', async () => {
      const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const seen: string[] = [];
        store.subscribe(() => {
          throw new Error('listener failure');
        });
        store.subscribe((changes) => seen.push(...changes.map((c) => c.lsn)));
        const l1 = await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
        const l2 = await store.write({ op: 'insert', table: 'todos', row: { id: 'b' } });
        expect(seen).toEqual([l1, l2]);
        expect(store.currentLsn()).toBe(l2);
      } finally {
        error.mockRestore();
      }
    });

    it('snapshots every row exactly once, in chunks, with exact values', async () => {
      const items: ClientChange[] = [];
      for (let n = 2500; n >= 1; n--) items.push({ id: `i${n}`, table: 'items', op: 'insert', key: n, row: { n, label: `item ${n}` } });
      await store.applyClientWrites('loader', items);
      const special: Row[] = [
        todo('j1', { meta: { a: [1, 'x', null, { b: true }], c: 'ünïcødé ✓' }, score: 0.1, done: 0, title: '' }),
        todo('j2', { meta: 'just a string', score: -1.5e300, done: Number.MAX_SAFE_INTEGER }),
        todo('j3', { meta: [1.25, -0.5], score: 3, done: -7 }),
        todo('j4', { meta: false, score: 5e-324 }),
        todo('j5', { meta: 0 }),
      ];
      for (const row of special) await store.write({ op: 'insert', table: 'todos', row });
      for (let i = 0; i < 995; i++) await store.write({ op: 'insert', table: 'todos', row: { id: `t${String(i).padStart(4, '0')}` } });

      const lsnAtOpen = store.currentLsn();
      const reader = await store.openSnapshot({ chunkRows: 1000 });
      expect(reader.lsn).toBe(lsnAtOpen);
      expect(reader.tables).toEqual([
        { table: 'items', rows: 2500, columns: ['label', 'n'] },
        { table: 'todos', rows: 1000, columns: ['done', 'id', 'meta', 'score', 'title'] },
      ]);
      const chunks: Array<{ table: string; columns: readonly string[]; rows: unknown[][] }> = [];
      for (let chunk = await reader.nextChunk(); chunk; chunk = await reader.nextChunk()) chunks.push(chunk);
      expect(await reader.nextChunk()).toBeNull();
      reader.close();
      expect(chunks.map((c) => [c.table, c.rows.length])).toEqual([
        ['items', 1000],
        ['items', 1000],
        ['items', 500],
        ['todos', 1000], // exactly chunkRows: one chunk, no empty one after it
      ]);
      const ns = chunks.filter((c) => c.table === 'items').flatMap((c) => c.rows.map((r) => r[1]));
      expect(new Set(ns).size).toBe(2500);
      expect(chunks[0].rows[0]).toEqual(['item 1', 1]);

      const todos = chunks[3].rows.map((values) => Object.fromEntries(chunks[3].columns.map((c, i) => [c, values[i]])));
      expect(todos.slice(0, 5)).toEqual(special);
      expect(Object.is(todos[3].score, 5e-324)).toBe(true);
      expect(todos[5]).toEqual(todo('t0000'));
    });

    it('applies client writes with their origin, and answers a resend with duplicate', async () => {
      const [first] = await store.applyClientWrites('client-1', [insert('c1', 'a', { title: 'one', meta: { x: 1 } })]);
      expect(first).toEqual({ id: 'c1', status: 'applied', lsn: store.currentLsn() });
      const lsn = store.currentLsn();
      expect(await store.changesSince(ZERO_LSN, 10)).toEqual([
        { lsn, table: 'todos', op: 'insert', key: 'a', row: todo('a', { title: 'one', meta: { x: 1 } }), origin: { clientId: 'client-1', changeId: 'c1' } },
      ]);

      const again = await store.applyClientWrites('client-1', [insert('c1', 'a', { title: 'changed' })]);
      expect(again).toEqual([{ id: 'c1', status: 'duplicate', lsn }]);
      expect(store.currentLsn()).toBe(lsn);
      expect(await store.changesSince(lsn, 10)).toEqual([]);
      expect(await readTable(store, 'todos')).toEqual([todo('a', { title: 'one', meta: { x: 1 } })]);
    });

    it('keeps change ids apart per client: the same id from two clients applies twice', async () => {
      const [a] = await store.applyClientWrites('client-a', [insert('shared-id', 'a', { title: 'from a' })]);
      const [b] = await store.applyClientWrites('client-b', [insert('shared-id', 'b', { title: 'from b' })]);
      expect([a.status, b.status]).toEqual(['applied', 'applied']);
      expect((await readTable(store, 'todos')).map((row) => row.title)).toEqual(['from a', 'from b']);
    });

    it('treats a change id repeated within one call as a duplicate', async () => {
      const results = await store.applyClientWrites('c', [insert('same', 'a', { title: 'one' }), update('same', 'a', { title: 'two' })]);
      expect(results).toEqual([
        { id: 'same', status: 'applied', lsn: store.currentLsn() },
        { id: 'same', status: 'duplicate', lsn: store.currentLsn() },
      ]);
      expect(await readTable(store, 'todos')).toEqual([todo('a', { title: 'one' })]);
      expect(await store.changesSince(ZERO_LSN, 10)).toHaveLength(1);
    });

    it('rejects an update of a missing row with not_found, and again on resend', async () => {
      const start = store.currentLsn();
      const expected = [{ id: 'u', status: 'rejected', reason: 'not_found', serverRow: null, code: 'conflict' }];
      expect(await store.applyClientWrites('c', [update('u', 'ghost', { title: 'boo' })])).toEqual(expected);
      expect(await store.applyClientWrites('c', [update('u', 'ghost', { title: 'boo' })])).toEqual(expected);
      expect(store.currentLsn()).toBe(start);
      expect(await readTable(store, 'todos')).toEqual([]);
    });

    it('applies the others when one change of a batch is rejected', async () => {
      const results = await store.applyClientWrites('c', [
        insert('m1', 'a'),
        update('m2', 'ghost', { title: 'x' }),
        insert('m3', 'b'),
        update('m4', 'a', { done: 1 }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['applied', 'rejected', 'applied', 'applied']);
      const lsns = results.flatMap((r) => (r.status === 'applied' ? [r.lsn] : []));
      // In order; the changes of one transaction may share its commit LSN (Postgres) or not (SQLite).
      expect(compareLsn(lsns[1], lsns[0])).toBeGreaterThanOrEqual(0);
      expect(compareLsn(lsns[2], lsns[1])).toBeGreaterThanOrEqual(0);
      expect(lsns[2]).toBe(store.currentLsn());
      expect((await store.changesSince(ZERO_LSN, 10)).map((c) => [c.lsn, c.origin?.changeId])).toEqual([
        [lsns[0], 'm1'],
        [lsns[1], 'm3'],
        [lsns[2], 'm4'],
      ]);
      expect(await readTable(store, 'todos')).toEqual([todo('a', { done: 1 }), todo('b')]);
    });

    it('last write wins: a client insert overwrites an existing row whole', async () => {
      await store.write({ op: 'insert', table: 'todos', row: { id: 'k', title: 'server', done: 1, score: 2.5 } });
      const [result] = await store.applyClientWrites('c', [insert('w1', 'k', { title: 'client' })]);
      expect(result.status).toBe('applied');
      expect(await readTable(store, 'todos')).toEqual([todo('k', { title: 'client' })]);
      const changes = await store.changesSince(ZERO_LSN, 10);
      // The second is logged as an insert (SQLite) or as the update it was to the table (Postgres):
      // either way clients get the whole row.
      expect(changes.map((c) => c.row)).toEqual([todo('k', { title: 'server', done: 1, score: 2.5 }), todo('k', { title: 'client' })]);
      expect(changes[0].op).toBe('insert');
      expect(['insert', 'update']).toContain(changes[1].op);
    });

    it('merges a client update into the row, and logs a client delete', async () => {
      await store.write({ op: 'insert', table: 'todos', row: { id: 'a', title: 'keep', done: 0 } });
      const start = store.currentLsn();
      await store.applyClientWrites('c', [update('d1', 'a', { done: 1 }), remove('d2', 'a')]);
      expect(await store.changesSince(start, 10)).toEqual([
        expect.objectContaining({ op: 'update', key: 'a', row: todo('a', { title: 'keep', done: 1 }) }),
        { lsn: store.currentLsn(), table: 'todos', op: 'delete', key: 'a', origin: { clientId: 'c', changeId: 'd2' } },
      ]);
    });

    it('applies a delete of a row that is already gone at the current LSN, logging nothing', async () => {
      await store.write({ op: 'insert', table: 'items', row: { n: 1 } });
      const lsn = store.currentLsn();
      expect(await store.applyClientWrites('c', [remove('gone', 'nope')])).toEqual([{ id: 'gone', status: 'applied', lsn }]);
      expect(store.currentLsn()).toBe(lsn);
      expect(await store.changesSince(lsn, 10)).toEqual([]);
      expect(await store.applyClientWrites('c', [remove('gone', 'nope')])).toEqual([{ id: 'gone', status: 'duplicate', lsn }]);
    });

    it('keeps maxChanges changes and moves oldestResumableLsn past the pruned ones', async () => {
      const small = await openStore({ maxChanges: 5 });
      const start = small.currentLsn();
      const lsns: string[] = [];
      for (let i = 0; i < 5; i++) lsns.push(await small.write({ op: 'insert', table: 'items', row: { n: i } }));
      expect(small.oldestResumableLsn()).toBe(start);
      for (let i = 5; i < 12; i++) lsns.push(await small.write({ op: 'insert', table: 'items', row: { n: i } }));
      expect(small.oldestResumableLsn()).toBe(lsns[6]);
      const rest = await small.changesSince(small.oldestResumableLsn(), 100);
      expect(rest.map((c) => c.lsn)).toEqual(lsns.slice(7));
      expect(rest.map((c) => c.key)).toEqual([7, 8, 9, 10, 11]);

      await small.applyClientWrites('c', [insert('r1', 'a'), insert('r2', 'b'), insert('r3', 'c')]);
      const after = await small.changesSince(small.oldestResumableLsn(), 100);
      expect(after).toHaveLength(5);
      expect(after[0].lsn).toBe(lsns[10]);
      expect(after.slice(2).map((c) => c.origin?.changeId)).toEqual(['r1', 'r2', 'r3']);
    });

    it('reads rows as they were at an LSN (rowsAt): by column value or whole tables, across inserts, updates and deletes', async () => {
      const start = store.currentLsn();
      const atInsert = await store.write({ op: 'insert', table: 'todos', row: todo('a', { title: 'first', done: 0 }) });
      await store.write({ op: 'insert', table: 'todos', row: todo('b', { title: 'other', done: 1 }) });
      const atUpdate = await store.write({ op: 'update', table: 'todos', key: 'a', patch: { done: 1, title: 'moved' } });
      const [, atClient] = await Promise.all([null, store.applyClientWrites('c', [insert('c1', 'c', { title: 'by a client', done: 0 })])]);
      const atDelete = await store.write({ op: 'delete', table: 'todos', key: 'b' });
      const clientLsn = (atClient[0] as { lsn: string }).lsn;
      const sorted = (rows: Row[]) => [...rows].sort((x, y) => String(x.id).localeCompare(String(y.id)));
      const at = async (lsn: string, column?: string, values?: unknown[]) =>
        sorted((await store.rowsAt(lsn, [{ table: 'todos', ...(column && { column, values }) }]))[0]);

      expect(await at(start)).toEqual([]);
      expect(await at(atInsert, 'done', [0])).toEqual([todo('a', { title: 'first', done: 0 })]);
      expect(await at(atUpdate, 'done', [0])).toEqual([]);
      expect(await at(atUpdate, 'done', [1])).toEqual([todo('a', { title: 'moved', done: 1 }), todo('b', { title: 'other', done: 1 })]);
      expect(await at(clientLsn, 'done', [0, 1])).toEqual([
        todo('a', { title: 'moved', done: 1 }),
        todo('b', { title: 'other', done: 1 }),
        todo('c', { title: 'by a client', done: 0 }),
      ]);
      expect(await at(atDelete)).toEqual([todo('a', { title: 'moved', done: 1 }), todo('c', { title: 'by a client', done: 0 })]);
      // Several reads at once, one per table.
      await store.write({ op: 'insert', table: 'items', row: { n: 7, label: 'seven' } });
      const [todos, items] = await store.rowsAt(store.currentLsn(), [
        { table: 'todos', column: 'id', values: ['c'] },
        { table: 'items', column: 'n', values: [7, 8] },
      ]);
      expect(todos).toEqual([todo('c', { title: 'by a client', done: 0 })]);
      expect(items).toEqual([{ n: 7, label: 'seven' }]);
    });

    it('keeps the row before each change on the changes it reports (never in what is sent)', async () => {
      await store.write({ op: 'insert', table: 'todos', row: todo('a', { title: 'first' }) });
      await store.write({ op: 'update', table: 'todos', key: 'a', patch: { title: 'second' } });
      await store.write({ op: 'delete', table: 'todos', key: 'a' });
      const changes = await store.changesSince(ZERO_LSN, 100);
      const mine = changes.filter((change) => change.table === 'todos');
      expect(mine.map((change) => oldRowOf(change))).toEqual([null, todo('a', { title: 'first' }), todo('a', { title: 'second' })]);
      expect(JSON.parse(JSON.stringify(mine))).toEqual(mine.map((change) => ({ ...change })));
      // The delete, as a message carries it: its key, not the row it removed.
      expect(JSON.stringify(mine[2])).not.toContain('second');
    });

    it('registers clients, telling whether each was known', async () => {
      expect(await store.registerClient('alice')).toBe(false);
      expect(await store.registerClient('alice')).toBe(true);
      expect(await store.registerClient('bob')).toBe(false);
    });

    it('answers plain read-only queries', async () => {
      await store.write({ op: 'insert', table: 'todos', row: { id: 'b', title: 'B' } });
      await store.write({ op: 'insert', table: 'todos', row: { id: 'a', title: 'A' } });
      expect(await store.query('SELECT id, title FROM todos ORDER BY id')).toEqual([
        { id: 'a', title: 'A' },
        { id: 'b', title: 'B' },
      ]);
    });

    it('refuses every call once closed', async () => {
      await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
      await store.close();
      await expect(store.write({ op: 'insert', table: 'todos', row: { id: 'b' } })).rejects.toThrow(/closed/);
      await expect(store.applyClientWrites('c', [insert('x', 'x')])).rejects.toThrow(/closed/);
      await expect(store.changesSince(ZERO_LSN, 10)).rejects.toThrow(/closed/);
      await expect(store.openSnapshot({ chunkRows: 10 })).rejects.toThrow(/closed/);
      await expect(store.registerClient('c')).rejects.toThrow(/closed/);
      await expect(store.query('SELECT 1')).rejects.toThrow(/closed/);
    });
  });
}
