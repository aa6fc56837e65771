import { Subject, type Subscription } from 'rxjs';
import { applyListPatch } from '../../src/live/list-patch.js';
import { watchQuery, watchQueryChangePatches, watchQueryChanges, watchQueryPatches, type Commit } from '../../src/live/live-query.js';
import type { ResultChanges } from '../../src/live/live-result.js';
import { defineSchema } from '../../src/protocol/index.js';
import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { prng, type Random } from '../support/prng.js';
import { until } from '../support/until.js';

// A randomized model check of the folded results: after every commit of random writes, each
// watched query's last emission must be what SQLite returns for the query run afresh now (with the
// primary key as the last tie-break, as the folded results promise), no emission may repeat the one
// before it, watchChanges' added/removed must turn the previous rows into the new ones, and the
// list rebuilt from the worker's patches must be the same rows.

const schema = defineSchema({
  tables: { items: { primaryKey: 'id', columns: { id: 'text', n: 'integer', list: 'text', title: 'text', score: 'real' } } },
});

type Item = { id: string; n: number | null; list: string | null; title: string | null; score: number | null };

/** Each watched query, and the same question asked afresh with the tie-break written out. */
const QUERIES: Array<{ sql: string; params: unknown[]; expected: string }> = [
  { sql: 'SELECT * FROM items', params: [], expected: 'SELECT * FROM items ORDER BY id' },
  { sql: 'SELECT * FROM items ORDER BY n DESC LIMIT 5', params: [], expected: 'SELECT * FROM items ORDER BY n DESC, id LIMIT 5' },
  {
    sql: 'SELECT id, title FROM items WHERE list = ? ORDER BY title',
    params: ['a'],
    expected: "SELECT id, title FROM items WHERE list = 'a' ORDER BY title, id",
  },
  {
    sql: 'SELECT id, n AS rank FROM items WHERE n >= ? ORDER BY score, title DESC LIMIT ?',
    params: [2, 4],
    expected: 'SELECT id, n AS rank FROM items WHERE n >= 2 ORDER BY score, title DESC, id LIMIT 4',
  },
  {
    sql: 'SELECT * FROM items WHERE list IS NULL OR n < 0 ORDER BY list, n LIMIT 3',
    params: [],
    expected: 'SELECT * FROM items WHERE list IS NULL OR n < 0 ORDER BY list, n, id LIMIT 3',
  },
  { sql: 'SELECT id FROM items ORDER BY title', params: [], expected: 'SELECT id FROM items ORDER BY title, id' },
];

const KEYS = Array.from({ length: 24 }, (_, i) => `k${i}`);
const TITLES = [null, 'a', 'B', 'b', 'é', 'z', '\u{1F600}', '\uFFFD', 'ab', ''];

function randomItem(random: Random, id: string): Item {
  return {
    id,
    n: random.chance(0.15) ? null : Math.floor(random.next() * 7) - 2,
    list: random.pick(['a', 'b', null]),
    title: random.pick(TITLES),
    score: random.chance(0.2) ? null : Math.round(random.next() * 40) / 10,
  };
}

/** The database the watches read, counting the queries in flight (the run is over when none is). */
function counted(db: SqliteDatabase) {
  let inFlight = 0;
  return {
    runner: {
      all: async <T>(sql: string, params?: readonly unknown[]) => {
        inFlight++;
        try {
          return await db.all<T>(sql, params);
        } finally {
          inFlight--;
        }
      },
    },
    idle: () => inFlight === 0,
  };
}

/**
 * A seed is 120 commits, each checked against SQLite run afresh for six queries: 2-4 s of CPU on
 * this 2-core machine while the rest of the suite runs beside it, too close to jest's 5 s default.
 */
const SEED_TIMEOUT_MS = 30_000;

