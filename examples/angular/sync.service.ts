// An Angular-style service on top of rxsync: what an Angular app would write to use the engine.
//
// It is a plain class so that it runs (and is tested) without Angular; in an Angular app it is the
// same class with the decorators uncommented and the client provided through DI:
//
//   import { Injectable, InjectionToken, OnDestroy, inject } from '@angular/core';
//   import { createWorkerSyncClient, type RemoteSyncClient } from 'rxsync/browser';
//
//   export const SYNC_CLIENT = new InjectionToken<Promise<RemoteSyncClient>>('rxsync client', {
//     providedIn: 'root',
//     factory: () => createWorkerSyncClient({ schema: todoSchema, database: 'todos',
//       workerUrl: new URL('/rxsync/rxsync-worker.js', location.href) }),
//   });
//
//   @Injectable({ providedIn: 'root' })
//   export class TodoSyncService implements OnDestroy { ... }
//
// Templates bind the Observables with the async pipe (`todos$ | async`), or turn them into signals
// with `toSignal(service.todos$)`. The engine calls back outside Angular's zone only through these
// Observables and Promises, which zone.js patches, so change detection needs nothing extra.
//
// In an app the imports below are `from 'rxsync'` (Node, tests, or a main-thread client) or
// `from 'rxsync/browser'` (the Web Worker client); this repo imports its sources so that the
// example typechecks and runs without a build.
import { BehaviorSubject, distinctUntilChanged, filter, map, scan, shareReplay, startWith, type Observable, type Subscription } from 'rxjs';
import { createSyncClient, defineSchema, type ConnectionStatus, type SyncClient, type SyncClientOptions, type SyncEventMessage } from '../../src/index.js';

/** The demo's table: the same definition as the server's (`rxsync serve --demo`), hence the same hash. */
export const todoSchema = defineSchema({
  tables: {
    todos: {
      primaryKey: 'id',
      columns: { id: 'text', title: 'text', done: 'integer', updated_at: 'text' },
    },
  },
});

export interface Todo {
  id: string;
  title: string;
  done: 0 | 1;
  updated_at: string;
}

/** Initial sync progress: 0 of 0 before any snapshot, `done` once the last chunk is in. */
export interface SyncProgress {
  rowsDone: number;
  rowsTotal: number;
  /** 0..1; 1 when there is nothing to load. */
  fraction: number;
  /** A snapshot is being loaded. */
  active: boolean;
}

/**
 * The part of the engine the service uses. Both `SyncClient` (createSyncClient, main thread or
 * Node) and the browser's worker client (createWorkerSyncClient) have this shape.
 */
export type SyncEngine = Pick<SyncClient, 'watch' | 'insert' | 'update' | 'delete' | 'connect' | 'disconnect' | 'cleanup' | 'status$' | 'events$'>;

export interface TodoSyncServiceConfig {
  /** ws(s)://HOST/api/sync */
  url: string;
  /** The engine to use; default: a new SyncClient made from `clientOptions`, owned (and cleaned up) by the service. */
  client?: SyncEngine;
  clientOptions?: Partial<SyncClientOptions>;
  /** Connect at once (default true). */
  autoConnect?: boolean;
  /** For tests: the clock for `updated_at`. */
  now?: () => Date;
}

const TODOS_SQL = 'SELECT id, title, done, updated_at FROM todos ORDER BY updated_at DESC, id';
const PENDING_SQL = "SELECT count(*) AS n FROM local_changes WHERE source = 'local' AND status IN ('pending', 'sent')";
const IDLE_PROGRESS: SyncProgress = { rowsDone: 0, rowsTotal: 0, fraction: 1, active: false };

// @Injectable({ providedIn: 'root' })
export class TodoSyncService /* implements OnDestroy */ {
  /** The todo list, newest first; re-emits after every local or remote change of `todos`. */
  readonly todos$: Observable<Todo[]>;
  /** idle, connecting, handshaking, syncing, live, backoff, disconnected, closed. */
  readonly status$: Observable<ConnectionStatus>;
  /** Local writes not yet confirmed by the server (pending or sent). */
  readonly pending$: Observable<number>;
  /** Initial sync progress (rows of the snapshot loaded so far). */
  readonly progress$: Observable<SyncProgress>;

