import type { ChangeRecord } from '../../src/protocol/index.js';
import { RecentChanges } from '../../src/server/recent-changes.js';
import { formatLsn, parseLsn } from '../../src/server/store/sqlite/log.js';

const record = (n: number): ChangeRecord => ({ lsn: formatLsn(n), table: 'todos', op: 'insert', key: `k${n}`, row: { id: `k${n}` } });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => record(from + i));
const lsns = (records: ChangeRecord[] | undefined) => records?.map((r) => parseLsn(r.lsn));

describe('RecentChanges (the in-memory tail of the change log)', () => {
  it('answers from memory what it covers, and nothing it does not', () => {
    const recent = new RecentChanges(8, (r) => parseLsn(r.lsn));
    recent.append(range(5, 7));
    recent.append(range(8, 9));
    expect(lsns(recent.since(4, 10))).toEqual([5, 6, 7, 8, 9]);
    expect(lsns(recent.since(6, 2))).toEqual([7, 8]);
    expect(recent.since(3, 10)).toBeUndefined(); // 4 is not here: the caller reads the log
  });

  it('drops its oldest half when full, so it stays bounded', () => {
    const recent = new RecentChanges(8, (r) => parseLsn(r.lsn));
    for (let n = 1; n <= 20; n++) recent.append([record(n)]);
    const held = lsns(recent.since(0, 100) ?? recent.since(12, 100))!;
    expect(held.length).toBeLessThanOrEqual(8);
    expect(held.at(-1)).toBe(20);
    expect(recent.since(10, 100)).toBeUndefined();
  });

  it('starts afresh after a gap in LSNs (a restart or a reset), never answering across it', () => {
    const recent = new RecentChanges(8, (r) => parseLsn(r.lsn));
    recent.append(range(1, 3));
    recent.append(range(10, 11));
    expect(recent.since(2, 10)).toBeUndefined();
    expect(lsns(recent.since(9, 10))).toEqual([10, 11]);
  });
});
