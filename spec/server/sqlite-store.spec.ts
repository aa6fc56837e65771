import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SyncProtocolError, ZERO_LSN } from '../../src/protocol/index.js';
import type { ChangeRecord, ClientChange, Row } from '../../src/protocol/index.js';
import { lastWriteWins } from '../../src/server/store/conflict-policy.js';
import { createSqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import type { SqliteStoreOptions } from '../../src/server/store/sqlite/sqlite-store.js';
import type { ConflictPolicy, SyncStore } from '../../src/server/store/store.js';
import { contractSchema as schema, describeStoreContract, readTable } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'rxsync-sqlite-store-'));
let files = 0;
/** A fresh database path in a directory that does not exist yet (the store creates it). */
const freshFile = () => join(dir, `nested-${++files}`, 'store.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract(':memory:', async ({ schema, retention }) => createSqliteStore({ schema, retention }));
describeStoreContract('file', async ({ schema, retention }) => createSqliteStore({ schema, retention, database: freshFile() }));

const todo = (id: string, fields: Row = {}): Row => ({ id, title: null, done: null, score: null, meta: null, ...fields });
const insert = (id: string, key: string, row: Row = {}): ClientChange => ({ id, table: 'todos', op: 'insert', key, row: { id: key, ...row } });
const update = (id: string, key: string, row: Row): ClientChange => ({ id, table: 'todos', op: 'update', key, row });

describe('SQLite store', () => {
  const stores: SyncStore[] = [];
  const open = (options: Partial<SqliteStoreOptions> = {}) => {
    const store = createSqliteStore({ schema, ...options });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('persists rows, log, LSN counter and idempotency records across a reopen', async () => {
    const database = freshFile();
    const first = open({ database });
    await first.write({ op: 'insert', table: 'todos', row: { id: 'a', title: 'A', meta: { deep: [1] } } });
    const [applied, rejected] = await first.applyClientWrites('c', [insert('x1', 'b', { title: 'B' }), update('x2', 'ghost', { title: '?' })]);
    await first.registerClient('c');
    const lsn = first.currentLsn();
    const log = await first.changesSince(ZERO_LSN, 100);
    await first.close();

    const second = open({ database });
    expect(await second.query('SELECT * FROM pragma_journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await second.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]); // NORMAL
    expect(second.currentLsn()).toBe(lsn);
    expect(await second.changesSince(ZERO_LSN, 100)).toEqual(log);
    expect(await readTable(second, 'todos')).toEqual([todo('a', { title: 'A', meta: { deep: [1] } }), todo('b', { title: 'B' })]);
    expect(await second.registerClient('c')).toBe(true);
    expect(await second.applyClientWrites('c', [insert('x1', 'b', { title: 'again' }), update('x2', 'ghost', { title: '?' })])).toEqual([
      { id: 'x1', status: 'duplicate', lsn: (applied as { lsn: string }).lsn },
      rejected,
    ]);
    const next = await second.write({ op: 'insert', table: 'items', row: { n: 1 } });
    expect(next).toBe('0/3');
  });

  it('persists the retention point, and prunes at once when reopened with a smaller maxChanges', async () => {
    const database = freshFile();
    const first = open({ database, retention: { maxChanges: 4 } });
    for (let n = 0; n < 6; n++) await first.write({ op: 'insert', table: 'items', row: { n } });
    expect(first.oldestResumableLsn()).toBe('0/2');
    await first.close();
    expect(open({ database, retention: { maxChanges: 4 } }).oldestResumableLsn()).toBe('0/2');
    const smaller = open({ database, retention: { maxChanges: 1 } });
    expect(smaller.oldestResumableLsn()).toBe('0/5');
    expect((await smaller.changesSince(ZERO_LSN, 100)).map((c) => c.lsn)).toEqual(['0/6']);
  });

  it('prunes the idempotency records of pruned changes (a resend that old applies again)', async () => {
    const store = open({ retention: { maxChanges: 2 } });
    await store.applyClientWrites('c', [insert('old', 'a')]);
    await store.write({ op: 'insert', table: 'items', row: { n: 1 } });
    expect(await store.applyClientWrites('c', [insert('old', 'a')])).toEqual([{ id: 'old', status: 'duplicate', lsn: '0/1' }]);
    await store.write({ op: 'insert', table: 'items', row: { n: 2 } });
    expect(store.oldestResumableLsn()).toBe('0/1');
    expect(await store.query('SELECT change_id FROM _rxsync_client_changes')).toEqual([]);
    expect(await store.applyClientWrites('c', [insert('old', 'a')])).toEqual([{ id: 'old', status: 'applied', lsn: '0/4' }]);
  });

  it('asks a custom conflict policy, with the client id and the current row', async () => {
    const calls: unknown[] = [];
    const lww = lastWriteWins(schema);
    const lockDone: ConflictPolicy = (input) => {
      calls.push([input.clientId, input.change.id, input.current]);
      if (input.current?.done === 1) return { action: 'reject', reason: 'locked' };
      return lww(input);
    };
    const store = open({ conflictPolicy: lockDone });
    await store.write({ op: 'insert', table: 'todos', row: { id: 'a', done: 1 } });
    const results = await store.applyClientWrites('me', [update('p1', 'a', { title: 'nope' }), insert('p2', 'b', { title: 'yes' })]);
    expect(results).toEqual([
      { id: 'p1', status: 'rejected', reason: 'locked', serverRow: todo('a', { done: 1 }), code: 'conflict' },
      { id: 'p2', status: 'applied', lsn: '0/2' },
    ]);
    expect(calls).toEqual([
      ['me', 'p1', todo('a', { done: 1 })],
      ['me', 'p2', null],
    ]);
    // A policy may turn a delete into a row: it is logged as the write it became.
    const keep = open({ conflictPolicy: ({ current }) => ({ action: 'apply', row: { ...current, title: 'kept' } }) });
    await keep.write({ op: 'insert', table: 'todos', row: { id: 'a', title: 'x' } });
    await keep.applyClientWrites('me', [{ id: 'd', table: 'todos', op: 'delete', key: 'a' }]);
    expect((await keep.changesSince('0/1', 10)).map((c) => [c.op, c.row])).toEqual([['update', todo('a', { title: 'kept' })]]);
  });

  it('rejects only the change that breaks an SQLite constraint (savepoint per change)', async () => {
    const database = freshFile();
    open({ database }); // creates the directory
    await stores.pop()!.close();
    const raw = new Database(database);
    raw.exec('DROP TABLE todos');
    raw.exec(`CREATE TABLE todos (id TEXT NOT NULL PRIMARY KEY, title TEXT CHECK (length(title) <= 5), done INTEGER, score REAL, meta TEXT)`);
    raw.close();

    const store = open({ database });
    const seen: ChangeRecord[][] = [];
    store.subscribe((changes) => seen.push(changes));
    const results = await store.applyClientWrites('c', [insert('k1', 'a', { title: 'ok' }), insert('k2', 'b', { title: 'far too long' }), insert('k3', 'c')]);
    expect(results[0]).toEqual({ id: 'k1', status: 'applied', lsn: '0/1' });
    expect(results[1]).toEqual({
      id: 'k2',
      status: 'rejected',
      reason: expect.stringMatching(/^constraint: CHECK constraint failed/),
      serverRow: null,
      code: 'constraint',
    });
    expect(results[2]).toEqual({ id: 'k3', status: 'applied', lsn: '0/2' }); // the failed change gave its LSN back
    expect(seen.map((batch) => batch.map((c) => c.key))).toEqual([['a', 'c']]);
    expect(await readTable(store, 'todos')).toEqual([todo('a', { title: 'ok' }), todo('c')]);
    expect(await store.applyClientWrites('c', [insert('k2', 'b', { title: 'far too long' })])).toEqual([results[1]]);

    // The same failure from a backend write rejects the write and changes nothing. (Not toThrow: the
    // SqliteError class may come from another spec file's realm when jest shares a worker.)
    const failed = store.write({ op: 'insert', table: 'todos', row: { id: 'z', title: 'far too long' } });
    await expect(failed).rejects.toHaveProperty('message', expect.stringMatching(/CHECK constraint failed/));
    expect(store.currentLsn()).toBe('0/2');
  });

  it('aborts the whole batch on an error that is not about the data (a throwing policy)', async () => {
    let fail = true;
    const store = open({
      conflictPolicy: (input) => {
        if (fail && input.change.id === 'e2') throw new Error('policy bug');
        return lastWriteWins(schema)(input);
      },
    });
    const batch = [insert('e1', 'a'), insert('e2', 'b')];
    await expect(store.applyClientWrites('c', batch)).rejects.toThrow('policy bug');
    expect(store.currentLsn()).toBe(ZERO_LSN);
    expect(await readTable(store, 'todos')).toEqual([]);
    fail = false;
    expect((await store.applyClientWrites('c', batch)).map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(store.currentLsn()).toBe('0/2');
  });

  it('refuses anything but read-only statements in query()', async () => {
    const store = open();
    await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
    for (const sql of [
      "INSERT INTO todos (id) VALUES ('b')",
      "INSERT INTO todos (id) VALUES ('b') RETURNING id",
      'DELETE FROM todos',
      'DROP TABLE todos',
      'BEGIN',
      'PRAGMA user_version = 3',
      'PRAGMA journal_mode = DELETE',
    ]) {
      await expect(store.query(sql)).rejects.toThrow(/read-only/);
    }
    expect(await store.query('SELECT id FROM todos WHERE id = ?', ['a'])).toEqual([{ id: 'a' }]);
    expect(await store.query('SELECT value FROM _rxsync_meta WHERE key = ?', ['last_lsn'])).toEqual([{ value: 1 }]);
  });

  it('refuses a backend write that does not fit the schema, changing nothing', async () => {
    const store = open();
    const seen: unknown[] = [];
    store.subscribe((changes) => seen.push(changes));
    await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
    const attempts = [
      store.write({ op: 'insert', table: 'todos', row: { id: 'b', colour: 'red' } }),
      store.write({ op: 'update', table: 'todos', key: 'a', patch: { colour: 'red' } }),
    ];
    for (const attempt of attempts) {
      await expect(attempt).rejects.toThrow(SyncProtocolError);
      await expect(attempt).rejects.toMatchObject({ code: 'unknown_column' });
    }
    await expect(store.write({ op: 'insert', table: 'nope', row: { id: 'b' } })).rejects.toMatchObject({ code: 'unknown_table' });
    await expect(store.write({ op: 'insert', table: 'todos', row: { id: 'b', done: 'yes' } })).rejects.toMatchObject({ code: 'invalid_value' });
    await expect(store.write({ op: 'insert', table: 'todos', row: { title: 'no key' } })).rejects.toMatchObject({ code: 'invalid_value' });
    await expect(store.write({ op: 'update', table: 'todos', key: 'a', patch: { id: 'other' } })).rejects.toMatchObject({ code: 'invalid_value' });
    await expect(store.write({ op: 'delete', table: 'items', key: 'text' })).rejects.toMatchObject({ code: 'invalid_value' });
    expect(store.currentLsn()).toBe('0/1');
    expect(seen).toHaveLength(1);
    expect(await readTable(store, 'todos')).toEqual([todo('a')]);
  });

  it('reports a throwing subscriber to onListenerError', async () => {
    const errors: unknown[] = [];
    const store = open({ onListenerError: (error) => errors.push(error) });
    store.subscribe(() => {
      throw new Error('boom');
    });
    await store.write({ op: 'insert', table: 'todos', row: { id: 'a' } });
    expect(errors).toEqual([new Error('boom')]);
  });

  it('keeps its own tables under the _rxsync_ prefix, with the schema types', async () => {
    const store = open();
    const tables = await store.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual(['_rxsync_changes', '_rxsync_client_changes', '_rxsync_clients', '_rxsync_meta', 'items', 'todos']);
    const columns = await store.query<{ name: string; type: string; pk: number }>('SELECT name, type, pk FROM pragma_table_info(?)', ['todos']);
    expect(columns).toEqual([
      { name: 'done', type: 'INTEGER', pk: 0 },
      { name: 'id', type: 'TEXT', pk: 1 },
      { name: 'meta', type: 'TEXT', pk: 0 },
      { name: 'score', type: 'REAL', pk: 0 },
      { name: 'title', type: 'TEXT', pk: 0 },
    ]);
  });

  it('snapshots while writes go on, each row at most once', async () => {
    const store = open();
    await store.applyClientWrites(
      'c',
      Array.from({ length: 30 }, (_, n) => ({ id: `s${n}`, table: 'items', op: 'insert' as const, key: n * 2, row: { n: n * 2 } })),
    );
    const reader = await store.openSnapshot({ chunkRows: 7 });
    const seen: number[] = [];
    for (let chunk = await reader.nextChunk(); chunk; chunk = await reader.nextChunk()) {
      if (chunk.table === 'items') seen.push(...chunk.rows.map((r) => r[1] as number));
      await store.write({ op: 'insert', table: 'items', row: { n: 1000 + seen.length } });
      await store.write({ op: 'delete', table: 'items', key: 0 }).catch(() => undefined);
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (let n = 2; n < 60; n += 2) expect(seen).toContain(n);
  });

  it('refuses a bad chunkRows and a bad retention', async () => {
    const store = open();
    await expect(store.openSnapshot({ chunkRows: 0 })).rejects.toThrow(RangeError);
    expect(() => createSqliteStore({ schema, retention: { maxChanges: -1 } })).toThrow(RangeError);
  });
});
