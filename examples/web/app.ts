// The rxsync demo: a todo list kept in a local SQLite database (wa-sqlite on IndexedDB, inside a
// SharedWorker that every tab of this origin shares) and synced with the server that serves this
// page (`npm start`, http://127.0.0.1:8787/).
//
// Bundled by scripts/build-demo.mjs into dist/web/. In an app of your own the import is
// `from 'rxsync/browser'`; here it names the source entry so that `npm run typecheck` checks this
// file, and the build points it at the published bundle (dist/browser/rxsync.js).
//
// Query parameters, for trying things out: ?server=ws://host:port/api/sync (another server),
// ?db=name (another local database; a different database is a different client).
import { createWorkerSyncClient, defineSchema, type ConnectionStatus, type RemoteSyncClient, type SyncEventMessage } from '../../src/browser.js';

/** The demo server's schema (`rxsync serve --demo`): the same definition gives the same hash. */
const schema = defineSchema({
  tables: {
    todos: {
      primaryKey: 'id',
      columns: { id: 'text', title: 'text', done: 'integer', updated_at: 'text' },
    },
  },
});

interface Todo {
  id: string;
  title: string;
  done: number;
  updated_at: string;
}

/** Rows rendered at most; the rest is counted (the list is a demo, not a virtual scroller). */
const MAX_RENDERED = 200;
const OFFLINE_KEY = 'rxsync-demo:offline';

