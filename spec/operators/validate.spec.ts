import { TestScheduler } from 'rxjs/testing';
import { of, tap } from 'rxjs';
import { validate, type DecodeResult } from '../../src/operators/validate.js';
import { decodeServerMessage } from '../../src/protocol/decode.js';
import { SyncProtocolError } from '../../src/protocol/errors.js';
import { toErrorEvent } from '../../src/errors.js';

const newScheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Accepts numbers as strings ("1" -> 1), rejects anything else with a message. */
const decodeNumber = (frame: unknown): DecodeResult<number, string> =>
  typeof frame === 'string' && /^\d+$/.test(frame) ? { ok: true, value: Number(frame) } : { ok: false, error: `bad: ${String(frame)}` };

describe('validate', () => {
  it('emits decoded frames, reports and drops invalid ones, and completes', () => {
    const invalid: Array<[string, unknown, number]> = [];
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-x-b-y-|', { a: '1', x: 'nope', b: '2', y: '{' });
      const result = source.pipe(validate(decodeNumber, (error, frame) => invalid.push([error, frame, scheduler.now()])));
      expectObservable(result).toBe('-a---b---|', { a: 1, b: 2 });
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
    expect(invalid).toEqual([
      ['bad: nope', 'nope', 3],
      ['bad: {', '{', 7],
    ]);
  });

  it('never errors the stream for bad input, only for a source error', () => {
    const boom = new Error('socket');
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-x-x-a-#', { x: {}, a: '7' }, boom);
      expectObservable(source.pipe(validate(decodeNumber, () => undefined))).toBe('-----a-#', { a: 7 }, boom);
    });
  });

  it('stops decoding when unsubscribed', () => {
    const decode = jest.fn(decodeNumber);
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-d-|', { a: '1', b: '2', c: '3', d: '4' });
      expectObservable(source.pipe(validate(decode, () => undefined)), '^----!').toBe('-a-b-', { a: 1, b: 2 });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
    expect(decode).toHaveBeenCalledTimes(2);
  });

  it('treats a throwing decode or onInvalid as a bug: the error goes downstream and decoding stops', () => {
    const bug = new Error('bug');
    const decode = jest.fn(decodeNumber);
    newScheduler().run(({ cold, expectObservable }) => {
      const throwing = (frame: unknown) => {
        if (frame === 'boom') throw bug;
        return decodeNumber(frame);
      };
      expectObservable(cold('-a-b-|', { a: '1', b: 'boom' }).pipe(validate(throwing, () => undefined))).toBe('-a-#', { a: 1 }, bug);
      expectObservable(
        cold('-x-|').pipe(
          validate(decodeNumber, () => {
            throw bug;
          }),
        ),
      ).toBe('-#', undefined, bug);
    });
    // a synchronous source is not decoded past the failure
    of('x', '1', '2')
      .pipe(
        validate(decode, () => {
          throw bug;
        }),
      )
      .subscribe({ error: () => undefined });
    expect(decode).toHaveBeenCalledTimes(1);
  });

  it('works with the protocol decoder: malformed, unknown and invalid frames become errors with codes', () => {
    const errors: SyncProtocolError[] = [];
    const values: unknown[] = [];
    of('{"type":"pong"}', 'not json', '{"type":"shout"}', '{"type":"changes","lsn":"0/1","changes":5}', { type: 'ping', id: 3 })
      .pipe(validate(decodeServerMessage, (error) => errors.push(error)))
      .subscribe((message) => values.push(message));
    expect(values).toEqual([{ type: 'pong' }, { type: 'ping', id: 3 }]);
    expect(errors.every((e) => e instanceof SyncProtocolError)).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['malformed_frame', 'unknown_message', 'invalid_message']);
  });

  it('passes frames through lazily, one subscription per subscriber', () => {
    let subscriptions = 0;
    const source = of('1').pipe(tap({ subscribe: () => subscriptions++ }));
    const validated = source.pipe(validate(decodeNumber, () => undefined));
    expect(subscriptions).toBe(0);
    validated.subscribe();
    validated.subscribe();
    expect(subscriptions).toBe(2);
  });

  it('hands the event stream the decode error with its protocol code', () => {
    const events: unknown[] = [];
    of('{"type":"shout"}')
      .pipe(validate(decodeServerMessage, (error) => events.push(toErrorEvent(error))))
      .subscribe();
    expect(events).toEqual([{ name: 'SyncProtocolError', code: 'unknown_message', message: 'unknown message type "shout"', retryable: false, context: {} }]);
    expect(toErrorEvent(new SyncProtocolError('rate_limited', 'slow down', { ref: 'push' }))).toEqual({
      name: 'SyncProtocolError',
      code: 'rate_limited',
      message: 'slow down',
      retryable: true,
      context: { ref: 'push' },
    });
  });
});
