import { TestScheduler } from 'rxjs/testing';
import { defer, take, throwError } from 'rxjs';
import { backoffDelay, retryBackoff } from '../../src/operators/retry-backoff.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const boom = new Error('boom');

describe('backoffDelay', () => {
  const config = { initialDelayMs: 100, maxDelayMs: 1000 };

  it('grows exponentially from initialDelayMs, by factor 2 unless told', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, config))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3].map((n) => backoffDelay(n, { ...config, factor: 3 }))).toEqual([100, 300, 900]);
  });

  it('caps at maxDelayMs, even for absurd attempts', () => {
    expect(backoffDelay(5, config)).toBe(1000);
    expect(backoffDelay(10_000, config)).toBe(1000);
    expect(backoffDelay(10_000, { initialDelayMs: 0, maxDelayMs: 1000 })).toBe(0);
  });

  it('jitter takes up to that fraction off the delay, never adds to it', () => {
    const jittered = { ...config, jitter: 0.5 };
    expect(backoffDelay(1, jittered, () => 0)).toBe(100);
    expect(backoffDelay(1, jittered, () => 0.5)).toBe(75);
    expect(backoffDelay(1, jittered, () => 0.999999)).toBe(50);
    expect(backoffDelay(10, { ...config, jitter: 1 }, () => 0.25)).toBe(750);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, jittered);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it('does not call random without jitter', () => {
    const random = jest.fn(() => 0.5);
    expect(backoffDelay(2, config, random)).toBe(200);
    expect(random).not.toHaveBeenCalled();
  });

  it('rejects nonsensical configs and attempts', () => {
    expect(() => backoffDelay(0, config)).toThrow(RangeError);
    expect(() => backoffDelay(1, { initialDelayMs: -1, maxDelayMs: 10 })).toThrow(RangeError);
    expect(() => backoffDelay(1, { initialDelayMs: 100, maxDelayMs: 10 })).toThrow(RangeError);
    expect(() => backoffDelay(1, { ...config, factor: 0.5 })).toThrow(RangeError);
    expect(() => backoffDelay(1, { ...config, jitter: 1.5 })).toThrow(RangeError);
    expect(() => retryBackoff({ ...config, maxAttempts: -1 })).toThrow(RangeError);
  });
});

describe('retryBackoff', () => {
  const base = { initialDelayMs: 10, maxDelayMs: 100 };

  it('resubscribes after growing delays and lets the error through after maxAttempts', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, boom);
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 2 }))).toBe('36ms #', undefined, boom);
      // 2 + 10 = 12, 14 + 20 = 34
      expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!', '34ms ^-!']);
    });
  });

  it('passes values and completion through untouched', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-|');
      expectObservable(source.pipe(retryBackoff(base))).toBe('-a-b-|');
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('resets the attempt counter after the source emits (resetOnSuccess, the default)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a#', undefined, boom);
      // every retry waits initialDelayMs: a at 1, 13, 25
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 1 }), take(3))).toBe('-a 11ms a 11ms (a|)');
    });
  });

  it('keeps counting across emissions with resetOnSuccess: false', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a#', undefined, boom);
      // waits 10 then 20: a at 1, 13, 35; the third error passes through
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 2, resetOnSuccess: false }))).toBe('-a 11ms a 21ms a#', undefined, boom);
    });
  });

  it('lets an error through at once when shouldRetry says no, and tells it the attempt', () => {
    const fatal = new Error('fatal');
    const shouldRetry = jest.fn((err: unknown, attempt: number) => err !== fatal && attempt > 0);
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, fatal);
      expectObservable(source.pipe(retryBackoff({ ...base, shouldRetry }))).toBe('--#', undefined, fatal);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    expect(shouldRetry).toHaveBeenCalledWith(fatal, 1);
  });

  it('skipWait$ ends a wait early; a value before the error does not count', () => {
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, boom);
      const online = hot('-o---o');
      const result = source.pipe(retryBackoff({ initialDelayMs: 100, maxDelayMs: 100, maxAttempts: 1, skipWait$: online }));
      expectObservable(result).toBe('-------#', undefined, boom);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '-----^-!']);
      expectSubscriptions(online.subscriptions).toBe('--^--!');
    });
  });

  it('a skipWait$ that completes neither ends the wait nor the stream', () => {
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, boom);
      const online = hot('---|');
      expectObservable(source.pipe(retryBackoff({ ...base, maxAttempts: 1, skipWait$: online }))).toBe('14ms #', undefined, boom);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '12ms ^-!']);
    });
  });

  it('applies jitter from the injected random and calls onRetry with the delay', () => {
    newScheduler().run(({ cold, expectObservable, flush }) => {
      const source = cold('--#', undefined, boom);
      const onRetry = jest.fn();
      const result = source.pipe(retryBackoff({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5, random: () => 0.5, maxAttempts: 2, onRetry }));
      // 75 then 150
      expectObservable(result).toBe('231ms #', undefined, boom);
      flush();
      expect(onRetry.mock.calls).toEqual([
        [boom, 1, 75],
        [boom, 2, 150],
      ]);
    });
  });

  it('waits on the scheduler it is given (no real timers)', () => {
    // Outside run(), only an explicitly passed scheduler is virtual.
    const scheduler = newScheduler();
    const subscribedAt: number[] = [];
    let failedAt = -1;
    defer(() => {
      subscribedAt.push(scheduler.now());
      return throwError(() => boom);
    })
      .pipe(retryBackoff({ ...base, maxAttempts: 2, scheduler }))
      .subscribe({ error: () => (failedAt = scheduler.now()) });
    scheduler.flush();
    expect(subscribedAt).toEqual([0, 10, 30]);
    expect(failedAt).toBe(30);
  });

  it('unsubscribing cancels a pending wait', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, boom);
      expectObservable(source.pipe(retryBackoff({ ...base })), '^---!').toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });
});
