import { fromEvent, NEVER, type Observable } from 'rxjs';
import type { Lsn } from './protocol/index.js';
import type { ApplyMessage } from './changes/changes-interface.js';


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

/** The LSN a queued message is at, if it has one (for error reports). */
export function lsnOf(message: ApplyMessage | { type: string }): Lsn | undefined {
  return 'lsn' in message ? (message.lsn as Lsn) : undefined;
}

export function onlineEvents(): Observable<unknown> {
  const target = globalThis as { addEventListener?: unknown };
  return typeof target.addEventListener === 'function' ? fromEvent(globalThis as unknown as EventTarget, 'online') : NEVER;
}

export async function defaultWebSocket(): Promise<typeof WebSocket> {
  const global = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (global) return global;
  const ws = await import('ws');
  return (ws.default ?? ws) as unknown as typeof WebSocket;
}
