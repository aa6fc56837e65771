import { LsnCodec, compareLsn, isLsn, lsnFromBigInt, lsnToBigInt, maxLsn, normalizeLsn, ZERO_LSN } from '../../src/protocol/index.js';
import { isRight } from 'fp-ts/lib/Either.js';

describe('LSN', () => {
  it('compares as 64-bit numbers, not as strings', () => {
    expect(compareLsn('0/A', '0/9')).toBe(1); // '0/A' < '0/9' as strings
    expect(compareLsn('0/10', '0/F')).toBe(1);
    expect(compareLsn('1/0', '0/FFFFFFFF')).toBe(1);
    expect(compareLsn('16/B374D848', '16/B374D848')).toBe(0);
    expect(compareLsn('0/0', ZERO_LSN)).toBe(0);
    expect(compareLsn('2/0', '10/0')).toBe(-1);
    expect(maxLsn('0/9', '0/A')).toBe('0/A');
  });

  it('converts to and from 64-bit values', () => {
    expect(lsnToBigInt('1/0')).toBe(1n << 32n);
    expect(lsnFromBigInt((0x16n << 32n) | 0xb374d848n)).toBe('16/B374D848');
    expect(lsnFromBigInt(0xffffffffffffffffn)).toBe('FFFFFFFF/FFFFFFFF');
    expect(() => lsnFromBigInt(-1n)).toThrow(RangeError);
    expect(() => lsnFromBigInt(1n << 64n)).toThrow(RangeError);
  });

  it('accepts only X/Y hex of at most 8 digits each', () => {
    for (const good of ['0/0', 'a/b', 'FFFFFFFF/FFFFFFFF', '00000000/0000000A']) expect(isLsn(good)).toBe(true);
    for (const bad of ['', '0', '0/', '/0', '0/0/0', 'g/0', '0/-1', ' 0/0', '1FFFFFFFF/0', 0, null, '0x1/0']) {
      expect(isLsn(bad)).toBe(false);
    }
    expect(() => lsnToBigInt('zz')).toThrow(TypeError);
  });

  it('normalises spellings through the codec', () => {
    expect(normalizeLsn('00000000/0000000a')).toBe('0/A');
    const decoded = LsnCodec.decode('0/ff');
    expect(isRight(decoded) && decoded.right).toBe('0/FF');
    expect(isRight(LsnCodec.decode('nope'))).toBe(false);
  });
});
