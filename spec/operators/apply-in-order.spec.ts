import { TestScheduler } from 'rxjs/testing';
import { EMPTY, from, lastValueFrom, of, Subject, throwError, toArray, type Observable } from 'rxjs';
import { applyInOrder } from '../../src/operators/apply-in-order.js';
import { ApplyError, toErrorEvent } from '../../src/errors.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const fail = new Error('SQLITE_BUSY');
const backoff = { initialDelayMs: 10, maxDelayMs: 100 };

/** An apply whose n-th call for an item returns the n-th observable scripted for it. */
function scripted(script: Record<string, Array<Observable<string>>>) {
  const calls: string[] = [];
  const apply = (item: string) => {
    calls.push(item);
    const next = script[item]?.shift();
    if (!next) throw new Error(`no script left for ${item}`);
    return next;
  };
  return { apply, calls };
}

describe('applyInOrder', () => {
  it('applies one at a time in order, retrying a failure after a backoff before the next item', () => {
    const onRetry = jest.fn();
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a1 = cold('--#', undefined, fail);
      const a2 = cold('--#', undefined, fail);
      const a3 = cold('--(A|)');
      const b1 = cold('--(B|)');
      const { apply } = scripted({ a: [a1, a2, a3], b: [b1] });
      const source = cold('-a-b|');
      // a: tries at 1 (fails at 3), 13 (fails at 15), 35 (ok at 37); b only then: 37..39
      expectObservable(source.pipe(applyInOrder(apply, { ...backoff, maxAttempts: 3, onRetry }))).toBe('37ms A-(B|)');
      expectSubscriptions(a1.subscriptions).toBe('-^-!');
      expectSubscriptions(a2.subscriptions).toBe('13ms ^-!');
      expectSubscriptions(a3.subscriptions).toBe('35ms ^-!');
      expectSubscriptions(b1.subscriptions).toBe('37ms ^-!');
    });
    expect(onRetry.mock.calls).toEqual([
      [fail, 1, 'a'],
      [fail, 2, 'a'],
    ]);
  });

  it('after maxAttempts pauses on the item, holds the later ones, and resume$ retries it', () => {
    const onFailed = jest.fn();
    let calls: string[] = [];
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a1 = cold('--#', undefined, fail);
      const a2 = cold('--#', undefined, fail);
      const a3 = cold('--(A|)');
      const { apply, calls: log } = scripted({ a: [a1, a2, a3], b: [cold('-(B|)')], c: [cold('-(C|)')] });
      const source = cold('-a-b-c|');
      // a fails at 3 and at 15 (after a 10 ms wait): paused. A resume at 8 (not paused yet) is ignored.
      const resume$ = hot('--------r 41ms r');
      const result = source.pipe(applyInOrder(apply, { ...backoff, maxAttempts: 2, onFailed, resume$ }));
      calls = log;
      // resumed at 50: A at 52, then the held b and c, in order; completion waited for them
      expectObservable(result).toBe('52ms AB(C|)');
      expectSubscriptions(a3.subscriptions).toBe('50ms ^-!');
      expectSubscriptions(resume$.subscriptions).toBe('15ms ^ 34ms !');
    });
    expect(calls).toEqual(['a', 'a', 'a', 'b', 'c']);
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(onFailed).toHaveBeenCalledWith(fail, 'a');
  });

  it('stays paused without resume$ (nothing skipped, no completion) until unsubscribed', () => {
    const onFailed = jest.fn();
    let calls: string[] = [];
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a1 = cold('--#', undefined, fail);
      const { apply, calls: log } = scripted({ a: [a1], b: [cold('-(B|)')] });
      calls = log;
      const source = cold('-a-b|');
      expectObservable(source.pipe(applyInOrder(apply, { ...backoff, maxAttempts: 1, onFailed })), '^ 99ms !').toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
    expect(calls).toEqual(['a']);
    expect(onFailed).toHaveBeenCalledWith(fail, 'a');
  });

  it('a resume$ that completes while paused does not skip the item', () => {
    let calls: string[] = [];
    newScheduler().run(({ cold, hot, expectObservable }) => {
      const { apply, calls: log } = scripted({ a: [cold('-#', undefined, fail)], b: [cold('-(B|)')] });
      calls = log;
      const resume$ = hot('-----|');
      expectObservable(cold('a-b|').pipe(applyInOrder(apply, { ...backoff, maxAttempts: 1, resume$ })), '^ 50ms !').toBe('-');
    });
    expect(calls).toEqual(['a']);
  });

  it('counts an apply that throws, errors or completes empty as a failed try', () => {
    const onRetry = jest.fn();
    const oops = new Error('oops');
    newScheduler().run(({ cold, expectObservable }) => {
      let n = 0;
      const apply = (item: string): Observable<string> => {
        n++;
        if (n === 1) throw oops;
        if (n === 2) return EMPTY;
        if (n === 3) return throwError(() => fail);
        return of(item.toUpperCase());
      };
      // waits 10, 20, 40 after tries 1..3 at 0, 10, 30: the 4th try at 70 succeeds
      expectObservable(cold('a|').pipe(applyInOrder(apply, { ...backoff, maxAttempts: 4, onRetry }))).toBe('70ms (A|)');
    });
    expect(onRetry.mock.calls.map(([err, attempt]) => [(err as Error).name === 'EmptyError' ? 'empty' : err, attempt])).toEqual([
      [oops, 1],
      ['empty', 2],
      [fail, 3],
    ]);
  });

  it('emits the last value of a multi-value apply', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const apply = () => cold('-x-y|');
      expectObservable(cold('a|').pipe(applyInOrder(apply, { ...backoff, maxAttempts: 1 }))).toBe('----(y|)');
    });
  });

  it('lets a source error through at once, cancelling the apply in flight and dropping held items', () => {
    const boom = new Error('socket closed');
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a1 = cold('-----(A|)');
      const apply = (item: string) => (item === 'a' ? a1 : cold('-(B|)'));
      expectObservable(cold('ab-#', undefined, boom).pipe(applyInOrder(apply, { ...backoff, maxAttempts: 3 }))).toBe('---#', undefined, boom);
      expectSubscriptions(a1.subscriptions).toBe('^--!');
    });
  });

  it('unsubscribing cancels a pending backoff wait: no further try', () => {
    let calls: string[] = [];
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a1 = cold('--#', undefined, fail);
      const { apply, calls: log } = scripted({ a: [a1, cold('(A|)')] });
      calls = log;
      const source = cold('a---|');
      expectObservable(source.pipe(applyInOrder(apply, { ...backoff, maxAttempts: 3 })), '^---!').toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
    expect(calls).toEqual(['a']);
  });

  it('uses the scheduler it is given and never starts item n+1 before item n succeeded', () => {
    // Outside run(), only the explicitly passed scheduler is virtual. Pseudo-random failures.
    const scheduler = newScheduler();
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const log: string[] = [];
    const done: number[] = [];
    const apply = (item: number) => {
      log.push(`try ${item}`);
      return random() < 0.4 ? throwError(() => fail) : of(item);
    };
    from(Array.from({ length: 30 }, (_, i) => i))
      .pipe(applyInOrder(apply, { ...backoff, maxAttempts: Infinity, scheduler }))
      .subscribe((item) => {
        log.push(`ok ${item}`);
        done.push(item);
      });
    scheduler.flush();
    expect(done).toEqual(Array.from({ length: 30 }, (_, i) => i));
    let applied = -1;
    for (const entry of log) {
      const [kind, n] = entry.split(' ');
      if (kind === 'try') expect(Number(n)).toBe(applied + 1);
      else applied = Number(n);
    }
    expect(log.filter((e) => e.startsWith('try')).length).toBeGreaterThan(30);
  });

  it('accepts Promise-returning applies', async () => {
    let tries = 0;
    const apply = async (item: string) => {
      if (item === 'b' && ++tries < 3) throw fail;
      return item.toUpperCase();
    };
    const onRetry = jest.fn();
    const result = await lastValueFrom(
      from(['a', 'b', 'c']).pipe(applyInOrder(apply, { initialDelayMs: 0, maxDelayMs: 0, maxAttempts: 3, onRetry }), toArray()),
    );
    expect(result).toEqual(['A', 'B', 'C']);
    expect(onRetry).toHaveBeenCalledTimes(2);
  });

  it('a resume after the last item keeps the stream usable for later items', () => {
    const resume$ = new Subject<void>();
    const scheduler = newScheduler();
    const results: string[] = [];
    const source = new Subject<string>();
    let healthy = false;
    source
      .pipe(applyInOrder((item: string) => (healthy ? of(item) : throwError(() => fail)), { ...backoff, maxAttempts: 1, resume$, scheduler }))
      .subscribe((r) => results.push(r));
    source.next('a');
    source.next('b');
    expect(results).toEqual([]);
    healthy = true;
    resume$.next();
    source.next('c');
    expect(results).toEqual(['a', 'b', 'c']);
  });

  it('rejects a config without a single attempt', () => {
    expect(() => applyInOrder(() => of(1), { ...backoff, maxAttempts: 0 })).toThrow(RangeError);
  });

  it('onFailed can report an ApplyError naming the batch LSN, whatever the apply threw', () => {
    const events: unknown[] = [];
    const batch = { lsn: '0/1F' };
    from([batch])
      .pipe(
        applyInOrder(() => throwError(() => 'disk I/O error'), {
          ...backoff,
          maxAttempts: 1,
          onFailed: (err, b) => {
            events.push(toErrorEvent(err));
            events.push(toErrorEvent(new ApplyError(b.lsn, String(err), { cause: err, context: { attempts: 1 } })));
          },
        }),
      )
      .subscribe();
    expect(events).toEqual([
      { name: 'Error', code: 'unknown', message: 'disk I/O error', retryable: false, context: {} },
      {
        name: 'ApplyError',
        code: 'apply_failed',
        message: 'batch 0/1F: disk I/O error',
        retryable: false,
        context: { lsn: '0/1F', attempts: 1 },
      },
    ]);
  });

  describe('yieldAfterMs', () => {
    it('keeps order, results and timing: a yield is one scheduler tick', () => {
      newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const applies = { a: cold('--(A|)'), b: cold('--(B|)'), c: cold('--(C|)'), d: cold('--(D|)') };
        const source = cold('(abcd|)');
        // a 0..2, b 2..4, c 4..6; d starts after 6 >= 5 ms of applying: one tick (0 ms virtual) first.
        expectObservable(source.pipe(applyInOrder((x: string) => applies[x as keyof typeof applies], { ...backoff, maxAttempts: 1, yieldAfterMs: 5 }))).toBe(
          '--A-B-C-(D|)',
        );
        expectSubscriptions(applies.d.subscriptions).toBe('6ms ^-!');
      });
    });

    it('lets a timer run amid a long run of applies that resolve in microtasks', async () => {
      const busy = (ms: number) => {
        const until = performance.now() + ms;
        while (performance.now() < until);
      };
      const run = async (yieldAfterMs: number | undefined) => {
        let appliedWhenTimerRan = -1;
        let applied = 0;
        setTimeout(() => (appliedWhenTimerRan = applied), 0);
        const items = Array.from({ length: 200 }, (_, i) => i);
        await lastValueFrom(
          from(items).pipe(
            applyInOrder(
              async () => {
                busy(0.1);
                applied += 1;
              },
              { ...backoff, maxAttempts: 1, ...(yieldAfterMs !== undefined && { yieldAfterMs }) },
            ),
            toArray(),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 1));
        return appliedWhenTimerRan;
      };
      expect(await run(undefined)).toBe(200); // microtasks only: the timer waits for the last apply
      const withYield = await run(5);
      expect(withYield).toBeGreaterThan(0);
      expect(withYield).toBeLessThan(200); // it ran in between
    });

    it('refuses a negative budget', () => {
      expect(() => applyInOrder(() => of(1), { ...backoff, maxAttempts: 1, yieldAfterMs: -1 })).toThrow(RangeError);
    });
  });
});
