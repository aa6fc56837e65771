/**
 * FNV-1a, 64-bit, over the UTF-16 code units of a string, as 16 hex digits. Used for the schema
 * hash: it must be identical on the server and in every browser without an async crypto API, and
 * it guards against accidental mismatch, not against an adversary.
 */
export function fnv1a64Hex(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & mask;
  }
  return hash.toString(16).padStart(16, '0');
}
