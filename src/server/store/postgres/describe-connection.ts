/**
 * The connection string without its password, for error messages and logs: a secret never
 * reaches either.
 */
export function describeConnection(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    url.password = '';
    return url.toString().replace(/:@/, '@');
  } catch {
    return 'the Postgres database (unparsable connection string)';
  }
}
