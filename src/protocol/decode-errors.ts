import type * as t from 'io-ts';

/**
 * io-ts errors as one readable line: the path to each failing value and what was expected, e.g.
 * `changes.0.op: expected "insert" | "update" | "delete", got "drop"`. Capped so a hostile message
 * cannot make the error itself huge.
 */
export function formatDecodeErrors(errors: t.Errors, max = 5): string {
  const lines = errors.slice(0, max).map((error) => {
    // Intersection and union members add their index to the path; the user never wrote those.
    const path = error.context
      .filter((entry, i) => entry.key !== '' && !isComposite(error.context[i - 1]?.type))
      .map((entry) => entry.key)
      .join('.');
    const last = error.context[error.context.length - 1];
    const expected = error.message ?? `expected ${last?.type.name ?? 'a valid value'}`;
    return `${path || '(root)'}: ${expected}, got ${preview(error.value)}`;
  });
  const more = errors.length > max ? ` (and ${errors.length - max} more)` : '';
  return lines.join('; ') + more;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    // Too deep to serialise (String() of a nested array recurses as well): never throw from here,
    // or one small hostile frame takes down the process that decodes it.
    text = Array.isArray(value) ? '[...]' : typeof value === 'object' && value !== null ? '{...}' : typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isComposite(type: unknown): boolean {
  const tag = (type as { _tag?: string } | undefined)?._tag;
  return tag === 'IntersectionType' || tag === 'UnionType';
}
