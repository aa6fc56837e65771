// rxsync in a Vite app: the engine runs in a worker that Vite bundles from the package (no
// workerUrl, no copied assets). The page syncs the server's `todos` table into a local database
// and renders it; the form inserts a todo locally, and the client pushes it to the server.
//
// The sync server is the page's own origin (`/api/sync`, proxied by `npx vite` to
// 127.0.0.1:8787), or another one given as ?sync=ws://host:port/api/sync.
import { createWorkerSyncClient, defineSchema } from 'rxsync/browser';

/** The server's schema: the same definition gives the same hash, which the server checks. */
const schema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer' } },
  },
});

interface Todo {
  id: string;
  title: string;
  done: number;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = $<HTMLSpanElement>('status');
const list = $<HTMLUListElement>('todos');
const form = $<HTMLFormElement>('add');
const title = $<HTMLInputElement>('title');

const params = new URLSearchParams(location.search);
const url = params.get('sync') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/sync`;

function render(todos: Todo[]): void {
  list.replaceChildren(
    ...todos.map((todo) => {
      const item = document.createElement('li');
      item.dataset.testid = 'todo';
      item.dataset.id = todo.id;
      item.textContent = todo.title;
      return item;
    }),
  );
}

async function main(): Promise<void> {
  const client = await createWorkerSyncClient({ schema, database: 'vite-example' });
  client.status$.subscribe((value) => (status.textContent = value));
  client.watch<Todo>('SELECT id, title, done FROM todos ORDER BY title, id').subscribe(render);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = title.value.trim();
    if (!text) return;
    title.value = '';
    client.insert('todos', { id: crypto.randomUUID(), title: text, done: 0 }).catch(showError);
  });
  await client.connect(url);
}

function showError(error: unknown): void {
  status.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
  console.error(error);
}

main().catch(showError);
