import { TestScheduler } from 'rxjs/testing';
import { of } from 'rxjs';
import { concatMapMerged } from '../../src/operators/concat-map-merged.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
/** Joins any two items (strings concatenate). */
const joinAll = (into: string, next: string) => into + next;

describe('concatMapMerged', () => {
  it('projects an item that finds nothing in flight at once, and merges what queued behind a busy inner', () => {
    const counts: number[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d|');
      const result = source.pipe(
        concatMapMerged((item: string, count) => {
          counts.push(count);
          return cold('---(x|)', { x: item.toUpperCase() });
        }, joinAll),
      );
      // a at 1 (done at 4); b arrives at 3, c at 5: b alone at 4 (c had not come); c and d wait: merged at 7.
      expectObservable(result).toBe('----B--C--(D|)', { B: 'A', C: 'B', D: 'CD' });
    });
    expect(counts).toEqual([1, 1, 2]);
  });

  it('merges only while `merge` says so, in order, and tells project how many items each stands for', () => {
    const counts: Array<[string, number]> = [];
    newScheduler().run(({ cold, hot, expectObservable }) => {
      // Letters merge with letters, digits with digits; never across.
      const merge = (into: string, next: string) => (/\d/.test(into) === /\d/.test(next) ? into + next : undefined);
      const source = hot('-a(bc1)(2d)|');
      const result = source.pipe(
        concatMapMerged((item: string, count) => {
          counts.push([item, count]);
          return cold('-----(x|)', { x: item });
        }, merge),
      );
      // a at 1..6; then bc (2 items), then 12, then d, each 5 frames.
      expectObservable(result).toBe('------a----b----c----(d|)', { a: 'a', b: 'bc', c: '12', d: 'd' });
    });
    expect(counts).toEqual([
      ['a', 1],
      ['bc', 2],
      ['12', 2],
      ['d', 1],
    ]);
  });

  it('keeps order with inners that complete synchronously, and completes after the queue', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abc)-d|');
      // (abc) takes frames 0-4 of the diagram: d is at 6, the completion at 7.
      expectObservable(source.pipe(concatMapMerged((item: string) => of(item.toUpperCase()), joinAll))).toBe('(abc)-d|', {
        a: 'A',
        b: 'B',
        c: 'C',
        d: 'D',
      });
    });
  });

  it('lets a source error through at once, dropping what waits', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const inner = cold('----(x|)');
      const source = cold('-ab#');
      expectObservable(source.pipe(concatMapMerged(() => inner, joinAll))).toBe('---#');
      expectSubscriptions(inner.subscriptions).toBe('-^-!');
    });
  });

  it('unsubscribes the inner in flight when unsubscribed', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const inner = cold('------(x|)');
      const source = cold('-a-b');
      expectObservable(source.pipe(concatMapMerged(() => inner, joinAll)), '^---!').toBe('-----');
      expectSubscriptions(inner.subscriptions).toBe('-^--!');
    });
  });
});
