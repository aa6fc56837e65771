/**
 * SQLite's order of values (BINARY collation, the only one the schema's columns have), in
 * JavaScript: NULL first, then numbers by value, then text by its UTF-8 bytes (which is the order
 * of code points, not JavaScript's UTF-16 code units), then blobs byte by byte. A result folded in
 * JavaScript must come out in the order SQLite would give it.
 */
const rank = (value: unknown): number => {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number' || typeof value === 'bigint') return 1;
  if (typeof value === 'string') return 2;
  return 3;
};

export function compareSqlValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a! < b! ? -1 : a! > b! ? 1 : 0;
    case 2:
      return compareText(a as string, b as string);
    default:
      return compareBytes(a as Uint8Array, b as Uint8Array);
  }
}

/** Code point order (= UTF-8 byte order). Equal UTF-16 code units compare equal here too, so only a difference needs care. */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (U+D800–DFFF) stands for a code point above U+FFFF: above every other unit.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
