// The rxsync demo: todo lists that alice and bob own or share, kept in a local SQLite database
// (wa-sqlite on IndexedDB, inside a SharedWorker that every tab of this origin shares) and synced
// with the server that serves this page (`npm start`, http://127.0.0.1:8787/). The server's
// per-user rules (src/server/demo.ts) decide which lists and todos each user syncs and may change;
// the page signs in as one of them with a token from the demo server (POST /demo/token).
//
// Bundled by scripts/build-demo.mjs into dist/web/. In an app of your own the import is
// `from 'rxsync/browser'`; here it names the source entry so that `npm run typecheck` checks this
// file, and the build points it at the published bundle (dist/browser/rxsync.js). No workerUrl:
// rxsync starts its worker from `./rxsync-worker.js` next to the bundle, where build-demo.mjs
// copies it with wa-sqlite's .wasm files (esbuild, unlike Vite or webpack, emits no worker itself).
//
// Query parameters, for trying things out: ?user=alice or ?user=bob (signed in for this page only),
// ?server=ws://host:port/api/sync (another server), ?db=name (another local database; a different
// database is a different client).
import { createWorkerSyncClient, defineSchema, type ConnectionStatus, type RemoteSyncClient, type SyncEventMessage } from '../../src/browser.js';

/** The demo server's schema (`rxsync serve --demo`, src/server/demo.ts): the same definition gives the same hash. */
const schema = defineSchema({
  tables: {
    lists: { primaryKey: 'id', columns: { id: 'text', owner_id: 'text', name: 'text' } },
    list_members: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', user_id: 'text' } },
    todos: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', title: 'text', done: 'integer', updated_at: 'text' } },
  },
});

interface List {
  id: string;
  owner_id: string;
  name: string;
}
interface Member {
  list_id: string;
  user_id: string;
}
interface Todo {
  id: string;
  list_id: string;
  title: string;
  done: number;
  updated_at: string;
}

/** The demo's users: the server hands out tokens for these two only. */
const USERS = ['alice', 'bob'] as const;
type User = (typeof USERS)[number];

/** Rows rendered at most; the rest is counted (the page is a demo, not a virtual scroller). */
const MAX_RENDERED = 200;
const USER_KEY = 'rxsync-demo:user';

const params = new URLSearchParams(location.search);
const url = params.get('server') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/sync`;
const user = asUser(params.get('user') ?? localStorage.getItem(USER_KEY));
// One local database per user, so that switching users never mixes their rows.
const database = params.get('db') ?? (user ? `demo-${user}` : '');
const offlineKey = `rxsync-demo:offline:${database}`;
// ?storage=indexeddb|opfs: where the database lives (default: rxsync chooses, OPFS where it can).
const storage = params.get('storage') ?? undefined;

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
};

/**
 * What the page saw, for the curious (open the console: `rxsyncDemo`) and for the browser specs:
 * the user, the client, and a count of every event type this page received.
 */
interface DemoHandle {
  user?: User;
  client?: RemoteSyncClient;
  url: string;
  database: string;
  ready: Promise<RemoteSyncClient>;
  eventCounts: Record<string, number>;
  events: SyncEventMessage[];
  status: ConnectionStatus | 'starting' | 'signed-out';
  lastConnected?: { mode: string; serverLsn: string };
  progress: { rowsDone: number; rowsTotal: number; active: boolean };
}
declare global {
  interface Window {
    rxsyncDemo: DemoHandle;
  }
}

const demo: DemoHandle = {
  ...(user && { user }),
  url,
  database,
  ready: new Promise(() => undefined), // signed out: no client until a user signs in
  eventCounts: {},
  events: [],
  status: user ? 'starting' : 'signed-out',
  progress: { rowsDone: 0, rowsTotal: 0, active: false },
};
window.rxsyncDemo = demo;

bindSignIn();
if (user) {
  demo.ready = start(user);
  demo.ready.catch((error) => showError(`Could not start rxsync: ${(error as Error).message}`));
}

async function start(user: User): Promise<RemoteSyncClient> {
  const { token, expiresInSeconds } = await fetchToken(user);
  const client = await createWorkerSyncClient({
    schema,
    database,
    ...((storage === 'indexeddb' || storage === 'opfs') && { storage }),
    // A string: functions do not cross into the worker. keepTokenFresh renews it with setAuthToken.
    authToken: token,
    // A demo should come back quickly after `npm start` restarts.
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  });
  demo.client = client;

  keepTokenFresh(client, user, expiresInSeconds);
  bindStatus(client);
  bindProgress(client);
  bindLists(client, user);
  bindForm(client);
  bindCounters(client);
  recordEvents(client);

  $('client-id').textContent = `Client ${(await client.clientId).slice(0, 8)}`;
  // Offline is a choice of the user, shared by the tabs (they share the connection): remember it.
  if (localStorage.getItem(offlineKey) !== '1') void client.connect(url);
  return client;
}

// ---- signing in ------------------------------------------------------------------------------

function asUser(name: string | null): User | undefined {
  return USERS.find((candidate) => candidate === name);
}

/** Signing in or out reloads the page: one client per page load, on that user's own database. */
function bindSignIn(): void {
  $('sign-in').hidden = Boolean(user);
  $('signed-in').hidden = !user;
  const reloadAs = (next: User | undefined) => {
    if (next) localStorage.setItem(USER_KEY, next);
    else localStorage.removeItem(USER_KEY);
    params.delete('user');
    const query = params.toString();
    location.assign(`${location.pathname}${query ? `?${query}` : ''}`);
  };
  for (const button of document.querySelectorAll<HTMLButtonElement>('#sign-in button[data-user]')) {
    button.addEventListener('click', () => reloadAs(asUser(button.dataset.user ?? null)));
  }
  $('sign-out').addEventListener('click', () => reloadAs(undefined));
  if (!user) {
    $('status-text').textContent = 'Signed out';
    return;
  }
  $('user-name').textContent = user;
}

/** A token for a demo user, signed by the demo server (a real app asks its identity provider). */
async function fetchToken(user: User): Promise<{ token: string; expiresInSeconds: number }> {
  const response = await fetch(`/demo/token?user=${encodeURIComponent(user)}`, { method: 'POST' });
  if (!response.ok) throw new Error(`the server gave no token for ${user} (HTTP ${response.status}); is it \`rxsync serve --demo\`?`);
  return (await response.json()) as { token: string; expiresInSeconds: number };
}

