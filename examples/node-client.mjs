#!/usr/bin/env node
// A Node client for the demo server that `npm start` runs. It syncs the demo todos into a local
// in-memory SQLite database, prints them, then prints every change as it arrives, until Ctrl-C.
//
//   npm start                                    # terminal 1: the server (after npm ci)
//   node examples/node-client.mjs                # terminal 2: this client
//   node examples/node-client.mjs ws://host:port/api/sync
//   node examples/node-client.mjs --once         # sync, print the rows and the LSN, exit 0
//
// The URL comes from the first argument, else $SYNC_URL, else ws://127.0.0.1:8787/api/sync.
// `--once` (or SYNC_ONCE=1) is what scripts/smoke-client.mjs runs.
//
// Inside this repo `rxsync` resolves to the built package (dist/, made by `npm run build` or
// `npm start`) because the package references its own exports. In Node without a global WebSocket
// the client loads the `ws` package by itself: no WebSocketCtor needed.
import { createSyncClient } from 'rxsync';
import { demoSchema } from 'rxsync/server';

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log('usage: node examples/node-client.mjs [ws-url] [--once]');
  process.exit(0);
}
const once = args.includes('--once') || ['1', 'true'].includes(process.env.SYNC_ONCE ?? '');
const url = args.find((arg) => !arg.startsWith('--')) ?? process.env.SYNC_URL ?? 'ws://127.0.0.1:8787/api/sync';
const CONNECT_TIMEOUT_MS = 10_000;

// The schema must be the server's (the hello carries its hash): the demo server serves demoSchema.
const client = createSyncClient({ schema: demoSchema });

const show = (row) => `${row.id}  [${row.done ? 'x' : ' '}] ${row.title}`;
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
  console.error(`connecting to ${url}`);
  // connect() resolves true on the server's welcome and keeps reconnecting by itself after that.
  // The timeout is ours (cleared once settled) so nothing is left pending at exit.
  let timer;
  const connected = await Promise.race([client.connect(url), new Promise((resolve) => (timer = setTimeout(() => resolve(false), CONNECT_TIMEOUT_MS)))]).finally(
    () => clearTimeout(timer),
  );
  if (!connected) throw new Error(`no welcome from ${url} within ${CONNECT_TIMEOUT_MS / 1000} s (is the server running? try: npm start)`);
  await client.whenSynced({ timeoutMs: CONNECT_TIMEOUT_MS });

  const rows = await client.query('SELECT * FROM todos ORDER BY id');
  log(`synced ${rows.length} todo${rows.length === 1 ? '' : 's'} from ${url}:`);
  for (const row of rows) log(`  ${show(row)}`);
  log(`lsn ${client.currentLsn}`);

  if (once) {
    await shutdown(0);
  } else {
    log('watching for changes (Ctrl-C to stop)');
    // watch() emits the rows now, then again after every commit that touches `todos`: print the
    // difference with what was printed last.
    let previous = new Map(rows.map((row) => [row.id, row]));
    subscription = client.watch('SELECT * FROM todos ORDER BY id').subscribe({
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
