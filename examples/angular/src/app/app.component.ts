import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { TodoSyncService } from './todo-sync.service';

@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Todos</h1>
    <p>
      Status: <span data-testid="status">{{ statusText() }}</span>
      @if (sync.status()?.pending; as pending) {
        · <span data-testid="pending">{{ pending }} not yet on the server</span>
      }
    </p>
    @if (sync.error(); as error) {
      <p role="alert" data-testid="error">{{ error }}</p>
    }
    <form data-testid="add" (submit)="$event.preventDefault(); add(title)">
      <input #title data-testid="title" placeholder="What to do" required />
      <button type="submit" data-testid="insert">Add</button>
    </form>
    <ul data-testid="todos">
      @for (todo of sync.todos(); track todo.id) {
        <li data-testid="todo" [attr.data-id]="todo.id">
          <label>
            <input type="checkbox" [checked]="todo.done === 1" (change)="sync.toggle(todo)" />
            {{ todo.title }}
          </label>
          <button type="button" (click)="sync.remove(todo.id)" aria-label="Delete">×</button>
        </li>
      } @empty {
        <li>Nothing to do.</li>
      }
    </ul>
  `,
})
export class AppComponent {
  protected readonly sync = inject(TodoSyncService);

  protected readonly statusText = computed(() => {
    const status = this.sync.status();
    if (!status) return 'starting';
    const download = status.download ? ` (${status.download.rowsDone} of ${status.download.rowsTotal} rows)` : '';
    return `${status.phase}${download}`;
  });

  protected add(input: HTMLInputElement): void {
    const title = input.value.trim();
    if (!title) return;
    input.value = '';
    void this.sync.add(title);
  }
}
