/**
 * I/O errors under the file backend, the way SQLite tests itself (and as spec/e2e/io-faults.spec.ts
 * does for IndexedDB): count the file writes a transaction makes, then for N = 1..count run it
 * again with the Nth one failing (ENOSPC for a write or truncate, EIO for a sync), and check:
 * - the transaction rejects with SQLITE_IOERR naming the cause, and so does every later call
 *   (fail-stop) until the database is opened again;
 * - nothing reaches the disk after the failure (the files stay as they were at that instant);
 * - a crash at the moment of the error (a copy of the files) and a clean reopen both hold a
 *   consistent database: the transaction's rows and its LSN are all there or none of them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type SqliteDatabase } from '../../src/storage/index.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';

const ROWS = 300;
let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rxsync-faults-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

async function state(db: SqliteDatabase) {
  expect(await db.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  const { lsn } = (await db.get<{ lsn: string }>('SELECT v AS lsn FROM lsn'))!;
  const { rows } = (await db.get<{ rows: number }>('SELECT count(*) AS rows FROM rows'))!;
  return { lsn, rows };
}

/** The database files in `dir` (not the lock), name -> bytes. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).filter((n) => n.startsWith('app.db') && !n.endsWith('-lock'))) {
    out[name] = readFileSync(join(dir, name)).toString('base64');
  }
  return out;
}

const BEFORE = { lsn: '0/10', rows: 10 };
const AFTER = { lsn: '0/20', rows: 10 + ROWS };

describe('the Nth file write of a transaction fails', () => {
  it('fails the transaction, goes fail-stop, writes nothing more; the file holds the state before it (or after it, once the commit point passed)', async () => {
    /** Runs the scenario in a fresh folder; returns the writes the transaction made (and the state where a fault was injected). */
    const scenario = async (failAt: number | undefined) => {
      const dir = mkdtempSync(join(folder, 'run-'));
      const faulty = new FaultyFileSystem(dir);
      const name = join(dir, 'app.db');
      const db = await openDatabase({ name, fileSystem: faulty.fileSystem });
      await db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE lsn (v TEXT); INSERT INTO lsn VALUES ('0/0')");
      await db.transaction(async (tx) => {
        await tx.runMany(
          'INSERT INTO rows (v) VALUES (?)',
          Array.from({ length: 10 }, (_, i) => [`base ${i}`]),
        );
        await tx.run('UPDATE lsn SET v = ?', ['0/10']);
      });
      const start = faulty.count;
      if (failAt !== undefined) faulty.failNthWrite(failAt);
      let crash: { error: unknown; image: string; files: Record<string, string> } | undefined;
      try {
        await db.transaction(async (tx) => {
          await tx.runMany(
            'INSERT INTO rows (v) VALUES (?)',
            Array.from({ length: ROWS }, (_, i) => [`row ${i} ${'x'.repeat(200)}`]),
          );
          await tx.run('UPDATE lsn SET v = ?', ['0/20']);
        });
      } catch (error) {
        crash = { error, image: faulty.image(), files: files(dir) };
      }
      if (failAt === undefined) {
        expect(crash).toBeUndefined();
        expect(await state(db)).toEqual(AFTER);
        await db.close();
        return { writes: faulty.count - start };
      }

      expect(faulty.faults).toHaveLength(1);
      expect(crash).toBeDefined();
      const { code, message } =
        faulty.faults[0]!.op === 'sync' ? { code: 'EIO', message: 'i/o error' } : { code: 'ENOSPC', message: 'no space left on device' };
      expect(crash!.error).toMatchObject({ name: 'SqliteError', code: 10, message: expect.stringContaining(`${code}: ${message}`) });
      // Fail-stop: every later call is refused, the next transaction included, and nothing reaches the disk.
      await expect(db.get('SELECT count(*) FROM rows')).rejects.toMatchObject({ code: 10, message: expect.stringMatching(/close the database/i) });
      await expect(db.run('INSERT INTO rows (v) VALUES (?)', ['after'])).rejects.toMatchObject({ code: 10 });
      await db.close();
      expect(files(dir)).toEqual(crash!.files);

      // The crash image, and the files after a clean close, both open consistent, at the same state.
      const fromImage = await openDatabase({ name: join(crash!.image, 'app.db') });
      const seen = await state(fromImage);
      expect([BEFORE, AFTER]).toContainEqual(seen);
      await fromImage.close();
      const reopened = await openDatabase({ name });
      expect(await state(reopened)).toEqual(seen);
      // ...and usable again.
      await reopened.run('INSERT INTO rows (v) VALUES (?)', ['later']);
      await reopened.close();
      return { writes: 0, state: seen, fault: faulty.faults[0]! };
    };

    const { writes } = await scenario(undefined);
    expect(writes).toBeGreaterThan(5);
    const outcomes: string[] = [];
    for (let n = 1; n <= writes; n++) {
      const { state: seen, fault } = await scenario(n);
      outcomes.push(`${fault!.op} ${fault!.path.replace(/.*\//, '')}: ${seen === undefined ? '?' : seen.lsn === AFTER.lsn ? 'after' : 'before'}`);
    }
    // Only a failure of the very last step, the sync of the truncated journal (the commit point
    // is its truncation), leaves the transaction in place; the caller was told it failed.
    expect(outcomes.slice(0, -1).every((o) => o.endsWith('before'))).toBe(true);
    expect(outcomes.at(-1)).toBe('sync app.db-journal: after');
  });
});