/**
 * The worker keeps the token it sends at every (re)connect, so the page renews it: halfway through
 * its life, and when the server refused it (4401: the demo server restarted with a new secret) or
 * closed the session because it expired (4403). After a 4401 the engine has stopped for good, so
 * the page connects again with the new token (once per 10 s at most, so a server that refuses every
 * token is not asked in a loop).
 */
function keepTokenFresh(client: RemoteSyncClient, user: User, lifetimeSeconds: number): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let renewing: Promise<void> | undefined;
  let lastReconnect = 0;
  const schedule = (seconds: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => void renew(false), (seconds * 1000) / 2);
  };
  const renew = (reconnect: boolean): Promise<void> =>
    (renewing ??= (async () => {
      try {
        const fresh = await fetchToken(user);
        await client.setAuthToken(fresh.token);
        schedule(fresh.expiresInSeconds);
        if (reconnect && localStorage.getItem(offlineKey) !== '1' && Date.now() - lastReconnect > 10_000) {
          lastReconnect = Date.now();
          void client.connect(url);
        }
      } catch (error) {
        showError(`Could not renew the sign-in: ${(error as Error).message}`);
      } finally {
        renewing = undefined;
      }
    })());
  schedule(lifetimeSeconds);
  client.events$.subscribe((event) => {
    const code = closeCodeOf(event);
    if (code === 4401) void renew(true);
    else if (code === 4403) void renew(false); // the engine reconnects by itself, with the new token
  });
}

