import { TestScheduler } from 'rxjs/testing';
import { defer, take, throwError } from 'rxjs';
import { retryBackoff } from '../../src/operators/retry-backoff.js';

/**
 * retryBackoff's two policies for a client with several servers: a round of `roundSize` failures
 * is one step of the backoff (its first failure waits, the others move on at once), and an error
 * that asks for it (`retryAtOnce`: a server restarting, 1012) retries without a wait and without
 * counting, once between two values.
 */
const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const down = new Error('down');
const restart = new Error('restart');
const base = { initialDelayMs: 10, maxDelayMs: 100 };
const atOnce = (error: unknown) => error === restart;

describe('retryBackoff: rounds (roundSize)', () => {
  it('waits at the first failure of each round, moves on at once within it, and grows once per round', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, down);
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 4, roundSize: 2 }))).toBe('40ms #', undefined, down);
      // waits 10, 0, 20, 0: 2 + 10 = 12, 14 + 0, 16 + 20 = 36, 38 + 0
      expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!', '14ms ^-!', '36ms ^-!', '38ms ^-!']);
    });
  });

  it('tells onRetry the delay of each failure: the step of its round, 0 within it', () => {
    newScheduler().run(({ cold, expectObservable, flush }) => {
      const onRetry = jest.fn();
      const source = cold('--#', undefined, down);
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 6, roundSize: 3, onRetry }))).toBe('44ms #', undefined, down); // 7 tries of 2 ms, waits of 10 and 20
      flush();
      expect(onRetry.mock.calls.map(([, attempt, delayMs]) => [attempt, delayMs])).toEqual([
        [1, 10],
        [2, 0],
        [3, 0],
        [4, 20],
        [5, 0],
        [6, 0],
      ]);
    });
  });

  it('starts the rounds over when the source emits (a welcome)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a#', undefined, down);
      // every failure is the first of a round: a at 1, 13, 25
      expectObservable(source.pipe(retryBackoff({ ...base, roundSize: 2 }), take(3))).toBe('-a 11ms a 11ms (a|)');
    });
  });

  it('with roundSize 1 (the default) is the plain backoff', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, down);
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 2, roundSize: 1 }))).toBe('36ms #', undefined, down);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!', '34ms ^-!']);
    });
  });

  it('refuses a roundSize that is not a whole number >= 1', () => {
    expect(() => retryBackoff({ ...base, roundSize: 0 })).toThrow(RangeError);
    expect(() => retryBackoff({ ...base, roundSize: 1.5 })).toThrow(RangeError);
  });
});

describe('retryBackoff: retryAtOnce', () => {
  it('retries at once without counting, once; the next failure waits the first delay', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, restart);
      // 0 (at once), then 10 and 20 as if the at-once retry never happened
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 3, retryAtOnce: atOnce }))).toBe('38ms #', undefined, restart);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '--^-!', '14ms ^-!', '36ms ^-!']);
    });
  });

  it('is granted again after every value of the source (every welcome)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a#', undefined, restart);
      expectObservable(source.pipe(retryBackoff({ ...base, retryAtOnce: atOnce }), take(3))).toBe('-a-a-(a|)');
    });
  });

  it('does not count toward a round: the rounds of the other failures stay whole', () => {
    const scheduler = newScheduler();
    const errors = [restart, down, down, down];
    const delays: number[] = [];
    let tries = 0;
    defer(() => throwError(() => errors[tries++] ?? down))
      .pipe(retryBackoff({ ...base, roundSize: 2, maxAttempts: 4, retryAtOnce: atOnce, scheduler, onRetry: (_, __, delayMs) => delays.push(delayMs) }))
      .subscribe({ error: () => undefined });
    scheduler.flush();
    expect(delays).toEqual([0, 10, 0, 20]);
  });

  it('a source failing only with errors that ask for it still backs off (no spinning)', () => {
    newScheduler().run(({ cold, expectObservable, flush }) => {
      const onRetry = jest.fn();
      const source = cold('#', undefined, restart);
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 4, retryAtOnce: atOnce, onRetry }))).toBe('70ms #', undefined, restart);
      flush();
      expect(onRetry.mock.calls.map(([, , delayMs]) => delayMs)).toEqual([0, 10, 20, 40]);
    });
  });

  it('shouldRetry still decides first: a fatal error passes through even if it would retry at once', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('--#', undefined, restart);
      expectObservable(source.pipe(retryBackoff({ ...base, retryAtOnce: atOnce, shouldRetry: () => false }))).toBe('--#', undefined, restart);
    });
  });
});
