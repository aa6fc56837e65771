import { TestScheduler } from 'rxjs/testing';
import { distinctRows, sameRows } from '../../src/operators/distinct-rows.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

type Todo = { id: string; title: string | null; done: number };

describe('distinctRows', () => {
  it('emits a list of rows only when it differs from the one before', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a: Todo[] = [{ id: 'a', title: 'one', done: 0 }];
      const a2: Todo[] = [{ id: 'a', title: 'one', done: 0 }]; // the same rows, read again
      const b: Todo[] = [{ id: 'a', title: 'one', done: 1 }];
      const b2: Todo[] = [{ id: 'a', title: 'one', done: 1 }];
      const source = cold('--a--c--b--d--e--|', { a, c: a2, b, d: b2, e: a });
      expectObservable(source.pipe(distinctRows())).toBe('--a-----b-----e--|', { a, b, e: a });
      expectSubscriptions(source.subscriptions).toBe('^----------------!');
    });
  });

  it('tells apart more rows, fewer rows, other order, other columns and null from a value', () => {
    const one = [{ id: 'a', n: 1 }];
    newScheduler().run(({ cold, expectObservable }) => {
      const values = {
        e: [],
        a: one,
        b: [...one, { id: 'b', n: 2 }],
        c: [{ id: 'b', n: 2 }, ...one],
        d: [{ id: 'a', m: 1 }],
        f: [{ id: 'a', n: null }],
        g: [{ id: 'a', n: 1, extra: null }],
      };
      expectObservable(cold('-e-a-b-c-d-f-g-|', values).pipe(distinctRows())).toBe('-e-a-b-c-d-f-g-|', values);
    });
  });

  it('compares blobs byte by byte, NaN as equal, and JSON values member by member', () => {
    expect(sameRows([{ blob: new Uint8Array([1, 2]) }], [{ blob: new Uint8Array([1, 2]) }])).toBe(true);
    expect(sameRows([{ blob: new Uint8Array([1, 2]) }], [{ blob: new Uint8Array([1, 3]) }])).toBe(false);
    expect(sameRows([{ blob: new Uint8Array([1, 2]) }], [{ blob: [1, 2] }])).toBe(false);
    expect(sameRows([{ x: NaN }], [{ x: NaN }])).toBe(true);
    expect(sameRows([{ meta: { tags: ['a'], n: 1 } }], [{ meta: { n: 1, tags: ['a'] } }])).toBe(true);
    expect(sameRows([{ meta: { tags: ['a'] } }], [{ meta: { tags: ['a', 'b'] } }])).toBe(false);
    expect(sameRows([{ meta: {} }], [{ meta: [] }])).toBe(false);
    expect(sameRows([{ n: 1 }], [{ n: '1' }])).toBe(false);
    expect(sameRows([{ n: 0 }], [{ n: null }])).toBe(false);
  });

  it('passes errors and completion through, and stops with its subscriber', () => {
    const boom = new Error('query failed');
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      expectObservable(cold('-a-a-#', { a: [{ n: 1 }] }, boom).pipe(distinctRows())).toBe('-a---#', { a: [{ n: 1 }] }, boom);
      const source = hot('-a-b-a-|', { a: [{ n: 1 }], b: [{ n: 2 }] });
      expectObservable(source.pipe(distinctRows()), '^---!').toBe('-a-b', { a: [{ n: 1 }], b: [{ n: 2 }] });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });
});
