import { TestScheduler } from 'rxjs/testing';
import { Subject } from 'rxjs';
import { heartbeat } from '../../src/operators/heartbeat.js';
import { HeartbeatTimeoutError, toErrorEvent } from '../../src/errors.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const isPong = (m: string) => m === 'P';

/** A heartbeat whose pings are recorded with the virtual time they were sent at. */
function setup(scheduler: TestScheduler, extra: { passPongs?: boolean } = {}) {
  const pings: number[] = [];
  const operator = heartbeat<string>({ intervalMs: 40, timeoutMs: 100, sendPing: () => pings.push(scheduler.now()), isPong, ...extra });
  return { pings, operator };
}

describe('heartbeat', () => {
  it('pings every intervalMs and errors after timeoutMs without any message', () => {
    const scheduler = newScheduler();
    let pings: number[] = [];
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const hb = setup(scheduler);
      pings = hb.pings;
      const source = hot('--a 62ms b');
      // b at 65, then silence: the timeout fires at 165
      expectObservable(source.pipe(hb.operator)).toBe('--a 62ms b 99ms #', undefined, new HeartbeatTimeoutError(100));
      expectSubscriptions(source.subscriptions).toBe('^ 164ms !');
    });
    expect(pings).toEqual([40, 80, 120, 160]);
  });

  it('any message counts as alive, not only pongs; pongs are filtered out by default', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      // a message every 90 ms keeps a 100 ms timeout at bay; the pong at 180 too
      const source = hot('90ms a 89ms P 89ms b 89ms |');
      expectObservable(source.pipe(setup(scheduler).operator)).toBe('90ms a 179ms b 89ms |');
    });
  });

  it('passes pongs through with passPongs: true', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot('-P-a-|').pipe(setup(scheduler, { passPongs: true }).operator)).toBe('-P-a-|');
    });
  });

  it('stops its timers on completion, on a source error and on unsubscribe', () => {
    const boom = new Error('closed');
    const scheduler = newScheduler();
    const hbs = [setup(scheduler), setup(scheduler), setup(scheduler)];
    scheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot('50ms |').pipe(hbs[0]!.operator)).toBe('50ms |');
      expectObservable(hot('50ms #', undefined, boom).pipe(hbs[1]!.operator)).toBe('50ms #', undefined, boom);
      expectObservable(hot('-a 100ms a').pipe(hbs[2]!.operator), '^ 49ms !').toBe('-a');
      // long after: nothing may fire
      expectObservable(hot('1000ms |')).toBe('1000ms |');
    });
    expect(hbs.map((h) => h.pings)).toEqual([[40], [40], [40]]);
  });

  it('errors when sendPing throws', () => {
    const broken = new Error('socket not open');
    newScheduler().run(({ hot, expectObservable }) => {
      const operator = heartbeat<string>({
        intervalMs: 10,
        timeoutMs: 100,
        isPong,
        sendPing: () => {
          throw broken;
        },
      });
      expectObservable(hot('-a').pipe(operator)).toBe('-a 8ms #', undefined, broken);
    });
  });

  it('uses the scheduler it is given (no real timers) and errors with a HeartbeatTimeoutError', () => {
    // Outside run(), only the explicitly passed scheduler is virtual.
    const scheduler = newScheduler();
    const source = new Subject<string>();
    const pings: number[] = [];
    let failedAt = -1;
    let caught: unknown;
    source.pipe(heartbeat({ intervalMs: 30, timeoutMs: 100, sendPing: () => pings.push(scheduler.now()), isPong, scheduler })).subscribe({
      error: (e) => {
        failedAt = scheduler.now();
        caught = e;
      },
    });
    scheduler.schedule(() => source.next('x'), 70);
    scheduler.flush();
    expect(pings).toEqual([30, 60, 90, 120, 150]);
    expect(failedAt).toBe(170);
    expect(source.observed).toBe(false);
    expect(caught).toBeInstanceOf(HeartbeatTimeoutError);
    expect(toErrorEvent(caught)).toEqual({
      name: 'HeartbeatTimeoutError',
      code: 'heartbeat_timeout',
      message: 'no message from the server for 100 ms',
      retryable: true,
      context: { timeoutMs: 100, intervalMs: 30 },
    });
  });

  it('rejects non-positive intervals', () => {
    const sendPing = () => undefined;
    expect(() => heartbeat({ intervalMs: 0, timeoutMs: 10, sendPing, isPong })).toThrow(RangeError);
    expect(() => heartbeat({ intervalMs: 10, timeoutMs: -1, sendPing, isPong })).toThrow(RangeError);
  });

  it('reads a timeoutMs function at every check, so the timeout can grow while connected', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      let timeoutMs = 100;
      const source = hot('--a 47ms b', { a: 'a', b: 'b' });
      scheduler.schedule(() => (timeoutMs = 300), 60); // the peer said it waits longer
      const operator = heartbeat<string>({ intervalMs: 1000, timeoutMs: () => timeoutMs, sendPing: () => undefined, isPong });
      // b at 50; the check at 100 finds a 300 ms timeout: the error comes at 350
      expectObservable(source.pipe(operator)).toBe('--a 47ms b 299ms #', undefined, new HeartbeatTimeoutError(300));
    });
  });
});
