import { TestScheduler } from 'rxjs/testing';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { checkpointLsn } from '../../src/operators/checkpoint-lsn.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

interface Batch {
  lsn: string;
}
const lsnOf = (b: Batch) => b.lsn;
const batches = (lsns: Record<string, string>): Record<string, Batch> => Object.fromEntries(Object.entries(lsns).map(([k, lsn]) => [k, { lsn }]));

describe('checkpointLsn', () => {
  it('saves each LSN, emits the item after its save, skips one that is not past the last saved', () => {
    const saved: Array<[string, number]> = [];
    const skipped: Array<[Batch, string]> = [];
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = batches({ a: '0/5', b: '0/3', c: '0/A' });
      const saves: Array<Observable<never>> = [];
      const save = (lsn: string) => {
        saved.push([lsn, scheduler.now()]);
        const s = cold<never>('--|');
        saves.push(s);
        return s;
      };
      const source = cold('-a-b-c-|', values);
      const result = source.pipe(checkpointLsn(save, lsnOf, { onSkipped: (item, at) => skipped.push([item, at]) }));
      expectObservable(result).toBe('---a---(c|)', values);
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
    expect(saved).toEqual([
      ['0/5', 1],
      ['0/A', 5],
    ]);
    expect(skipped).toEqual([[{ lsn: '0/3' }, '0/5']]);
  });

  it('serializes saves: the next starts only after the previous completed, in arrival order', () => {
    const saved: Array<[string, number]> = [];
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/1', b: '0/2', c: '0/10' });
      const save = (lsn: string) => {
        saved.push([lsn, scheduler.now()]);
        return cold('--x--|'); // values are ignored: completion means saved
      };
      expectObservable(cold('-(abc)|', values).pipe(checkpointLsn(save, lsnOf))).toBe('------a----b----(c|)', values);
    });
    expect(saved).toEqual([
      ['0/1', 1],
      ['0/2', 6],
      ['0/10', 11],
    ]);
  });

  it('starts from initialLsn (read at subscribe) and compares as 64-bit numbers', () => {
    let stored = '0/9';
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/9', b: '0/10', c: '0/F' });
      const result = cold('-a-b-c-|', values).pipe(checkpointLsn(() => cold('|'), lsnOf, { initialLsn: () => stored }));
      stored = '0/0'; // read at subscribe time, not at operator creation
      expectObservable(result).toBe('-a-b---|', values); // '0/F' < '0/10' as numbers
    });
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/9', b: '0/10', c: '0/F' });
      const result = cold('-a-b-c-|', values).pipe(checkpointLsn(() => cold('|'), lsnOf, { initialLsn: '0/9' }));
      expectObservable(result).toBe('---b---|', values);
    });
  });

  it('errors when a save fails: that item is not emitted and nothing later is saved', () => {
    const full = new Error('QuotaExceededError');
    const save = jest.fn();
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/1', b: '0/2', c: '0/3' });
      save.mockImplementation((lsn: string) => (lsn === '0/2' ? cold('-#', undefined, full) : cold('-|')));
      expectObservable(cold('-a-b-c-|', values).pipe(checkpointLsn(save, lsnOf))).toBe('--a-#', values, full);
    });
    expect(save.mock.calls.map(([lsn]) => lsn)).toEqual(['0/1', '0/2']);
  });

  it('passes a source error through and cancels a save in flight on unsubscribe', () => {
    const boom = new Error('boom');
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = batches({ a: '0/1' });
      expectObservable(cold('-a-#', values, boom).pipe(checkpointLsn(() => cold('|'), lsnOf))).toBe('-a-#', values, boom);
      const slow = cold('-----|');
      expectObservable(cold('-a-|', values).pipe(checkpointLsn(() => slow, lsnOf)), '^--!').toBe('---');
      expectSubscriptions(slow.subscriptions).toBe('-^-!');
    });
  });

  it('keeps its checkpoint per subscription', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/1' });
      const result = cold('a|', values).pipe(checkpointLsn(() => cold('|'), lsnOf));
      expectObservable(result).toBe('a|', values);
      expectObservable(result).toBe('a|', values);
    });
  });

  it('accepts Promise-returning saves', async () => {
    const saved: string[] = [];
    const save = async (lsn: string) => {
      await Promise.resolve();
      saved.push(lsn);
    };
    const out = await lastValueFrom(from([{ lsn: '0/1' }, { lsn: '0/1' }, { lsn: '1/0' }]).pipe(checkpointLsn(save, lsnOf), toArray()));
    expect(out).toEqual([{ lsn: '0/1' }, { lsn: '1/0' }]);
    expect(saved).toEqual(['0/1', '1/0']);
  });
});
