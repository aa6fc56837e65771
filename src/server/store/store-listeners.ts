import { checkKey, checkRow, SyncProtocolError, tableOf, type ChangeRecord, type Lsn, type SyncSchema } from '../../protocol/index.js';
import type { BackendWrite } from './store.js';

/**
 * The subscribers of a store (SyncStore.subscribe and subscribeResets), shared by the stores: each
 * subscription is its own entry (the same function subscribed twice is told twice and unsubscribed
 * once each), and a subscriber that throws is reported without stopping the others or the store.
 */
export class StoreListeners {
  private readonly commits = new Set<(changes: ChangeRecord[]) => void>();
  private readonly resets = new Set<(oldestResumableLsn: Lsn) => void>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  subscribe(listener: (changes: ChangeRecord[]) => void): () => void {
    return add(this.commits, listener);
  }

  subscribeResets(listener: (oldestResumableLsn: Lsn) => void): () => void {
    return add(this.resets, listener);
  }

  /** A commit's changes, in LSN order. */
  committed(changes: ChangeRecord[]): void {
    this.notify(this.commits, changes);
  }

  /** The oldest resumable LSN moved forward. */
  reset(oldestResumableLsn: Lsn): void {
    this.notify(this.resets, oldestResumableLsn);
  }

  clear(): void {
    this.commits.clear();
    this.resets.clear();
  }

  private notify<T>(listeners: Set<(value: T) => void>, value: T): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

function add<T>(listeners: Set<(value: T) => void>, listener: (value: T) => void): () => void {
  const subscription = (value: T) => listener(value);
  listeners.add(subscription);
  return () => void listeners.delete(subscription);
}

/** Checks a backend write against the schema before any store touches SQL with it. */
export function checkBackendWrite(schema: SyncSchema, write: BackendWrite): void {
  const spec = tableOf(schema, write.table);
  if (write.op === 'insert') {
    checkRow(schema, write.table, write.row);
    return;
  }
  checkKey(schema, write.table, write.key);
  if (write.op === 'update') {
    checkRow(schema, write.table, write.patch, { partial: true });
    const key = write.patch[spec.primaryKey];
    if (key !== undefined && key !== write.key) {
      throw new SyncProtocolError('invalid_value', `${write.table}: an update cannot change the primary key ${spec.primaryKey}`);
    }
  }
}
