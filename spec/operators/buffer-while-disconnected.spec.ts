import { TestScheduler } from 'rxjs/testing';
import { BehaviorSubject, Subject } from 'rxjs';
import { bufferWhileDisconnected } from '../../src/operators/buffer-while-disconnected.js';
import { BufferOverflowError } from '../../src/errors.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const link = { t: true, f: false };

describe('bufferWhileDisconnected', () => {
  it('passes messages while connected, holds them while not, flushes them in order on reconnect', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const connected$ = hot('f-----t------f-----t----', link);
      const source = hot('--a-b-----c---d-e------|');
      expectObservable(source.pipe(bufferWhileDisconnected(connected$))).toBe('------(ab)c--------(de)|');
      expectSubscriptions(connected$.subscriptions).toBe('^----------------------!');
      expectSubscriptions(source.subscriptions).toBe('^----------------------!');
    });
  });

  it('counts as disconnected until connected$ speaks, and passes through at once when it starts true', () => {
    newScheduler().run(({ cold, hot, expectObservable }) => {
      expectObservable(hot('-a-b---|').pipe(bufferWhileDisconnected(hot('---t', link)))).toBe('---(ab)|');
      expectObservable(hot('-a-b-|').pipe(bufferWhileDisconnected(cold('t', link)))).toBe('-a-b-|');
    });
  });

  it('completes only after the buffer is flushed', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('-a|').pipe(bufferWhileDisconnected(hot('f---t', link)))).toBe('----(a|)');
    });
  });

  it('lets a source error or a connected$ error through at once, dropping the buffer', () => {
    const boom = new Error('boom');
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('-a-#', undefined, boom).pipe(bufferWhileDisconnected(hot('f----t', link)))).toBe('---#', undefined, boom);
      expectObservable(hot('-a---').pipe(bufferWhileDisconnected(hot('f-#', link, boom)))).toBe('--#', undefined, boom);
    });
  });

  it('unsubscribing drops the buffer and lets go of both inputs', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const connected$ = hot('f-----t', link);
      const source = hot('-a-b----c-|');
      expectObservable(source.pipe(bufferWhileDisconnected(connected$)), '^---!').toBe('-');
      expectSubscriptions(connected$.subscriptions).toBe('^---!');
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('errors with BufferOverflowError past maxBuffered', () => {
    const connected$ = new BehaviorSubject(false);
    const source = new Subject<string>();
    const seen: string[] = [];
    let error: unknown;
    source.pipe(bufferWhileDisconnected(connected$, { maxBuffered: 2 })).subscribe({ next: (m) => seen.push(m), error: (e) => (error = e) });
    source.next('a');
    source.next('b');
    expect(error).toBeUndefined();
    source.next('c');
    expect(error).toBeInstanceOf(BufferOverflowError);
    expect(error).toMatchObject({ code: 'buffer_overflow', retryable: false, context: { maxBuffered: 2 } });
    connected$.next(true);
    expect(seen).toEqual([]);
    expect(source.observed).toBe(false);
    expect(() => bufferWhileDisconnected(connected$, { maxBuffered: -1 })).toThrow(RangeError);
  });

  it('a disconnect during a flush keeps the rest held; a message sent during a flush queues behind it', () => {
    const connected$ = new BehaviorSubject(false);
    const source = new Subject<string>();
    const sent: string[] = [];
    source.pipe(bufferWhileDisconnected(connected$)).subscribe((m) => {
      sent.push(m);
      if (m === 'a') source.next('late'); // e.g. a reply produced while handling a
      if (m === 'b') connected$.next(false); // the send of b broke the socket
    });
    source.next('a');
    source.next('b');
    source.next('c');
    connected$.next(true);
    expect(sent).toEqual(['a', 'b']);
    connected$.next(true);
    expect(sent).toEqual(['a', 'b', 'c', 'late']);
    source.next('d');
    expect(sent).toEqual(['a', 'b', 'c', 'late', 'd']);
  });
});
