/**
 * A process killed (SIGKILL) in the middle of a transaction on a database file: the next open
 * finds every transaction whole or absent (rows and LSN together, as the client writes a batch),
 * never a committed one missing, and a usable database. The child commits transactions of many
 * rows in a loop and reports each commit; it is killed at a random moment, five times over the
 * same file, each new child going on from where the last one's file says.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/storage/index.js';
import { startNodeClientProcess, stopNodeClientProcesses } from '../support/node-client-process.js';
import { prng } from '../support/prng.js';
import { until } from '../support/until.js';

jest.setTimeout(60_000);

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rxsync-crash-'));
});
afterEach(async () => {
  await stopNodeClientProcesses();
  rmSync(folder, { recursive: true, force: true });
});

const ROWS_PER_TRANSACTION = 2000;

it('a process killed mid-transaction leaves whole transactions only', async () => {
  const name = join(folder, 'loop.db');
  const random = prng(14);
  let lastReported = 0;
  const hotJournals: boolean[] = [];
  for (let round = 0; round < 5; round++) {
    const child = await startNodeClientProcess();
    void child.call('writeLoop', { name, rowsPerTransaction: ROWS_PER_TRANSACTION }).catch(() => undefined);
    await until(() => child.committed >= 2, 20_000, 'two commits');
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random.next() * 40)));
    const reported = child.committed;
    await child.kill();
    // A journal with content: the child died inside a transaction, which the open rolls back.
    hotJournals.push(statSync(`${name}-journal`, { throwIfNoEntry: false })?.size !== 0);

    const db = await openDatabase({ name }); // the dead child's lock is stale: taken over
    expect(await db.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const { v: lsn } = (await db.get<{ v: number }>('SELECT v FROM lsn'))!;
    // Every commit the child reported is there (a kill loses no committed transaction), and at
    // most the one it was committing when it died besides.
    expect(lsn).toBeGreaterThanOrEqual(reported);
    expect(lsn).toBeLessThanOrEqual(reported + 1);
    expect(lsn).toBeGreaterThan(lastReported);
    // The rows are exactly those of transactions 1..lsn, each whole.
    expect(await db.all('SELECT count(*) AS n, count(DISTINCT tx) AS txs, max(tx) AS last FROM rows')).toEqual([
      { n: lsn * ROWS_PER_TRANSACTION, txs: lsn, last: lsn },
    ]);
    expect(await db.all('SELECT tx FROM rows GROUP BY tx HAVING count(*) <> ?', [ROWS_PER_TRANSACTION])).toEqual([]);
    await db.close();
    lastReported = lsn;
  }
  // The kills did land inside transactions (the transactions are most of the child's time).
  expect(hotJournals.filter(Boolean).length).toBeGreaterThanOrEqual(2);
});
