import { lsnFromBigInt, lsnToBigInt, type ChangeRecord, type Lsn } from '../../src/protocol/index.js';
import { RecentChanges } from '../../src/server/fanout/recent-changes.js';

const lsnOf = (n: number | bigint): Lsn => lsnFromBigInt(BigInt(n));
const record = (lsn: Lsn): ChangeRecord => ({ lsn, table: 'todos', op: 'insert', key: `k${lsn}`, row: { id: `k${lsn}` } });
/** Consecutive records from..to, as the SQLite store numbers them. */
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => record(lsnOf(from + i)));
const numbers = (records: ChangeRecord[] | undefined) => records?.map((r) => Number(lsnToBigInt(r.lsn)));
const lsns = (records: ChangeRecord[] | undefined) => records?.map((r) => r.lsn);

describe('RecentChanges (the in-memory tail of the change log)', () => {
  it('answers from memory what it covers, and nothing it does not', () => {
    const recent = new RecentChanges(8);
    recent.append(range(5, 7), lsnOf(4));
    recent.append(range(8, 9), lsnOf(7));
    expect(numbers(recent.since(lsnOf(4), 10))).toEqual([5, 6, 7, 8, 9]);
    expect(numbers(recent.since(lsnOf(6), 2))).toEqual([7, 8]);
    expect(recent.since(lsnOf(3), 10)).toBeUndefined(); // 4 is not here: the caller reads the log
  });

  it('drops its oldest half when full, so it stays bounded', () => {
    const recent = new RecentChanges(8);
    for (let n = 1; n <= 20; n++) recent.append([record(lsnOf(n))], lsnOf(n - 1));
    const held = numbers(recent.since(lsnOf(0), 100) ?? recent.since(lsnOf(12), 100))!;
    expect(held.length).toBeLessThanOrEqual(8);
    expect(held.at(-1)).toBe(20);
    expect(recent.since(lsnOf(10), 100)).toBeUndefined();
  });

  it('starts afresh after a gap in LSNs (a restart or a reset), never answering across it', () => {
    const recent = new RecentChanges(8);
    recent.append(range(1, 3), lsnOf(0));
    recent.append(range(10, 11), lsnOf(9));
    expect(recent.since(lsnOf(2), 10)).toBeUndefined();
    expect(numbers(recent.since(lsnOf(9), 10))).toEqual([10, 11]);
  });

  it('never ends an answer inside a transaction (its records share the commit LSN)', () => {
    const recent = new RecentChanges(16);
    const transaction = [record(lsnOf(20)), { ...record(lsnOf(20)), key: 'second' }, { ...record(lsnOf(20)), key: 'third' }];
    recent.append(range(10, 11), lsnOf(9));
    recent.append(transaction, lsnOf(11));
    recent.append(range(30, 30), lsnOf(20));
    expect(numbers(recent.since(lsnOf(10), 2))).toEqual([11, 20, 20, 20]);
    expect(numbers(recent.since(lsnOf(11), 1))).toEqual([20, 20, 20]);
    expect(numbers(recent.since(lsnOf(20), 1))).toEqual([30]);
  });

  describe('with LSNs that jump (as Postgres WAL positions do)', () => {
    const commits: Array<{ after: Lsn; lsns: Lsn[] }> = [
      { after: '0/0', lsns: ['0/10', '0/25'] },
      { after: '0/25', lsns: ['0/FFFFFFFE', '0/FFFFFFFF', '1/0'] }, // across the 32-bit boundary
      { after: '1/0', lsns: ['1/7'] },
      { after: '1/7', lsns: ['A/10', 'FFFFFFFF/FFFFFFFF'] }, // the last possible position
    ];
    const filled = (capacity = 64) => {
      const recent = new RecentChanges(capacity);
      for (const commit of commits) recent.append(commit.lsns.map(record), commit.after);
      return recent;
    };

    it('answers from any position in or between its changes, compared as 64-bit numbers', () => {
      const recent = filled();
      expect(lsns(recent.since('0/0', 100))).toEqual(['0/10', '0/25', '0/FFFFFFFE', '0/FFFFFFFF', '1/0', '1/7', 'A/10', 'FFFFFFFF/FFFFFFFF']);
      expect(lsns(recent.since('0/10', 2))).toEqual(['0/25', '0/FFFFFFFE']);
      expect(lsns(recent.since('0/11', 1))).toEqual(['0/25']); // between two changes
      expect(lsns(recent.since('0/9', 1))).toEqual(['0/10']); // '0/9' > '0/10' as strings; not as LSNs
      expect(lsns(recent.since('0/FFFFFFFF', 10))).toEqual(['1/0', '1/7', 'A/10', 'FFFFFFFF/FFFFFFFF']);
      expect(lsns(recent.since('0/ffffffff', 1))).toEqual(['1/0']); // any spelling of the same LSN
      expect(lsns(recent.since('1/0', 10))).toEqual(['1/7', 'A/10', 'FFFFFFFF/FFFFFFFF']);
      expect(lsns(recent.since('9/FFFFFFFF', 1))).toEqual(['A/10']);
      expect(recent.since('FFFFFFFF/FFFFFFFF', 10)).toEqual([]); // caught up: nothing newer
    });

    it('answers nothing past the newest change it holds: that is for the store to say', () => {
      const recent = new RecentChanges(64);
      recent.append(['0/10', '0/25'].map(record), '0/0');
      expect(recent.since('0/25', 10)).toEqual([]);
      expect(recent.since('0/26', 10)).toBeUndefined();
      expect(recent.since('1/0', 10)).toBeUndefined();
    });

    it('knows what it dropped when full, by LSN', () => {
      const recent = filled(4); // 8 changes through a capacity of 4: the oldest ones are gone
      // It dropped through 0/FFFFFFFF, so it holds everything after that, and nothing before.
      expect(lsns(recent.since('0/FFFFFFFF', 100))).toEqual(['1/0', '1/7', 'A/10', 'FFFFFFFF/FFFFFFFF']);
      expect(recent.since('0/FFFFFFFE', 100)).toBeUndefined();
      expect(recent.since('0/25', 100)).toBeUndefined();
    });

    it('starts afresh when a commit does not follow the last change it holds', () => {
      const recent = new RecentChanges(64);
      recent.append(['0/10', '0/25'].map(record), '0/0');
      recent.append(['1/5'].map(record), '1/0'); // 1/0 is not 0/25: something in between was missed
      expect(recent.since('0/25', 10)).toBeUndefined();
      expect(lsns(recent.since('1/0', 10))).toEqual(['1/5']);
    });
  });

  it('answers nothing before its first commit', () => {
    expect(new RecentChanges(8).since('0/0', 10)).toBeUndefined();
  });
});