/** The close code an `error` (context.code) or `disconnected` event ("... closed (4403 token expired)") carries. */
function closeCodeOf(event: SyncEventMessage): number | undefined {
  if (event.type === 'error' && typeof event.data?.context?.code === 'number') return event.data.context.code;
  if (event.type === 'disconnected') {
    const match = /closed \((\d{4})\b/.exec(String(event.data?.reason ?? ''));
    return match ? Number(match[1]) : undefined;
  }
  return undefined;
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
      localStorage.removeItem(offlineKey);
      void client.connect(url);
    } else {
      localStorage.setItem(offlineKey, '1');
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

// ---- the lists and their todos ---------------------------------------------------------------

/** The latest rows of each watch; the board is drawn again when any of them changes. */
interface Board {
  lists: List[];
  members: Member[];
  todos: Todo[];
}

function bindLists(client: RemoteSyncClient, user: User): void {
  const board: Board = { lists: [], members: [], todos: [] };
  const draw = () => {
    drawBoard(client, user, board);
    drawListChoice(board.lists, user);
    drawOtherUserNote(user, board);
  };
  const onError = (error: unknown) => showError(`The lists stopped updating: ${(error as Error).message}`);
  // Only rows the rules let this user sync are here: the watches need no WHERE of their own.
  client.watch<List>('SELECT id, owner_id, name FROM lists ORDER BY name, id').subscribe({ next: (rows) => ((board.lists = rows), draw()), error: onError });
  client
    .watch<Member>('SELECT list_id, user_id FROM list_members ORDER BY user_id')
    .subscribe({ next: (rows) => ((board.members = rows), draw()), error: onError });
  client.watch<Todo>(`SELECT id, list_id, title, done, updated_at FROM todos ORDER BY id LIMIT ${MAX_RENDERED}`).subscribe({
    next: (rows) => ((board.todos = rows), draw()),
    error: onError,
  });
  const more = $('more');
  client.watch<{ n: number; done: number | null }>('SELECT count(*) AS n, sum(done) AS done FROM todos').subscribe(([row]) => {
    const n = Number(row?.n ?? 0);
    const done = Number(row?.done ?? 0);
    $('count').textContent = `${n.toLocaleString()} ${n === 1 ? 'todo' : 'todos'}${done ? `, ${done.toLocaleString()} done` : ''}`;
    $('count').dataset.count = String(n);
    more.hidden = n <= MAX_RENDERED;
    more.textContent = `… and ${(n - MAX_RENDERED).toLocaleString()} more`;
  });
  client.on('client_change_rejected', ({ reason }: { reason: string }) => showError(`The server refused a change (${user} may not make it): ${reason}`));
}

/** The user's own lists first, then the ones shared with them. */
function ordered(lists: List[], user: User): List[] {
  return [...lists.filter((list) => list.owner_id === user), ...lists.filter((list) => list.owner_id !== user)];
}

function drawBoard(client: RemoteSyncClient, user: User, { lists, members, todos }: Board): void {
  const byList = new Map<string, Todo[]>();
  for (const todo of todos) byList.set(todo.list_id, [...(byList.get(todo.list_id) ?? []), todo]);
  const sections = ordered(lists, user).map((list) => listSection(client, user, list, members, byList.get(list.id) ?? []));
  // Todos whose list has not arrived (yet): shown rather than hidden.
  const known = new Set(lists.map((list) => list.id));
  for (const [listId, rows] of byList) {
    if (!known.has(listId)) sections.push(listSection(client, user, { id: listId, owner_id: '', name: listId }, members, rows));
  }
  $('todos').replaceChildren(...sections);
}

function listSection(client: RemoteSyncClient, user: User, list: List, members: Member[], todos: Todo[]): HTMLElement {
  const section = document.createElement('section');
  section.className = 'list';
  section.dataset.listId = list.id;
  const heading = document.createElement('h2');
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = list.name; // text, never HTML: names come from other users
  const badge = document.createElement('span');
  const sharedWith = members.filter((member) => member.list_id === list.id && member.user_id !== user).map((member) => member.user_id);
  const shared = list.owner_id !== user || sharedWith.length > 0;
  badge.className = shared ? 'badge shared' : 'badge';
  badge.textContent = list.owner_id !== user ? `shared by ${list.owner_id}` : shared ? `shared with ${sharedWith.join(', ')}` : 'only you';
  heading.append(name, badge);
  const items = document.createElement('ul');
  items.className = 'todos';
  // The rules let members add and tick todos; only the list's owner deletes them.
  const canDelete = list.owner_id === user;
  items.append(...todos.map((todo) => todoItem(client, todo, canDelete)));
  if (todos.length === 0) {
    const empty = document.createElement('li');
    empty.className = 'empty';
    empty.textContent = 'Nothing to do';
    items.append(empty);
  }
  section.append(heading, items);
  return section;
}

function todoItem(client: RemoteSyncClient, todo: Todo, canDelete: boolean): HTMLLIElement {
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
  item.append(box, title);
  if (canDelete) {
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'delete';
    remove.textContent = '×';
    remove.title = 'Delete';
    remove.setAttribute('aria-label', `Delete ${todo.title}`);
    remove.addEventListener('click', () => run(client.delete('todos', todo.id)));
    item.append(remove);
  }
  return item;
}

/** The lists a new todo can go to (every list the user syncs: owners and members may add), keeping the choice. */
function drawListChoice(lists: List[], user: User): void {
  const select = $<HTMLSelectElement>('new-list');
  const chosen = select.value;
  select.replaceChildren(
    ...ordered(lists, user).map((list) => {
      const option = document.createElement('option');
      option.value = list.id;
      option.textContent = list.owner_id === user ? list.name : `${list.name} (${list.owner_id}'s)`;
      return option;
    }),
  );
  if (lists.some((list) => list.id === chosen)) select.value = chosen;
}

/** What the other demo user sees of the lists on this screen, from the rows this user syncs. */
function drawOtherUserNote(user: User, { lists, members }: Board): void {
  const other = USERS.find((candidate) => candidate !== user)!;
  const sees = (list: List) => list.owner_id === other || members.some((member) => member.list_id === list.id && member.user_id === other);
  const names = (subset: List[]) => subset.map((list) => `“${list.name}”`).join(', ');
  const seen = lists.filter(sees);
  const unseen = lists.filter((list) => !sees(list));
  let here = '';
  if (seen.length && unseen.length) here = ` Of the lists here, ${other} sees ${names(seen)} too, but not ${names(unseen)}.`;
  else if (seen.length) here = ` Of the lists here, ${other} sees ${names(seen)} too.`;
  else if (unseen.length) here = ` ${other} sees none of the lists here.`;
  $('other-user-note').textContent =
    `Sign in as ${other} in another browser (or a private window): ${other} syncs only ${other}'s own lists and the lists shared with ${other}.${here}`;
}

function bindForm(client: RemoteSyncClient): void {
  const form = $<HTMLFormElement>('new-todo');
  const input = $<HTMLInputElement>('new-title');
  const list = $<HTMLSelectElement>('new-list');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    if (!list.value) return showError('There is no list to add to yet.');
    input.value = '';
    run(client.insert('todos', { id: newId(), list_id: list.value, title, done: 0, updated_at: new Date().toISOString() }));
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