  readonly client: SyncEngine;
  private readonly ownsClient: boolean;
  private readonly progress = new BehaviorSubject<SyncProgress>(IDLE_PROGRESS);
  private readonly subscription: Subscription;
  private readonly now: () => Date;

  constructor(private readonly config: TodoSyncServiceConfig) {
    this.ownsClient = !config.client;
    this.client = config.client ?? createSyncClient({ schema: todoSchema, ...config.clientOptions });
    this.now = config.now ?? (() => new Date());

    // One query per Observable, shared by every subscriber (e.g. several async pipes), and
    // replaying the last result to a late one.
    const replay = { bufferSize: 1, refCount: true } as const;
    this.todos$ = this.client.watch<Todo>(TODOS_SQL).pipe(shareReplay(replay));
    this.pending$ = this.client.watch<{ n: number }>(PENDING_SQL).pipe(
      map((rows) => Number(rows[0]?.n ?? 0)),
      distinctUntilChanged(),
      shareReplay(replay),
    );
    this.status$ = this.client.status$.pipe(distinctUntilChanged(), shareReplay(replay));
    this.progress$ = this.progress.asObservable();

    // events$ is hot: listen from the start, so a component that subscribes late still sees where the sync is.
    this.subscription = this.client.events$
      .pipe(
        filter((event) => event.type.startsWith('initial_sync_')),
        scan(progressReducer, IDLE_PROGRESS),
        startWith(IDLE_PROGRESS),
        distinctUntilChanged((a, b) => a.rowsDone === b.rowsDone && a.rowsTotal === b.rowsTotal && a.active === b.active),
      )
      .subscribe(this.progress);

    if (config.autoConnect !== false) void this.connect();
  }

  /** Goes online (again). Resolves true once the server welcomed this client. */
  connect(): Promise<boolean> {
    return this.client.connect(this.config.url);
  }

  /** Goes offline: writes keep working locally and sync on the next connect(). */
  disconnect(): void {
    this.client.disconnect('offline (by the user)');
  }

  async add(title: string): Promise<Todo> {
    const todo: Todo = { id: newId(), title: title.trim(), done: 0, updated_at: this.now().toISOString() };
    await this.client.insert('todos', { ...todo });
    return todo;
  }

  async toggle(todo: Pick<Todo, 'id' | 'done'>): Promise<void> {
    await this.client.update('todos', todo.id, { done: todo.done ? 0 : 1, updated_at: this.now().toISOString() });
  }

  async rename(id: string, title: string): Promise<void> {
    await this.client.update('todos', id, { title: title.trim(), updated_at: this.now().toISOString() });
  }

  async remove(id: string): Promise<void> {
    await this.client.delete('todos', id);
  }

  /** Angular calls this when the injector is destroyed. */
  async ngOnDestroy(): Promise<void> {
    this.subscription.unsubscribe();
    this.progress.complete();
    if (this.ownsClient) await this.client.cleanup();
  }
}

function progressReducer(current: SyncProgress, event: SyncEventMessage): SyncProgress {
  const data = event.data as { rowsDone?: number; rowsTotal?: number; rows?: number; tables?: Array<{ rows: number }> };
  switch (event.type) {
    case 'initial_sync_started': {
      const rowsTotal = (data.tables ?? []).reduce((n, table) => n + table.rows, 0);
      return { rowsDone: 0, rowsTotal, fraction: rowsTotal === 0 ? 1 : 0, active: true };
    }
    case 'initial_sync_progress': {
      const rowsDone = data.rowsDone ?? current.rowsDone;
      const rowsTotal = Math.max(data.rowsTotal ?? current.rowsTotal, rowsDone);
      return { rowsDone, rowsTotal, fraction: rowsTotal === 0 ? 1 : rowsDone / rowsTotal, active: true };
    }
    case 'initial_sync_complete': {
      const rowsDone = data.rows ?? current.rowsDone;
      const rowsTotal = Math.max(current.rowsTotal, rowsDone);
      return { rowsDone, rowsTotal, fraction: 1, active: false };
    }
    default:
      return current;
  }
}

function newId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
