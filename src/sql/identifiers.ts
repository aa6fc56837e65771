/** SQL identifier helpers. Identifiers cannot be bound as parameters, so they are checked, then quoted. */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True if `name` is a plain identifier (letters, digits, underscore; not starting with a digit). */
export function isPlainIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENTIFIER.test(name);
}

/**
 * `"name"`, for a table or column name in generated SQL. Refuses (TypeError) anything that is not
 * /^[A-Za-z_][A-Za-z0-9_]*$/, so a hostile name can never reach SQL, quoted or not.
 */
export function quoteIdentifier(name: string): string {
  if (!isPlainIdentifier(name)) {
    throw new TypeError(`not a valid SQL identifier: ${JSON.stringify(String(name)).slice(0, 80)}`);
  }
  return `"${name}"`;
}
