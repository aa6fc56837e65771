import { TestScheduler } from 'rxjs/testing';
import { dropAlreadyApplied } from '../../src/operators/drop-already-applied.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

interface Batch {
  lsn: string;
  tag?: string;
}
const lsnOf = (b: Batch) => b.lsn;
const batches = (lsns: Record<string, string>): Record<string, Batch> =>
  Object.fromEntries(Object.entries(lsns).map(([k, lsn]) => [k, { lsn, tag: k }]));

describe('dropAlreadyApplied', () => {
  it('drops items at or below the checkpoint and resends, keeps the rest, completes', () => {
    const dropped: Array<[string, string]> = [];
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = batches({ a: '0/8', b: '0/9', c: '0/A', d: '0/A', e: '0/10' });
      const source = cold('-a-b-c-d-e-|', values);
      const result = source.pipe(dropAlreadyApplied(() => '0/9', lsnOf, (item, at) => dropped.push([item.tag!, at])));
      expectObservable(result).toBe('-----c---e-|', values);
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
    expect(dropped).toEqual([
      ['a', '0/9'],
      ['b', '0/9'],
      ['d', '0/A'],
    ]);
  });

  it('compares LSNs as 64-bit numbers, never as strings', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      // as strings, '0/10' < '0/9', '10/0' < '9/0' and 'F/0' > '10/0': all wrong
      const values = batches({ a: '0/10', b: '0/A0', c: '9/0', d: '10/0', e: 'F/0' });
      expectObservable(cold('-a-b-c-d-e-|', values).pipe(dropAlreadyApplied(() => '0/9', lsnOf))).toBe('-a-b-c-d---|', values);
    });
  });

  it('reads the checkpoint for every item', () => {
    let checkpoint = '0/0';
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/5', b: '0/6', c: '0/7' });
      // the checkpoint jumps to 0/6 (saved meanwhile) between a and b
      scheduler.schedule(() => (checkpoint = '0/6'), 2);
      expectObservable(cold('-a--b--c-|', values).pipe(dropAlreadyApplied(() => checkpoint, lsnOf))).toBe('-a-----c-|', values);
    });
  });

  it('forgets what it let through when the checkpoint goes back (a reset)', () => {
    let checkpoint = '0/5';
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/8', b: '0/8', r: '0/1', c: '0/3', d: '0/8' });
      const source = cold('-a-b-r-c-d-|', values);
      const result = source.pipe(
        dropAlreadyApplied(() => checkpoint, lsnOf, (item) => {
          if (item.tag === 'r') checkpoint = '0/0';
        }),
      );
      // b is a resend of a; after r the checkpoint is reset to 0/0 (resetLSN), so c and d are new
      expectObservable(result).toBe('-a-----c-d-|', values);
    });
  });

  it('errors on an item whose LSN is not X/Y', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/8', b: 'nonsense' });
      expectObservable(cold('-a-b-|', values).pipe(dropAlreadyApplied(() => '0/0', lsnOf))).toBe(
        '-a-#',
        values,
        new TypeError('not an LSN: "nonsense"'),
      );
    });
  });

  it('passes a source error through and stops on unsubscribe', () => {
    const boom = new Error('boom');
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const values = batches({ a: '0/8', b: '0/9' });
      expectObservable(cold('-a-#', values, boom).pipe(dropAlreadyApplied(() => '0/0', lsnOf))).toBe('-a-#', values, boom);
      const source = hot('-a--b-|', values);
      expectObservable(source.pipe(dropAlreadyApplied(() => '0/0', lsnOf)), '^--!').toBe('-a--', values);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('keeps its memory per subscription', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const values = batches({ a: '0/8' });
      const result = cold('-a-|', values).pipe(dropAlreadyApplied(() => '0/0', lsnOf));
      expectObservable(result).toBe('-a-|', values);
      expectObservable(result).toBe('-a-|', values);
    });
  });
});
