import { distinctUntilChanged, type MonoTypeOperatorFunction } from 'rxjs';

/**
 * Emits a list of rows only when it differs from the list emitted before: the same length, and
 * row by row the same columns with the same values. Meant for query results (`watch`), which a
 * commit to a table the query reads runs again even when nothing it returns changed (a column it
 * does not select, a row its WHERE leaves out, a server echo of a local write). Values compare
 * with `===` (NaN equals NaN), byte arrays (SQLite blobs) byte by byte, and arrays and plain
 * objects (JSON values a caller mapped the rows to) member by member. The first list always goes
 * through.
 *
 * ```
 * source:  --a--a'--b--b'--a--|     (a' has the same rows as a; b' as b)
 * distinctRows()
 * result:  --a------b------a--|
 * ```
 *
 * @example
 * const todos$ = defer(() => db.all('SELECT id, title FROM todos')).pipe(repeat({ delay: 100 }), distinctRows());
 */
export function distinctRows<R extends readonly unknown[]>(): MonoTypeOperatorFunction<R> {
  return distinctUntilChanged<R>(sameRows);
}

/** True if two lists of rows hold the same values (see {@link distinctRows}). */
export function sameRows(a: readonly unknown[], b: readonly unknown[]): boolean {
  return sameValue(a, b);
}

/** True if two values are the same: `===` (NaN equals NaN), byte arrays byte by byte, arrays and plain objects member by member. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a !== a && b !== b; // NaN
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && sameBytes(a, b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
