import { firstValueFrom, type Subscription } from 'rxjs';
import type { ResultChanges } from '../../src/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';
import { cleanupClients, testClient, until } from '../support/test-client.js';

type Scored = { id: string; title: string | null; score: number | null };

/**
 * watch() on a list of one table folds each commit's changed rows into the result it has (see
 * src/live/): what a user sees is what the query would return run afresh, and the rows a commit did
 * not touch stay the same objects (a UI keeps their elements).
 */
describe('live queries over a synced table', () => {
  let server: SyncServer;
  let subscriptions: Subscription[];
  beforeEach(async () => {
    server = await startTestServer();
    subscriptions = [];
    for (let i = 1; i <= 200; i++) await server.insert('todos', todo(i));
  });
  afterEach(async () => {
    subscriptions.forEach((subscription) => subscription.unsubscribe());
    await cleanupClients();
    await server.close();
  });

  it('a whole-table list and a top 10 follow the server; the rows no commit touched keep their objects', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    const whole: Scored[][] = [];
    const top: Scored[][] = [];
    subscriptions.push(
      client.watch<Scored>('SELECT id, title, score FROM todos ORDER BY score DESC').subscribe((rows) => whole.push(rows)),
      client.watch<Scored>('SELECT id, title, score FROM todos WHERE done = ? ORDER BY score DESC LIMIT 10', [1]).subscribe((rows) => top.push(rows)),
    );
    await until(() => whole.length > 0 && top.length > 0, 5000, 'the first results');
    expect(whole[0]).toHaveLength(200);
    expect(top[0]!.map((row) => row.id)).toEqual([199, 197, 195, 193, 191, 189, 187, 185, 183, 181].map((i) => todo(i).id));

    await server.insert('todos', todo(500, { score: 1000 })); // a new first row (done = 0: not in the top 10)
    await server.update('todos', todo(199).id, { score: -1 }); // the top row drops to the end
    await server.delete('todos', todo(197).id); // out of both
    await server.update('todos', todo(2).id, { done: 1, score: 5000 }); // into the top 10, first
    await server.update('todos', todo(100).id, { title: 'renamed' });
    await client.whenSynced({ timeoutMs: 5000 });

    const expectedWhole = await client.query<Scored>('SELECT id, title, score FROM todos ORDER BY score DESC, id');
    const expectedTop = await client.query<Scored>('SELECT id, title, score FROM todos WHERE done = 1 ORDER BY score DESC, id LIMIT 10');
    await until(() => JSON.stringify(whole.at(-1)) === JSON.stringify(expectedWhole), 5000, 'the whole list to catch up');
    await until(() => JSON.stringify(top.at(-1)) === JSON.stringify(expectedTop), 5000, 'the top 10 to catch up');
    expect(top.at(-1)!.map((row) => row.id)).toEqual([todo(2).id, ...[195, 193, 191, 189, 187, 185, 183, 181, 179].map((i) => todo(i).id)]);

    const untouched = (rows: Scored[]) => rows.find((row) => row.id === todo(50).id);
    expect(untouched(whole.at(-1)!)).toBe(untouched(whole[0]!));
    const renamed = (rows: Scored[]) => rows.find((row) => row.id === todo(100).id);
    expect(renamed(whole.at(-1)!)).not.toBe(renamed(whole[0]!));
    expect(renamed(whole.at(-1)!)?.title).toBe('renamed');
  });

  it('watchChanges says which rows were added, changed and removed', async () => {
    const client = testClient();
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    const updates: ResultChanges<Scored>[] = [];
    subscriptions.push(
      client.watchChanges<Scored>('SELECT id, title, score FROM todos WHERE score > ? ORDER BY score', [150]).subscribe((u) => updates.push(u)),
    );
    await until(() => updates.length === 1, 5000, 'the first update');
    expect(updates[0]).toMatchObject({ removed: [], changed: [] });
    expect(updates[0]!.added).toHaveLength(51); // scores 150.5 .. 200.5
    expect(updates[0]!.rows).toEqual(updates[0]!.added);

    await server.insert('todos', todo(600, { score: 175 }));
    await until(() => updates.length === 2, 5000, 'the insert');
    expect(updates[1]).toMatchObject({ added: [{ id: todo(600).id, score: 175 }], removed: [], changed: [] });
    expect(updates[1]!.rows.findIndex((row) => row.id === todo(600).id)).toBe(25); // after 174.5, before 175.5

    await server.update('todos', todo(600).id, { title: 'moved on the server' });
    await until(() => updates.length === 3, 5000, 'the update');
    expect(updates[2]).toMatchObject({ added: [], removed: [], changed: [{ id: todo(600).id, title: 'moved on the server' }] });

    await server.update('todos', todo(160).id, { score: 1 }); // leaves the WHERE
    await until(() => updates.length === 4, 5000, 'the row leaving');
    expect(updates[3]).toMatchObject({ added: [], removed: [{ id: todo(160).id }], changed: [] });
    expect(updates[3]!.rows).toHaveLength(51);
  });

  it('watchChanges refuses a query it cannot key by row, saying why; watch() follows it by running it again', async () => {
    const client = testClient();
    await expect(firstValueFrom(client.watchChanges('SELECT count(*) AS n FROM todos'))).rejects.toThrow(
      /watchChanges\(\) needs a query of one synced table.*use watch\(\) for this one: SELECT count\(\*\) AS n FROM todos/,
    );
    const counts: number[] = [];
    subscriptions.push(client.watch<{ n: number }>('SELECT count(*) AS n FROM todos').subscribe((rows) => counts.push(rows[0]!.n)));
    await client.connect(server.url);
    await client.whenSynced({ timeoutMs: 5000 });
    await until(() => counts.at(-1) === 200, 5000, 'the count of the synced rows');
    await client.insert('todos', todo(700));
    await until(() => counts.at(-1) === 201, 5000, 'the count after an insert');
  });
});
