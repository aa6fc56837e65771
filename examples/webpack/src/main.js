// rxsync in a webpack 5 app: the engine runs in a worker that webpack bundles from the package (no
// workerUrl, no copied assets). The page syncs the server's `todos` table into a local database
// and renders it; the form inserts a todo locally, and the client pushes it to the server.
//
// The sync server is /api/sync on the page's own origin, or another one given as
// ?sync=ws://host:port/api/sync.
import { createWorkerSyncClient, defineSchema } from 'rxsync/browser';

/** The server's schema: the same definition gives the same hash, which the server checks. */
const schema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer' } },
  },
});

const status = document.getElementById('status');
const list = document.getElementById('todos');
const form = document.getElementById('add');
const title = document.getElementById('title');

const params = new URLSearchParams(location.search);
const url = params.get('sync') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/sync`;

/** @param {Array<{ id: string, title: string }>} todos */
function render(todos) {
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

async function main() {
  const client = await createWorkerSyncClient({ schema, database: 'webpack-example' });
  client.status$.subscribe((value) => (status.textContent = value));
  client.watch('SELECT id, title, done FROM todos ORDER BY title, id').subscribe(render);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = title.value.trim();
    if (!text) return;
    title.value = '';
    client.insert('todos', { id: crypto.randomUUID(), title: text, done: 0 }).catch(showError);
  });
  await client.connect(url);
}

function showError(error) {
  status.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
  console.error(error);
}

main().catch(showError);