describe('watch(): folded results agree with SQLite', () => {
  it.each([1, 2, 3, 4, 5, 6])(
    'seed %i: 120 commits of random writes',
    async (seed) => {
      const random = prng(seed);
      const db = await openDatabase();
      await db.exec('CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER, list TEXT, title TEXT, score REAL)');
      const commits = new Subject<Commit>();
      const { runner, idle } = counted(db);
      const last: Array<unknown[] | undefined> = QUERIES.map(() => undefined);
      const changes: Array<ResultChanges<Item>[]> = QUERIES.map(() => []);
      const patched: unknown[][] = QUERIES.map(() => []);
      const changePatched: unknown[][] = QUERIES.map(() => []);
      const subscriptions: Subscription[] = [];
      const failures: string[] = [];
      /** Every emission with its JSON when it came: an emitted list must never change afterwards. */
      const emitted: Array<{ rows: unknown[]; json: string }> = [];
      QUERIES.forEach((query, i) => {
        subscriptions.push(
          watchQuery<unknown>(runner, commits, schema, query.sql, query.params).subscribe({
            next: (rows) => {
              if (last[i] !== undefined && JSON.stringify(last[i]) === JSON.stringify(rows)) failures.push(`query ${i} emitted the same rows twice`);
              last[i] = rows;
              emitted.push({ rows, json: JSON.stringify(rows) });
            },
            error: (error: Error) => failures.push(`query ${i}: ${error.message}`),
          }),
          watchQueryChanges<Item>(runner, commits, schema, query.sql, query.params).subscribe((update) => changes[i]!.push(update)),
          // As a tab rebuilds the list from the worker's patches.
          watchQueryPatches<unknown>(runner, commits, schema, query.sql, query.params).subscribe((patch) => (patched[i] = applyListPatch(patched[i]!, patch))),
          watchQueryChangePatches<unknown>(runner, commits, schema, query.sql, query.params).subscribe(
            (update) => (changePatched[i] = applyListPatch(changePatched[i]!, update.patch)),
          ),
        );
      });
      const settled = async () => {
        for (let quiet = 0; quiet < 3;) {
          await new Promise((done) => setImmediate(done));
          quiet = idle() ? quiet + 1 : 0;
        }
      };
      const check = async (step: string) => {
        await until(idle, 2000, 'the watches to finish');
        await settled();
        expect(failures).toEqual([]);
        expect(emitted.filter((emission) => JSON.stringify(emission.rows) !== emission.json)).toEqual([]);
        for (const [i, query] of QUERIES.entries()) {
          const expected = await db.all(query.expected);
          if (JSON.stringify(last[i]) !== JSON.stringify(expected)) {
            throw new Error(`seed ${seed}, ${step}, query ${i} (${query.sql}):\n got      ${JSON.stringify(last[i])}\n expected ${JSON.stringify(expected)}`);
          }
          expect(JSON.stringify(patched[i])).toBe(JSON.stringify(expected));
          expect(JSON.stringify(changePatched[i])).toBe(JSON.stringify(expected));
          // watchChanges: each update's removed and added turn the previous keys into the new ones.
          const keys = new Set<string>();
          for (const update of changes[i]!) {
            for (const row of update.removed) keys.delete((row as Item).id);
            for (const row of update.added) keys.add((row as Item).id);
            expect([...keys].sort()).toEqual(update.rows.map((row) => (row as Item).id).sort());
          }
        }
      };
      try {
        await check('first result');
        for (let step = 0; step < 120; step++) {
          const written = new Set<string>();
          await db.transaction(async (tx) => {
            for (let op = 0, ops = 1 + Math.floor(random.next() * 4); op < ops; op++) {
              const id = random.pick(KEYS);
              written.add(JSON.stringify(id));
              const choice = random.next();
              if (choice < 0.45) {
                const item = randomItem(random, id);
                await tx.run('INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)', [item.id, item.n, item.list, item.title, item.score]);
              } else if (choice < 0.75) {
                const item = randomItem(random, id);
                await tx.run('UPDATE items SET n = ?, title = ? WHERE id = ?', [item.n, item.title, id]);
              } else {
                await tx.run('DELETE FROM items WHERE id = ?', [id]);
              }
            }
          });
          // Mostly the rows written; sometimes no rows (a snapshot or a reset: read whole again).
          commits.next({ tables: new Set(['items']), ...(random.chance(0.9) && { rows: new Map([['items', written]]) }) });
          // Sometimes the next commit comes before the watches are done: they must merge them.
          if (random.chance(0.3)) continue;
          await check(`step ${step}`);
        }
        await check('the end');
      } finally {
        subscriptions.forEach((subscription) => subscription.unsubscribe());
        await db.close();
      }
    },
    SEED_TIMEOUT_MS,
  );
});
