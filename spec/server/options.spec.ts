import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore, createSyncServer, type SyncServerOptions } from '../../src/server/index.js';
import { testSchema, todo } from '../support/test-schema.js';

describe('server options: where the data lives', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-options-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const freshFile = () => join(dir, `store-${++files}.db`);

  /** Starts a server, runs `use` on it, closes it. */
  async function withServer<T>(options: Partial<SyncServerOptions>, use: (server: Awaited<ReturnType<typeof createSyncServer>>) => Promise<T>): Promise<T> {
    const server = await createSyncServer({ schema: testSchema, port: 0, onError: () => undefined, ...options });
    try {
      return await use(server);
    } finally {
      await server.close();
    }
  }
  const count = async (server: Awaited<ReturnType<typeof createSyncServer>>) => (await server.query<{ n: number }>('SELECT count(*) AS n FROM todos'))[0].n;

  it('keeps the embedded store in sqlite.database, and `database` is the same thing for short', async () => {
    const file = freshFile();
    await withServer({ sqlite: { database: file } }, (server) => server.insert('todos', todo(1)));
    expect(await withServer({ database: file }, count)).toBe(1);
  });

  it('prefers sqlite.database over the shorthand when both are given', async () => {
    const file = freshFile();
    await withServer({ database: ':memory:', sqlite: { database: file } }, (server) => server.insert('todos', todo(1)));
    expect(await withServer({ sqlite: { database: file } }, count)).toBe(1);
  });

  it('hands sqlite.retention (or the `retention` shorthand) to the embedded store', async () => {
    for (const options of [{ sqlite: { retention: { maxChanges: 2 } } }, { retention: { maxChanges: 2 } }]) {
      await withServer(options, async (server) => {
        for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
        expect(server.store.oldestResumableLsn()).toBe('0/3');
      });
    }
  });

  it('runs on a store it is given, and leaves the sqlite settings alone', async () => {
    const file = freshFile();
    const store = createSqliteStore({ schema: testSchema });
    await withServer({ store, sqlite: { database: file } }, async (server) => {
      expect(server.store).toBe(store);
      await server.insert('todos', todo(1));
    });
    expect(await withServer({ sqlite: { database: file } }, count)).toBe(0);
  });
});
