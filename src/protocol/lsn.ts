import * as t from 'io-ts';

/**
 * Log sequence numbers in the Postgres form `X/Y`: two hexadecimal numbers, the high and low 32
 * bits of a 64-bit position. They are compared as 64-bit numbers (`0/A` > `0/9`, which a string
 * comparison gets wrong), and `0/0` means "never synced".
 */
export type Lsn = string;

export const ZERO_LSN: Lsn = '0/0';

const LSN_PATTERN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

export function isLsn(value: unknown): value is Lsn {
  return typeof value === 'string' && LSN_PATTERN.test(value);
}

/** The LSN as a 64-bit unsigned integer. Throws on anything that is not `X/Y`. */
export function lsnToBigInt(lsn: Lsn): bigint {
  if (!isLsn(lsn)) throw new TypeError(`not an LSN: ${JSON.stringify(lsn)}`);
  const slash = lsn.indexOf('/');
  return (BigInt('0x' + lsn.slice(0, slash)) << 32n) | BigInt('0x' + lsn.slice(slash + 1));
}

/** Formats a 64-bit position as `X/Y` in upper-case hex without leading zeros, as Postgres does. */
export function lsnFromBigInt(value: bigint): Lsn {
  if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`LSN out of range: ${value}`);
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  // The two 32-bit halves as plain numbers (exact in a double): no BigInt on this hot path, which
  // runs for every message of every session.
  if (!isLsn(a)) throw new TypeError(`not an LSN: ${JSON.stringify(a)}`);
  if (!isLsn(b)) throw new TypeError(`not an LSN: ${JSON.stringify(b)}`);
  const i = a.indexOf('/');
  const j = b.indexOf('/');
  const high = parseInt(a.slice(0, i), 16) - parseInt(b.slice(0, j), 16);
  if (high !== 0) return high < 0 ? -1 : 1;
  const low = parseInt(a.slice(i + 1), 16) - parseInt(b.slice(j + 1), 16);
  return low < 0 ? -1 : low > 0 ? 1 : 0;
}

export const maxLsn = (a: Lsn, b: Lsn): Lsn => (compareLsn(a, b) >= 0 ? a : b);

/** Normalises any accepted spelling (`0/a`, `00000000/0A`) to the canonical upper-case form. */
export const normalizeLsn = (lsn: Lsn): Lsn => lsnFromBigInt(lsnToBigInt(lsn));

/** io-ts codec: accepts an `X/Y` string and yields it in canonical form. */
export const LsnCodec = new t.Type<Lsn, string, unknown>(
  'Lsn',
  isLsn,
  (input, context) => (isLsn(input) ? t.success(normalizeLsn(input)) : t.failure(input, context, 'expected an LSN of the form X/Y (hex)')),
  (lsn) => lsn,
);
