import type { ColumnType } from '../../protocol/index.js';
import type { CompareOp } from './ast.js';

/**
 * Values of the rules language, the same in the JS evaluation of live changes (evaluate.ts) and in
 * the SQL of snapshots (to-sql.ts): both coerce with {@link coerceToColumn} and compare with
 * {@link compareValues}, so a row can never be in one and not the other.
 */

/** SQL's three-valued truth: null is unknown. */
export type Truth = boolean | null;

/** A claim's value; a missing claim is null (and so is `auth.constructor`: only the payload's own keys count). */
export function claimValue(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(claims, name) ? (claims[name] ?? null) : null;
}

const NUMERIC = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

/**
 * A claim or literal as a value of a column of `type`, before it is compared with the column
 * (docs/rules.md, Coercion). Anything that does not fit becomes null, which compares as unknown:
 *
 * - integer: a safe integer; a numeric string of one (`'42'`); true/false as 1/0. `1.5` does not fit.
 * - real: a finite number; a numeric string; true/false as 1/0.
 * - text: a string; a finite number as its decimal text (`42` as `'42'`). Booleans do not fit:
 *   `'true'` as text is a guess the rules should not make.
 * - json: nothing (json columns cannot be compared).
 */
export function coerceToColumn(value: unknown, type: ColumnType): string | number | null {
  switch (type) {
    case 'integer': {
      const number = toNumber(value);
      return number !== null && Number.isSafeInteger(number) ? number : null;
    }
    case 'real':
      return toNumber(value);
    case 'text':
      if (typeof value === 'string') return value;
      return typeof value === 'number' && Number.isFinite(value) ? String(value) : null;
    case 'json':
      return null;
  }
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'boolean') return value ? 1 : 0;
  const number = typeof value === 'number' ? value : typeof value === 'string' && NUMERIC.test(value) ? Number(value) : NaN;
  return Number.isFinite(number) ? number : null;
}

/**
 * `a op b` for two values of the same kind: strings (in code point order, which is UTF-8 byte
 * order: SQLite's BINARY and Postgres' "C" collation), numbers, or booleans (false < true).
 * Anything else, null and missing values included, is unknown.
 */
export function compareValues(a: unknown, b: unknown, op: CompareOp): Truth {
  let order: number;
  if (typeof a === 'string' && typeof b === 'string') order = compareCodePoints(a, b);
  else if (typeof a === 'number' && typeof b === 'number') order = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === 'boolean' && typeof b === 'boolean') order = Number(a) - Number(b);
  else return null;
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

/**
 * Compares strings by code point. JavaScript's `<` compares UTF-16 code units, which puts
 * U+E000..U+FFFF after the surrogates of U+10000 and up; moving the surrogates above that range
 * (ICU's "code point order" fix-up) gives the order of the UTF-8 bytes the databases compare.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrder(x) - codePointOrder(y);
  }
  return a.length - b.length;
}

function codePointOrder(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
