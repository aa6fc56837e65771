/** The tables a query reads, by name: watch() runs a query it cannot fold again when one of them changes. */
export function tablesReadBy(sql: string, tables: readonly string[]): string[] {
  return tables.filter((table) => new RegExp(`(^|[^A-Za-z0-9_])"?${table}"?($|[^A-Za-z0-9_])`, 'i').test(sql));
}
