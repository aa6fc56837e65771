import type * as t from 'io-ts';

/**
 * io-ts errors as one readable line: the path to each failing value and what was expected, e.g.
 * `changes.0.op: expected "insert" | "update" | "delete", got "drop"`. Capped so a hostile message
 * cannot make the error itself huge.
 */
export function formatDecodeErrors(errors: t.Errors, max = 5): string {
  const lines = errors.slice(0, max).map((error) => {
    const path = error.context
      .map((entry) => entry.key)
      .filter((key) => key !== '')
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
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