const params = new URLSearchParams(location.search);
const url = params.get('server') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/sync`;
const database = params.get('db') ?? 'rxsync-demo';

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
};

/**
 * What the page saw, for the curious (open the console: `rxsyncDemo`) and for the browser specs:
 * the client, and a count of every event type this page received.
 */
interface DemoHandle {
  client?: RemoteSyncClient;
  url: string;
  database: string;
  ready: Promise<RemoteSyncClient>;
  eventCounts: Record<string, number>;
  events: SyncEventMessage[];
  status: ConnectionStatus | 'starting';
  lastConnected?: { mode: string; serverLsn: string };
  progress: { rowsDone: number; rowsTotal: number; active: boolean };
}
declare global {
  interface Window {
    rxsyncDemo: DemoHandle;
  }
}

const demo: DemoHandle = {
  url,
  database,
  ready: undefined as unknown as Promise<RemoteSyncClient>,
  eventCounts: {},
  events: [],
  status: 'starting',
  progress: { rowsDone: 0, rowsTotal: 0, active: false },
};
window.rxsyncDemo = demo;

demo.ready = start();
demo.ready.catch((error) => showError(`Could not start rxsync: ${(error as Error).message}`));

async function start(): Promise<RemoteSyncClient> {
  const client = await createWorkerSyncClient({
    schema,
    database,
    // The worker script and wa-sqlite's .wasm files sit next to app.js (build-demo.mjs copies them).
    workerUrl: new URL('rxsync-worker.js', import.meta.url),
    // A demo should come back quickly after `npm start` restarts.
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  });
  demo.client = client;

  bindStatus(client);
  bindProgress(client);
  bindList(client);
  bindForm(client);
  bindCounters(client);
  recordEvents(client);

  $('client-id').textContent = `Client ${(await client.clientId).slice(0, 8)}`;
  // Offline is a choice of the user, shared by the tabs (they share the connection): remember it.
  if (localStorage.getItem(OFFLINE_KEY) !== '1') void client.connect(url);
  return client;
}

// ---- connection indicator and the offline/online button -------------------------------------

const STATUS_VIEW: Record<ConnectionStatus, { text: string; tone: string }> = {
  idle: { text: 'Offline', tone: 'offline' },
  connecting: { text: 'Connecting…', tone: 'waiting' },
  handshaking: { text: 'Connecting…', tone: 'waiting' },
  syncing: { text: 'Syncing…', tone: 'syncing' },
  live: { text: 'Live', tone: 'live' },
  backoff: { text: 'Reconnecting…', tone: 'waiting' },
  disconnected: { text: 'Offline', tone: 'offline' },
  closed: { text: 'Closed', tone: 'offline' },
};

function bindStatus(client: RemoteSyncClient): void {
  const indicator = $('status');
  const text = $('status-text');
  const button = $<HTMLButtonElement>('online-toggle');
  let offline = true;
  client.status$.subscribe((status) => {
    demo.status = status;
    const view = STATUS_VIEW[status] ?? { text: status, tone: 'offline' };
    indicator.className = `status status-${view.tone}`;
    indicator.dataset.status = status;
    text.textContent = view.text;
    offline = status === 'idle' || status === 'disconnected' || status === 'closed';
    button.textContent = offline ? 'Go online' : 'Go offline';
    button.disabled = status === 'closed';
  });
  button.addEventListener('click', () => {
    if (offline) {
      localStorage.removeItem(OFFLINE_KEY);
      void client.connect(url);
    } else {
      localStorage.setItem(OFFLINE_KEY, '1');
      void client.disconnect('offline (by the user)');
    }
  });
}

// ---- initial sync progress -------------------------------------------------------------------

function bindProgress(client: RemoteSyncClient): void {
  const box = $('progress-box');
  const bar = $<HTMLProgressElement>('progress');
  const label = $('progress-text');
  let hideTimer: ReturnType<typeof setTimeout> | undefined;
  const show = (rowsDone: number, rowsTotal: number, done: boolean) => {
    clearTimeout(hideTimer);
    demo.progress = { rowsDone, rowsTotal, active: !done };
    box.hidden = false;
    bar.value = rowsTotal === 0 ? 1 : rowsDone / rowsTotal;
    label.textContent = done
      ? `Synced ${rowsDone.toLocaleString()} ${rowsDone === 1 ? 'row' : 'rows'}`
      : `Initial sync: ${rowsDone.toLocaleString()} / ${rowsTotal.toLocaleString()} rows`;
    if (done) hideTimer = setTimeout(() => (box.hidden = true), 2000);
  };
  client.on('initial_sync_started', ({ tables }: { tables: Array<{ rows: number }> }) =>
    show(
      0,
      tables.reduce((n, t) => n + t.rows, 0),
      false,
    ),
  );
  client.on('initial_sync_progress', ({ rowsDone, rowsTotal }: { rowsDone: number; rowsTotal: number }) => show(rowsDone, rowsTotal, false));
  client.on('initial_sync_complete', ({ rows }: { rows: number }) => show(rows, Math.max(rows, demo.progress.rowsTotal), true));
}

// ---- the list --------------------------------------------------------------------------------

function bindList(client: RemoteSyncClient): void {
  const list = $('todos');
  const more = $('more');
  client.watch<Todo>(`SELECT id, title, done, updated_at FROM todos ORDER BY id LIMIT ${MAX_RENDERED}`).subscribe({
    next: (todos) => {
      list.replaceChildren(...todos.map((todo) => todoItem(client, todo)));
    },
    error: (error) => showError(`The list stopped updating: ${(error as Error).message}`),
  });
  client.watch<{ n: number; done: number | null }>('SELECT count(*) AS n, sum(done) AS done FROM todos').subscribe(([row]) => {
    const n = Number(row?.n ?? 0);
    const done = Number(row?.done ?? 0);
    $('count').textContent = `${n.toLocaleString()} ${n === 1 ? 'todo' : 'todos'}${done ? `, ${done.toLocaleString()} done` : ''}`;
    $('count').dataset.count = String(n);
    more.hidden = n <= MAX_RENDERED;
    more.textContent = `… and ${(n - MAX_RENDERED).toLocaleString()} more`;
  });
}

function todoItem(client: RemoteSyncClient, todo: Todo): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.id = todo.id;
  item.classList.toggle('done', Boolean(todo.done));
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = Boolean(todo.done);
  box.setAttribute('aria-label', `Done: ${todo.title}`);
  box.addEventListener('change', () => {
    run(client.update('todos', todo.id, { done: box.checked ? 1 : 0, updated_at: new Date().toISOString() }));
  });
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = todo.title; // text, never HTML: titles come from other users
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'delete';
  remove.textContent = '×';
  remove.title = 'Delete';
  remove.setAttribute('aria-label', `Delete ${todo.title}`);
  remove.addEventListener('click', () => run(client.delete('todos', todo.id)));
  item.append(box, title, remove);
  return item;
}

function bindForm(client: RemoteSyncClient): void {
  const form = $<HTMLFormElement>('new-todo');
  const input = $<HTMLInputElement>('new-title');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    input.value = '';
    run(client.insert('todos', { id: newId(), title, done: 0, updated_at: new Date().toISOString() }));
  });
}

/** Ids that sort by creation time (new todos go to the end of the list) and never collide between clients. */
function newId(): string {
  return `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

// ---- pending changes and the LSN -------------------------------------------------------------

function bindCounters(client: RemoteSyncClient): void {
  const pending = $('pending');
  client.watch<{ n: number }>("SELECT count(*) AS n FROM local_changes WHERE source = 'local' AND status IN ('pending', 'sent')").subscribe(([row]) => {
    const n = Number(row?.n ?? 0);
    pending.dataset.pending = String(n);
    pending.textContent = `${n} pending ${n === 1 ? 'change' : 'changes'}`;
  });
  client.lsn$.subscribe((lsn) => ($('lsn').textContent = `LSN ${lsn}`));
}

function recordEvents(client: RemoteSyncClient): void {
  client.events$.subscribe((event) => {
    demo.eventCounts[event.type] = (demo.eventCounts[event.type] ?? 0) + 1;
    demo.events.push(event);
    if (demo.events.length > 500) demo.events.splice(0, demo.events.length - 500);
    if (event.type === 'connected') demo.lastConnected = event.data;
    if (event.type === 'error' && !event.data?.context?.retrying) console.warn('[rxsync]', event.data);
  });
}

// ---- errors ----------------------------------------------------------------------------------

function run(write: Promise<unknown>): void {
  write.catch((error) => showError((error as Error).message));
}

function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  setTimeout(() => (box.hidden = true), 8000);
}
