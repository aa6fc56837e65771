import { inject, Injectable, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { catchError, EMPTY, from, switchMap, type Observable } from 'rxjs';
import type { SyncStatus } from 'rxsync/browser';
import type { Todo } from './schema';
import { SYNC_CLIENT, SYNC_CONFIG, type TodoClient } from './sync';

const TODOS_SQL = 'SELECT id, title, done FROM todos ORDER BY title, id';

/**
 * The todo list as signals, and the writes a component makes. The rows are the local database's:
 * they are there offline and after a reload, and the engine keeps them in sync with the server.
 */
@Injectable({ providedIn: 'root' })
export class TodoSyncService {
  private readonly client = inject(SYNC_CLIENT);
  private readonly config = inject(SYNC_CONFIG);

  /** Why the sync stopped, if it did (the worker or its files failed to load, the schema is refused…). */
  readonly error = signal<string | undefined>(undefined);
  /** The todos, re-read by the engine after every change of the table, local or from the server. */
  readonly todos = toSignal(
    this.fromClient((client) => client.watch<Todo>(TODOS_SQL)),
    { initialValue: [] },
  );
  /** Connection phase, whether the first sync is complete, local writes the server has not confirmed, download progress. */
  readonly status = toSignal<SyncStatus | undefined>(
    this.fromClient((client) => client.syncStatus$),
    { initialValue: undefined },
  );

  constructor() {
    // connect() resolves once the server welcomes this client; the engine retries by itself until then.
    this.client.then((client) => client.connect(this.config.url)).catch((error: unknown) => this.fail(error));
  }

  async add(title: string): Promise<void> {
    await this.write((client) => client.insert('todos', { id: crypto.randomUUID(), title, done: 0 }));
  }

  async toggle(todo: Todo): Promise<void> {
    await this.write((client) => client.update('todos', todo.id, { done: todo.done ? 0 : 1 }));
  }

  async remove(id: string): Promise<void> {
    await this.write((client) => client.delete('todos', id));
  }

  /** A stream of the client's that reports its error here and ends, instead of throwing where a template reads the signal. */
  private fromClient<T>(stream: (client: TodoClient) => Observable<T>): Observable<T> {
    return from(this.client).pipe(
      switchMap(stream),
      catchError((error: unknown) => {
        this.fail(error);
        return EMPTY;
      }),
    );
  }

  private async write(change: (client: TodoClient) => Promise<unknown>): Promise<void> {
    try {
      await change(await this.client);
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    this.error.set(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    console.error(error);
  }
}
