import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { createLocalSchema, readLsn } from '../../src/changes/local-schema.js';
import { ServerChanges } from '../../src/changes/server-changes.js';
import type { Changes } from '../../src/protocol/index.js';
import { testSchema, todo } from '../support/test-schema.js';

const insert = (lsn: string, id: string, title: string) => ({ lsn, table: 'todos', op: 'insert' as const, key: id, row: { ...todo(1), id, title } });
const batch = (...changes: ReturnType<typeof insert>[]): Changes => ({ type: 'changes', lsn: changes.at(-1)!.lsn, changes });

describe('server batches applied on a real wa-sqlite database', () => {
  let db: SqliteDatabase;
  let server: ServerChanges;
  const apply = (message: Changes) => db.transaction((tx) => server.applyBatch(tx, message));

  beforeEach(async () => {
    db = await openDatabase();
    await createLocalSchema(db, testSchema);
    server = new ServerChanges(
      testSchema,
      () => 'me',
      () => 1_000,
    );
  });
  afterEach(() => db.close());

  it('writes the rows and the batch LSN in the same transaction', async () => {
    expect(await apply(batch(insert('0/4', 'a', 'one'), insert('0/5', 'b', 'two')))).toMatchObject({ count: 2 });
    expect(await db.all('SELECT id, title FROM todos ORDER BY id')).toEqual([
      { id: 'a', title: 'one' },
      { id: 'b', title: 'two' },
    ]);
    expect(await readLsn(db)).toBe('0/5');
  });

  // The overlap after a reconnect: an apply from the previous connection committed after the next
  // hello, so the server resends from the hello's older LSN, cut into other batches. The part at
  // or below the checkpoint was applied already: it is skipped, never re-applied, and the rest goes in.
  it('skips the changes at or below the checkpoint, read inside the transaction, and applies the rest', async () => {
    await apply(batch(insert('0/5', 'a', 'current')));
    const result = await apply(batch(insert('0/4', 'a', 'old'), insert('0/5', 'a', 'older'), insert('0/7', 'b', 'new')));
    expect(result).toMatchObject({ count: 1 });
    expect(await db.all('SELECT id, title FROM todos ORDER BY id')).toEqual([
      { id: 'a', title: 'current' },
      { id: 'b', title: 'new' },
    ]);
    expect(await readLsn(db)).toBe('0/7');
  });

  it('writes nothing for a batch wholly at or below the checkpoint', async () => {
    await apply(batch(insert('0/5', 'a', 'current')));
    expect(await apply(batch(insert('0/5', 'a', 'replayed')))).toBeUndefined();
    expect(await db.all('SELECT title FROM todos')).toEqual([{ title: 'current' }]);
    expect(await readLsn(db)).toBe('0/5');
  });

  it('refuses a batch that breaks the schema or the LSN order before writing anything', async () => {
    for (const bad of [
      batch(insert('0/6', 'a', 'x'), { ...insert('0/7', 'b', 'y'), table: 'users' }),
      batch(insert('0/7', 'a', 'x'), insert('0/6', 'b', 'y')),
      { ...batch(insert('0/8', 'a', 'x')), lsn: '0/6' },
    ]) {
      await expect(apply(bad)).rejects.toMatchObject({ name: 'SyncProtocolError' });
    }
    expect(await db.all('SELECT * FROM todos')).toEqual([]);
    expect(await readLsn(db)).toBe('0/0');
  });

  it('applies a source transaction whose changes share its commit LSN (a Postgres source) in one go', async () => {
    const moved = { lsn: '0/9', table: 'todos', op: 'delete' as const, key: 'a' };
    await apply(batch(insert('0/5', 'a', 'before')));
    const result = await apply({ type: 'changes', lsn: '0/9', changes: [moved, insert('0/9', 'a2', 'renamed key'), insert('0/9', 'b', 'same tx')] });
    expect(result).toMatchObject({ count: 3 });
    expect(await db.all('SELECT id, title FROM todos ORDER BY id')).toEqual([
      { id: 'a2', title: 'renamed key' },
      { id: 'b', title: 'same tx' },
    ]);
    expect(await readLsn(db)).toBe('0/9');
  });
});
