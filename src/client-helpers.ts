import type { SyncMode } from './protocol/index.js';

export const needsSnapshot = (mode: SyncMode): boolean => mode === 'initial' || mode === 'reset';

/** A change id: the server's idempotency key, so it must be unique across clients. */
export function newChangeId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/** The tables a query reads, by name: watch() re-runs it when one of them changes. */
export function tablesReadBy(sql: string, tables: readonly string[]): string[] {
  return tables.filter((table) => new RegExp(`(^|[^A-Za-z0-9_])"?${table}"?($|[^A-Za-z0-9_])`, 'i').test(sql));
}
