#!/usr/bin/env node
// A Node client for the demo server that `npm start` runs. It signs in as one of the demo users,
// syncs the todos that user may see (their own lists and the lists shared with them) into a local
// in-memory SQLite database, prints them, then prints every change as it arrives, until Ctrl-C.
//
//   npm start                                    # terminal 1: the server (after npm ci)
//   node examples/node-client.mjs                # terminal 2: this client, as alice
//   node examples/node-client.mjs --user bob     # as bob
//   node examples/node-client.mjs ws://host:port/api/sync
//   node examples/node-client.mjs --once         # sync, print the rows and the LSN, exit 0
//
// The URL comes from the first argument, else $SYNC_URL, else ws://127.0.0.1:8787/api/sync; the
// user from --user, else $SYNC_USER, else alice. `--once` (or SYNC_ONCE=1) is what
// scripts/smoke-client.mjs runs.
//
// Inside this repo `rxsync` resolves to the built package (dist/, made by `npm run build` or
// `npm start`) because the package references its own exports. In Node without a global WebSocket
// the client loads the `ws` package by itself: no WebSocketCtor needed.
import { createSyncClient, defineSchema } from 'rxsync';

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log('usage: node examples/node-client.mjs [ws-url] [--user alice|bob] [--once]');
  process.exit(0);
}
const once = args.includes('--once') || ['1', 'true'].includes(process.env.SYNC_ONCE ?? '');
const userAt = args.indexOf('--user');
const user = (userAt >= 0 ? args[userAt + 1] : undefined) ?? process.env.SYNC_USER ?? 'alice';
const url = args.find((arg, i) => !arg.startsWith('--') && !(userAt >= 0 && i === userAt + 1)) ?? process.env.SYNC_URL ?? 'ws://127.0.0.1:8787/api/sync';
const CONNECT_TIMEOUT_MS = 10_000;

// The schema must be the server's (the hello carries its hash): the demo's, in src/server/demo.ts.
const schema = defineSchema({
  tables: {
    lists: { primaryKey: 'id', columns: { id: 'text', owner_id: 'text', name: 'text' } },
    list_members: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', user_id: 'text' } },
    todos: { primaryKey: 'id', columns: { id: 'text', list_id: 'text', title: 'text', done: 'integer', updated_at: 'text' } },
  },
});

/** A token for the demo user, from the demo server (a real app asks its identity provider). */
async function demoToken() {
  const tokenUrl = new URL(`/demo/token?user=${encodeURIComponent(user)}`, url.replace(/^ws/, 'http'));
  const response = await fetch(tokenUrl, { method: 'POST' });
  if (!response.ok) throw new Error(`no token for ${user} from ${tokenUrl.origin} (HTTP ${response.status}; the demo users are alice and bob)`);
  return (await response.json()).token;
}

// authToken as a function: the client calls it before every connect, so a reconnect gets a fresh token.
const client = createSyncClient({ schema, authToken: demoToken });

// Only the rows the server's rules let this user sync are here: the queries need no WHERE of their own.
const TODOS = 'SELECT todos.id, todos.title, todos.done, lists.name AS list FROM todos LEFT JOIN lists ON lists.id = todos.list_id ORDER BY todos.id';
const show = (row) => `${row.id}  [${row.done ? 'x' : ' '}] ${row.title}  (${row.list ?? 'a list not synced yet'})`;
const log = (...parts) => console.log(...parts);

client.on('error', (event) => console.error(`error: ${event.message ?? JSON.stringify(event)}`));
client.on('status_changed', ({ status, attempt }) => {
  if (!once) console.error(`status: ${status}${attempt ? ` (attempt ${attempt})` : ''}`);
});
client.on('disconnected', ({ reason, retryInMs }) => {
  if (!once) console.error(`disconnected: ${reason}${retryInMs !== undefined ? `; retrying in ${retryInMs} ms` : ''}`);
});

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  subscription?.unsubscribe();
  await client.cleanup();
  process.exitCode = code;
  // Everything is closed: Node exits by itself. Should anything still hold the event loop, say so.
  setTimeout(() => {
    console.error('node-client: something kept the process alive after cleanup(); exiting anyway');
    process.exit(code);
  }, 2000).unref();
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

let subscription;
try {
  console.error(`connecting to ${url} as ${user}`);
  // connect() resolves true on the server's welcome and keeps reconnecting by itself after that.
  // The timeout is ours (cleared once settled) so nothing is left pending at exit.
  let timer;
  const connected = await Promise.race([client.connect(url), new Promise((resolve) => (timer = setTimeout(() => resolve(false), CONNECT_TIMEOUT_MS)))]).finally(
    () => clearTimeout(timer),
  );
  if (!connected) throw new Error(`no welcome from ${url} within ${CONNECT_TIMEOUT_MS / 1000} s (is the server running? try: npm start)`);
  await client.whenSynced({ timeoutMs: CONNECT_TIMEOUT_MS });

  const rows = await client.query(TODOS);
  log(`synced ${rows.length} todo${rows.length === 1 ? '' : 's'} of ${user} from ${url}:`);
  for (const row of rows) log(`  ${show(row)}`);
  log(`lsn ${client.currentLsn}`);

  if (once) {
    await shutdown(0);
  } else {
    log('watching for changes (Ctrl-C to stop)');
    // watch() emits the rows now, then again after every commit that touches `todos`: print the
    // difference with what was printed last.
    let previous = new Map(rows.map((row) => [row.id, row]));
    subscription = client.watch(TODOS).subscribe({
      next: (current) => {
        const next = new Map(current.map((row) => [row.id, row]));
        for (const [id, row] of next) {
          const before = previous.get(id);
          if (!before) log(`+ ${show(row)}`);
          else if (JSON.stringify(before) !== JSON.stringify(row)) log(`~ ${show(row)}`);
        }
        for (const [id, row] of previous) if (!next.has(id)) log(`- ${show(row)}`);
        previous = next;
      },
      error: (error) => console.error('watch failed:', error),
    });
    client.on('changes_applied', ({ lsn, count, tables }) => log(`  (lsn ${lsn}: ${count} change${count === 1 ? '' : 's'} to ${tables.join(', ')})`));
  }
} catch (error) {
  console.error(`node-client: ${error.message ?? error}`);
  await shutdown(1);
}
